#include "db/sql_error.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace firstsip::db {
namespace {

constexpr absl::string_view kSqlStatePayload = "type.firstsip.dev/sqlstate";
constexpr absl::string_view kConstraintPayload = "type.firstsip.dev/constraint";

}  // namespace

absl::StatusCode CodeForSqlState(absl::string_view state) {
  if (state == "23505") return absl::StatusCode::kAlreadyExists;
  if (state == "23502" || state == "23514") return absl::StatusCode::kInvalidArgument;
  if (absl::StartsWith(state, "23")) return absl::StatusCode::kFailedPrecondition;
  if (absl::StartsWith(state, "22")) return absl::StatusCode::kInvalidArgument;
  if (state == "40001" || state == "40P01") return absl::StatusCode::kAborted;
  if (state == "57014") return absl::StatusCode::kCancelled;
  if (IsConnectionFatal(state) || state == "53300" || state == "25006") {
    return absl::StatusCode::kUnavailable;
  }
  return absl::StatusCode::kInternal;
}

bool IsConnectionFatal(absl::string_view sqlstate) {
  return absl::StartsWith(sqlstate, "08") || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03";
}

absl::Status StatusFromResult(const PGresult* result, absl::string_view query_name) {
  const char* state_field = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string state = state_field ? state_field : "";
  absl::StatusCode code = state.empty() ? absl::StatusCode::kUnavailable : CodeForSqlState(state);
  absl::Status status(code, absl::StrCat("database error in ", query_name, " (SQLSTATE ",
                                         state.empty() ? "none" : state, ")"));
  if (!state.empty()) status.SetPayload(kSqlStatePayload, absl::Cord(state));
  const char* constraint = result ? PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME) : nullptr;
  if (constraint != nullptr) status.SetPayload(kConstraintPayload, absl::Cord(constraint));
  return status;
}

absl::Status ConnectionLost(absl::string_view detail) {
  return absl::UnavailableError(absl::StrCat("database unavailable: ", detail));
}

absl::Status Detached(const absl::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status copy(status.code(), std::string(status.message()));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    copy.SetPayload(url, absl::Cord(std::string(payload)));
  });
  return copy;
}

std::string SqlStateOf(const absl::Status& status) {
  auto payload = status.GetPayload(kSqlStatePayload);
  return payload ? std::string(*payload) : std::string();
}

std::string ConstraintOf(const absl::Status& status) {
  auto payload = status.GetPayload(kConstraintPayload);
  return payload ? std::string(*payload) : std::string();
}

}  // namespace firstsip::db
