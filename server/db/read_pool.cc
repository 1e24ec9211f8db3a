#include "db/read_pool.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "db/dsn.h"

namespace firstsip::db {
namespace {

// Positions as byte offsets (pg_lsn minus 0/0), so they compare as integers. The primary's
// flushed position is what walsenders may send; a standby's replayed one is what its
// queries see. A standby promoted meanwhile reports pg_is_in_recovery() false.
constexpr Query kPrimaryPosition{"read_pool_primary_position",
                                 "SELECT (pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::bigint",
                                 Access::kRead};
constexpr Query kStandbyPosition{
    "read_pool_standby_position",
    "SELECT pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint",
    Access::kRead};

int64_t NowNanos() { return absl::GetCurrentTimeNanos(); }

// A read a standby could not answer, that the primary may still answer in time.
bool WorthRetryingOnPrimary(const absl::Status& status, const CallOptions& call) {
  bool standby_trouble = status.code() == absl::StatusCode::kUnavailable ||  // gone, stopping
                         status.code() == absl::StatusCode::kAborted ||      // recovery conflict
                         status.code() == absl::StatusCode::kResourceExhausted;  // no room
  bool caller_gone = call.cancellation != nullptr && call.cancellation->cancelled();
  return standby_trouble && !caller_gone && absl::Now() < call.deadline;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReadPool>> ReadPool::Create(
    Executor& primary, ReadPoolOptions options, std::function<void(const ReadPoolStats&)> observe) {
  absl::StatusOr<std::vector<DsnHost>> servers = SplitHosts(options.dsn);
  if (!servers.ok()) return servers.status();
  std::unique_ptr<ReadPool> pool(new ReadPool(primary, std::move(options), std::move(observe)));
  for (DsnHost& server : *servers) {
    auto standby = std::make_unique<Standby>();
    standby->server = server.label;
    PoolOptions pool_options = pool->options_.pool;
    pool_options.dsn = std::move(server.dsn);
    standby->pool = std::make_unique<Pool>(std::move(pool_options));
    pool->standbys_.push_back(std::move(standby));
  }
  LogInfo(absl::StrCat("read replicas: ", pool->standbys_.size(), " standby(s), max lag ",
                       absl::FormatDuration(pool->options_.max_lag), ", probed every ",
                       absl::FormatDuration(pool->probe_interval_)));
  pool->Probe();
  pool->prober_ = std::make_unique<PeriodicThread>("read-probe", pool->probe_interval_,
                                                   [p = pool.get()] { p->Probe(); });
  return pool;
}

ReadPool::ReadPool(Executor& primary, ReadPoolOptions options,
                   std::function<void(const ReadPoolStats&)> observe)
    : primary_(primary),
      options_(std::move(options)),
      probe_interval_(
          options_.probe_interval > absl::ZeroDuration()
              ? options_.probe_interval
              : std::clamp(options_.max_lag / 5, absl::Milliseconds(20), absl::Seconds(1))),
      observe_(std::move(observe)),
      // Long enough to place any position a standby within max_lag could report.
      positions_(std::make_shared<PrimaryPositions>(options_.max_lag + 4 * probe_interval_)) {}

ReadPool::~ReadPool() { Stop(); }

void ReadPool::Stop() {
  stopped_.store(true);
  if (prober_ != nullptr) prober_->Stop();
  for (auto& standby : standbys_) {
    standby->usable_until_ns.store(std::numeric_limits<int64_t>::min());
    standby->pool->Stop();
  }
}

ReadPool::Standby* ReadPool::Pick() {
  int64_t now = NowNanos();
  size_t count = standbys_.size();
  // One shared counter is contended by every gRPC thread: only when there is a choice.
  size_t start = count == 1 ? 0 : next_.fetch_add(1, std::memory_order_relaxed);
  for (size_t i = 0; i < count; ++i) {
    Standby* standby = standbys_[(start + i) % count].get();
    if (now < standby->usable_until_ns.load(std::memory_order_relaxed)) return standby;
  }
  return nullptr;
}

template <typename T, typename Send>
void ReadPool::Route(const CallOptions& call, Send send,
                     absl::AnyInvocable<void(absl::StatusOr<T>) &&> done) {
  Standby* standby = Pick();
  if (standby == nullptr) {
    on_primary_.fetch_add(1, std::memory_order_relaxed);
    send(primary_, std::move(done));
    return;
  }
  on_standby_.fetch_add(1, std::memory_order_relaxed);
  Executor& pool = *standby->pool;
  send(pool, [this, standby, send, call, done = std::move(done)](absl::StatusOr<T> result) mutable {
    if (result.ok() || !WorthRetryingOnPrimary(result.status(), call)) {
      std::move(done)(std::move(result));
      return;
    }
    // Gone: skip it until a probe finds it again, rather than fail reads there meanwhile.
    if (result.status().code() == absl::StatusCode::kUnavailable) {
      standby->usable_until_ns.store(std::numeric_limits<int64_t>::min());
    }
    retried_on_primary_.fetch_add(1, std::memory_order_relaxed);
    send(primary_, std::move(done));
  });
}

void ReadPool::Execute(const Query& query, Params params, const CallOptions& call,
                       ResultCallback done) {
  Route<Result>(
      call,
      [query, params = std::move(params), call](Executor& executor, ResultCallback then) {
        executor.Execute(query, params, call, std::move(then));
      },
      std::move(done));
}

void ReadPool::Find(const Lookup& lookup, std::string key, const CallOptions& call,
                    RowCallback done) {
  Route<LookupRow>(
      call,
      [lookup, key = std::move(key), call](Executor& executor, RowCallback then) {
        executor.Find(lookup, key, call, std::move(then));
      },
      std::move(done));
}

void ReadPool::Probe() {
  absl::Time sent = absl::Now();
  // A probe that has not answered yet is not sent again: a stuck server gets one, not many.
  // A standby that comes back is measured again within seconds.
  CallOptions call = CallOptions::WithDeadline(
      sent + std::clamp(options_.max_lag, absl::Seconds(1), absl::Seconds(5)));
  if (!positions_->probing.exchange(true)) {
    primary_.Execute(kPrimaryPosition, Params(), call,
                     [positions = positions_, sent](absl::StatusOr<Result> result) {
                       positions->probing.store(false);
                       if (!result.ok() || result->rows() != 1) return;
                       absl::StatusOr<int64_t> position = result->Int64(0, 0);
                       if (!position.ok()) return;
                       std::lock_guard<std::mutex> lock(positions->mutex);
                       positions->timeline.RecordPrimary(sent, static_cast<uint64_t>(*position));
                     });
  }
  for (auto& standby : standbys_) {
    if (standby->probing.exchange(true)) continue;
    standby->pool->Execute(kStandbyPosition, Params(), call,
                           [this, s = standby.get()](absl::StatusOr<Result> result) {
                             OnStandbyPosition(*s, std::move(result));
                             s->probing.store(false);
                           });
  }
  if (observe_) observe_(stats());
}

void ReadPool::OnStandbyPosition(Standby& standby, absl::StatusOr<Result> result) {
  if (stopped_.load()) return;  // the answers of stopping pools say nothing about the standby
  absl::Time now = absl::Now();
  if (!result.ok()) {
    SetState(standby, absl::InfinitePast(), std::nullopt,
             absl::StrCat("skipped: unreachable (", result.status().message(), ")"));
    return;
  }
  absl::StatusOr<bool> in_recovery = result->rows() == 1 ? result->Bool(0, 0) : false;
  if (!in_recovery.ok() || !*in_recovery) {
    SetState(standby, absl::InfinitePast(), std::nullopt,
             "skipped: not a standby (pg_is_in_recovery() is false), so possibly a former "
             "primary");
    return;
  }
  absl::StatusOr<int64_t> replayed = result->Int64(0, 1);
  if (!replayed.ok()) {
    SetState(standby, absl::InfinitePast(), std::nullopt, "skipped: has replayed nothing yet");
    return;
  }
  std::optional<absl::Time> caught_up;
  std::optional<absl::Duration> lag;
  absl::Time last_sample;
  {
    std::lock_guard<std::mutex> lock(positions_->mutex);
    caught_up = positions_->timeline.CaughtUpAt(static_cast<uint64_t>(*replayed));
    lag = positions_->timeline.LagAt(static_cast<uint64_t>(*replayed), now);
    last_sample = positions_->timeline.last_sample();
  }
  // Without a recent position of the primary there is no telling what the standby lacks.
  if (now - last_sample > options_.max_lag) lag = std::nullopt;
  absl::Time usable_until = caught_up ? *caught_up + options_.max_lag : absl::InfinitePast();
  if (usable_until > now) {
    SetState(standby, usable_until, lag, "usable");
  } else if (!lag.has_value()) {
    SetState(standby, absl::InfinitePast(), lag,
             "skipped: the primary's position is unknown (primary unreachable?)");
  } else {
    SetState(standby, absl::InfinitePast(), lag, "skipped: lagging beyond --read-max-lag");
  }
}

void ReadPool::SetState(Standby& standby, absl::Time usable_until,
                        std::optional<absl::Duration> lag, std::string state) {
  standby.usable_until_ns.store(usable_until == absl::InfinitePast()
                                    ? std::numeric_limits<int64_t>::min()
                                    : absl::ToUnixNanos(usable_until));
  std::string changed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    standby.lag = lag;
    if (state != standby.state) {
      standby.state = state;
      changed = std::move(state);
    }
  }
  if (changed.empty()) return;
  std::string line =
      absl::StrCat("read replica ", standby.server, ": ", changed,
                   lag ? absl::StrCat(" (lag ", absl::FormatDuration(*lag), ")") : "");
  if (changed == "usable") {
    LogInfo(line);
  } else {
    LogWarning(line);
  }
}

ReadPoolStats ReadPool::stats() const {
  ReadPoolStats stats;
  int64_t now = NowNanos();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& standby : standbys_) {
      stats.standbys.push_back(StandbyStats{standby->server, now < standby->usable_until_ns.load(),
                                            standby->lag, standby->pool->stats()});
    }
  }
  stats.on_standby = on_standby_.load();
  stats.on_primary = on_primary_.load();
  stats.retried_on_primary = retried_on_primary_.load();
  return stats;
}

}  // namespace firstsip::db
