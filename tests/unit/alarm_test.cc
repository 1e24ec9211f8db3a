// The scheduler's alarm: it sleeps until the time it was given, wakes earlier for an earlier time
// given meanwhile (a write on this replica), never later, and stops at once.
#include "schedule/alarm.h"

#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace firstsip::schedule {
namespace {

TEST(Alarm, SleepsUntilTheTimeItWasGiven) {
  Alarm alarm;
  const absl::Time until = absl::Now() + absl::Milliseconds(100);
  EXPECT_TRUE(alarm.SleepUntil(until));
  EXPECT_GE(absl::Now(), until);
}

TEST(Alarm, AnEarlierTimeGivenDuringTheSleepEndsItThen) {
  Alarm alarm;
  const absl::Time start = absl::Now();
  std::thread writer([&] {
    absl::SleepFor(absl::Milliseconds(50));
    alarm.WakeBy(absl::Now() + absl::Milliseconds(100));
  });
  EXPECT_TRUE(alarm.SleepUntil(start + absl::Seconds(30)));
  const absl::Duration slept = absl::Now() - start;
  writer.join();
  EXPECT_GE(slept, absl::Milliseconds(150));
  EXPECT_LT(slept, absl::Seconds(10)) << "woken for the earlier time, not the one it slept for";
}

TEST(Alarm, ALaterTimeDoesNotShortenTheSleep) {
  Alarm alarm;
  const absl::Time start = absl::Now();
  alarm.WakeBy(start + absl::Seconds(30));
  EXPECT_TRUE(alarm.SleepUntil(start + absl::Milliseconds(100)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(Alarm, ATimeGivenBetweenSleepsCountsForTheNextSleepOnce) {
  Alarm alarm;
  alarm.WakeBy(absl::Now());  // while the scheduler was busy: the next sleep must not miss it
  absl::Time start = absl::Now();
  EXPECT_TRUE(alarm.SleepUntil(start + absl::Seconds(30)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  start = absl::Now();
  EXPECT_TRUE(alarm.SleepUntil(start + absl::Milliseconds(100)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100)) << "used up by the sleep it ended";
}

TEST(Alarm, StopEndsTheSleepAtOnceAndEveryLaterOne) {
  Alarm alarm;
  const absl::Time start = absl::Now();
  std::thread stopper([&] {
    absl::SleepFor(absl::Milliseconds(50));
    alarm.Stop();
  });
  EXPECT_FALSE(alarm.SleepUntil(start + absl::Seconds(30)));
  stopper.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_TRUE(alarm.stopped());
  EXPECT_FALSE(alarm.SleepUntil(absl::Now() + absl::Seconds(30)));
}

}  // namespace
}  // namespace firstsip::schedule
