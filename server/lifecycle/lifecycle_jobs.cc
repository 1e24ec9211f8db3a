#include "lifecycle/lifecycle_jobs.h"

#include <pthread.h>

#include <future>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace firstsip::lifecycle {
namespace {

// One batch is one statement; a batch that takes this long is stuck and is cancelled.
constexpr absl::Duration kBatchTimeout = absl::Seconds(30);

// Runs `start(call, done)` and waits for its answer on this (the jobs') thread, never a gRPC or
// pool one.
template <typename T, typename Start>
absl::StatusOr<T> Wait(Start start) {
  auto answer = std::make_shared<std::promise<absl::StatusOr<T>>>();
  std::future<absl::StatusOr<T>> result = answer->get_future();
  start(db::CallOptions::WithDeadline(absl::Now() + kBatchTimeout),
        [answer](absl::StatusOr<T> value) { answer->set_value(std::move(value)); });
  return result.get();
}

}  // namespace

LifecycleJobs::LifecycleJobs(const db::PoolOptions& pool, storage::AnnounceChange announce,
                             JobOptions options, BatchObserver observer)
    : options_(options), observer_(std::move(observer)) {
  if (options_.erase_deleted_after <= absl::ZeroDuration() &&
      options_.briefing_retention <= absl::ZeroDuration()) {
    return;
  }
  db::PoolOptions one_connection = pool;
  one_connection.size = 1;
  pool_ = std::make_unique<db::Pool>(one_connection);
  store_ = std::make_unique<storage::LifecycleStore>(*pool_, std::move(announce));
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "fs-lifecycle");
    Run();
  });
}

LifecycleJobs::~LifecycleJobs() { Stop(); }

void LifecycleJobs::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (pool_ != nullptr) pool_->Stop();
}

bool LifecycleJobs::Rest(absl::Duration how_long) {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait_for(lock, absl::ToChronoNanoseconds(how_long), [this] { return stopping_; });
  return stopping_;
}

void LifecycleJobs::Run() {
  while (!Rest(options_.interval)) {
    if (options_.erase_deleted_after > absl::ZeroDuration()) EraseDeletedUsers();
    if (options_.briefing_retention > absl::ZeroDuration()) RemoveOldBriefings();
  }
}

void LifecycleJobs::EraseDeletedUsers() {
  int64_t erased = 0;
  while (true) {
    const absl::Time started = absl::Now();
    absl::StatusOr<int> batch = Wait<int>([&](const db::CallOptions& call, auto done) {
      store_->EraseDeleted(started - options_.erase_deleted_after, options_.erase_batch, call,
                           std::move(done));
    });
    const absl::Duration took = absl::Now() - started;
    if (observer_) {
      observer_("erase_deleted_users", batch.ok(), took, {{"users", batch.ok() ? *batch : 0}});
    }
    if (!batch.ok()) {
      LogWarning(absl::StrCat("erasing users deleted more than --erase-deleted-after ago failed: ",
                              batch.status().message()));
      break;
    }
    erased += *batch;
    // Not "a short batch": one whose users others hold right now (another replica, a worker)
    // comes back short while more are due.
    if (*batch == 0) break;
    if (Rest(took * options_.erase_rest_factor)) break;
  }
  if (erased > 0) {
    LogInfo(absl::StrCat("erased ", erased, " users deleted more than --erase-deleted-after ago"));
  }
}

void LifecycleJobs::RemoveOldBriefings() {
  storage::RemovedBriefings total;
  while (true) {
    const absl::Time started = absl::Now();
    absl::StatusOr<storage::RemovedBriefings> batch =
        Wait<storage::RemovedBriefings>([&](const db::CallOptions& call, auto done) {
          store_->RemoveOldBriefings(started - options_.briefing_retention,
                                     options_.retention_batch, call, std::move(done));
        });
    const absl::Duration took = absl::Now() - started;
    if (observer_) {
      observer_("briefing_retention", batch.ok(), took,
                {{"briefings", batch.ok() ? batch->briefings : 0},
                 {"briefing_changes", batch.ok() ? batch->changes : 0}});
    }
    if (!batch.ok()) {
      LogWarning(absl::StrCat("removing briefings past --briefing-retention failed: ",
                              batch.status().message()));
      break;
    }
    total.briefings += batch->briefings;
    total.changes += batch->changes;
    if (batch->briefings == 0) break;
    if (Rest(took * options_.retention_rest_factor)) break;
  }
  if (total.briefings > 0) {
    LogInfo(absl::StrCat("removed ", total.briefings, " briefings past --briefing-retention (and ",
                         total.changes, " of their changes)"));
  }
}

}  // namespace firstsip::lifecycle
