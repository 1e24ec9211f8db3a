#include "logic/briefing_rules.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "logic/validators.h"

namespace firstsip::logic {
namespace {

// Checks a Value tree. The depth limit is checked before recursing, so the walk itself never
// goes deeper than kMaxContentDepth frames.
absl::Status CheckValue(const google::protobuf::Value& value, int depth, absl::string_view field) {
  if (depth > kMaxContentDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": nested deeper than ", kMaxContentDepth, " levels"));
  }
  switch (value.kind_case()) {
    case google::protobuf::Value::kNumberValue:
      if (!std::isfinite(value.number_value())) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ": numbers must be finite (JSON has no NaN or Infinity)"));
      }
      return absl::OkStatus();
    case google::protobuf::Value::kStringValue:
      if (value.string_value().find('\0') != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(field, ": strings must not contain NUL"));
      }
      return absl::OkStatus();
    case google::protobuf::Value::kStructValue:
      for (const auto& [key, child] : value.struct_value().fields()) {
        if (key.find('\0') != std::string::npos) {
          return absl::InvalidArgumentError(absl::StrCat(field, ": keys must not contain NUL"));
        }
        FIRSTSIP_RETURN_IF_ERROR(CheckValue(child, depth + 1, field));
      }
      return absl::OkStatus();
    case google::protobuf::Value::kListValue:
      for (const auto& child : value.list_value().values()) {
        FIRSTSIP_RETURN_IF_ERROR(CheckValue(child, depth + 1, field));
      }
      return absl::OkStatus();
    default:
      return absl::OkStatus();  // null, bool, or unset (printed as null)
  }
}

}  // namespace

absl::StatusOr<std::string> StatusToStored(v1::BriefingStatus status, absl::string_view field) {
  switch (status) {
    case v1::BRIEFING_STATUS_PENDING:
      return std::string("pending");
    case v1::BRIEFING_STATUS_PROCESSING:
      return std::string("processing");
    case v1::BRIEFING_STATUS_COMPLETED:
      return std::string("completed");
    case v1::BRIEFING_STATUS_FAILED:
      return std::string("failed");
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": not a briefing status (got ", static_cast<int>(status), ")"));
  }
}

absl::StatusOr<v1::BriefingStatus> StatusFromStored(absl::string_view stored) {
  if (stored == "pending") return v1::BRIEFING_STATUS_PENDING;
  if (stored == "processing") return v1::BRIEFING_STATUS_PROCESSING;
  if (stored == "completed") return v1::BRIEFING_STATUS_COMPLETED;
  if (stored == "failed") return v1::BRIEFING_STATUS_FAILED;
  return absl::InternalError("unknown briefing status stored");
}

std::string StatusName(v1::BriefingStatus status) { return v1::BriefingStatus_Name(status); }

absl::StatusOr<std::string> ContentToJson(const google::protobuf::Struct& content,
                                          absl::string_view field) {
  for (const auto& [key, value] : content.fields()) {
    if (key.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": keys must not contain NUL"));
    }
    FIRSTSIP_RETURN_IF_ERROR(CheckValue(value, 1, field));
  }
  std::string json;
  auto printed = google::protobuf::util::MessageToJsonString(content, &json);
  if (!printed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": cannot be written as JSON"));
  }
  if (json.size() > kMaxContentBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", json.size(), " bytes of JSON; the limit is 1 MiB"));
  }
  return json;
}

absl::StatusOr<absl::Duration> LeaseFrom(const google::protobuf::Duration& lease, bool has_lease,
                                         absl::string_view field) {
  if (!has_lease || (lease.seconds() == 0 && lease.nanos() == 0)) return kDefaultLease;
  absl::Duration duration = absl::Seconds(lease.seconds()) + absl::Nanoseconds(lease.nanos());
  if (duration < absl::ZeroDuration() || duration > kMaxLease) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be between 0 (meaning 5m) and 24h"));
  }
  return duration;
}

absl::StatusOr<absl::Duration> ClaimWaitFrom(const google::protobuf::Duration& wait, bool has_wait,
                                             absl::string_view field) {
  if (!has_wait) return absl::ZeroDuration();
  absl::Duration duration = absl::Seconds(wait.seconds()) + absl::Nanoseconds(wait.nanos());
  if (duration < absl::ZeroDuration() || duration > kMaxClaimWait) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be between 0 (answer at once) and 5m"));
  }
  return duration;
}

absl::StatusOr<std::optional<std::string>> RequestIdFrom(absl::string_view request_id,
                                                         absl::string_view field) {
  if (request_id.empty()) return std::optional<std::string>();
  FIRSTSIP_RETURN_IF_ERROR(ValidateIdentifier(request_id, field, kMaxRequestIdLength));
  return std::optional<std::string>(std::string(request_id));
}

}  // namespace firstsip::logic
