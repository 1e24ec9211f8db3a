#include "transport/grpc_status.h"

#include <string>

#include "common/log.h"

namespace firstsip::transport {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  if (status.code() == absl::StatusCode::kInternal) {
    // A bug: keep the detail in our log, where an operator can find it.
    LogError(std::string("internal error: ") + std::string(status.message()));
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Time DeadlineOf(const grpc::ServerContextBase& context) {
  auto deadline = context.deadline();
  if (deadline >= std::chrono::system_clock::time_point::max() - std::chrono::hours(24 * 365)) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(deadline);
}

}  // namespace firstsip::transport
