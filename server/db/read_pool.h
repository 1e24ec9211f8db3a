// Reads on hot standbys (--read-database-url), within a bound on staleness (--read-max-lag).
//
// Each standby the URL names gets a pool of its own and a probe: every `probe_interval` the
// primary's flushed WAL position and each standby's replayed position are read, and
// db/wal_timeline.h turns the two into time. A read goes to a standby known to lack nothing
// older than max_lag, in turn among such standbys; when none is, to the primary. A read a
// standby fails because it went away, cancelled it for a recovery conflict, or had no room,
// runs again on the primary, so callers never see a standby's trouble.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/periodic_thread.h"
#include "db/executor.h"
#include "db/pool.h"
#include "db/wal_timeline.h"

namespace firstsip::db {

struct ReadPoolOptions {
  // One or more hot standbys; libpq's multi-host form names several, each probed and used on
  // its own (give each standby's own address, not a load-balanced name: see OPERATIONS.md).
  std::string dsn;
  // Each standby's pool: size, pipelining, statement preparation, timeouts (its dsn is unused).
  PoolOptions pool;
  // A standby that may lack a change older than this is skipped.
  absl::Duration max_lag = absl::Seconds(1);
  // How often positions are read; zero: max_lag / 5, kept between 20 ms and 1 s.
  absl::Duration probe_interval = absl::ZeroDuration();
};

struct StandbyStats {
  std::string server;                 // "host:port"
  bool usable = false;                // reads go to it now
  std::optional<absl::Duration> lag;  // unknown while it or the primary cannot be measured
  PoolStats pool;
};

struct ReadPoolStats {
  std::vector<StandbyStats> standbys;
  int64_t on_standby = 0;          // reads sent to a standby
  int64_t on_primary = 0;          // reads sent to the primary: no standby was usable
  int64_t retried_on_primary = 0;  // reads a standby failed, run again on the primary
};

class ReadPool final : public Executor {
 public:
  // `primary` serves what no standby can, and the probes' primary positions; it must outlive
  // this. `observe` (may be empty) gets the stats after each probe, on the probe's thread.
  // INVALID_ARGUMENT when the DSN cannot be split into servers.
  static absl::StatusOr<std::unique_ptr<ReadPool>> Create(
      Executor& primary, ReadPoolOptions options,
      std::function<void(const ReadPoolStats&)> observe = nullptr);
  ~ReadPool() override;
  ReadPool(const ReadPool&) = delete;
  ReadPool& operator=(const ReadPool&) = delete;

  void Execute(const Query& query, Params params, const CallOptions& call,
               ResultCallback done) override;
  void Find(const Lookup& lookup, std::string key, const CallOptions& call,
            RowCallback done) override;

  // Stops probing and the standbys' pools; reads still waiting on a standby go to the primary.
  // Idempotent. Call before stopping the primary.
  void Stop();

  ReadPoolStats stats() const;

 private:
  struct Standby {
    std::string server;
    std::unique_ptr<Pool> pool;
    // Reads may go here until then (absl::GetCurrentTimeNanos() units).
    std::atomic<int64_t> usable_until_ns{0};
    std::atomic<bool> probing{false};
    // Guarded by ReadPool::mutex_.
    std::optional<absl::Duration> lag;
    std::string state;  // what was last logged about it: "usable" or why not
  };
  // What the primary's probe touches: it answers on the primary's thread, which may outlive
  // this object, so it shares ownership.
  struct PrimaryPositions {
    explicit PrimaryPositions(absl::Duration history) : timeline(history) {}
    std::mutex mutex;
    WalTimeline timeline;  // guarded by mutex
    std::atomic<bool> probing{false};
  };

  ReadPool(Executor& primary, ReadPoolOptions options,
           std::function<void(const ReadPoolStats&)> observe);

  // Runs send(executor, done) on a usable standby, else on the primary; a read that a standby
  // failed in a way the primary may not (db/read_pool.cc) is sent again to the primary.
  template <typename T, typename Send>
  void Route(const CallOptions& call, Send send,
             absl::AnyInvocable<void(absl::StatusOr<T>) &&> done);
  void Probe();
  void OnStandbyPosition(Standby& standby, absl::StatusOr<Result> position);
  // Records and, when it changed, logs what the last probe found.
  void SetState(Standby& standby, absl::Time usable_until, std::optional<absl::Duration> lag,
                std::string state);
  Standby* Pick();

  Executor& primary_;
  const ReadPoolOptions options_;
  const absl::Duration probe_interval_;
  const std::function<void(const ReadPoolStats&)> observe_;
  std::vector<std::unique_ptr<Standby>> standbys_;
  std::shared_ptr<PrimaryPositions> positions_;
  mutable std::mutex mutex_;
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> next_{0};
  std::atomic<int64_t> on_standby_{0};
  std::atomic<int64_t> on_primary_{0};
  std::atomic<int64_t> retried_on_primary_{0};
  std::unique_ptr<PeriodicThread> prober_;  // last: it runs Probe, which uses the members above
};

}  // namespace firstsip::db
