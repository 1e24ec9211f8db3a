#include "db/wal_timeline.h"

#include "gtest/gtest.h"

namespace firstsip::db {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

absl::Time At(int ms) { return kStart + absl::Milliseconds(ms); }

TEST(WalTimeline, KnowsNothingBeforeTheFirstSample) {
  WalTimeline timeline(absl::Seconds(5));
  EXPECT_FALSE(timeline.LagAt(100, At(0)).has_value());
  EXPECT_FALSE(timeline.CaughtUpAt(100).has_value());
  EXPECT_EQ(timeline.last_sample(), absl::InfinitePast());
}

TEST(WalTimeline, AnIdlePrimaryKeepsACaughtUpStandbyAtZeroLag) {
  // Nothing is written: the position stays, and so does a standby that has it, however long.
  WalTimeline timeline(absl::Seconds(5));
  for (int ms = 0; ms <= 60'000; ms += 200) timeline.RecordPrimary(At(ms), 1000);
  EXPECT_EQ(timeline.LagAt(1000, At(60'100)), absl::ZeroDuration());
  EXPECT_EQ(timeline.CaughtUpAt(1000), At(60'000));
}

TEST(WalTimeline, LagIsHowLongTheOldestUnreplayedPositionHasExisted) {
  WalTimeline timeline(absl::Seconds(5));
  timeline.RecordPrimary(At(0), 1000);
  timeline.RecordPrimary(At(200), 1500);  // written between 0 and 200 ms
  timeline.RecordPrimary(At(400), 2000);
  timeline.RecordPrimary(At(600), 2000);
  // Replayed up to 1000: it lacks what was there at 200 ms.
  EXPECT_EQ(timeline.LagAt(1000, At(700)), absl::Milliseconds(500));
  EXPECT_EQ(timeline.CaughtUpAt(1000), At(0));
  // Replayed up to 1700: it has everything of 200 ms, lacks something of 400 ms.
  EXPECT_EQ(timeline.LagAt(1700, At(700)), absl::Milliseconds(300));
  EXPECT_EQ(timeline.CaughtUpAt(1700), At(200));
  // Everything: no lag; known to be caught up with the last sample.
  EXPECT_EQ(timeline.LagAt(2000, At(700)), absl::ZeroDuration());
  EXPECT_EQ(timeline.CaughtUpAt(2000), At(600));
}

TEST(WalTimeline, AStandbyBehindEverySampleKeptHasNoCaughtUpTime) {
  WalTimeline timeline(absl::Seconds(1));
  for (int ms = 0; ms <= 10'000; ms += 100) timeline.RecordPrimary(At(ms), 1000 + ms);
  // Replayed what the primary had 5 s ago: older than the history kept.
  EXPECT_FALSE(timeline.CaughtUpAt(6000).has_value());
  std::optional<absl::Duration> lag = timeline.LagAt(6000, At(10'000));
  ASSERT_TRUE(lag.has_value());
  EXPECT_GE(*lag, absl::Seconds(1)) << "at least as old as the history kept";
}

TEST(WalTimeline, ForgetsSamplesOlderThanItsHistoryButOne) {
  WalTimeline timeline(absl::Seconds(1));
  for (int ms = 0; ms <= 10'000; ms += 100) timeline.RecordPrimary(At(ms), 1000 + ms);
  // The newest sample older than the window is kept, so a standby at it has an answer.
  EXPECT_EQ(timeline.CaughtUpAt(1000 + 8'900), At(8'900));
  EXPECT_FALSE(timeline.CaughtUpAt(1000 + 8'800).has_value());
}

TEST(WalTimeline, ANewPrimaryWithALowerPositionStartsAfresh) {
  // After a failover to a standby that had not received everything, positions go back.
  WalTimeline timeline(absl::Seconds(5));
  timeline.RecordPrimary(At(0), 5000);
  timeline.RecordPrimary(At(100), 6000);
  timeline.RecordPrimary(At(200), 4000);
  EXPECT_EQ(timeline.LagAt(4000, At(300)), absl::ZeroDuration());
  EXPECT_EQ(timeline.CaughtUpAt(4000), At(200));
  EXPECT_FALSE(timeline.CaughtUpAt(3999).has_value());
}

}  // namespace
}  // namespace firstsip::db
