// The transport's side of authorization that needs no server: which denials get a log line.
#include "transport/authorizer.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace firstsip::transport {
namespace {

TEST(DenialLogLimiter, OneLinePerPrincipalAndMethodAMinuteCountingTheRest) {
  DenialLogLimiter limiter;
  absl::Time start = absl::FromUnixSeconds(1700000000);
  int64_t suppressed = -1;
  EXPECT_TRUE(limiter.ShouldLog("spiffe://a", "/s/m", start, &suppressed));
  EXPECT_EQ(suppressed, 0);
  EXPECT_FALSE(limiter.ShouldLog("spiffe://a", "/s/m", start + absl::Seconds(1), &suppressed));
  EXPECT_FALSE(limiter.ShouldLog("spiffe://a", "/s/m", start + absl::Seconds(59), &suppressed));
  EXPECT_TRUE(limiter.ShouldLog("spiffe://a", "/s/n", start + absl::Seconds(2), &suppressed));
  EXPECT_TRUE(limiter.ShouldLog("spiffe://b", "/s/m", start + absl::Seconds(2), &suppressed));
  EXPECT_TRUE(limiter.ShouldLog("spiffe://a", "/s/m", start + absl::Seconds(60), &suppressed));
  EXPECT_EQ(suppressed, 2);
}

TEST(DenialLogLimiter, KeepsABoundedNumberOfPairs) {
  DenialLogLimiter limiter;
  absl::Time start = absl::FromUnixSeconds(1700000000);
  int64_t suppressed = 0;
  for (size_t i = 0; i < DenialLogLimiter::kMaxPairs; ++i) {
    ASSERT_TRUE(limiter.ShouldLog(absl::StrCat("p", i), "/s/m", start, &suppressed));
  }
  EXPECT_FALSE(limiter.ShouldLog("one too many", "/s/m", start, &suppressed));
  // A minute on, the old pairs make room.
  EXPECT_TRUE(limiter.ShouldLog("one too many", "/s/m", start + absl::Minutes(1), &suppressed));
}

}  // namespace
}  // namespace firstsip::transport
