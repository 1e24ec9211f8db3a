// A real PgBouncer (Debian's /usr/sbin/pgbouncer) in transaction mode in front of a PostgreSQL
// server, started by a test: to prove the service works behind a transaction pooler.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace firstsip::testing {

class PgBouncer {
 public:
  // Starts pgbouncer (pool_mode = transaction, trust authentication) on a free 127.0.0.1 port,
  // forwarding every database name to the server that `dsn` (key=value, with host and port)
  // names, and waits until it accepts connections.
  // `server_connections`: its default_pool_size, the server connections it shares among its
  // clients per database.
  // `server_round_robin`: hand out idle server connections oldest first (server_round_robin =
  // 1, a queue) instead of pgbouncer's default, the most recently released first (a stack).
  // With two or more idle server connections, one client's consecutive transactions then land
  // on different ones: what a busy pooler does, made certain for a test.
  static absl::StatusOr<std::unique_ptr<PgBouncer>> Start(const std::string& dsn,
                                                          int server_connections = 20,
                                                          bool server_round_robin = false);
  // Stops it (SIGTERM, then SIGKILL) and removes its files.
  ~PgBouncer();

  // `dsn` with host and port replaced by pgbouncer's.
  std::string Through(const std::string& dsn) const;
  int port() const { return port_; }
  // What pgbouncer logged so far.
  std::string log() const;

 private:
  PgBouncer() = default;

  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
};

// True when the environment asks every ServerProcess to reach its database through a
// PgBouncer of its own (FIRSTSIP_TEST_VIA_PGBOUNCER=1; the e2e-pgbouncer.* tests).
bool TestsGoThroughPgBouncer();

}  // namespace firstsip::testing
