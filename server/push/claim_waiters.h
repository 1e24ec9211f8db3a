// Workers waiting in ClaimNextBriefing for something to claim, without polling. A waiter is
// woken to try a claim when a briefing becomes claimable: a new PENDING one wakes one waiter
// (the oldest), not all; a lease running out is noticed by a timer at the earliest expiry.
// A waiter woken while its claim attempt is still running is marked, and tries once more, so a
// wake-up is never lost between a claim that found nothing and the wait that follows it.
//
// Claims themselves are the database's (FOR UPDATE SKIP LOCKED): two woken waiters, in this
// process or another, never get the same briefing; one that gets nothing waits again.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "db/call_options.h"

namespace firstsip::push {

class ClaimWaiters {
 public:
  enum class Wake {
    kTryClaim,  // something may be claimable: try, then Rearm or Remove
    kTimeUp,    // the waiter's deadline passed, its call was cancelled, or the server is stopping
  };
  // Runs on the thread that noticed (the listener's or the timer's); must not block.
  using WakeFn = std::function<void(Wake)>;

  // `find_next_lease` asks the database when the earliest lease runs out and reports it with
  // LeaseTaken (or nothing when there is none); it is called when waiting starts and after the
  // timer fired.
  explicit ClaimWaiters(std::function<void()> find_next_lease);
  ~ClaimWaiters();
  ClaimWaiters(const ClaimWaiters&) = delete;
  ClaimWaiters& operator=(const ClaimWaiters&) = delete;

  // A waiter, in the "claiming" state: the caller tries a claim now, then calls Rearm (found
  // nothing) or Remove (claimed, failed, or done). `wake` is called at most once per Rearm.
  uint64_t Add(absl::Time deadline, std::shared_ptr<db::Cancellation> cancellation, WakeFn wake);
  enum class Rearmed {
    kSleeping,        // woken later through its WakeFn
    kWokenMeanwhile,  // a wake-up came during the attempt: claim again at once
    kGone,            // the server is stopping: answer with nothing
  };
  // After a claim found nothing.
  Rearmed Rearm(uint64_t id);
  void Remove(uint64_t id);

  // A briefing became claimable: wakes one sleeping waiter (or marks one that is claiming).
  void WorkAvailable();
  // A lease runs out at `expiry`: the timer is set for it if that is the earliest known.
  void LeaseTaken(absl::Time expiry);
  // Every waiter tries again (the feed was down: wake-ups may have been missed).
  void WakeAll();
  // Every waiter ends with kTimeUp; new ones end at once. Joins the timer thread.
  void Shutdown();

  size_t size() const;

 private:
  struct Waiter {
    uint64_t id;
    absl::Time deadline;
    std::shared_ptr<db::Cancellation> cancellation;
    WakeFn wake;
    bool sleeping = false;   // false: a claim attempt is running
    bool signalled = false;  // woken while claiming: claim once more
  };
  using Waiters = std::list<Waiter>;

  void RunTimer();
  // Picks the oldest sleeping waiter (else marks a claiming one); returns its wake function.
  std::optional<WakeFn> WakeOneLocked();

  const std::function<void()> find_next_lease_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  Waiters waiters_;                                    // guarded by mutex_, oldest first
  uint64_t next_id_ = 1;                               // guarded by mutex_
  std::optional<absl::Time> lease_timer_;              // guarded by mutex_
  absl::Time last_lease_wake_ = absl::InfinitePast();  // guarded by mutex_
  bool shut_down_ = false;                             // guarded by mutex_
  std::thread timer_;
};

}  // namespace firstsip::push
