#include "transport/call_tracker.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

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

}  // namespace

// gRPC creates one interceptor per call and destroys it when the call is over, so its
// lifetime is the call's.
class CallWatcher final : public grpc::experimental::Interceptor {
 public:
  CallWatcher(CallTracker& tracker, grpc::experimental::ServerRpcInfo* info)
      : tracker_(tracker), method_(info->method()), started_(absl::Now()) {
    tracker_.Started();
  }
  ~CallWatcher() override {
    tracker_.Finished(method_, code_, absl::Now() - started_, request_id_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      auto* metadata = methods->GetRecvInitialMetadata();
      if (auto found = metadata->find("x-request-id"); found != metadata->end()) {
        request_id_ = CleanRequestId(found->second);
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      code_ = methods->GetSendStatus().error_code();
    }
    methods->Proceed();
  }

 private:
  CallTracker& tracker_;
  const char* method_;
  absl::Time started_;
  // A call that ends without sending a status was cancelled by its caller.
  grpc::StatusCode code_ = grpc::StatusCode::CANCELLED;
  std::string request_id_;
};

namespace {

class CallWatcherFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallWatcherFactory(CallTracker& tracker) : tracker_(tracker) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new CallWatcher(tracker_, info);
  }

 private:
  CallTracker& tracker_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
CallTracker::InterceptorFactory() {
  return std::make_unique<CallWatcherFactory>(*this);
}

void CallTracker::Finished(absl::string_view full_method, grpc::StatusCode code,
                           absl::Duration elapsed, const std::string& request_id) {
  --in_flight_;
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
  Log(level, "call",
      {{"method", std::string(full_method)},
       {"code", code_name},
       {"duration_ms", absl::StrCat(absl::ToDoubleMilliseconds(elapsed))},
       {"request_id", request_id}});
}

}  // namespace firstsip::transport
