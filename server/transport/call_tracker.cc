#include "transport/call_tracker.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "transport/authorizer.h"

namespace firstsip::transport {

namespace {

constexpr size_t kMaxRequestIdLength = 128;

LogLevel LevelFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::DATA_LOSS:
    case grpc::StatusCode::UNKNOWN:
      return LogLevel::kError;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return LogLevel::kWarning;
    default:
      return LogLevel::kInfo;
  }
}

// The caller's request id, kept printable and short (it goes into logs verbatim).
std::string CleanRequestId(grpc::string_ref raw) {
  std::string id(raw.data(), std::min(raw.size(), kMaxRequestIdLength));
  for (char& c : id) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  return id;
}

// The caller's x-request-id, cleaned; empty when it sent none.
std::string RequestIdOf(const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto found = metadata.find("x-request-id");
  return found == metadata.end() ? std::string() : CleanRequestId(found->second);
}

}  // namespace

void CallTracker::Audit(absl::string_view full_method, grpc::StatusCode code, bool denied,
                        const grpc::ServerContext& context,
                        const std::vector<std::pair<std::string, std::string>>& fields) {
  std::vector<std::pair<absl::string_view, std::string>> line;
  line.reserve(fields.size() + 5);
  line.emplace_back("method", std::string(full_method));
  line.emplace_back("principal", PrincipalOf(PeerOf(context)));
  for (const auto& [name, value] : fields) line.emplace_back(name, value);
  line.emplace_back("outcome", denied ? "denied" : code == grpc::StatusCode::OK ? "ok" : "failed");
  line.emplace_back("code", absl::StatusCodeToString(static_cast<absl::StatusCode>(code)));
  line.emplace_back("request_id", RequestIdOf(context));
  LogAudit("audit", line);
}

void CallTracker::Finished(absl::string_view full_method, grpc::StatusCode code,
                           absl::Duration elapsed, const grpc::ServerContext& context) {
  in_flight_.fetch_sub(1, std::memory_order_relaxed);
  // "/firstsip.v1.UserService/GetUser" -> service, method.
  absl::string_view trimmed = full_method.substr(full_method.empty() ? 0 : 1);
  size_t slash = trimmed.find('/');
  absl::string_view service = trimmed.substr(0, slash);
  absl::string_view method = slash == absl::string_view::npos ? "" : trimmed.substr(slash + 1);
  std::string code_name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  if (metrics_ != nullptr) {
    metrics_->RecordCall(service, method, code_name, absl::ToDoubleSeconds(elapsed));
  }
  LogLevel level = LevelFor(code);
  if (!LogEnabled(level)) return;
  std::string request_id;
  const auto& metadata = context.client_metadata();
  if (auto found = metadata.find("x-request-id"); found != metadata.end()) {
    request_id = CleanRequestId(found->second);
  }
  Log(level, "call",
      {{"method", std::string(full_method)},
       {"code", code_name},
       {"duration_ms", absl::StrCat(absl::ToDoubleMilliseconds(elapsed))},
       {"request_id", request_id}});
}

}  // namespace firstsip::transport
