// Migrations against a real PostgreSQL: golang-migrate's bookkeeping and what we add to it.
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "db/blocking_connection.h"
#include "db/sql_error.h"
#include "gtest/gtest.h"
#include "migrate/migrator.h"
#include "support/test_database.h"

namespace firstsip::migrate {
namespace {

class MigratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto database = testing::TestDatabase::Create();
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    connection_ = Connect();
    auto set = MigrationSet::Embedded();
    ASSERT_TRUE(set.ok()) << set.status();
    embedded_ = std::move(*set);
  }

  std::unique_ptr<db::BlockingConnection> Connect() {
    auto connection = db::BlockingConnection::Open(database_->dsn());
    EXPECT_TRUE(connection.ok()) << connection.status();
    return connection.ok() ? std::move(*connection) : nullptr;
  }

  bool TableExists(const char* table) {
    db::Params params;
    params.Add(table);
    auto result = connection_->Exec("SELECT to_regclass($1) IS NOT NULL", params);
    return result.ok() && *result->Bool(0, 0);
  }

  int64_t Count(const char* sql) {
    auto result = connection_->Exec(sql);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result->Int64(0, 0) : -1;
  }

  std::unique_ptr<testing::TestDatabase> database_;
  std::unique_ptr<db::BlockingConnection> connection_;
  MigrationSet embedded_;
};

TEST_F(MigratorTest, UpAppliesEveryFileAndRecordsTheVersionAsGolangMigrateDoes) {
  Migrator migrator(*connection_, embedded_, absl::Seconds(5));
  ASSERT_TRUE(migrator.Up().ok());
  for (const char* table : {"users", "auth_identities", "briefings"})
    EXPECT_TRUE(TableExists(table));
  auto rows = connection_->Exec("SELECT version, dirty FROM schema_migrations");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->rows(), 1);
  EXPECT_EQ(*rows->Int64(0, 0), embedded_.head());
  EXPECT_FALSE(*rows->Bool(0, 1));
  // The column types golang-migrate's postgres driver creates and reads.
  EXPECT_EQ(Count("SELECT count(*) FROM information_schema.columns WHERE table_name = "
                  "'schema_migrations' AND ((column_name = 'version' AND data_type = 'bigint') "
                  "OR (column_name = 'dirty' AND data_type = 'boolean'))"),
            2);
  EXPECT_EQ(Count("SELECT count(*) FROM schema_migrations_history WHERE length(sha256) = 64"),
            static_cast<int64_t>(embedded_.migrations().size()));
  EXPECT_TRUE(migrator.CheckCurrent().ok());
  EXPECT_TRUE(migrator.Up().ok()) << "a second Up has nothing to do";
}

TEST_F(MigratorTest, UpThenDownToZeroThenUpAgain) {
  Migrator migrator(*connection_, embedded_, absl::Seconds(5));
  ASSERT_TRUE(migrator.Up().ok());
  ASSERT_TRUE(migrator.Down(1000).ok());
  for (const char* table : {"users", "auth_identities", "briefings"}) {
    EXPECT_FALSE(TableExists(table)) << table;
  }
  EXPECT_EQ(Count("SELECT count(*) FROM schema_migrations"), 0) << "nil version: empty table";
  EXPECT_EQ(Count("SELECT count(*) FROM schema_migrations_history"), 0);
  EXPECT_EQ(migrator.Version()->version, 0);
  ASSERT_TRUE(migrator.Up().ok());
  EXPECT_EQ(migrator.Version()->version, embedded_.head());
  EXPECT_TRUE(migrator.CheckCurrent().ok());
}

TEST_F(MigratorTest, GotoAndDownMoveOneVersionAtATime) {
  Migrator migrator(*connection_, embedded_, absl::Seconds(5));
  ASSERT_TRUE(migrator.Goto(1).ok());
  EXPECT_EQ(migrator.Version()->version, 1);
  EXPECT_TRUE(TableExists("users"));
  EXPECT_FALSE(TableExists("auth_identities"));
  auto status = migrator.Status();
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE((*status)[0].applied);
  EXPECT_TRUE((*status)[0].applied_at.has_value());
  EXPECT_FALSE((*status)[1].applied);
  EXPECT_FALSE(migrator.CheckCurrent().ok()) << "not at head";
  ASSERT_TRUE(migrator.Up().ok());
  ASSERT_TRUE(migrator.Down(1).ok());
  EXPECT_EQ(migrator.Version()->version, embedded_.Previous(embedded_.head()));
  EXPECT_EQ(migrator.Goto(999).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(MigratorTest, DollarQuotedFunctionBodiesRunWhole) {
  Migrator migrator(*connection_, embedded_, absl::Seconds(5));
  ASSERT_TRUE(migrator.Up().ok());
  ASSERT_TRUE(connection_->ExecScript("INSERT INTO users (email) VALUES ('a@example.com')").ok());
  // The trigger's plpgsql body (with semicolons inside $$) refuses hard deletes.
  absl::Status refused = connection_->ExecScript("DELETE FROM users");
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(db::SqlStateOf(refused), "23001");
}

TEST_F(MigratorTest, AFailingFileIsRolledBackAndTheSchemaStaysCleanAtThePreviousVersion) {
  std::vector<EmbeddedFile> files = {
      {"000001_good.up.sql", "CREATE TABLE good (id int);"},
      {"000001_good.down.sql", "DROP TABLE good;"},
      {"000002_bad.up.sql", "CREATE TABLE half (id int);\nSELECT 1/0;"},
      {"000002_bad.down.sql", "DROP TABLE half;"}};
  auto set = MigrationSet::FromFiles(files);
  ASSERT_TRUE(set.ok());
  Migrator migrator(*connection_, *set, absl::Seconds(5));
  absl::Status failed = migrator.Up();
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(absl::StrContains(failed.message(), "000002_bad.up.sql")) << failed;
  EXPECT_TRUE(absl::StrContains(failed.message(), "division by zero")) << failed;
  EXPECT_TRUE(TableExists("good"));
  EXPECT_FALSE(TableExists("half")) << "the whole file runs in one transaction";
  auto version = migrator.Version();
  EXPECT_EQ(version->version, 1);
  EXPECT_FALSE(version->dirty);
}

TEST_F(MigratorTest, AnInterruptedMigrationStopsStartUpWithTheRepairCommand) {
  Migrator migrator(*connection_, embedded_, absl::Seconds(5));
  ASSERT_TRUE(migrator.Goto(2).ok());
  // What a process killed inside migration 3 leaves: the dirty marker, and a rolled-back file.
  ASSERT_TRUE(connection_
                  ->ExecScript("TRUNCATE schema_migrations; "
                               "INSERT INTO schema_migrations VALUES (3, true)")
                  .ok());
  absl::Status refused = migrator.CheckCurrent();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.message(), "dirty at version 3")) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "firstsip-server migrate force 2")) << refused;
  EXPECT_EQ(migrator.Up().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(migrator.Force(2).ok());
  ASSERT_TRUE(migrator.Up().ok());
  EXPECT_TRUE(migrator.CheckCurrent().ok());
}

TEST_F(MigratorTest, AFileEditedAfterItWasAppliedStopsStartUp) {
  Migrator original(*connection_, embedded_, absl::Seconds(5));
  ASSERT_TRUE(original.Up().ok());
  std::vector<EmbeddedFile> files(EmbeddedMigrationFiles().begin(), EmbeddedMigrationFiles().end());
  std::string edited = std::string(files[1].contents) + "\n-- an innocent-looking edit\n";
  ASSERT_EQ(files[1].name, "000001_create_users.up.sql");
  files[1].contents = edited;
  auto set = MigrationSet::FromFiles(files);
  ASSERT_TRUE(set.ok());
  Migrator changed(*connection_, *set, absl::Seconds(5));
  absl::Status refused = changed.CheckCurrent();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.message(), "000001_create_users.up.sql")) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "edited")) << refused;
  EXPECT_FALSE(changed.Up().ok());
  EXPECT_TRUE((*changed.Status())[0].edited_since_applied);
}

TEST_F(MigratorTest, ADatabaseMigratedByANewerBuildIsRefused) {
  Migrator full(*connection_, embedded_, absl::Seconds(5));
  ASSERT_TRUE(full.Up().ok());
  std::vector<EmbeddedFile> older(EmbeddedMigrationFiles().begin(),
                                  EmbeddedMigrationFiles().begin() + 2);
  auto set = MigrationSet::FromFiles(older);
  ASSERT_TRUE(set.ok());
  Migrator old_binary(*connection_, *set, absl::Seconds(5));
  absl::Status refused = old_binary.CheckCurrent();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.message(), "newer build")) << refused;
}

TEST_F(MigratorTest, WaitingForTheLockGivesUpAfterTheTimeout) {
  Migrator migrator(*connection_, embedded_, absl::Milliseconds(300));
  auto lock_id = migrator.LockId();
  ASSERT_TRUE(lock_id.ok());
  auto holder = Connect();
  db::Params params;
  params.Add(*lock_id);
  ASSERT_TRUE(holder->Exec("SELECT pg_advisory_lock($1::bigint)", params).ok());
  absl::Time start = absl::Now();
  absl::Status waited = migrator.Up();
  EXPECT_EQ(waited.code(), absl::StatusCode::kDeadlineExceeded) << waited;
  EXPECT_TRUE(absl::StrContains(waited.message(), "--migrate-lock-timeout")) << waited;
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_FALSE(TableExists("users"));
  ASSERT_TRUE(holder->Exec("SELECT pg_advisory_unlock($1::bigint)", params).ok());
  EXPECT_TRUE(migrator.Up().ok());
}

TEST_F(MigratorTest, ReplicasMigratingAtOnceApplyEachFileExactlyOnce) {
  constexpr int kReplicas = 4;
  std::vector<absl::Status> outcomes(kReplicas);
  std::vector<std::thread> replicas;
  for (int i = 0; i < kReplicas; ++i) {
    replicas.emplace_back([this, i, &outcomes] {
      auto connection = Connect();
      Migrator migrator(*connection, embedded_, absl::Seconds(30));
      outcomes[i] = migrator.Up();
    });
  }
  for (auto& replica : replicas) replica.join();
  for (const absl::Status& outcome : outcomes) EXPECT_TRUE(outcome.ok()) << outcome;
  EXPECT_EQ(Count("SELECT count(*) FROM schema_migrations_history"),
            static_cast<int64_t>(embedded_.migrations().size()));
  Migrator check(*connection_, embedded_, absl::Seconds(5));
  EXPECT_TRUE(check.CheckCurrent().ok());
}

TEST_F(MigratorTest, ANoTransactionFileRunsStatementsThatATransactionRefuses) {
  std::vector<EmbeddedFile> files = {
      {"000001_table.up.sql",
       "CREATE TYPE mood AS ENUM ('calm');\nCREATE TABLE feed (id int, mood mood);"},
      {"000001_table.down.sql", "DROP TABLE feed; DROP TYPE mood;"},
      {"000002_concurrently.up.sql",
       "-- firstsip: no-transaction\n"
       "-- Both need to run outside a transaction block.\n"
       "CREATE INDEX CONCURRENTLY IF NOT EXISTS feed_id_idx ON feed (id);\n"
       "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'busy';\n"
       "INSERT INTO feed VALUES (1, 'busy');  -- a new enum value, usable once committed\n"},
      {"000002_concurrently.down.sql",
       "-- firstsip: no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS feed_id_idx;\n"
       "DELETE FROM feed;"}};
  auto set = MigrationSet::FromFiles(files);
  ASSERT_TRUE(set.ok()) << set.status();
  Migrator migrator(*connection_, *set, absl::Seconds(5));
  absl::Status up = migrator.Up();
  ASSERT_TRUE(up.ok()) << up;
  EXPECT_EQ(Count("SELECT count(*) FROM pg_index WHERE indexrelid = 'feed_id_idx'::regclass "
                  "AND indisvalid"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM feed WHERE mood = 'busy'"), 1);
  auto version = migrator.Version();
  EXPECT_EQ(version->version, 2);
  EXPECT_FALSE(version->dirty);
  EXPECT_EQ(Count("SELECT count(*) FROM schema_migrations_history"), 2);
  EXPECT_TRUE(migrator.CheckCurrent().ok());
  ASSERT_TRUE(migrator.Down(1).ok());
  EXPECT_FALSE(TableExists("feed_id_idx"));
  EXPECT_EQ(migrator.Version()->version, 1);
  EXPECT_FALSE(migrator.Version()->dirty);
  EXPECT_EQ(Count("SELECT count(*) FROM schema_migrations_history"), 1);

  // The same statements in an ordinary file fail: the reason the marker exists.
  std::vector<EmbeddedFile> unmarked = files;
  std::string body(files[2].contents.substr(files[2].contents.find('\n') + 1));
  unmarked[2].contents = body;
  auto plain = MigrationSet::FromFiles(unmarked);
  ASSERT_TRUE(plain.ok());
  Migrator in_transaction(*connection_, *plain, absl::Seconds(5));
  absl::Status refused = in_transaction.Up();
  EXPECT_TRUE(absl::StrContains(refused.message(), "cannot run inside a transaction block"))
      << refused;
}

TEST_F(MigratorTest, AFailedNoTransactionFileStaysDirtyWithTheRepairAndReRunsAfterForce) {
  std::vector<EmbeddedFile> files = {
      {"000001_good.up.sql", "CREATE TABLE good (id int);"},
      {"000001_good.down.sql", "DROP TABLE good;"},
      {"000002_half.up.sql",
       "-- firstsip: no-transaction\nCREATE TABLE IF NOT EXISTS kept (id int);\n"
       "SELECT 1/0;\n"},
      {"000002_half.down.sql", "DROP TABLE IF EXISTS kept;"}};
  auto set = MigrationSet::FromFiles(files);
  ASSERT_TRUE(set.ok());
  Migrator migrator(*connection_, *set, absl::Seconds(5));
  absl::Status failed = migrator.Up();
  ASSERT_FALSE(failed.ok());
  for (const char* part : {"000002_half.up.sql", "statement 2 of 2", "line 3", "division by zero",
                           "dirty at version 2", "firstsip-server migrate force 1"}) {
    EXPECT_TRUE(absl::StrContains(failed.message(), part)) << part << " in " << failed;
  }
  EXPECT_TRUE(TableExists("kept")) << "statements before the failing one are kept";
  auto version = migrator.Version();
  EXPECT_EQ(version->version, 2);
  EXPECT_TRUE(version->dirty);
  absl::Status refused = migrator.CheckCurrent();
  EXPECT_TRUE(absl::StrContains(refused.message(), "dirty at version 2")) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "firstsip-server migrate force 1")) << refused;
  EXPECT_FALSE(absl::StrContains(refused.message(), "none of it was kept")) << refused;

  // The documented repair: force the version before, fix the cause, run again.
  ASSERT_TRUE(migrator.Force(1).ok());
  files[2].contents =
      "-- firstsip: no-transaction\nCREATE TABLE IF NOT EXISTS kept (id int);\n"
      "SELECT 1;\n";
  auto fixed = MigrationSet::FromFiles(files);
  ASSERT_TRUE(fixed.ok());
  Migrator again(*connection_, *fixed, absl::Seconds(5));
  absl::Status rerun = again.Up();
  ASSERT_TRUE(rerun.ok()) << rerun;
  EXPECT_EQ(again.Version()->version, 2);
  EXPECT_TRUE(again.CheckCurrent().ok());
}

}  // namespace
}  // namespace firstsip::migrate
