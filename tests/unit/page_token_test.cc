#include "logic/page_token.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace firstsip::logic {
namespace {

TEST(PageToken, RoundTripsTheKeyForTheSameCollectionAndFilter) {
  for (int64_t key : {int64_t{0}, int64_t{1}, int64_t{42}, int64_t{9'007'199'254'740'993}}) {
    std::string token = EncodePageToken("users", "role=1", key);
    absl::StatusOr<int64_t> decoded = DecodePageToken(token, "users", "role=1");
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, key);
  }
}

TEST(PageToken, RefusesATokenIssuedForAnotherFilterOrCollection) {
  std::string token = EncodePageToken("users", "show_deleted=0;role=0", 10);
  EXPECT_EQ(DecodePageToken(token, "users", "show_deleted=1;role=0").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken(token, "briefings", "show_deleted=0;role=0").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PageToken, RefusesEveryAlteredByteAndGarbage) {
  std::string token = EncodePageToken("users", "f", 77);
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &raw));
  for (size_t i = 0; i < raw.size(); ++i) {
    std::string altered = raw;
    altered[i] = static_cast<char>(altered[i] ^ 0x01);
    SCOPED_TRACE(i);
    EXPECT_FALSE(DecodePageToken(absl::WebSafeBase64Escape(altered), "users", "f").ok());
  }
  for (const char* garbage : {"x", "!!!!", "AAAA", "", "bm90IGEgdG9rZW4"}) {
    SCOPED_TRACE(garbage);
    absl::Status status = DecodePageToken(garbage, "users", "f").status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message().substr(0, 11), "page_token:");
  }
  EXPECT_FALSE(DecodePageToken(std::string(10000, 'A'), "users", "f").ok());
}

TEST(CutToPage, KeepsThePageAndTokensTheLastRowOnlyWhenAnotherPageFollows) {
  struct Row {
    int64_t key;
    int64_t id() const { return key; }
  };
  std::vector<Row> last_page = {{1}, {2}};
  EXPECT_EQ(CutToPage(last_page, 2, "users", "f"), "");
  EXPECT_EQ(last_page.size(), 2u);

  std::vector<Row> rows = {{1}, {2}, {3}};
  std::string token = CutToPage(rows, 2, "users", "f");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(*DecodePageToken(token, "users", "f"), 2);
}

TEST(PageSize, DefaultsCapsAndRejectsNegatives) {
  EXPECT_EQ(*NormalizePageSize(0), 50);
  EXPECT_EQ(*NormalizePageSize(1), 1);
  EXPECT_EQ(*NormalizePageSize(1000), 1000);
  EXPECT_EQ(*NormalizePageSize(1001), 1000);
  EXPECT_EQ(*NormalizePageSize(2'000'000'000), 1000);
  EXPECT_EQ(NormalizePageSize(-1).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace firstsip::logic
