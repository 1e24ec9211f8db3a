#include "logic/resume_token.h"

#include "gtest/gtest.h"
#include "logic/page_token.h"

namespace firstsip::logic {
namespace {

TEST(ResumeToken, RoundTripsItsPositionForItsUser) {
  for (int64_t position : {int64_t{0}, int64_t{1}, int64_t{123456789012}}) {
    absl::StatusOr<int64_t> decoded = DecodeResumeToken(EncodeResumeToken(7, position), 7);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, position);
  }
}

TEST(ResumeToken, RefusesAnotherUsersTokenAPageTokenAndText) {
  const std::string token = EncodeResumeToken(7, 42);
  for (const std::string& bad :
       {EncodeResumeToken(8, 42), EncodePageToken("briefings", "user=7", 42), std::string("x"),
        std::string(100, 'A'), token.substr(0, token.size() - 1), token + "A",
        EncodeResumeToken(7, -1)}) {
    absl::StatusOr<int64_t> decoded = DecodeResumeToken(bad, 7);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(decoded.status().message().find("resume_token"), absl::string_view::npos);
  }
}

TEST(ResumeToken, AnAlteredTokenIsRefused) {
  std::string token = EncodeResumeToken(7, 42);
  token[3] = token[3] == 'A' ? 'B' : 'A';
  EXPECT_EQ(DecodeResumeToken(token, 7).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace firstsip::logic
