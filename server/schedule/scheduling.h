// Everything a replica runs to schedule briefings, in one piece for main.cc: a connection of its
// own (a one-connection db::Pool, so a batch statement of tens of milliseconds never sits in a
// pipeline in front of a call's statement), the store, and the scheduler's thread.
#pragma once

#include <memory>

#include "db/pool.h"
#include "schedule/briefing_scheduler.h"
#include "storage/briefing_store.h"
#include "storage/schedule_store.h"

namespace firstsip::schedule {

class Scheduling {
 public:
  // `pool` is the primary's pool configuration (its DSN and statement preparation are used,
  // with one connection); `announce` hears each created briefing's notice (the change feed).
  Scheduling(const db::PoolOptions& pool, storage::AnnounceChange announce,
             SchedulerOptions options, SchedulerObserver observer);
  // Stops (see Stop).
  ~Scheduling();
  Scheduling(const Scheduling&) = delete;
  Scheduling& operator=(const Scheduling&) = delete;

  void Start() { scheduler_.Start(); }
  // Stops the scheduler, then closes its connection. Idempotent.
  void Stop();
  // Any thread, never blocks: see BriefingScheduler::DueAt.
  void DueAt(absl::Time due) { scheduler_.DueAt(due); }

 private:
  static db::PoolOptions OneConnection(db::PoolOptions options);

  db::Pool pool_;
  storage::ScheduleStore store_;
  BriefingScheduler scheduler_;
};

}  // namespace firstsip::schedule
