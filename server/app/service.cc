#include "app/service.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "app/migrate_command.h"
#include "authz/policy_watcher.h"
#include "common/log.h"
#include "crypto/key_ring.h"
#include "crypto/token_cipher.h"
#include "db/dsn.h"
#include "db/notification_listener.h"
#include "db/pool.h"
#include "db/read_pool.h"
#include "firstsip/v1/briefing.grpc.pb.h"
#include "firstsip/v1/identity.grpc.pb.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "grpc/grpc.h"
#include "grpcpp/grpcpp.h"
#include "lifecycle/lifecycle_jobs.h"
#include "migrate/migration_set.h"
#include "prometheus/exposer.h"
#include "push/change_announcer.h"
#include "push/change_feed.h"
#include "push/change_pruner.h"
#include "push/change_sweeper.h"
#include "push/claim_waiters.h"
#include "schedule/scheduling.h"
#include "storage/briefing_store.h"
#include "storage/change_store.h"
#include "storage/identity_store.h"
#include "storage/lifecycle_store.h"
#include "storage/user_store.h"
#include "transport/authorizer.h"
#include "transport/briefing_service.h"
#include "transport/call_tracker.h"
#include "transport/grpc_status.h"
#include "transport/health_monitor.h"
#include "transport/health_service.h"
#include "transport/identity_service.h"
#include "transport/metrics.h"
#include "transport/reflection_service.h"
#include "transport/rpc_server.h"
#include "transport/server_tls.h"
#include "transport/user_service.h"

namespace firstsip::app {
namespace {

db::PoolOptions PrimaryPoolOptions(const Options& options) {
  db::PoolOptions pool_options;
  pool_options.dsn = options.database_url;
  pool_options.size = options.pool_size;
  pool_options.max_waiting = options.max_waiting;
  pool_options.prepare_statements = options.prepared_statements;
  return pool_options;
}

std::string Describe(const transport::CertificateSummary& certificate) {
  return absl::StrCat("serial ", certificate.serial, ", subject ", certificate.subject,
                      ", expires ", absl::FormatTime(certificate.not_after, absl::UTCTimeZone()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Service>> Service::Create(const Options& options,
                                                         const crypto::KeyRing& keys) {
  std::unique_ptr<Service> service(new Service(options, keys));
  transport::Metrics* metrics = service->metrics_.get();
  if (options.tls_cert.empty()) {
    service->credentials_ = grpc::InsecureServerCredentials();
  } else {
    absl::StatusOr<std::unique_ptr<transport::ServerTls>> tls = transport::ServerTls::Create(
        transport::TlsFiles{options.tls_cert, options.tls_key, options.tls_client_ca},
        options.refresh_interval,
        [metrics](const absl::Status& outcome, const transport::CertificateSummary* loaded) {
          metrics->TlsReloaded(outcome.ok());
          if (!outcome.ok()) {
            LogError(
                absl::StrCat("TLS: the certificate files were not reloaded; new connections "
                             "keep getting the previous ones: ",
                             outcome.message()));
            return;
          }
          metrics->SetCertificateExpiry(loaded->not_after);
          LogInfo(absl::StrCat("TLS: new connections get the renewed certificate: ",
                               Describe(*loaded)));
        });
    if (!tls.ok()) return tls.status();
    service->tls_ = *std::move(tls);
    service->credentials_ = service->tls_->credentials();
    metrics->SetCertificateExpiry(service->tls_->initial().not_after);
    LogInfo(absl::StrCat("TLS: certificate ", Describe(service->tls_->initial())));
  }
  if (!options.authz_policy.empty()) {
    absl::StatusOr<std::unique_ptr<authz::PolicyWatcher>> policies = authz::PolicyWatcher::Create(
        options.authz_policy, options.refresh_interval,
        [metrics](const absl::Status& outcome, const authz::Policy* loaded) {
          metrics->PolicyReloaded(outcome.ok());
          if (!outcome.ok()) {
            LogError(
                absl::StrCat("--authz-policy: not reloaded, the previous policy stays in force: ",
                             outcome.message()));
            return;
          }
          LogInfo(absl::StrCat("--authz-policy: reloaded policy \"", loaded->name(), "\" (",
                               loaded->deny_rules().size(), " deny rules, ",
                               loaded->allow_rules().size(), " allow rules)"));
        });
    if (!policies.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--authz-policy: ", policies.status().message()));
    }
    service->policies_ = *std::move(policies);
    service->authorizer_ = std::make_unique<transport::Authorizer>(*service->policies_, metrics);
  }
  return service;
}

Service::Service(const Options& options, const crypto::KeyRing& keys)
    : options_(options), keys_(keys), metrics_(std::make_unique<transport::Metrics>()) {}

Service::~Service() {
  if (started_) Stop();
}

int Service::Run(const sigset_t& shutdown_signals) {
  if (!Start()) return 1;
  int received = 0;
  sigwait(&shutdown_signals, &received);
  LogInfo(absl::StrCat("received ", received == SIGTERM ? "SIGTERM" : "SIGINT",
                       ": draining in-flight calls"));
  Stop();
  return 0;
}

bool Service::Start() {
  LogInfo(absl::StrCat("database: ", db::DsnCutPassword(options_.database_url)));
  if (!options_.direct_database_url.empty()) {
    LogInfo(absl::StrCat("direct database: ", db::DsnCutPassword(options_.direct_database_url)));
  }
  if (!PrepareSchema(options_, options_.migrate_on_start)) return false;
  absl::StatusOr<migrate::MigrationSet> migrations = LoadMigrations(options_);
  if (!migrations.ok()) return false;
  head_version_ = migrations->head();

  if (!StartPools()) return false;

  cipher_ = std::make_unique<crypto::TokenCipher>(keys_);
  // Writes that set a user's next briefing time wake the scheduler (made with the background
  // jobs, before any call arrives) when it is sooner than what it waits for.
  storage::BriefingDue briefing_due = [this](absl::Time due) {
    if (scheduling_ != nullptr) scheduling_->DueAt(due);
  };
  user_store_ = std::make_unique<storage::UserStore>(*pool_, *reads_, briefing_due);
  identity_store_ =
      std::make_unique<storage::IdentityStore>(*pool_, *reads_, *cipher_, briefing_due);
  change_store_ = std::make_unique<storage::ChangeStore>(*pool_);
  // Changes are announced after their commit, batched (push/change_announcer.h).
  announcer_ = std::make_unique<push::ChangeAnnouncer>(*change_store_);
  // EraseUser and ExportUser; an erasure's notice ends the user's watches.
  lifecycle_store_ = std::make_unique<storage::LifecycleStore>(
      *pool_, [announcer = announcer_.get()](std::string notice) {
        announcer->Announce(std::move(notice));
      });
  user_service_ = std::make_unique<transport::UserServiceImpl>(
      *user_store_, transport::ExportServices{lifecycle_store_.get(),
                                              static_cast<size_t>(options_.export_message_bytes)});
  briefing_store_ = std::make_unique<storage::BriefingStore>(
      *pool_, *reads_, [announcer = announcer_.get()](std::string notice) {
        announcer->Announce(std::move(notice));
      });
  identity_service_ = std::make_unique<transport::IdentityServiceImpl>(*identity_store_);

  // Reflection is served by gRPC's synchronous API, past our transport: it asks the policy
  // itself.
  transport::ReflectionCallCheck reflection_check;
  if (authorizer_ != nullptr) {
    reflection_check = [authorizer = authorizer_.get()](const grpc::ServerContextBase& context,
                                                        const std::string& path) {
      return transport::ToGrpcStatus(authorizer->Check(context, path));
    };
  }
  transport::InitReflectionServerBuilderPlugin(std::move(reflection_check));
  if (!StartMetrics()) return false;
  StartPush();
  briefing_service_ = std::make_unique<transport::BriefingServiceImpl>(
      *briefing_store_, *claim_waiters_,
      transport::WatchServices{feed_.get(), change_store_.get(), metrics_.get()});
  StartBackgroundJobs();
  if (!StartServer()) return false;

  health_ = std::make_unique<transport::HealthMonitor>(
      *pool_, health_service_.get(), head_version_,
      std::vector<std::string>{std::string(v1::UserService::service_full_name()),
                               std::string(v1::IdentityService::service_full_name()),
                               std::string(v1::BriefingService::service_full_name())},
      options_.health_interval, metrics_.get());
  health_->Start();
  started_ = true;
  std::string host = options_.listen.substr(0, options_.listen.rfind(':'));
  std::string policy;
  if (policies_ != nullptr) {
    policy = absl::StrCat(", authorization policy \"", policies_->current()->name(), "\" from ",
                          options_.authz_policy);
  }
  LogInfo(absl::StrCat("serving on ", host, ":", port_,
                       options_.tls_cert.empty()        ? ""
                       : options_.tls_client_ca.empty() ? " (TLS)"
                                                        : " (mutual TLS)",
                       policy));
  return true;
}

bool Service::StartPools() {
  db::PoolOptions pool_options = PrimaryPoolOptions(options_);
  pool_ = std::make_unique<db::Pool>(pool_options);
  // Reads that a slightly stale answer may serve go to the standbys, when there are any.
  if (!options_.read_database_url.empty()) {
    LogInfo(absl::StrCat("read database: ", db::DsnCutPassword(options_.read_database_url)));
    db::ReadPoolOptions read_options;
    read_options.dsn = options_.read_database_url;
    read_options.pool = pool_options;
    read_options.max_lag = options_.read_max_lag;
    absl::StatusOr<std::unique_ptr<db::ReadPool>> created =
        db::ReadPool::Create(*pool_, std::move(read_options),
                             [metrics = metrics_.get()](const db::ReadPoolStats& stats) {
                               metrics->RecordReadPool(stats);
                             });
    if (!created.ok()) {
      LogError(absl::StrCat("--read-database-url: ", created.status().message()));
      pool_->Stop();
      return false;
    }
    read_pool_ = *std::move(created);
  }
  reads_ = read_pool_ != nullptr ? static_cast<db::Executor*>(read_pool_.get()) : pool_.get();
  return true;
}

bool Service::StartMetrics() {
  if (options_.metrics_listen.empty()) return true;
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(options_.metrics_listen);
  } catch (const std::exception&) {
    LogError(absl::StrCat("cannot serve metrics on ", options_.metrics_listen,
                          " (in use, or not a local address): choose another HOST:PORT with "
                          "--metrics-listen (env FIRSTSIP_METRICS_LISTEN), or turn metrics off "
                          "with --metrics-listen= (empty)"));
    pool_->Stop();
    return false;
  }
  exposer_->RegisterCollectable(metrics_->registry());
  std::vector<int> ports = exposer_->GetListeningPorts();
  std::string host = options_.metrics_listen.substr(0, options_.metrics_listen.rfind(':'));
  LogInfo(
      absl::StrCat("metrics on http://", host, ":", ports.empty() ? 0 : ports.front(), "/metrics"));
  return true;
}

void Service::StartPush() {
  // Waiting claims, and the change feed that one LISTEN connection feeds. The waiters ask the
  // database when the next lease runs out (the lambda runs only once they exist).
  claim_waiters_ = std::make_unique<push::ClaimWaiters>([this] {
    change_store_->NextLeaseExpiry(db::CallOptions::WithDeadline(absl::Now() + absl::Seconds(5)),
                                   [this](absl::StatusOr<std::optional<absl::Time>> expiry) {
                                     if (expiry.ok() && expiry->has_value())
                                       claim_waiters_->LeaseTaken(**expiry);
                                   });
  });
  feed_ = std::make_unique<push::ChangeFeed>(claim_waiters_.get(),
                                             [metrics = metrics_.get()](absl::Duration lag) {
                                               metrics->NotifyLag(absl::ToDoubleSeconds(lag));
                                             });
  db::ListenerOptions listener_options;
  listener_options.dsn = DirectDatabaseUrl(options_);
  listener_options.channel = FIRSTSIP_CHANGES_CHANNEL;
  db::ListenerHandler listener_handler;
  push::ChangeFeed* feed = feed_.get();
  listener_handler.listening = [feed] { feed->OnListening(); };
  listener_handler.notified = [feed](absl::string_view payload) { feed->OnNotification(payload); };
  listener_handler.lost = [feed](const absl::Status& why) { feed->OnLost(why); };
  listener_ =
      std::make_unique<db::NotificationListener>(listener_options, std::move(listener_handler));
  // The database just answered the migrations, so LISTEN is a moment away: wait for it, so a
  // server that says "serving" can serve watches too (until then they are UNAVAILABLE).
  for (absl::Time until = absl::Now() + absl::Seconds(5);
       !listener_->listening() && absl::Now() < until;) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  if (!listener_->listening()) {
    LogWarning("change feed not listening yet: WatchBriefings answers UNAVAILABLE until it is");
  }
}

void Service::StartBackgroundJobs() {
  pruner_ = std::make_unique<push::ChangePruner>(*change_store_, options_.change_retention);
  sweeper_ = std::make_unique<push::ChangeSweeper>(*change_store_, *feed_);
  // Erasure after soft delete and briefing retention, on every replica, on a connection of
  // their own (lifecycle_jobs.h).
  lifecycle::JobOptions lifecycle_options;
  lifecycle_options.erase_deleted_after = options_.erase_deleted_after;
  lifecycle_options.briefing_retention = options_.briefing_retention;
  lifecycle_options.interval = options_.lifecycle_interval;
  lifecycle_jobs_ = std::make_unique<lifecycle::LifecycleJobs>(
      PrimaryPoolOptions(options_),
      [announcer = announcer_.get()](std::string notice) {
        announcer->Announce(std::move(notice));
      },
      lifecycle_options,
      [metrics = metrics_.get()](const std::string& job, bool ok, absl::Duration took,
                                 const std::map<std::string, int64_t>& removed) {
        metrics->LifecycleBatch(job, ok, absl::ToDoubleSeconds(took), removed);
      });
  // Every replica creates the briefings that fall due, on a connection of its own, through the
  // same change feed as CreateBriefing (schedule/scheduling.h).
  if (options_.schedule_briefings) {
    schedule::SchedulerOptions scheduler_options;
    scheduler_options.max_lateness = options_.schedule_max_lateness;
    schedule::SchedulerObserver observer;
    transport::Metrics* metrics = metrics_.get();
    observer.batch = [metrics](const storage::ScheduleBatch& batch, absl::Duration took) {
      metrics->ScheduleBatch(batch.created, batch.existed, batch.missed,
                             absl::ToDoubleSeconds(took), absl::ToDoubleSeconds(batch.lag));
    };
    observer.filled = [metrics](int users) { metrics->ScheduleFilled(users); };
    observer.unschedulable = [metrics](int users) { metrics->ScheduleUnschedulable(users); };
    scheduling_ = std::make_unique<schedule::Scheduling>(
        PrimaryPoolOptions(options_),
        [announcer = announcer_.get()](std::string notice) {
          announcer->Announce(std::move(notice));
        },
        scheduler_options, std::move(observer));
    scheduling_->Start();
  } else {
    LogInfo("--schedule-briefings=false: this replica creates no scheduled briefings");
  }
}

void Service::StopBackgroundJobs() {
  if (scheduling_ != nullptr) scheduling_->Stop();
  lifecycle_jobs_->Stop();
  pruner_->Stop();
  sweeper_->Stop();
}

bool Service::StartServer() {
  builder_ = std::make_unique<grpc::ServerBuilder>();
  grpc::ServerBuilder& builder = *builder_;
  calls_ = std::make_unique<transport::CallTracker>(metrics_.get());
  int threads = options_.grpc_threads > 0
                    ? options_.grpc_threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  rpc_ = std::make_unique<transport::RpcServer>(threads, *calls_, authorizer_.get());
  health_service_ = std::make_unique<transport::HealthService>();
  builder.AddListeningPort(options_.listen, credentials_, &port_);
  // Watch streams are long and often quiet. Clients keep them alive with HTTP/2 pings (ours
  // every 30 s): accept pings that often instead of gRPC's default of one per 5 minutes on a
  // connection sending no data, which answers a faster pinger with GOAWAY "too_many_pings".
  // And ping quiet clients ourselves (--keepalive), so a watcher that vanished (no FIN) frees
  // its stream (tests/e2e/keepalive_e2etest.cc).
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(kMinClientPingInterval)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(options_.keepalive)));
  builder.AddChannelArgument(
      GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
      static_cast<int>(absl::ToInt64Milliseconds(KeepaliveTimeout(options_))));
  user_service_->Register(*rpc_, builder);
  identity_service_->Register(*rpc_, builder);
  briefing_service_->Register(*rpc_, builder);
  health_service_->Register(*rpc_, builder);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    LogError(
        absl::StrCat("cannot listen on ", options_.listen, " (in use, or not a local address)"));
    pool_->Stop();
    return false;
  }
  if (absl::Status started = rpc_->Start(); !started.ok()) {
    LogError(std::string(started.message()));
    server_->Shutdown();
    rpc_->Stop();
    pool_->Stop();
    return false;
  }
  return true;
}

void Service::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  // Order matters: report NOT_SERVING; end the watch streams (UNAVAILABLE: callers resume on
  // another replica) and the waiting claims (with nothing); stop accepting and let in-flight
  // calls finish (they need the pool), then close the pool (its loop answers whatever is
  // left), and only then the completion queues, which carry those answers' completions.
  health_->Stop();
  feed_->Shutdown();
  claim_waiters_->Shutdown();
  absl::Time give_up = absl::Now() + options_.shutdown_grace;
  std::atomic<bool> drained{false};
  std::thread drain([&] {
    server_->Shutdown(absl::ToChronoTime(give_up));
    drained.store(true);
  });
  // gRPC's Shutdown also waits for clients to hang up their idle connections. Once Shutdown
  // has stopped new calls (it does so at once; the pause covers the thread's start) and our
  // own calls are done, nothing is left to wait for: close those connections.
  absl::SleepFor(absl::Milliseconds(50));
  while (!drained.load()) {
    if (calls_->in_flight() == 0) grpc_server_cancel_all_calls(server_->c_server());
    absl::SleepFor(absl::Milliseconds(20));
  }
  drain.join();
  server_->Wait();
  StopBackgroundJobs();
  listener_->Stop();
  if (read_pool_ != nullptr) read_pool_->Stop();
  pool_->Stop();
  for (int i = 0; i < 500 && calls_->in_flight() > 0; ++i) absl::SleepFor(absl::Milliseconds(10));
  rpc_->Stop();
  if (policies_ != nullptr) policies_->Stop();
  if (tls_ != nullptr) tls_->Stop();
  LogInfo("stopped");
}

}  // namespace firstsip::app
