#include "push/claim_waiters.h"

#include <pthread.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/time/clock.h"

namespace firstsip::push {
namespace {

// A cancelled caller is noticed within this long (cancellation has no hook of its own here).
constexpr absl::Duration kCancelCheck = absl::Seconds(1);
// After the lease timer fired, a lease found already run out (the woken worker is still on its
// way to claim it) is looked at again after this long rather than at once.
constexpr absl::Duration kExpiredLeaseRetry = absl::Milliseconds(100);

}  // namespace

ClaimWaiters::ClaimWaiters(std::function<void()> find_next_lease)
    : find_next_lease_(std::move(find_next_lease)) {
  timer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "fs-claim-wait");
    RunTimer();
  });
}

ClaimWaiters::~ClaimWaiters() { Shutdown(); }

uint64_t ClaimWaiters::Add(absl::Time deadline, std::shared_ptr<db::Cancellation> cancellation,
                           WakeFn wake) {
  bool first = false;
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    id = next_id_++;
    if (shut_down_) {
      // Stays "claiming" and is never woken: Rearm answers false, and the caller ends.
      return id;
    }
    first = waiters_.empty();
    waiters_.push_back(Waiter{id, deadline, std::move(cancellation), std::move(wake)});
  }
  changed_.notify_one();
  // Leases are only tracked while someone waits; the first waiter asks where they stand.
  if (first && find_next_lease_) find_next_lease_();
  return id;
}

ClaimWaiters::Rearmed ClaimWaiters::Rearm(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (Waiter& waiter : waiters_) {
    if (waiter.id != id) continue;
    if (waiter.signalled) {
      waiter.signalled = false;
      return Rearmed::kWokenMeanwhile;
    }
    waiter.sleeping = true;
    changed_.notify_one();
    return Rearmed::kSleeping;
  }
  return Rearmed::kGone;
}

void ClaimWaiters::Remove(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  waiters_.remove_if([id](const Waiter& waiter) { return waiter.id == id; });
  if (waiters_.empty()) lease_timer_.reset();
}

std::optional<ClaimWaiters::WakeFn> ClaimWaiters::WakeOneLocked() {
  for (Waiter& waiter : waiters_) {
    if (!waiter.sleeping) continue;
    if (waiter.cancellation != nullptr && waiter.cancellation->cancelled()) continue;
    waiter.sleeping = false;
    return waiter.wake;
  }
  // Nobody asleep: the oldest waiter mid-claim tries once more when its attempt ends.
  for (Waiter& waiter : waiters_) {
    if (!waiter.sleeping && !waiter.signalled) {
      waiter.signalled = true;
      break;
    }
  }
  return std::nullopt;
}

void ClaimWaiters::WorkAvailable() {
  std::optional<WakeFn> wake;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    wake = WakeOneLocked();
  }
  if (wake.has_value()) (*wake)(Wake::kTryClaim);
}

void ClaimWaiters::LeaseTaken(absl::Time expiry) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (waiters_.empty()) return;
  expiry = std::max(expiry, last_lease_wake_ + kExpiredLeaseRetry);
  if (lease_timer_.has_value() && *lease_timer_ <= expiry) return;
  lease_timer_ = expiry;
  changed_.notify_one();
}

void ClaimWaiters::WakeAll() {
  std::vector<WakeFn> wakes;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (Waiter& waiter : waiters_) {
      if (waiter.sleeping) {
        waiter.sleeping = false;
        wakes.push_back(waiter.wake);
      } else {
        waiter.signalled = true;
      }
    }
  }
  for (WakeFn& wake : wakes) wake(Wake::kTryClaim);
}

void ClaimWaiters::Shutdown() {
  std::vector<WakeFn> wakes;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shut_down_) return;
    shut_down_ = true;
    for (Waiter& waiter : waiters_) {
      // A waiter mid-claim ends when its attempt does: Rearm finds it gone.
      if (waiter.sleeping) wakes.push_back(waiter.wake);
    }
    waiters_.clear();
  }
  changed_.notify_all();
  for (WakeFn& wake : wakes) wake(Wake::kTimeUp);
  if (timer_.joinable()) timer_.join();
}

size_t ClaimWaiters::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waiters_.size();
}

void ClaimWaiters::RunTimer() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!shut_down_) {
    const absl::Time now = absl::Now();
    // Waiters whose time is up (deadline, or their caller left) end; the rest set the alarm.
    std::vector<WakeFn> ended;
    absl::Time due = absl::InfiniteFuture();
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      const bool cancelled = it->cancellation != nullptr && it->cancellation->cancelled();
      if (it->sleeping && (it->deadline <= now || cancelled)) {
        ended.push_back(std::move(it->wake));
        it = waiters_.erase(it);
        continue;
      }
      due = std::min(
          due, it->sleeping ? std::min(it->deadline, now + kCancelCheck) : now + kCancelCheck);
      ++it;
    }
    std::optional<WakeFn> lease_wake;
    bool refresh = false;
    if (waiters_.empty()) {
      lease_timer_.reset();
    } else if (lease_timer_.has_value()) {
      if (*lease_timer_ <= now) {
        lease_timer_.reset();
        last_lease_wake_ = now;
        lease_wake = WakeOneLocked();
        refresh = true;
      } else {
        due = std::min(due, *lease_timer_);
      }
    }
    if (!ended.empty() || lease_wake.has_value() || refresh) {
      lock.unlock();
      for (WakeFn& wake : ended) wake(Wake::kTimeUp);
      if (lease_wake.has_value()) (*lease_wake)(Wake::kTryClaim);
      if (refresh && find_next_lease_) find_next_lease_();
      lock.lock();
      continue;
    }
    if (due == absl::InfiniteFuture()) {
      changed_.wait(lock);
    } else {
      changed_.wait_for(lock, absl::ToChronoNanoseconds(due - now));
    }
  }
}

}  // namespace firstsip::push
