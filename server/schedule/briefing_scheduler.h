// The morning itself: creates each user's briefing when the user's own clock reaches their
// briefing time (storage/schedule_store.h does the work, a batch per statement). Every replica
// runs one (--schedule-briefings); they share the due users through FOR UPDATE SKIP LOCKED and
// need no leader.
//
// A thread of its own runs rounds: batches until no due user is left that nobody else holds,
// the backfill of next_briefing_time when the last batch saw users without one, then a sleep
// until the earliest due time the database reported, at most `max_sleep`, or earlier when a
// write on this replica set a closer due time (DueAt). With nobody due, a round is one
// statement. Statements run through a db::Executor asynchronously; only this thread waits for
// their answers, never a gRPC or database thread.
#pragma once

#include <functional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "schedule/alarm.h"
#include "storage/schedule_store.h"

namespace firstsip::schedule {

struct SchedulerOptions {
  // A due time missed by more than this creates no briefing (--schedule-max-lateness).
  absl::Duration max_lateness = absl::Hours(6);
  // Due users per statement. Large enough that a morning rush costs few round trips, small
  // enough that a statement holds its users' row locks for a few tens of milliseconds.
  int batch_size = 500;
  // Users whose next_briefing_time the backfill computes per statement.
  int fill_batch_size = 2000;
  // The longest sleep between rounds: how soon a due time set where this replica cannot hear
  // of it (another replica that then died, SQL by hand) is noticed.
  absl::Duration max_sleep = absl::Seconds(10);
  // How long a round waits after a failed statement, at first (it doubles up to max_sleep).
  absl::Duration retry_after = absl::Milliseconds(100);
  // Every statement's deadline.
  absl::Duration statement_timeout = absl::Seconds(60);
};

// What the scheduler reports (to metrics), on its own thread.
struct SchedulerObserver {
  // After each batch: what it did, how long its statement took, and the scheduling lag (how
  // long the oldest due time left unhandled has passed).
  std::function<void(const storage::ScheduleBatch& batch, absl::Duration took)> batch;
  // Users whose next_briefing_time the backfill computed.
  std::function<void(int filled)> filled;
  // Users found unschedulable (a time zone the database does not know).
  std::function<void(int users)> unschedulable;
};

class BriefingScheduler {
 public:
  BriefingScheduler(storage::ScheduleStore& store, SchedulerOptions options,
                    SchedulerObserver observer = {});
  // Stops (see Stop).
  ~BriefingScheduler();
  BriefingScheduler(const BriefingScheduler&) = delete;
  BriefingScheduler& operator=(const BriefingScheduler&) = delete;

  // Starts the thread; its first round runs at once.
  void Start();
  // Ends the sleep, lets a statement in flight finish and joins the thread. Stop it before the
  // executor it runs on. Idempotent.
  void Stop();

  // Any thread, never blocks: a write on this replica set a user's next briefing to `due`.
  void DueAt(absl::Time due) { alarm_.WakeBy(due); }

 private:
  void Run();
  // Batches (and backfill) until nothing is left to do now; how long to sleep after it.
  absl::Duration Round();
  // Handles a failed statement: quarantines users with unknown zones when that was the cause.
  // True when the statement may run again at once.
  bool Recover(const absl::Status& failure, const char* what);

  storage::ScheduleStore& store_;
  const SchedulerOptions options_;
  const SchedulerObserver observer_;
  Alarm alarm_;
  absl::Duration backoff_;
  std::string last_error_;  // logged once, until a statement succeeds again
  std::thread thread_;
};

}  // namespace firstsip::schedule
