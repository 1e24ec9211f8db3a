// Watches every call the server handles, through a gRPC interceptor: counts the calls in
// flight (so shutdown knows when the last one finished instead of waiting out its grace period
// for clients that keep idle connections open), writes one log line per call (method, code,
// duration, the caller's x-request-id), and records the call's metrics.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/support/server_interceptor.h"
#include "grpcpp/support/status.h"
#include "transport/metrics.h"

namespace firstsip::transport {

class CallTracker {
 public:
  // `metrics` may be null (metrics off); it must outlive the server.
  explicit CallTracker(Metrics* metrics) : metrics_(metrics) {}

  int in_flight() const { return in_flight_.load(); }

  // An interceptor factory for ServerBuilder; the tracker must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

 private:
  friend class CallWatcher;
  void Started() { ++in_flight_; }
  void Finished(absl::string_view full_method, grpc::StatusCode code, absl::Duration elapsed,
                const std::string& request_id);

  Metrics* metrics_;
  std::atomic<int> in_flight_{0};
};

}  // namespace firstsip::transport
