// The one place absl::Status becomes grpc::Status. The canonical codes share their numbers, so
// the code passes through; messages are ours (never SQL text, keys or tokens) and pass too.
#pragma once

#include <chrono>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace firstsip::transport {

grpc::Status ToGrpcStatus(const absl::Status& status);

// The call's deadline as absl::Time (InfiniteFuture when the caller set none).
absl::Time DeadlineOf(const grpc::ServerContextBase& context);

}  // namespace firstsip::transport
