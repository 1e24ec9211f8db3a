// Waiting claims: who is woken, when, and that no wake-up is lost or wasted.
#include "push/claim_waiters.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace firstsip::push {
namespace {

using Wake = ClaimWaiters::Wake;
using Rearmed = ClaimWaiters::Rearmed;

// Records each waiter's wake-ups, in order, across threads.
class Wakes {
 public:
  ClaimWaiters::WakeFn For(int waiter) {
    return [this, waiter](Wake wake) {
      std::lock_guard<std::mutex> lock(mutex_);
      log_.emplace_back(waiter, wake);
    };
  }
  std::vector<std::pair<int, Wake>> log() {
    std::lock_guard<std::mutex> lock(mutex_);
    return log_;
  }
  // Waits until `count` wake-ups were recorded.
  bool AwaitCount(size_t count, absl::Duration timeout = absl::Seconds(5)) {
    const absl::Time until = absl::Now() + timeout;
    while (absl::Now() < until) {
      if (log().size() >= count) return true;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return false;
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<int, Wake>> log_;
};

const absl::Time kLater = absl::InfiniteFuture();

TEST(ClaimWaiters, NewWorkWakesTheOldestSleepingWaiterOnly) {
  ClaimWaiters waiters(nullptr);
  Wakes wakes;
  uint64_t first = waiters.Add(kLater, nullptr, wakes.For(1));
  uint64_t second = waiters.Add(kLater, nullptr, wakes.For(2));
  ASSERT_EQ(waiters.Rearm(first), Rearmed::kSleeping);
  ASSERT_EQ(waiters.Rearm(second), Rearmed::kSleeping);
  waiters.WorkAvailable();
  EXPECT_EQ(wakes.log(), (std::vector<std::pair<int, Wake>>{{1, Wake::kTryClaim}}));
  waiters.WorkAvailable();
  EXPECT_EQ(wakes.log().size(), 2u);
  EXPECT_EQ(wakes.log()[1], std::make_pair(2, Wake::kTryClaim));
  waiters.WorkAvailable();  // both are claiming now: nobody is woken twice
  EXPECT_EQ(wakes.log().size(), 2u);
  waiters.Shutdown();
}

TEST(ClaimWaiters, WorkThatAppearsDuringAnAttemptIsNotLost) {
  ClaimWaiters waiters(nullptr);
  Wakes wakes;
  uint64_t id = waiters.Add(kLater, nullptr, wakes.For(1));
  waiters.WorkAvailable();  // arrives while the first attempt runs
  EXPECT_TRUE(wakes.log().empty());
  EXPECT_EQ(waiters.Rearm(id), Rearmed::kWokenMeanwhile) << "claim again at once";
  EXPECT_EQ(waiters.Rearm(id), Rearmed::kSleeping) << "the mark is used up";
  waiters.Shutdown();
}

TEST(ClaimWaiters, ASleepingWaiterEndsAtItsDeadline) {
  ClaimWaiters waiters(nullptr);
  Wakes wakes;
  const absl::Time start = absl::Now();
  uint64_t id = waiters.Add(start + absl::Milliseconds(150), nullptr, wakes.For(1));
  ASSERT_EQ(waiters.Rearm(id), Rearmed::kSleeping);
  ASSERT_TRUE(wakes.AwaitCount(1));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));
  EXPECT_EQ(wakes.log()[0], std::make_pair(1, Wake::kTimeUp));
  EXPECT_EQ(waiters.size(), 0u);
  EXPECT_EQ(waiters.Rearm(id), Rearmed::kGone);
  waiters.Shutdown();
}

TEST(ClaimWaiters, ACancelledCallerIsSkippedAndEnded) {
  ClaimWaiters waiters(nullptr);
  Wakes wakes;
  auto cancellation = std::make_shared<db::Cancellation>();
  uint64_t gone = waiters.Add(kLater, cancellation, wakes.For(1));
  uint64_t present = waiters.Add(kLater, nullptr, wakes.For(2));
  ASSERT_EQ(waiters.Rearm(gone), Rearmed::kSleeping);
  ASSERT_EQ(waiters.Rearm(present), Rearmed::kSleeping);
  cancellation->Cancel();
  waiters.WorkAvailable();
  // The timer notices the cancellation within a second, possibly before the work arrives: in
  // either order the work goes to the live waiter and the cancelled one is ended, never woken
  // to claim.
  ASSERT_TRUE(wakes.AwaitCount(2));
  std::vector<std::pair<int, Wake>> log = wakes.log();
  std::sort(log.begin(), log.end());
  EXPECT_EQ(log, (std::vector<std::pair<int, Wake>>{{1, Wake::kTimeUp}, {2, Wake::kTryClaim}}))
      << "the work goes to a live one";
  waiters.Shutdown();
}

TEST(ClaimWaiters, TheFirstWaiterAsksForLeasesAndALeaseRunningOutWakesOne) {
  std::atomic<int> asked{0};
  ClaimWaiters waiters([&] { ++asked; });
  Wakes wakes;
  uint64_t first = waiters.Add(kLater, nullptr, wakes.For(1));
  EXPECT_EQ(asked.load(), 1) << "waiting starts: where do leases stand?";
  uint64_t second = waiters.Add(kLater, nullptr, wakes.For(2));
  EXPECT_EQ(asked.load(), 1);
  ASSERT_EQ(waiters.Rearm(first), Rearmed::kSleeping);
  ASSERT_EQ(waiters.Rearm(second), Rearmed::kSleeping);
  const absl::Time expiry = absl::Now() + absl::Milliseconds(200);
  waiters.LeaseTaken(expiry + absl::Seconds(60));
  waiters.LeaseTaken(expiry);  // earlier: the timer moves to it
  ASSERT_TRUE(wakes.AwaitCount(1));
  EXPECT_GE(absl::Now(), expiry);
  EXPECT_EQ(wakes.log()[0], std::make_pair(1, Wake::kTryClaim));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(wakes.log().size(), 1u) << "one lease, one waiter";
  EXPECT_EQ(asked.load(), 2) << "after the timer, leases are looked up again";
  waiters.Shutdown();
}

TEST(ClaimWaiters, LeasesAreNotTrackedWithoutWaiters) {
  std::atomic<int> asked{0};
  ClaimWaiters waiters([&] { ++asked; });
  waiters.LeaseTaken(absl::Now() + absl::Milliseconds(10));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(asked.load(), 0);
  waiters.Shutdown();
}

TEST(ClaimWaiters, ShutdownEndsSleepersAndTellsClaimersTheyAreGone) {
  ClaimWaiters waiters(nullptr);
  Wakes wakes;
  uint64_t sleeping = waiters.Add(kLater, nullptr, wakes.For(1));
  uint64_t claiming = waiters.Add(kLater, nullptr, wakes.For(2));
  ASSERT_EQ(waiters.Rearm(sleeping), Rearmed::kSleeping);
  waiters.Shutdown();
  EXPECT_EQ(wakes.log(), (std::vector<std::pair<int, Wake>>{{1, Wake::kTimeUp}}));
  EXPECT_EQ(waiters.Rearm(claiming), Rearmed::kGone);
  uint64_t late = waiters.Add(kLater, nullptr, wakes.For(3));
  EXPECT_EQ(waiters.Rearm(late), Rearmed::kGone) << "no waiting after shutdown";
}

TEST(ClaimWaiters, WakeAllSendsEveryoneToTryAgain) {
  ClaimWaiters waiters(nullptr);
  Wakes wakes;
  uint64_t sleeping = waiters.Add(kLater, nullptr, wakes.For(1));
  uint64_t claiming = waiters.Add(kLater, nullptr, wakes.For(2));
  ASSERT_EQ(waiters.Rearm(sleeping), Rearmed::kSleeping);
  waiters.WakeAll();
  EXPECT_EQ(wakes.log(), (std::vector<std::pair<int, Wake>>{{1, Wake::kTryClaim}}));
  EXPECT_EQ(waiters.Rearm(claiming), Rearmed::kWokenMeanwhile);
  waiters.Shutdown();
}

}  // namespace
}  // namespace firstsip::push
