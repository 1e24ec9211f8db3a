// grpc.health.v1.Health, served on our own completion queues: Check for probes, Watch for
// clients that follow a status. gRPC's built-in health service would need threads of its own
// (it is a callback service), and those compete with ours for the machine's cores; serving it
// here also puts its descriptors in the binary, so reflection can describe it.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>

#include "grpc/health/v1/health.pb.h"
#include "transport/rpc_server.h"
#include "transport/unary_call.h"

namespace firstsip::transport {

class HealthWatch;

class HealthService {
 public:
  using Status = grpc::health::v1::HealthCheckResponse::ServingStatus;

  HealthService();
  HealthService(const HealthService&) = delete;
  HealthService& operator=(const HealthService&) = delete;

  // Registers grpc.health.v1.Health with `server` (whose AddService adds it to `builder`).
  void Register(RpcServer& server, grpc::ServerBuilder& builder);

  // Sets `service`'s status ("" is the server as a whole); watchers hear of a change. Ignored
  // after Shutdown. Thread-safe.
  void SetServing(const std::string& service, bool serving);
  // NOT_SERVING for every service from now on; watch streams get that status and then end
  // with UNAVAILABLE, so callers reconnect to another replica. Thread-safe.
  void Shutdown();

 private:
  friend class HealthWatch;
  void Check(
      UnaryCall<grpc::health::v1::HealthCheckRequest, grpc::health::v1::HealthCheckResponse>& call);
  // The status a watcher of `service` sees now (SERVICE_UNKNOWN for a name never set).
  Status WatchedStatus(const std::string& service) const;  // mutex_ held
  void Subscribe(HealthWatch* watch);
  void Unsubscribe(HealthWatch* watch);

  RawService service_;
  mutable std::mutex mutex_;
  std::map<std::string, Status> statuses_;  // guarded by mutex_
  std::set<HealthWatch*> watches_;          // guarded by mutex_
  bool shut_down_ = false;                  // guarded by mutex_
};

}  // namespace firstsip::transport
