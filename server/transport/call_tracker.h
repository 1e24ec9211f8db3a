// Watches every call the transport serves: counts the calls in flight (so shutdown knows when
// the last one finished instead of waiting out its grace period for clients that keep idle
// connections open), writes one log line per call (method, code, duration, the caller's
// x-request-id), and records the call's metrics. The calls report to it themselves
// (unary_call.h): a gRPC interceptor would cost every call more than the call's own work.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "transport/metrics.h"

namespace firstsip::transport {

class CallTracker {
 public:
  // `metrics` may be null (metrics off); it must outlive the server.
  explicit CallTracker(Metrics* metrics) : metrics_(metrics) {}

  int in_flight() const { return in_flight_.load(); }

  // A call arrived. Thread-safe.
  void Started() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  // The call that arrived is over: `full_method` is "/package.Service/Method", `code` what it
  // answered (CANCELLED when the caller left first). Thread-safe.
  void Finished(absl::string_view full_method, grpc::StatusCode code, absl::Duration elapsed,
                const grpc::ServerContext& context);
  // The audit line of a call of an audited method (RpcServer::AuditCalls), written whatever
  // --log-level says: the method, the caller's principal ("unauthenticated" without a verified
  // client certificate), `fields` (ids; never a secret), the outcome ("denied" by the policy;
  // "ok"; "failed" with the code), and the caller's x-request-id. Thread-safe.
  void Audit(absl::string_view full_method, grpc::StatusCode code, bool denied,
             const grpc::ServerContext& context,
             const std::vector<std::pair<std::string, std::string>>& fields);

 private:
  Metrics* metrics_;
  std::atomic<int> in_flight_{0};
};

}  // namespace firstsip::transport
