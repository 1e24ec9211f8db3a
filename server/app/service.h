// The serving process (`firstsip-server serve`), assembled in one place: what starts in which
// order at start-up and what stops in which order at SIGTERM. main.cc parses the configuration
// and hands it here; nothing else builds these parts.
//
// Create (configuration that must be right before anything connects): the TLS files and the
// authorization policy, each read, checked, and re-read while serving from then on.
// Start, in order:
//   1. the schema (migrations, as --migrate says);
//   2. the database pools (the primary's, then the read replicas');
//   3. storage and the services that answer calls;
//   4. the metrics endpoint;
//   5. push: waiting claims, the change feed and its LISTEN connection;
//   6. background jobs (see StartBackgroundJobs);
//   7. the gRPC server and its completion queues;
//   8. health, which turns SERVING once the database answers.
// Shutdown (Stop) runs in the order spelled out there; each step says what it waits for. The
// file watchers stop last.
#pragma once

#include <signal.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "app/options.h"

namespace grpc {
class Server;
class ServerBuilder;
class ServerCredentials;
}  // namespace grpc
namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace firstsip {
namespace authz {
class PolicyWatcher;
}  // namespace authz
namespace crypto {
class KeyRing;
class TokenCipher;
}  // namespace crypto
namespace schedule {
class Scheduling;
}  // namespace schedule
namespace lifecycle {
class LifecycleJobs;
}  // namespace lifecycle
namespace db {
class Executor;
class NotificationListener;
class Pool;
class ReadPool;
}  // namespace db
namespace push {
class ChangeAnnouncer;
class ChangeFeed;
class ChangePruner;
class ChangeSweeper;
class ClaimWaiters;
}  // namespace push
namespace storage {
class BriefingStore;
class ChangeStore;
class IdentityStore;
class LifecycleStore;
class UserStore;
}  // namespace storage
namespace transport {
class Authorizer;
class BriefingServiceImpl;
class CallTracker;
class HealthMonitor;
class HealthService;
class IdentityServiceImpl;
class Metrics;
class RpcServer;
class ServerTls;
class UserServiceImpl;
}  // namespace transport

namespace app {

class Service {
 public:
  // Checks what can be checked before anything connects: the TLS files (read, checked, and
  // re-read from then on: server_tls.h), and the authorization
  // policy (read and parsed now; re-read from then on). INVALID_ARGUMENT naming the flag or the
  // file and what is wrong (start-up stops with that line and exit code 2). `keys` must outlive
  // the service.
  static absl::StatusOr<std::unique_ptr<Service>> Create(const Options& options,
                                                         const crypto::KeyRing& keys);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Starts everything, in the order above, and serves. False when a part could not start: the
  // reason was logged and what had started is stopped again.
  bool Start();

  // Stops everything, in order (see the .cc). Idempotent; the destructor calls it.
  void Stop();

  // Start(), then serve until one of `shutdown_signals` (blocked in every thread) arrives, then
  // Stop(). The process exit code: 0 after a clean stop, 1 when start-up failed.
  int Run(const sigset_t& shutdown_signals);

  // The gRPC port (after Start; --listen may ask for port 0).
  int port() const { return port_; }

 private:
  Service(const Options& options, const crypto::KeyRing& keys);

  bool StartPools();
  bool StartMetrics();
  void StartPush();
  bool StartServer();

  // Background jobs: periodic work beside the calls (the change feed's pruner and sweeper, the
  // personal-data lifecycle's erasure and retention, the briefing scheduler).
  // Started once the pools and the change feed are up, before the server serves; stopped once
  // the server has drained its calls, before the change feed's connection and the pools close.
  // A new job is created in StartBackgroundJobs and stopped in StopBackgroundJobs.
  void StartBackgroundJobs();
  void StopBackgroundJobs();

  const Options options_;
  const crypto::KeyRing& keys_;
  bool started_ = false;
  bool stopped_ = false;
  int port_ = 0;

  // Made by Create, before anything starts: the metrics, plaintext or TLS from the watched
  // files, and with --authz-policy the policy in force and the check of every call.
  std::unique_ptr<transport::Metrics> metrics_;
  std::unique_ptr<transport::ServerTls> tls_;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  std::unique_ptr<authz::PolicyWatcher> policies_;
  std::unique_ptr<transport::Authorizer> authorizer_;

  // Made by Start, in start order: on a failed start the destructor releases them in reverse.
  int64_t head_version_ = 0;  // the newest migration this binary has
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<db::ReadPool> read_pool_;
  db::Executor* reads_ = nullptr;  // read_pool_ when there is one, else pool_
  std::unique_ptr<crypto::TokenCipher> cipher_;
  std::unique_ptr<storage::UserStore> user_store_;
  std::unique_ptr<storage::IdentityStore> identity_store_;
  std::unique_ptr<storage::ChangeStore> change_store_;
  std::unique_ptr<push::ChangeAnnouncer> announcer_;
  std::unique_ptr<storage::LifecycleStore> lifecycle_store_;
  std::unique_ptr<transport::UserServiceImpl> user_service_;
  std::unique_ptr<storage::BriefingStore> briefing_store_;
  std::unique_ptr<transport::IdentityServiceImpl> identity_service_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::unique_ptr<push::ClaimWaiters> claim_waiters_;
  std::unique_ptr<push::ChangeFeed> feed_;
  std::unique_ptr<db::NotificationListener> listener_;
  std::unique_ptr<transport::BriefingServiceImpl> briefing_service_;
  // Background jobs.
  std::unique_ptr<push::ChangePruner> pruner_;
  std::unique_ptr<push::ChangeSweeper> sweeper_;
  std::unique_ptr<lifecycle::LifecycleJobs> lifecycle_jobs_;
  // Null with --schedule-briefings=false. Stores tell it of due times they set (DueAt), so it
  // is made before them and started with the other background jobs.
  std::unique_ptr<schedule::Scheduling> scheduling_;
  // The server.
  std::unique_ptr<grpc::ServerBuilder> builder_;
  std::unique_ptr<transport::CallTracker> calls_;
  std::unique_ptr<transport::RpcServer> rpc_;
  std::unique_ptr<transport::HealthService> health_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<transport::HealthMonitor> health_;
};

}  // namespace app
}  // namespace firstsip
