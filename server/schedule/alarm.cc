#include "schedule/alarm.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace firstsip::schedule {

void Alarm::WakeBy(absl::Time when) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (when >= wake_by_) return;
  wake_by_ = when;
  changed_.notify_all();
}

bool Alarm::SleepUntil(absl::Time until) {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopped_) {
    // A time given to WakeBy counts once: the round it wakes reads the real earliest due time
    // from the database.
    const absl::Time deadline = std::min(until, wake_by_);
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      wake_by_ = absl::InfiniteFuture();
      return true;
    }
    changed_.wait_for(lock, absl::ToChronoNanoseconds(deadline - now));
  }
  return false;
}

bool Alarm::stopped() {
  std::lock_guard<std::mutex> lock(mutex_);
  return stopped_;
}

void Alarm::Stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopped_ = true;
  changed_.notify_all();
}

}  // namespace firstsip::schedule
