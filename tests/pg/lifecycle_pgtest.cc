// Erasure, erasure after soft delete and briefing retention against a real PostgreSQL
// (storage/lifecycle_store.h and migrations 000008-000010): what an erased user leaves behind
// (nothing but its tombstone, in any table of the schema), how erasure waits for and never
// deadlocks with a worker, which users the batch job takes and which it leaves, and that
// retention removes exactly the briefings past its horizon.
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "db/blocking_connection.h"
#include "db/pool.h"
#include "gtest/gtest.h"
#include "storage/lifecycle_store.h"
#include "support/migrated_database.h"
#include "support/test_database.h"

namespace firstsip::storage {
namespace {

template <typename T>
absl::StatusOr<T> Wait(const std::function<void(Done<T>)>& start) {
  std::promise<absl::StatusOr<T>> promise;
  auto future = promise.get_future();
  start([&promise](absl::StatusOr<T> value) { promise.set_value(std::move(value)); });
  return future.get();
}

db::CallOptions Soon() { return db::CallOptions::WithDeadline(absl::Now() + absl::Seconds(20)); }

// The user the tests erase has an id no other column of the schema can hold by chance.
constexpr int64_t kAda = 987654321;

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto migrated = testing::MigratedDatabase::Create();
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    database_ = std::move(migrated->database);
    sql_ = std::move(migrated->connection);
    db::PoolOptions options;
    options.dsn = database_->dsn();
    options.size = 2;
    pool_ = std::make_unique<db::Pool>(options);
    store_ = std::make_unique<LifecycleStore>(
        *pool_, [this](std::string notice) { notices_.push_back(std::move(notice)); });
  }
  void TearDown() override {
    if (pool_) pool_->Stop();
  }

  void Run(const std::string& script) {
    absl::Status done = sql_->ExecScript(script);
    ASSERT_TRUE(done.ok()) << done << "\n" << script;
  }
  int64_t Count(const std::string& query) {
    absl::StatusOr<db::Result> result = sql_->Exec(query);
    EXPECT_TRUE(result.ok()) << result.status() << "\n" << query;
    if (!result.ok()) return -1;
    return *result->Int64(0, 0);
  }
  int64_t Revision(int64_t id) {
    return Count(absl::StrCat("SELECT revision FROM users WHERE id = ", id));
  }
  absl::Status Erase(int64_t id, int64_t revision) {
    return Wait<bool>(
               [&](Done<bool> done) { store_->Erase(id, revision, Soon(), std::move(done)); })
        .status();
  }

  // Ada (kAda) with two identities holding tokens, briefings (live, completed, soft-deleted)
  // whose content names her, and their change-feed rows; Bob beside her, who must stay whole.
  void SeedAdaAndBob() {
    Run(absl::StrCat(
        "INSERT INTO users (id, email, name, timezone) OVERRIDING SYSTEM VALUE VALUES (", kAda,
        ", 'ada.lovelace@example.com', 'Ada Lovelace', 'Europe/London');"
        "INSERT INTO users (email, name) VALUES ('bob@example.com', 'Bob');"
        "INSERT INTO auth_identities (user_id, provider, provider_user_id, access_token, "
        "  refresh_token) VALUES (",
        kAda,
        ", 'google', 'ada-google-sub-1', '\\xa1a2a3a4a5a6a7a8a9aaabacadaeaf'::bytea, "
        "  '\\xb1b2b3b4b5b6b7b8b9babbbcbdbebf'::bytea),"
        "  (",
        kAda,
        ", 'github', 'ada-github-sub-2', NULL, '\\xc1c2c3c4c5c6c7c8c9cacbcccdcecf'::bytea);"
        "INSERT INTO auth_identities (user_id, provider, provider_user_id, access_token) "
        "  SELECT id, 'google', 'bob-google-sub', '\\xd1d2d3d4'::bytea FROM users "
        "  WHERE email = 'bob@example.com';"
        "INSERT INTO briefings (user_id, status, content, request_id) SELECT ",
        kAda,
        ", 'completed', jsonb_build_object('news', 'for ada.lovelace@example.com', 'n', g), "
        "  'day-' || g FROM generate_series(1, 20) g;"
        "UPDATE briefings SET delete_time = now() WHERE user_id = ",
        kAda,
        " AND request_id = 'day-3';"
        "INSERT INTO briefings (user_id) SELECT id FROM users WHERE email = 'bob@example.com';"
        "INSERT INTO briefing_changes (user_id, change_seq, briefing_id, status, update_time) "
        "  SELECT user_id, row_number() OVER (PARTITION BY user_id ORDER BY id), id, status, "
        "  update_time FROM briefings;"
        "UPDATE users u SET change_seq = (SELECT count(*) FROM briefing_changes c "
        "  WHERE c.user_id = u.id);"));
  }

  std::unique_ptr<testing::TestDatabase> database_;
  std::unique_ptr<db::BlockingConnection> sql_;
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<LifecycleStore> store_;
  std::vector<std::string> notices_;
};

// Every table of the schema, from the catalogue, so a table added later is scanned too.
std::vector<std::string> Tables(db::BlockingConnection& sql) {
  auto result = sql.Exec(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
      "AND table_type = 'BASE TABLE' ORDER BY 1");
  std::vector<std::string> tables;
  for (int row = 0; result.ok() && row < result->rows(); ++row) {
    tables.emplace_back(result->Text(row, 0));
  }
  return tables;
}

TEST_F(LifecycleTest, AfterEraseNoRowOfAnyTableNamesTheUserButItsTombstone) {
  SeedAdaAndBob();
  const int64_t bob_rows = Count(
      "SELECT (SELECT count(*) FROM briefings) + (SELECT count(*) FROM auth_identities) + "
      "(SELECT count(*) FROM briefing_changes) - 20 - 2 - 20");
  ASSERT_TRUE(Erase(kAda, Revision(kAda)).ok());
  ASSERT_EQ(notices_.size(), 1u);
  EXPECT_EQ(notices_[0].substr(0, notices_[0].find(' ')), absl::StrCat(kAda));
  EXPECT_EQ(notices_[0].back(), 'e');

  const std::vector<std::string> tables = Tables(*sql_);
  ASSERT_GE(tables.size(), 6u) << "users, auth_identities, briefings, briefing_changes, "
                                  "erased_users and the migrator's tables";
  // Text, JSON and bytea (printed as hex) alike: the whole row as text.
  const std::vector<std::string> needles = {"ada.lovelace",           "Ada Lovelace",
                                            "ada-google-sub-1",       "ada-github-sub-2",
                                            "a1a2a3a4a5a6a7a8a9aaab", "b1b2b3b4b5b6b7b8b9babb",
                                            "c1c2c3c4c5c6c7c8c9cacb"};
  for (const std::string& table : tables) {
    SCOPED_TRACE(table);
    for (const std::string& needle : needles) {
      EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM ", table, " t WHERE t::text LIKE '%",
                                   needle, "%'")),
                0)
          << needle;
    }
    // The id, in every integer column; only the tombstone may hold it.
    auto columns = sql_->Exec(absl::StrCat(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name = '",
        table, "' AND data_type IN ('bigint', 'integer', 'smallint', 'numeric')"));
    ASSERT_TRUE(columns.ok());
    for (int row = 0; row < columns->rows(); ++row) {
      std::string column(columns->Text(row, 0));
      const int64_t hits =
          Count(absl::StrCat("SELECT count(*) FROM ", table, " WHERE \"", column, "\" = ", kAda));
      EXPECT_EQ(hits, table == "erased_users" && column == "id" ? 1 : 0) << column;
    }
  }
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM erased_users WHERE id = ", kAda,
                               " AND erase_time > now() - interval '1 minute'")),
            1);
  // Bob is whole.
  EXPECT_EQ(Count("SELECT (SELECT count(*) FROM briefings) + (SELECT count(*) FROM "
                  "auth_identities) + (SELECT count(*) FROM briefing_changes)"),
            bob_rows);
  EXPECT_EQ(Count("SELECT count(*) FROM users WHERE email = 'bob@example.com'"), 1);
}

TEST_F(LifecycleTest, StaleRevisionIsAbortedUnknownAndErasedUsersAreNotFound) {
  SeedAdaAndBob();
  const int64_t revision = Revision(kAda);
  absl::Status stale = Erase(kAda, revision - 1);
  EXPECT_EQ(stale.code(), absl::StatusCode::kAborted) << stale;
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM briefings WHERE user_id = ", kAda)), 20);
  absl::Status unknown = Erase(kAda + 1, 1);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound) << unknown;
  ASSERT_TRUE(Erase(kAda, revision).ok());
  absl::Status again = Erase(kAda, revision);
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound) << again;
  EXPECT_NE(std::string(again.message()).find("was erased at"), std::string::npos) << again;
  EXPECT_TRUE(notices_.size() == 1u);
}

TEST_F(LifecycleTest, AnErasedIdIsNeverUsedAgainAndOtherDeletesStayRefused) {
  SeedAdaAndBob();
  ASSERT_TRUE(Erase(kAda, Revision(kAda)).ok());
  absl::Status reused = sql_->ExecScript(
      absl::StrCat("INSERT INTO users (id, email) OVERRIDING SYSTEM VALUE VALUES (", kAda,
                   ", 'x@example.com')"));
  EXPECT_FALSE(reused.ok());
  absl::Status deleted = sql_->ExecScript("DELETE FROM users WHERE email = 'bob@example.com'");
  EXPECT_FALSE(deleted.ok()) << "only erasure removes a user";
}

TEST_F(LifecycleTest, EraseWaitsOutAWorkersBriefingLockWithoutADeadlock) {
  SeedAdaAndBob();
  auto worker = db::BlockingConnection::Open(database_->dsn());
  ASSERT_TRUE(worker.ok());
  // A worker's transition: the briefing first, then (blocked behind the erasure) the user.
  ASSERT_TRUE((*worker)
                  ->ExecScript(absl::StrCat("BEGIN; SELECT 1 FROM briefings WHERE user_id = ", kAda,
                                            " AND request_id = 'day-7' FOR UPDATE"))
                  .ok());
  const int64_t revision = Revision(kAda);
  std::future<absl::Status> erased =
      std::async(std::launch::async, [&] { return Erase(kAda, revision); });
  absl::SleepFor(absl::Milliseconds(150));
  // The worker now needs the user's row: were the erasure holding it while it waits for the
  // briefing, this would deadlock.
  std::future<absl::Status> worker_done = std::async(std::launch::async, [&] {
    return (*worker)->ExecScript(
        absl::StrCat("UPDATE users SET change_seq = change_seq + 1 WHERE id = ", kAda, "; COMMIT"));
  });
  ASSERT_EQ(worker_done.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(worker_done.get().ok());
  absl::Status outcome = erased.get();
  EXPECT_TRUE(outcome.ok()) << outcome;
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM briefings WHERE user_id = ", kAda)), 0);
}

TEST_F(LifecycleTest, EraseOfAUserWhoseRowsStayLockedIsAbortedAndChangesNothing) {
  SeedAdaAndBob();
  auto worker = db::BlockingConnection::Open(database_->dsn());
  ASSERT_TRUE(worker.ok());
  ASSERT_TRUE((*worker)
                  ->ExecScript(absl::StrCat(
                      "BEGIN; SELECT 1 FROM auth_identities WHERE user_id = ", kAda, " FOR UPDATE"))
                  .ok());
  absl::Status outcome = Erase(kAda, Revision(kAda));
  EXPECT_EQ(outcome.code(), absl::StatusCode::kAborted) << outcome;
  ASSERT_TRUE((*worker)->ExecScript("COMMIT").ok());
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM briefings WHERE user_id = ", kAda)), 20);
  EXPECT_TRUE(Erase(kAda, Revision(kAda)).ok());
}

TEST_F(LifecycleTest, TheBatchTakesUsersDeletedBeforeTheHorizonAndLeavesBusyAndLiveOnes) {
  // 300 users deleted 40 days ago, each with a briefing and an identity; 5 deleted 10 days ago;
  // 5 live; one of the old ones has a briefing a worker holds, another an identity a token
  // refresh holds.
  Run("INSERT INTO users (email, delete_time) SELECT 'old' || g || '@example.com', "
      "  now() - interval '40 days' + g * interval '1 second' FROM generate_series(1, 300) g;"
      "INSERT INTO users (email, delete_time) SELECT 'recent' || g || '@example.com', "
      "  now() - interval '10 days' FROM generate_series(1, 5) g;"
      "INSERT INTO users (email) SELECT 'live' || g || '@example.com' "
      "  FROM generate_series(1, 5) g;"
      "INSERT INTO briefings (user_id) SELECT id FROM users;"
      "INSERT INTO auth_identities (user_id, provider, provider_user_id) "
      "  SELECT id, 'google', 'sub-' || id FROM users;");
  auto worker = db::BlockingConnection::Open(database_->dsn());
  ASSERT_TRUE(worker.ok());
  ASSERT_TRUE((*worker)
                  ->ExecScript("BEGIN; SELECT 1 FROM briefings b JOIN users u ON u.id = b.user_id "
                               "WHERE u.email = 'old1@example.com' FOR UPDATE OF b")
                  .ok());
  auto refresh = db::BlockingConnection::Open(database_->dsn());
  ASSERT_TRUE(refresh.ok());
  ASSERT_TRUE((*refresh)
                  ->ExecScript("BEGIN; SELECT 1 FROM auth_identities i JOIN users u "
                               "ON u.id = i.user_id WHERE u.email = 'old2@example.com' "
                               "FOR UPDATE OF i")
                  .ok());
  const absl::Time horizon = absl::Now() - absl::Hours(24 * 30);
  int total = 0;
  for (int round = 0; round < 10; ++round) {
    absl::StatusOr<int> batch = Wait<int>(
        [&](Done<int> done) { store_->EraseDeleted(horizon, 100, Soon(), std::move(done)); });
    ASSERT_TRUE(batch.ok()) << batch.status();
    total += *batch;
    if (*batch == 0) break;
  }
  EXPECT_EQ(total, 298);
  EXPECT_EQ(static_cast<int>(notices_.size()), 298);
  EXPECT_EQ(Count("SELECT count(*) FROM erased_users"), 298);
  EXPECT_EQ(Count("SELECT count(*) FROM users"), 12) << "old1, old2 (busy), 5 recent, 5 live";
  EXPECT_EQ(Count("SELECT count(*) FROM users WHERE email IN ('old1@example.com', "
                  "'old2@example.com')"),
            2);
  EXPECT_EQ(Count("SELECT count(*) FROM briefings"), 12);
  EXPECT_EQ(Count("SELECT count(*) FROM auth_identities"), 12);
  ASSERT_TRUE((*worker)->ExecScript("COMMIT").ok());
  ASSERT_TRUE((*refresh)->ExecScript("COMMIT").ok());
  absl::StatusOr<int> last = Wait<int>(
      [&](Done<int> done) { store_->EraseDeleted(horizon, 100, Soon(), std::move(done)); });
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, 2) << "the busy ones, once their worker and refresh let go";
}

TEST_F(LifecycleTest, RetentionRemovesExactlyTheBriefingsPastTheHorizonWithTheirChanges) {
  Run("INSERT INTO users (email) VALUES ('ada@example.com'), ('bob@example.com');"
      "INSERT INTO briefings (user_id) SELECT 1 + g % 2 FROM generate_series(1, 400) g;"
      // Aged out of order: every third briefing, whatever its id, plus one a second past the
      // horizon; one a minute inside it stays.
      "UPDATE briefings SET create_time = now() - interval '100 days' WHERE id % 3 = 0;"
      "UPDATE briefings SET create_time = now() - interval '90 days 1 second' WHERE id = 1;"
      "UPDATE briefings SET create_time = now() - interval '89 days 23 hours 59 minutes' "
      "  WHERE id = 2;"
      "INSERT INTO briefing_changes (user_id, change_seq, briefing_id, status, update_time) "
      "  SELECT user_id, row_number() OVER (PARTITION BY user_id ORDER BY id), id, status, "
      "  update_time FROM briefings;");
  const int64_t doomed =
      Count("SELECT count(*) FROM briefings WHERE create_time < now() - interval '90 days'");
  ASSERT_EQ(doomed, 134);
  const std::string survivors =
      "SELECT string_agg(id::text, ',' ORDER BY id) FROM briefings "
      "WHERE create_time >= now() - interval '90 days'";
  auto expected = sql_->Exec(survivors);
  ASSERT_TRUE(expected.ok());
  const std::string kept(expected->Text(0, 0));
  const absl::Time horizon = absl::Now() - absl::Hours(24 * 90);
  RemovedBriefings total;
  for (int round = 0; round < 100; ++round) {
    absl::StatusOr<RemovedBriefings> batch = Wait<RemovedBriefings>([&](Done<RemovedBriefings> d) {
      store_->RemoveOldBriefings(horizon, 25, Soon(), std::move(d));
    });
    ASSERT_TRUE(batch.ok()) << batch.status();
    total.briefings += batch->briefings;
    total.changes += batch->changes;
    if (batch->briefings == 0) break;
  }
  EXPECT_EQ(total.briefings, doomed);
  EXPECT_EQ(total.changes, doomed);
  auto after = sql_->Exec(survivors);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(std::string(after->Text(0, 0)), kept);
  EXPECT_EQ(Count("SELECT count(*) FROM briefing_changes c WHERE NOT EXISTS "
                  "(SELECT 1 FROM briefings b WHERE b.id = c.briefing_id)"),
            0);
  EXPECT_EQ(Count("SELECT count(*) FROM briefing_changes"), 400 - doomed);
}

// Erasing a user makes PostgreSQL check each foreign key to users with "WHERE user_id = $1";
// without an index that can answer it (partial ones cannot), every erased user would cost a scan
// of the whole table: 10 M briefings, seconds per user.
TEST_F(LifecycleTest, EveryLookupErasureMakesCanUseAnIndex) {
  Run("SET enable_seqscan = off");
  for (const char* query :
       {"SELECT 1 FROM ONLY briefings x WHERE user_id = 1 FOR KEY SHARE OF x",
        "SELECT 1 FROM ONLY auth_identities x WHERE user_id = 1 FOR KEY SHARE OF x",
        "SELECT 1 FROM briefing_changes WHERE user_id = 1",
        "SELECT id FROM users WHERE delete_time IS NOT NULL AND delete_time < now() "
        "ORDER BY delete_time LIMIT 200",
        "SELECT id FROM briefings WHERE create_time < now() - interval '90 days' LIMIT 500"}) {
    SCOPED_TRACE(query);
    auto plan = sql_->Exec(absl::StrCat("EXPLAIN ", query));
    ASSERT_TRUE(plan.ok()) << plan.status();
    std::string text;
    for (int row = 0; row < plan->rows(); ++row) absl::StrAppend(&text, plan->Text(row, 0), "\n");
    EXPECT_EQ(text.find("Seq Scan"), std::string::npos) << text;
  }
  // Retention removes a batch's change rows through their briefing ids, never by reading all
  // the changes of the briefings' owners (a full scan of the primary key would not be a Seq Scan).
  auto plan = sql_->Exec(
      "EXPLAIN DELETE FROM briefing_changes WHERE briefing_id = ANY ('{1,2,3}'::bigint[])");
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::string text;
  for (int row = 0; row < plan->rows(); ++row) absl::StrAppend(&text, plan->Text(row, 0), "\n");
  EXPECT_NE(text.find("briefing_changes_briefing_id_idx"), std::string::npos) << text;
}

TEST_F(LifecycleTest, ExportReadsTheUserItsIdentitiesAndEveryBriefingOldestFirst) {
  SeedAdaAndBob();
  absl::StatusOr<UserExport> data = Wait<UserExport>(
      [&](Done<UserExport> done) { store_->Export(kAda, Soon(), std::move(done)); });
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->user.id(), kAda);
  EXPECT_EQ(data->user.email(), "ada.lovelace@example.com");
  ASSERT_EQ(data->identities.size(), 2u);
  EXPECT_LT(data->identities[0].id(), data->identities[1].id());
  EXPECT_TRUE(data->identities[0].has_access_token());
  EXPECT_FALSE(data->identities[1].has_access_token());
  ASSERT_EQ(data->briefing_rows.size(), 20u) << "the soft-deleted one too";
  absl::StatusOr<std::vector<v1::Briefing>> briefings = BriefingsAt(*data, 0, 100);
  ASSERT_TRUE(briefings.ok());
  ASSERT_EQ(briefings->size(), 20u);
  for (size_t i = 1; i < briefings->size(); ++i) {
    EXPECT_LT((*briefings)[i - 1].id(), (*briefings)[i].id());
  }
  int deleted = 0;
  for (const v1::Briefing& briefing : *briefings) {
    deleted += briefing.has_delete_time() ? 1 : 0;
    EXPECT_EQ(briefing.content().fields().at("news").string_value(),
              "for ada.lovelace@example.com");
  }
  EXPECT_EQ(deleted, 1);
  absl::StatusOr<UserExport> nobody = Wait<UserExport>(
      [&](Done<UserExport> done) { store_->Export(kAda + 7, Soon(), std::move(done)); });
  EXPECT_EQ(nobody.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace firstsip::storage
