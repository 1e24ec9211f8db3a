#include "transport/metrics.h"

#include <limits>
#include <string>

namespace firstsip::transport {
namespace {

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *buckets;
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      calls_(prometheus::BuildCounter()
                 .Name("firstsip_grpc_requests_total")
                 .Help("gRPC calls handled, by service, method and status code")
                 .Register(*registry_)),
      latency_(prometheus::BuildHistogram()
                   .Name("firstsip_grpc_request_duration_seconds")
                   .Help("gRPC call latency, from the call's arrival to its status")
                   .Register(*registry_)),
      connections_(prometheus::BuildGauge()
                       .Name("firstsip_db_connections")
                       .Help("database connections by pool and state (in_use: statements in "
                             "flight)")
                       .Register(*registry_)),
      waiting_(prometheus::BuildGauge()
                   .Name("firstsip_db_waiting_requests")
                   .Help("statements waiting for room on a connection, by pool")
                   .Register(*registry_)),
      in_flight_(prometheus::BuildGauge()
                     .Name("firstsip_db_in_flight_statements")
                     .Help("statements sent to PostgreSQL and not yet answered, by pool")
                     .Register(*registry_)),
      db_errors_(prometheus::BuildCounter()
                     .Name("firstsip_db_errors_total")
                     .Help("statements that failed in PostgreSQL or lost their connection, by "
                           "pool")
                     .Register(*registry_)),
      db_requests_(prometheus::BuildCounter()
                       .Name("firstsip_db_requests_total")
                       .Help("requests the pool sent PostgreSQL (statements and lookups of "
                             "callers, sent again ones included), by pool")
                       .Register(*registry_)),
      db_statements_(prometheus::BuildCounter()
                         .Name("firstsip_db_statements_total")
                         .Help("statements that carried them: one carries each lookup of a kind "
                               "in a batch, by pool")
                         .Register(*registry_)),
      db_syncs_(prometheus::BuildCounter()
                    .Name("firstsip_db_syncs_total")
                    .Help("Syncs that closed those statements: one per write, one per batch of "
                          "reads; requests / syncs is the mean batch, by pool")
                    .Register(*registry_)),
      replica_lag_(prometheus::BuildGauge()
                       .Name("firstsip_db_replica_lag_seconds")
                       .Help("how long the oldest change a read replica has not replayed has "
                             "existed on the primary (NaN: cannot be measured now)")
                       .Register(*registry_)),
      replica_usable_(prometheus::BuildGauge()
                          .Name("firstsip_db_replica_usable")
                          .Help("1 while reads go to the read replica, 0 while it is skipped "
                                "(lagging beyond --read-max-lag, unreachable, not a standby)")
                          .Register(*registry_)),
      reads_(prometheus::BuildCounter()
                 .Name("firstsip_db_reads_total")
                 .Help("reads that may use a replica, by where they went: replica, primary (no "
                       "replica usable), primary_retry (a replica failed them)")
                 .Register(*registry_)),
      schema_version_(prometheus::BuildGauge()
                          .Name("firstsip_schema_version")
                          .Help("migration version the database reports (0: unknown)")
                          .Register(*registry_)
                          .Add({})),
      watch_streams_(prometheus::BuildGauge()
                         .Name("firstsip_watch_streams")
                         .Help("WatchBriefings streams open now")
                         .Register(*registry_)
                         .Add({})),
      watch_events_(prometheus::BuildCounter()
                        .Name("firstsip_watch_events_sent_total")
                        .Help("briefing changes queued to WatchBriefings streams")
                        .Register(*registry_)
                        .Add({})),
      watch_ended_(prometheus::BuildCounter()
                       .Name("firstsip_watch_streams_ended_total")
                       .Help("WatchBriefings streams ended, by status code (CANCELLED: the "
                             "caller left; RESOURCE_EXHAUSTED: it read too slowly; "
                             "UNAVAILABLE: feed lost or server stopping)")
                       .Register(*registry_)),
      notify_lag_(prometheus::BuildHistogram()
                      .Name("firstsip_change_notify_lag_seconds")
                      .Help("from the statement that changed a briefing to its notification "
                            "reaching this process (includes the time to commit)")
                      .Register(*registry_)
                      .Add({}, LatencyBuckets())),
      claim_waiters_(prometheus::BuildGauge()
                         .Name("firstsip_claim_waiters")
                         .Help("ClaimNextBriefing calls waiting for work")
                         .Register(*registry_)
                         .Add({})),
      denied_(prometheus::BuildCounter()
                  .Name("firstsip_rpc_denied_total")
                  .Help("calls the authorization policy refused (PERMISSION_DENIED), by method "
                        "path")
                  .Register(*registry_)),
      policy_reloads_(prometheus::BuildCounter()
                          .Name("firstsip_authz_policy_reloads_total")
                          .Help("re-reads of --authz-policy that found it changed, by result: "
                                "loaded (now in force) or refused (it does not parse; the "
                                "previous policy stays in force)")
                          .Register(*registry_)),
      policy_loaded_(policy_reloads_.Add({{"result", "loaded"}})),
      policy_refused_(policy_reloads_.Add({{"result", "refused"}})),
      tls_reloads_(prometheus::BuildCounter()
                       .Name("firstsip_tls_reloads_total")
                       .Help("re-reads of --tls-cert, --tls-key and --tls-client-ca that found "
                             "them changed, by result: loaded (new connections get them) or "
                             "refused (unreadable, or a key that does not match its certificate; "
                             "the previous ones stay in use)")
                       .Register(*registry_)),
      tls_loaded_(tls_reloads_.Add({{"result", "loaded"}})),
      tls_refused_(tls_reloads_.Add({{"result", "refused"}})),
      certificate_expiry_(prometheus::BuildGauge()
                              .Name("firstsip_tls_certificate_expiry_timestamp_seconds")
                              .Help("when the certificate served to new connections expires "
                                    "(Unix time); alert well before it")
                              .Register(*registry_)
                              .Add({})),
      scheduled_(prometheus::BuildCounter()
                     .Name("firstsip_scheduled_briefings_total")
                     .Help("briefings this replica's scheduler created at their users' briefing "
                           "time")
                     .Register(*registry_)
                     .Add({})),
      schedule_existed_(prometheus::BuildCounter()
                            .Name("firstsip_schedule_already_created_total")
                            .Help("due times whose briefing existed already (a CreateBriefing "
                                  "with that day as request_id, or the day's briefing when the "
                                  "user was due twice in one day): nothing created")
                            .Register(*registry_)
                            .Add({})),
      schedule_missed_(prometheus::BuildCounter()
                           .Name("firstsip_schedule_missed_total")
                           .Help("due times missed by more than --schedule-max-lateness (the "
                                 "service was down): no briefing for that day")
                           .Register(*registry_)
                           .Add({})),
      schedule_lag_(prometheus::BuildGauge()
                        .Name("firstsip_schedule_lag_seconds")
                        .Help("now minus the oldest due next_briefing_time not yet handled, as "
                              "this replica's last batch saw it (0: none overdue)")
                        .Register(*registry_)
                        .Add({})),
      schedule_batch_(prometheus::BuildHistogram()
                          .Name("firstsip_schedule_batch_duration_seconds")
                          .Help("one scheduler batch (one statement: claim due users, create "
                                "their briefings, move their next_briefing_time)")
                          .Register(*registry_)
                          .Add({}, LatencyBuckets())),
      schedule_filled_(prometheus::BuildCounter()
                           .Name("firstsip_schedule_backfilled_total")
                           .Help("users whose missing next_briefing_time the scheduler computed "
                                 "(users of the previous release)")
                           .Register(*registry_)
                           .Add({})),
      schedule_unschedulable_(prometheus::BuildCounter()
                                  .Name("firstsip_schedule_unschedulable_total")
                                  .Help("users taken out of the schedule because the database "
                                        "does not know their time zone")
                                  .Register(*registry_)
                                  .Add({})) {}

void Metrics::ScheduleBatch(int created, int existed, int missed, double seconds,
                            double lag_seconds) {
  scheduled_.Increment(created);
  schedule_existed_.Increment(existed);
  schedule_missed_.Increment(missed);
  schedule_batch_.Observe(seconds);
  schedule_lag_.Set(lag_seconds);
}
void Metrics::ScheduleFilled(int users) { schedule_filled_.Increment(users); }
void Metrics::ScheduleUnschedulable(int users) { schedule_unschedulable_.Increment(users); }

void Metrics::WatchOpened() { watch_streams_.Increment(); }
void Metrics::WatchClosed() { watch_streams_.Decrement(); }
void Metrics::WatchEventSent() { watch_events_.Increment(); }
void Metrics::WatchEnded(absl::string_view code) {
  watch_ended_.Add({{"code", std::string(code)}}).Increment();
}
void Metrics::NotifyLag(double seconds) { notify_lag_.Observe(seconds < 0 ? 0 : seconds); }
void Metrics::RecordDenied(absl::string_view path) {
  denied_.Add({{"method", std::string(path)}}).Increment();
}
void Metrics::PolicyReloaded(bool loaded) {
  (loaded ? policy_loaded_ : policy_refused_).Increment();
}
void Metrics::TlsReloaded(bool loaded) { (loaded ? tls_loaded_ : tls_refused_).Increment(); }
void Metrics::SetCertificateExpiry(absl::Time not_after) {
  certificate_expiry_.Set(absl::ToDoubleSeconds(not_after - absl::UnixEpoch()));
}
void Metrics::SetClaimWaiters(size_t waiters) { claim_waiters_.Set(static_cast<double>(waiters)); }

void Metrics::LifecycleBatch(absl::string_view job, bool ok, double seconds,
                             const std::map<std::string, int64_t>& removed) {
  lifecycle_batches_.Add({{"job", std::string(job)}, {"outcome", ok ? "ok" : "failed"}})
      .Increment();
  lifecycle_duration_.Add({{"job", std::string(job)}}, LatencyBuckets()).Observe(seconds);
  for (const auto& [what, count] : removed) {
    if (count > 0) lifecycle_removed_.Add({{"what", what}}).Increment(static_cast<double>(count));
  }
}

void Metrics::RecordCall(absl::string_view service, absl::string_view method,
                         absl::string_view code, double seconds) {
  calls_
      .Add({{"service", std::string(service)},
            {"method", std::string(method)},
            {"code", std::string(code)}})
      .Increment();
  latency_
      .Add({{"service", std::string(service)}, {"method", std::string(method)}}, LatencyBuckets())
      .Observe(seconds);
}

void Metrics::AddNew(prometheus::Counter& counter, const std::string& key, int64_t total) {
  int64_t& counted = counted_[key];
  if (total > counted) {
    counter.Increment(static_cast<double>(total - counted));
    counted = total;
  }
}

void Metrics::RecordPool(const std::string& pool, const db::PoolStats& stats) {
  connections_.Add({{"pool", pool}, {"state", "in_use"}}).Set(stats.busy);
  connections_.Add({{"pool", pool}, {"state", "idle"}}).Set(stats.connected - stats.busy);
  waiting_.Add({{"pool", pool}}).Set(stats.waiting);
  in_flight_.Add({{"pool", pool}}).Set(stats.in_flight);
  std::lock_guard<std::mutex> lock(mutex_);
  AddNew(db_errors_.Add({{"pool", pool}}), "errors " + pool, stats.errors);
  AddNew(db_requests_.Add({{"pool", pool}}), "requests " + pool, stats.requests);
  AddNew(db_statements_.Add({{"pool", pool}}), "statements " + pool, stats.statements);
  AddNew(db_syncs_.Add({{"pool", pool}}), "syncs " + pool, stats.syncs);
}

void Metrics::RecordReadPool(const db::ReadPoolStats& stats) {
  for (const db::StandbyStats& standby : stats.standbys) {
    RecordPool("replica:" + standby.server, standby.pool);
    replica_lag_.Add({{"replica", standby.server}})
        .Set(standby.lag ? absl::ToDoubleSeconds(*standby.lag)
                         : std::numeric_limits<double>::quiet_NaN());
    replica_usable_.Add({{"replica", standby.server}}).Set(standby.usable ? 1 : 0);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  AddNew(reads_.Add({{"target", "replica"}}), "reads replica", stats.on_standby);
  AddNew(reads_.Add({{"target", "primary"}}), "reads primary", stats.on_primary);
  AddNew(reads_.Add({{"target", "primary_retry"}}), "reads primary_retry",
         stats.retried_on_primary);
}

void Metrics::SetSchemaVersion(int64_t version) {
  schema_version_.Set(static_cast<double>(version));
}

}  // namespace firstsip::transport
