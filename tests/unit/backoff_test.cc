// The client's backoff: delays grow by the multiplier up to the cap, jitter only shortens them,
// and Reset() starts over.
#include "firstsip/client/backoff.h"

#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace firstsip::client {
namespace {

BackoffOptions NoJitter() {
  BackoffOptions options;
  options.initial = absl::Milliseconds(100);
  options.max = absl::Seconds(1);
  options.multiplier = 2;
  options.jitter = 0;
  return options;
}

TEST(BackoffTest, GrowsByTheMultiplierUpToTheCap) {
  Backoff backoff(NoJitter(), 1);
  std::vector<absl::Duration> delays;
  for (int i = 0; i < 7; ++i) delays.push_back(backoff.Next());
  EXPECT_EQ(delays,
            (std::vector<absl::Duration>{absl::Milliseconds(100), absl::Milliseconds(200),
                                         absl::Milliseconds(400), absl::Milliseconds(800),
                                         absl::Seconds(1), absl::Seconds(1), absl::Seconds(1)}));
}

TEST(BackoffTest, ALongOutageStaysAtTheCap) {
  Backoff backoff(NoJitter(), 1);
  for (int i = 0; i < 10'000; ++i) backoff.Next();
  EXPECT_EQ(backoff.Next(), absl::Seconds(1));
}

TEST(BackoffTest, ResetStartsOver) {
  Backoff backoff(NoJitter(), 1);
  backoff.Next();
  backoff.Next();
  backoff.Reset();
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(100));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(200));
}

TEST(BackoffTest, JitterOnlyShortensTheDelayAndSpreadsIt) {
  BackoffOptions options = NoJitter();
  options.jitter = 0.5;
  Backoff backoff(options, 42);
  std::set<absl::Duration> seen;
  for (int i = 0; i < 200; ++i) {
    backoff.Reset();
    absl::Duration delay = backoff.Next();
    EXPECT_LE(delay, absl::Milliseconds(100));
    EXPECT_GE(delay, absl::Milliseconds(50));
    seen.insert(delay);
  }
  EXPECT_GT(seen.size(), 100u) << "clients that failed together come back apart";
  for (int i = 0; i < 20; ++i) EXPECT_LE(backoff.Next(), absl::Seconds(1)) << "never past max";
}

TEST(BackoffTest, TwoClientsWithRandomSeedsDoNotMoveInStep) {
  BackoffOptions options = NoJitter();
  options.jitter = 0.2;
  Backoff a(options), b(options);
  int same = 0;
  for (int i = 0; i < 20; ++i) same += a.Next() == b.Next() ? 1 : 0;
  EXPECT_LT(same, 20);
}

TEST(BackoffTest, UnusableOptionsAreMadeSafe) {
  BackoffOptions options;
  options.initial = absl::Seconds(-1);
  options.max = absl::Seconds(-5);
  options.multiplier = 0.5;
  options.jitter = 7;
  Backoff backoff(options, 1);
  for (int i = 0; i < 5; ++i) {
    absl::Duration delay = backoff.Next();
    EXPECT_GE(delay, absl::ZeroDuration());
    EXPECT_LE(delay, absl::ZeroDuration());
  }
  options.initial = absl::Milliseconds(10);
  options.max = absl::Milliseconds(1);  // below initial: the cap is initial
  options.jitter = 0;
  Backoff capped(options, 1);
  EXPECT_EQ(capped.Next(), absl::Milliseconds(10));
  EXPECT_EQ(capped.Next(), absl::Milliseconds(10));
}

}  // namespace
}  // namespace firstsip::client
