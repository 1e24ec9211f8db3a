// Prometheus metrics of the service (prometheus-cpp): calls by service, method and code, their
// latency, the database pool, database errors, the schema version, and push (watch streams,
// events, notify lag, waiting claims). Scraped over HTTP from
// --metrics-listen.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "absl/strings/string_view.h"
#include "db/pool.h"
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
  // The pool's state now (gauges) and its cumulative error count (a counter).
  void RecordPool(const db::PoolStats& stats);
  void SetSchemaVersion(int64_t version);

  // Push (WatchBriefings and waiting claims). Thread-safe.
  void WatchOpened();
  void WatchClosed();
  void WatchEventSent();
  void WatchEnded(absl::string_view code);
  void NotifyLag(double seconds);
  void SetClaimWaiters(size_t waiters);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& calls_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Gauge>& connections_;
  prometheus::Gauge& waiting_;
  prometheus::Gauge& in_flight_;
  prometheus::Counter& db_errors_;
  prometheus::Gauge& schema_version_;
  prometheus::Gauge& watch_streams_;
  prometheus::Counter& watch_events_;
  prometheus::Family<prometheus::Counter>& watch_ended_;
  prometheus::Histogram& notify_lag_;
  prometheus::Gauge& claim_waiters_;
  std::mutex mutex_;
  int64_t db_errors_seen_ = 0;  // guarded by mutex_
};

}  // namespace firstsip::transport
