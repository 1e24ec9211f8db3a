// Helpers that finish a unary callback reactor from an absl::StatusOr.
#pragma once

#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "db/call_options.h"
#include "grpcpp/grpcpp.h"
#include "transport/grpc_status.h"

namespace firstsip::transport {

// The reactor of a call that reaches the database: it carries the call's deadline and a
// cancellation that fires when gRPC cancels the call (caller gone, or deadline passed), so the
// statement running for it is cancelled too.
class CallReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit CallReactor(const grpc::CallbackServerContext& context)
      : call_{DeadlineOf(context), std::make_shared<db::Cancellation>()} {}

  const db::CallOptions& call() const { return call_; }

  void OnCancel() override { call_.cancellation->Cancel(); }
  void OnDone() override { delete this; }

 private:
  db::CallOptions call_;
};

// Finishes `reactor` with `status` and returns it, for handlers that fail before any I/O.
inline grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                           const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// The shape of every handler that reaches the database: a failed validation answers at once;
// otherwise `start` gets the call's reactor and begins the storage call with its options.
template <typename Start>
grpc::ServerUnaryReactor* StartCall(grpc::CallbackServerContext* context, const absl::Status& valid,
                                    Start start) {
  if (!valid.ok()) return FinishNow(context, valid);
  auto* reactor = new CallReactor(*context);
  start(*reactor);
  return reactor;
}

// A completion for calls whose response carries nothing (google.protobuf.Empty).
inline auto FinishEmpty(grpc::ServerUnaryReactor* reactor) {
  return [reactor](const absl::StatusOr<bool>& result) {
    reactor->Finish(ToGrpcStatus(result.status()));
  };
}

// A completion that copies the value into `response` and finishes `reactor`.
template <typename T>
auto FinishInto(grpc::ServerUnaryReactor* reactor, T* response) {
  return [reactor, response](absl::StatusOr<T> result) mutable {
    if (result.ok()) *response = *std::move(result);
    reactor->Finish(ToGrpcStatus(result.status()));
  };
}

}  // namespace firstsip::transport
