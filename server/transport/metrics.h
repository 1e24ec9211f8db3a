// Prometheus metrics of the service (prometheus-cpp): calls by service, method and code, their
// latency, the database pools (the primary's, and each read replica's with its lag), database
// errors, the schema version, push (watch streams, events, notify lag, waiting claims) and the
// briefing scheduler. Scraped over HTTP from --metrics-listen.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "db/pool.h"
#include "db/read_pool.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace firstsip::transport {

class Metrics {
 public:
  Metrics();

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // One finished call. Thread-safe.
  void RecordCall(absl::string_view service, absl::string_view method, absl::string_view code,
                  double seconds);
  // A pool's state now (gauges) and its cumulative error count (a counter), labelled `pool`:
  // "primary", or "replica:HOST:PORT".
  void RecordPool(const std::string& pool, const db::PoolStats& stats);
  // The read replicas: each one's pool, lag and whether reads go to it, and where reads went.
  void RecordReadPool(const db::ReadPoolStats& stats);
  void SetSchemaVersion(int64_t version);

  // Push (WatchBriefings and waiting claims). Thread-safe.
  void WatchOpened();
  void WatchClosed();
  void WatchEventSent();
  void WatchEnded(absl::string_view code);
  void NotifyLag(double seconds);
  void SetClaimWaiters(size_t waiters);

  // Authorization (authorizer.h): a call the policy refused, by its path
  // ("/package.Service/Method"); a re-read of the policy file that loaded a new policy or was
  // refused. Thread-safe.
  void RecordDenied(absl::string_view path);
  void PolicyReloaded(bool loaded);
  // TLS (server_tls.h): a re-read of the certificate files that published a renewed pair or was
  // refused; when the certificate served to new connections expires.
  void TlsReloaded(bool loaded);
  void SetCertificateExpiry(absl::Time not_after);
  // One batch of a lifecycle job (lifecycle/lifecycle_jobs.h): `job` is "erase_deleted_users"
  // or "briefing_retention"; `removed` what it removed ("users", "briefings",
  // "briefing_changes") and how many. Thread-safe.
  void LifecycleBatch(absl::string_view job, bool ok, double seconds,
                      const std::map<std::string, int64_t>& removed);
  // The briefing scheduler (schedule/briefing_scheduler.h). Thread-safe.
  void ScheduleBatch(int created, int existed, int missed, double seconds, double lag_seconds);
  void ScheduleFilled(int users);
  void ScheduleUnschedulable(int users);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& calls_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Gauge>& connections_;
  prometheus::Family<prometheus::Gauge>& waiting_;
  prometheus::Family<prometheus::Gauge>& in_flight_;
  prometheus::Family<prometheus::Counter>& db_errors_;
  prometheus::Family<prometheus::Counter>& db_requests_;
  prometheus::Family<prometheus::Counter>& db_statements_;
  prometheus::Family<prometheus::Counter>& db_syncs_;
  prometheus::Family<prometheus::Gauge>& replica_lag_;
  prometheus::Family<prometheus::Gauge>& replica_usable_;
  prometheus::Family<prometheus::Counter>& reads_;
  prometheus::Gauge& schema_version_;
  prometheus::Gauge& watch_streams_;
  prometheus::Counter& watch_events_;
  prometheus::Family<prometheus::Counter>& watch_ended_;
  prometheus::Histogram& notify_lag_;
  prometheus::Gauge& claim_waiters_;
  prometheus::Family<prometheus::Counter>& denied_;
  prometheus::Family<prometheus::Counter>& policy_reloads_;
  prometheus::Counter& policy_loaded_;
  prometheus::Counter& policy_refused_;
  prometheus::Family<prometheus::Counter>& tls_reloads_;
  prometheus::Counter& tls_loaded_;
  prometheus::Counter& tls_refused_;
  prometheus::Gauge& certificate_expiry_;
  prometheus::Family<prometheus::Counter>& lifecycle_batches_ =
      prometheus::BuildCounter()
          .Name("firstsip_lifecycle_batches_total")
          .Help(
              "batches of the lifecycle jobs (erase_deleted_users, briefing_retention), by "
              "outcome (ok, failed)")
          .Register(*registry_);
  prometheus::Family<prometheus::Counter>& lifecycle_removed_ =
      prometheus::BuildCounter()
          .Name("firstsip_lifecycle_removed_total")
          .Help(
              "what the lifecycle jobs removed for good: users (erased after their soft "
              "delete), briefings and briefing_changes (past retention)")
          .Register(*registry_);
  prometheus::Family<prometheus::Histogram>& lifecycle_duration_ =
      prometheus::BuildHistogram()
          .Name("firstsip_lifecycle_batch_duration_seconds")
          .Help("how long one batch of a lifecycle job held its locks (one statement)")
          .Register(*registry_);
  prometheus::Counter& scheduled_;
  prometheus::Counter& schedule_existed_;
  prometheus::Counter& schedule_missed_;
  prometheus::Gauge& schedule_lag_;
  prometheus::Histogram& schedule_batch_;
  prometheus::Counter& schedule_filled_;
  prometheus::Counter& schedule_unschedulable_;
  std::mutex mutex_;
  // Cumulative counts already added to the counters, by pool or read target; guarded by mutex_.
  std::map<std::string, int64_t> counted_;
  // Adds what `total` has over the count already added under `key`. Requires mutex_.
  void AddNew(prometheus::Counter& counter, const std::string& key, int64_t total);
};

}  // namespace firstsip::transport
