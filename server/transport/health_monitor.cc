#include "transport/health_monitor.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace firstsip::transport {
namespace {

// pg_is_in_recovery: a standby answers reads but not writes, so a pool that reached one (a DSN
// without target_session_attrs=read-write, during a failover) is not serving.
constexpr db::Query kSchemaVersion{
    "health_schema_version", "SELECT version, dirty, pg_is_in_recovery() FROM schema_migrations",
    db::Access::kRead};

}  // namespace

HealthMonitor::HealthMonitor(db::Pool& pool, HealthService* health, int64_t head_version,
                             std::vector<std::string> services, absl::Duration interval,
                             Metrics* metrics)
    : pool_(pool),
      health_(health),
      head_version_(head_version),
      services_(std::move(services)),
      interval_(interval),
      metrics_(metrics) {}

HealthMonitor::~HealthMonitor() { Stop(); }

void HealthMonitor::Start() {
  // "liveness" answers SERVING while the process serves at all, whatever the database does:
  // a restart would not bring the database back.
  if (health_ != nullptr) health_->SetServing(kLivenessService, true);
  Report(false);
  thread_ = std::thread([this] { Run(); });
}

void HealthMonitor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stop_) return;
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  serving_.store(false);
  if (health_ != nullptr) health_->Shutdown();  // NOT_SERVING for everyone, from now on
}

void HealthMonitor::Report(bool serving) {
  bool changed = serving_.exchange(serving) != serving || !reported_.exchange(true);
  if (!changed || health_ == nullptr) return;
  // Per name: "liveness" stays as it is.
  health_->SetServing("", serving);
  for (const std::string& service : services_) health_->SetServing(service, serving);
  LogInfo(absl::StrCat("health: ", serving ? "SERVING" : "NOT_SERVING"));
}

void HealthMonitor::Run() {
  // The probe's callback may outlive this object's wait, so it shares only a flag holder.
  auto alive = std::make_shared<std::atomic<bool>>(true);
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    lock.unlock();
    // Sampled before this probe's own statement joins the pool.
    if (metrics_ != nullptr) metrics_->RecordPool("primary", pool_.stats());
    pool_.Execute(kSchemaVersion, db::Params(),
                  db::CallOptions::WithDeadline(absl::Now() + interval_),
                  [this, alive, head = head_version_](absl::StatusOr<db::Result> result) {
                    if (!alive->load()) return;
                    bool ok = result.ok() && result->rows() == 1;
                    if (ok) {
                      auto version = result->Int64(0, 0);
                      auto dirty = result->Bool(0, 1);
                      auto standby = result->Bool(0, 2);
                      // A newer version is a rollout in progress: the new build migrated
                      // (additively, by policy) and this replica keeps serving until replaced.
                      ok = version.ok() && dirty.ok() && *version >= head && !*dirty &&
                           standby.ok() && !*standby;
                      if (metrics_ != nullptr && version.ok()) metrics_->SetSchemaVersion(*version);
                    }
                    Report(ok);
                  });
    lock.lock();
    wake_.wait_for(lock, absl::ToChronoMilliseconds(interval_), [this] { return stop_; });
  }
  alive->store(false);
}

}  // namespace firstsip::transport
