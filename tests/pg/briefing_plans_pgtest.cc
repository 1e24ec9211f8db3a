// The statements behind ListBriefings and ClaimNextBriefing are served by their indexes, under
// both the custom and the generic plans a prepared statement may use.
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "db/blocking_connection.h"
#include "gtest/gtest.h"
#include "storage/briefing_store.h"
#include "support/migrated_database.h"
#include "support/test_database.h"

namespace firstsip::storage {
namespace {

class BriefingPlansTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto migrated = testing::MigratedDatabase::Create();
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    database_ = std::move(migrated->database);
    connection_ = std::move(migrated->connection);
    // 200 users with 100 briefings each, mostly completed: the shape of a real table.
    ASSERT_TRUE(connection_
                    ->ExecScript("INSERT INTO users (email) SELECT 'u' || i || '@example.com' "
                                 "FROM generate_series(1, 200) i;"
                                 "INSERT INTO briefings (user_id, status, content) "
                                 "SELECT 1 + (i % 200), CASE WHEN i % 50 = 0 THEN 'pending' ELSE "
                                 "'completed' END, '{}' FROM generate_series(1, 20000) i;"
                                 "ANALYZE")
                    .ok());
  }

  std::string Explain(absl::string_view sql, absl::string_view arguments, const char* mode) {
    std::string statement = absl::StrCat("plan_", mode);
    EXPECT_TRUE(connection_->ExecScript(absl::StrCat("SET plan_cache_mode = ", mode)).ok());
    EXPECT_TRUE(connection_->ExecScript(absl::StrCat("PREPARE ", statement, " AS ", sql)).ok());
    auto plan = connection_->Exec(absl::StrCat("EXPLAIN EXECUTE ", statement, arguments));
    EXPECT_TRUE(plan.ok()) << plan.status();
    std::string text;
    for (int row = 0; plan.ok() && row < plan->rows(); ++row) {
      absl::StrAppend(&text, plan->Text(row, 0), "\n");
    }
    EXPECT_TRUE(connection_->ExecScript(absl::StrCat("DEALLOCATE ", statement)).ok());
    return text;
  }

  std::unique_ptr<testing::TestDatabase> database_;
  std::unique_ptr<db::BlockingConnection> connection_;
};

TEST_F(BriefingPlansTest, ListBriefingsWalksTheUserListIndex) {
  for (const char* mode : {"force_custom_plan", "force_generic_plan"}) {
    SCOPED_TRACE(mode);
    std::string plan =
        Explain(queries::kListBriefings.sql, "(42, 9223372036854775807, NULL, false, 21)", mode);
    EXPECT_TRUE(absl::StrContains(plan, "briefings_user_list_idx")) << plan;
    EXPECT_FALSE(absl::StrContains(plan, "Seq Scan on briefings")) << plan;
  }
}

TEST_F(BriefingPlansTest, ClaimNextBriefingUsesThePendingAndLeaseIndexes) {
  for (const char* mode : {"force_custom_plan", "force_generic_plan"}) {
    SCOPED_TRACE(mode);
    std::string plan = Explain(queries::kClaimNextBriefing.sql, "(300000000)", mode);
    EXPECT_TRUE(absl::StrContains(plan, "briefings_pending_idx")) << plan;
    EXPECT_TRUE(absl::StrContains(plan, "briefings_lease_idx")) << plan;
    EXPECT_FALSE(absl::StrContains(plan, "Seq Scan on briefings")) << plan;
  }
}

}  // namespace
}  // namespace firstsip::storage
