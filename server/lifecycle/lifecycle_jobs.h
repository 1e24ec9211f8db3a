// The background half of the personal-data lifecycle, on every replica: users soft-deleted
// longer than --erase-deleted-after are erased, and briefings older than --briefing-retention
// are removed with their change-feed entries. Each runs every `interval` in small batches, one
// statement each (storage/lifecycle_store.h), until a batch finds nothing to do. Replicas never
// do the same work twice (each batch claims its rows with FOR UPDATE SKIP LOCKED), and no
// batch waits for a lock: whatever someone holds is left for the next one.
//
// The jobs have a database connection of their own (a one-connection db::Pool, opened only when
// a job is on): a batch statement takes tens of milliseconds, up to a second on a saturated
// machine, and on the serving pool the calls pipelined behind it on its connection would wait
// that long (the erase job, for its part, ran at half its rate there: docs/BENCHMARKS.md,
// "Personal data lifecycle").
//
// Pacing: after each batch the job rests `rest_factor` times as long as the batch took, so it
// takes at most 1 / (1 + rest_factor) of one database connection's time, and less when the
// database is busy (batches take longer, rests grow with them). Retention rests longer than
// erasure: it must not move CreateBriefing's p99 (docs/BENCHMARKS.md).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "db/pool.h"
#include "storage/lifecycle_store.h"

namespace firstsip::lifecycle {

struct JobOptions {
  // Erase users soft-deleted longer than this; zero: never.
  absl::Duration erase_deleted_after = absl::Hours(24 * 30);
  // Remove briefings created longer ago than this; zero: keep them forever.
  absl::Duration briefing_retention = absl::ZeroDuration();
  // How often each job looks for work.
  absl::Duration interval = absl::Minutes(1);
  // Batch sizes and rests, from docs/BENCHMARKS.md ("Personal data lifecycle"): erasure goes
  // fast (users wait for it, and only soft-deleted users' rows are touched); retention goes in
  // small, short batches with long rests, so a burst of it never shows in CreateBriefing's p99.
  int erase_batch = 500;
  int retention_batch = 100;
  double erase_rest_factor = 0.1;
  double retention_rest_factor = 9;
};

// Told of each batch: the job's name ("erase_deleted_users", "briefing_retention"), whether it
// succeeded, how long it took and what it removed (by kind). On the jobs' thread.
using BatchObserver = std::function<void(const std::string& job, bool ok, absl::Duration took,
                                         const std::map<std::string, int64_t>& removed)>;

class LifecycleJobs {
 public:
  // When either job is on, opens the jobs' connection (`pool` is the primary's pool
  // configuration: its DSN and statement preparation, with one connection) and starts the
  // thread; the first run is one interval away. `announce` hears each erasure's notice (the
  // change feed, so the user's watches end).
  LifecycleJobs(const db::PoolOptions& pool, storage::AnnounceChange announce, JobOptions options,
                BatchObserver observer);
  ~LifecycleJobs();
  LifecycleJobs(const LifecycleJobs&) = delete;
  LifecycleJobs& operator=(const LifecycleJobs&) = delete;

  // Joins the thread after the batch in flight, then closes the jobs' connection. Idempotent.
  void Stop();

 private:
  void Run();
  // One pass of a job: batches until one removes nothing, one fails, or Stop.
  void EraseDeletedUsers();
  void RemoveOldBriefings();
  // Waits `how_long`, or less when stopping; true when stopping.
  bool Rest(absl::Duration how_long);

  const JobOptions options_;
  std::unique_ptr<db::Pool> pool_;  // null when no job is on
  std::unique_ptr<storage::LifecycleStore> store_;
  const BatchObserver observer_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace firstsip::lifecycle
