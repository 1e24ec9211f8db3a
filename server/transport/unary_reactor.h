// Helpers that finish a unary callback reactor from an absl::StatusOr.
#pragma once

#include <utility>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "transport/grpc_status.h"

namespace firstsip::transport {

// Finishes `reactor` with `status` and returns it, for handlers that fail before any I/O.
inline grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                           const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
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
