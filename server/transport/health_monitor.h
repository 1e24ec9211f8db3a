// Keeps grpc.health.v1.Health truthful: SERVING only while the database answers and its
// schema is clean and at least at this binary's head version (a newer one means a rollout is
// migrating ahead of this replica; migrations are additive, so it keeps serving). Probes through
// the pool on a timer thread of its own, so neither gRPC nor the pool's loop ever waits for it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "db/pool.h"
#include "transport/health_service.h"
#include "transport/metrics.h"

namespace firstsip::transport {

// The health service name a liveness probe asks for (SERVING until shutdown).
inline constexpr char kLivenessService[] = "liveness";

class HealthMonitor {
 public:
  // `services` are the fully qualified names reported alongside the server-wide "" entry.
  // `metrics` (may be null) gets the pool's state and the schema version at every probe.
  HealthMonitor(db::Pool& pool, HealthService* health, int64_t head_version,
                std::vector<std::string> services, absl::Duration interval, Metrics* metrics);
  ~HealthMonitor();

  // Starts probing; the first probe runs at once.
  void Start();
  // Stops probing and reports NOT_SERVING (used at shutdown, before draining calls).
  void Stop();

  bool serving() const { return serving_.load(); }

 private:
  void Run();
  void Report(bool serving);

  db::Pool& pool_;
  HealthService* health_;
  const int64_t head_version_;
  const std::vector<std::string> services_;
  const absl::Duration interval_;
  Metrics* metrics_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mutex_
  std::atomic<bool> serving_{false};
  std::atomic<bool> reported_{false};
  std::thread thread_;
};

}  // namespace firstsip::transport
