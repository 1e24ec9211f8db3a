// A plain blocking connection for work that runs before the server serves or from the command
// line (migrations, seed data): never used on a gRPC thread.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "db/params.h"
#include "db/result.h"

namespace firstsip::db {

class BlockingConnection {
 public:
  // UNAVAILABLE when the server cannot be reached; the message never includes the password.
  static absl::StatusOr<std::unique_ptr<BlockingConnection>> Open(const std::string& dsn,
                                                                  int connect_timeout_seconds = 10);
  ~BlockingConnection();
  BlockingConnection(const BlockingConnection&) = delete;
  BlockingConnection& operator=(const BlockingConnection&) = delete;

  // Runs a script of one or more statements through the simple query protocol, so a whole
  // migration file (dollar-quoted bodies included) runs as the server parses it. On error the
  // status carries PostgreSQL's own message: these are operator-facing paths, not RPCs.
  absl::Status ExecScript(absl::string_view sql);

  // Runs one parameterised statement.
  absl::StatusOr<Result> Exec(absl::string_view sql, const Params& params = Params());

 private:
  explicit BlockingConnection(PGconn* conn) : conn_(conn) {}
  absl::Status ErrorFrom(PGresult* result) const;

  PGconn* conn_;
};

}  // namespace firstsip::db
