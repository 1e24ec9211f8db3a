#include "transport/call_tracker.h"

namespace firstsip::transport {

// gRPC creates one interceptor per call and destroys it when the call is over, so its
// lifetime is the call's.
class CallCounter final : public grpc::experimental::Interceptor {
 public:
  explicit CallCounter(CallTracker& tracker) : tracker_(tracker) { ++tracker_.in_flight_; }
  ~CallCounter() override { --tracker_.in_flight_; }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    methods->Proceed();
  }

 private:
  CallTracker& tracker_;
};

namespace {

class CallCounterFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallCounterFactory(CallTracker& tracker) : tracker_(tracker) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo*) override {
    return new CallCounter(tracker_);
  }

 private:
  CallTracker& tracker_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
CallTracker::InterceptorFactory() {
  return std::make_unique<CallCounterFactory>(*this);
}

}  // namespace firstsip::transport
