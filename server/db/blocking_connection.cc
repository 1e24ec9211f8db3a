#include "db/blocking_connection.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "db/sql_error.h"

namespace firstsip::db {

absl::StatusOr<std::unique_ptr<BlockingConnection>> BlockingConnection::Open(
    const std::string& dsn, int connect_timeout_seconds) {
  std::string timeout = std::to_string(connect_timeout_seconds);
  const char* keywords[] = {"dbname", "connect_timeout", "fallback_application_name", nullptr};
  const char* values[] = {dsn.c_str(), timeout.c_str(), "firstsip-server", nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    std::string message = conn ? PQerrorMessage(conn) : "out of memory";
    if (conn) PQfinish(conn);
    return ConnectionLost(absl::StripTrailingAsciiWhitespace(message));
  }
  // Keep server notices (e.g. "table already exists, skipping") out of our output.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<BlockingConnection>(new BlockingConnection(conn));
}

BlockingConnection::~BlockingConnection() { PQfinish(conn_); }

absl::Status BlockingConnection::ErrorFrom(PGresult* result) const {
  absl::Status mapped = StatusFromResult(result, "script");
  std::string message = result ? PQresultErrorMessage(result) : PQerrorMessage(conn_);
  if (PQstatus(conn_) == CONNECTION_BAD) mapped = ConnectionLost("connection lost");
  absl::Status status(mapped.code(), absl::StripTrailingAsciiWhitespace(
                                         message.empty() ? mapped.message() : message));
  mapped.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { status.SetPayload(url, payload); });
  return status;
}

absl::Status BlockingConnection::ExecScript(absl::string_view sql) {
  std::string script(sql);
  PGresult* result = PQexec(conn_, script.c_str());
  ExecStatusType status = PQresultStatus(result);
  absl::Status outcome =
      (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY)
          ? absl::OkStatus()
          : ErrorFrom(result);
  PQclear(result);
  return outcome;
}

absl::StatusOr<Result> BlockingConnection::Exec(absl::string_view sql, const Params& params) {
  std::string text(sql);
  std::vector<const char*> values = params.ValuePointers();
  PGresult* raw =
      PQexecParams(conn_, text.c_str(), params.size(), nullptr, values.data(), nullptr, nullptr, 0);
  ExecStatusType status = PQresultStatus(raw);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    absl::Status error = ErrorFrom(raw);
    PQclear(raw);
    return error;
  }
  return Result(raw);
}

}  // namespace firstsip::db
