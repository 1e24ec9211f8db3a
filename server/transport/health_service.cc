#include "transport/health_service.h"

#include <utility>

#include "grpc/health/v1/health.grpc.pb.h"
#include "transport/server_stream.h"

namespace firstsip::transport {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// Status changes are rare; a watcher that lets this many pile up is not reading.
constexpr size_t kMaxQueuedStatuses = 16;

}  // namespace

// One Watch stream: the current status at once, then every change.
class HealthWatch final : public ServerStreamBase {
 public:
  HealthWatch(const ServedMethod& method, ServingQueue& queue, HealthService* const& health)
      : ServerStreamBase(method, queue, kMaxQueuedStatuses), health_(*health) {}

  const std::string& service() const { return request_.service(); }

  // Sends `status` unless it is the one the caller saw last (mutex of the service held).
  void Notify(HealthService::Status status) {
    if (status == last_sent_) return;
    last_sent_ = status;
    HealthCheckResponse response;
    response.set_status(status);
    Send(response);
  }

 private:
  void Start() override {
    if (absl::Status parsed = ParseRequest(request_bytes(), request_); !parsed.ok()) {
      return End(ToGrpcStatus(parsed));
    }
    health_.Subscribe(this);
  }
  void Closed() override { health_.Unsubscribe(this); }

  HealthService& health_;
  HealthCheckRequest request_;
  HealthService::Status last_sent_ = HealthCheckResponse::UNKNOWN;
};

HealthService::HealthService() : service_(grpc::health::v1::Health::service_full_name()) {}

void HealthService::Register(RpcServer& server, grpc::ServerBuilder& builder) {
  server.AddService(builder, service_);
  HandleUnary(server, service_, "Check", this, &HealthService::Check);
  server.Handle<HealthWatch>(service_, "Watch", this);
}

void HealthService::SetServing(const std::string& service, bool serving) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (shut_down_) return;
  statuses_[service] = serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  for (HealthWatch* watch : watches_) {
    if (watch->service() == service) watch->Notify(statuses_[service]);
  }
}

void HealthService::Shutdown() {
  std::lock_guard<std::mutex> lock(mutex_);
  shut_down_ = true;
  for (auto& [name, status] : statuses_) status = HealthCheckResponse::NOT_SERVING;
  for (HealthWatch* watch : watches_) {
    watch->Notify(WatchedStatus(watch->service()));
    watch->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
  }
}

void HealthService::Check(UnaryCall<HealthCheckRequest, HealthCheckResponse>& call) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = statuses_.find(call.request().service());
  if (found == statuses_.end()) {
    return call.Finish(absl::NotFoundError("unknown service"));
  }
  call.response().set_status(found->second);
  call.Finish(absl::OkStatus());
}

HealthService::Status HealthService::WatchedStatus(const std::string& service) const {
  auto found = statuses_.find(service);
  return found == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : found->second;
}

void HealthService::Subscribe(HealthWatch* watch) {
  std::lock_guard<std::mutex> lock(mutex_);
  watch->Notify(WatchedStatus(watch->service()));
  if (shut_down_) {
    watch->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
    return;
  }
  watches_.insert(watch);
}

void HealthService::Unsubscribe(HealthWatch* watch) {
  std::lock_guard<std::mutex> lock(mutex_);
  watches_.erase(watch);
}

}  // namespace firstsip::transport
