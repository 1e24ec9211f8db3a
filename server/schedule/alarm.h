// When the scheduler's thread wakes: at the time it chose (the earliest due time it knows, or
// its cap), or earlier when a change on this replica brings a due time closer. The scheduler
// sleeps in SleepUntil; stores report new due times through WakeBy from the pool's thread.
#pragma once

#include <condition_variable>
#include <mutex>

#include "absl/time/time.h"

namespace firstsip::schedule {

class Alarm {
 public:
  // Any thread; takes a mutex for a moment, never waits on anything else. The sleeper wakes at
  // `when` at the latest. Without a sleeper, the next SleepUntil honours it.
  void WakeBy(absl::Time when);

  // Sleeps until `until`, or until an earlier time given to WakeBy before or during the sleep,
  // or until Stop. False once stopped.
  bool SleepUntil(absl::Time until);

  // Ends the sleep in progress and every later one at once. Idempotent.
  void Stop();
  bool stopped();

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  absl::Time wake_by_ = absl::InfiniteFuture();  // guarded by mutex_
  bool stopped_ = false;                         // guarded by mutex_
};

}  // namespace firstsip::schedule
