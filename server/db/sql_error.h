// The one place where PostgreSQL errors become absl::Status codes (as libpqxx's
// throw_sql_error). Messages never carry SQL text or parameter values: callers see the query
// name and the SQLSTATE; the server's own log gets PostgreSQL's primary message.
#pragma once

#include <libpq-fe.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace firstsip::db {

// Maps a failed statement's result (PGRES_FATAL_ERROR and friends) to a status:
//   23505 unique_violation                       -> ALREADY_EXISTS
//   23503 foreign_key_violation, other 23xxx      -> FAILED_PRECONDITION
//   23502 not_null, 23514 check, 22xxx data       -> INVALID_ARGUMENT
//   40001 serialization, 40P01 deadlock           -> ABORTED (retry the whole call)
//   57014 query_canceled                          -> CANCELLED
//   08xxx, 57P0x, 53300, 25006 (read-only standby) -> UNAVAILABLE (connection or server gone)
//   anything else                                 -> INTERNAL
// The SQLSTATE and the violated constraint ride along as payloads (see SqlStateOf).
absl::Status StatusFromResult(const PGresult* result, absl::string_view query_name);

// The code StatusFromResult picks for a SQLSTATE (exposed for its table-driven test).
absl::StatusCode CodeForSqlState(absl::string_view sqlstate);

// The status for a connection that failed or broke: always UNAVAILABLE.
absl::Status ConnectionLost(absl::string_view detail);

// The SQLSTATE a status came from, or "" when it did not come from PostgreSQL.
std::string SqlStateOf(const absl::Status& status);

// The constraint named by a 23xxx error, or "".
std::string ConstraintOf(const absl::Status& status);

// A copy of `status` that shares nothing with it. absl::Status copies share one reference-counted
// body; the engine's thread drops its copy while the caller's thread reads its own, and since
// Debian's Abseil is not built for ThreadSanitizer, the shared count looks like a race to it.
// Handing each caller a body of its own keeps the sanitizer's view exact.
absl::Status Detached(const absl::Status& status);

// True when `sqlstate` means the connection is unusable afterwards (class 08, admin shutdown).
bool IsConnectionFatal(absl::string_view sqlstate);

}  // namespace firstsip::db
