// Counts the calls the server is running, so shutdown can tell when the last one finished
// instead of waiting out its whole grace period for clients that keep idle connections open.
#pragma once

#include <atomic>
#include <memory>

#include "grpcpp/support/server_interceptor.h"

namespace firstsip::transport {

class CallTracker {
 public:
  int in_flight() const { return in_flight_.load(); }

  // An interceptor factory for ServerBuilder; the tracker must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

 private:
  friend class CallCounter;
  std::atomic<int> in_flight_{0};
};

}  // namespace firstsip::transport
