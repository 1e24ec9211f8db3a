// Schema changes on a live database, through the real binary and PostgreSQL: a migration set
// of the built-in files plus a test-only next file (--migrations-dir), started while the
// service serves and the tables take writes.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "db/blocking_connection.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "gtest/gtest.h"
#include "migrate/migration_set.h"
#include "support/running_server.h"

namespace firstsip {
namespace {

// The newest version this binary embeds: what a failed extra migration leaves the schema at.
int64_t Head() { return migrate::MigrationSet::Embedded()->head(); }

class LiveMigrationTest : public testing::RunningServerTest {
 protected:
  void SetUp() override {
    RunningServerTest::SetUp();
    if (HasFatalFailure()) return;
    directory_ = std::filesystem::temp_directory_path() /
                 absl::StrCat("firstsip-migrations-", getpid(), "-", ++counter_);
    std::filesystem::create_directories(directory_);
    for (const auto& entry :
         std::filesystem::directory_iterator(std::string(FIRSTSIP_SOURCE_DIR) + "/migrations")) {
      if (entry.path().extension() == ".sql") {
        std::filesystem::copy_file(entry.path(), directory_ / entry.path().filename());
      }
    }
    auto connection = db::BlockingConnection::Open(database_->dsn());
    ASSERT_TRUE(connection.ok());
    sql_ = std::move(*connection);
  }
  void TearDown() override {
    RunningServerTest::TearDown();
    std::filesystem::remove_all(directory_);
  }

  // Adds NNNNNN_name.up.sql / .down.sql to the test's migration set.
  void AddMigration(const std::string& name, const std::string& up, const std::string& down) {
    std::ofstream(directory_ / (name + ".up.sql")) << up;
    std::ofstream(directory_ / (name + ".down.sql")) << down;
  }

  // Runs the binary against this test's database and migration set.
  testing::CommandResult RunWithSet(std::vector<std::string> args) {
    args.insert(args.begin(), {"--database-url=" + database_->dsn(), "--listen=127.0.0.1:0",
                               "--metrics-listen=", "--migrations-dir=" + directory_.string()});
    return testing::RunServerCommand(args, {{"ENCRYPTION_KEY", testing::kTestEncryptionKey}});
  }

  int64_t Count(const std::string& sql) {
    auto result = sql_->Exec(sql);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result->Int64(0, 0) : -1;
  }

  static inline int counter_ = 0;
  std::filesystem::path directory_;
  std::unique_ptr<db::BlockingConnection> sql_;
};

TEST_F(LiveMigrationTest, AConcurrentIndexMigrationAppliesAtStartUpOnATableUnderWriteLoad) {
  ASSERT_TRUE(sql_->ExecScript("INSERT INTO users (email) VALUES ('load@example.com'); "
                               "INSERT INTO briefings (user_id, status) SELECT "
                               "(SELECT id FROM users), 'completed' FROM generate_series(1, "
                               "200000)")
                  .ok());
  AddMigration("000901_briefings_status_time",
               "-- firstsip: no-transaction\n"
               "-- A new index on a big, busy table: built without blocking writes.\n"
               "CREATE INDEX CONCURRENTLY IF NOT EXISTS briefings_status_time_idx\n"
               "  ON briefings (status, create_time);\n",
               "-- firstsip: no-transaction\n"
               "DROP INDEX CONCURRENTLY IF EXISTS briefings_status_time_idx;\n");
  // Writers: short transactions inserting and updating briefings the whole time.
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&] {
      auto connection = db::BlockingConnection::Open(database_->dsn());
      if (!connection.ok()) return;
      while (!stop.load()) {
        absl::Status written = (*connection)
                                   ->ExecScript(
                                       "INSERT INTO briefings (user_id) SELECT id FROM users "
                                       "LIMIT 1; UPDATE briefings SET status = 'processing' "
                                       "WHERE id = (SELECT max(id) FROM briefings)");
        written.ok() ? ++writes : ++failures;
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(200));
  int before = writes.load();
  absl::Time start = absl::Now();
  auto server =
      testing::ServerProcess::Start(database_->dsn(), {"--migrations-dir=" + directory_.string()},
                                    {{"ENCRYPTION_KEY", std::string(testing::kTestEncryptionKey)}});
  absl::Duration took = absl::Now() - start;
  int during = writes.load() - before;
  stop.store(true);
  for (auto& writer : writers) writer.join();
  ASSERT_TRUE(server.ok()) << server.status();
  std::printf("start-up with CREATE INDEX CONCURRENTLY on 200k rows: %s; %d writes meanwhile\n",
              absl::FormatDuration(took).c_str(), during);
  EXPECT_TRUE(absl::StrContains((*server)->output(), "(outside a transaction)"))
      << (*server)->output();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(during, 0) << "writes went on while the index was built";
  EXPECT_EQ(Count("SELECT count(*) FROM pg_index WHERE indexrelid = "
                  "'briefings_status_time_idx'::regclass AND indisvalid AND indisready"),
            1);
  EXPECT_EQ(Count("SELECT version FROM schema_migrations WHERE NOT dirty"), 901);
  EXPECT_EQ((*server)->Stop(SIGTERM), 0);
}

TEST_F(LiveMigrationTest, ABlockedMigrationGivesUpWhileGetUserAnswersWithinTheLockTimeout) {
  auto stub = v1::UserService::NewStub(channel_);
  v1::CreateUserRequest create;
  create.mutable_user()->set_email("reader@example.com");
  v1::User user;
  ASSERT_TRUE(stub->CreateUser(Context().get(), create, &user).ok());
  AddMigration("000901_users_nickname",
               "ALTER TABLE users ADD COLUMN IF NOT EXISTS nickname text;\n",
               "ALTER TABLE users DROP COLUMN IF EXISTS nickname;\n");
  // Another session's long transaction that read users: the ALTER must queue behind it, and
  // without a lock timeout every GetUser would queue behind the ALTER.
  ASSERT_TRUE(
      sql_->ExecScript("SET application_name = 'nightly-report'; BEGIN; SELECT count(*) FROM users")
          .ok());
  testing::CommandResult blocked;
  std::atomic<bool> done{false};
  std::thread rollout([&] {
    blocked = RunWithSet(
        {"--migrate-statement-lock-timeout=500ms", "--migrate-statement-max-wait=3s", "serve"});
    done.store(true);
  });
  std::vector<absl::Duration> latencies;
  int failed = 0;
  while (!done.load()) {
    v1::GetUserRequest get;
    get.set_id(user.id());
    v1::User got;
    absl::Time before = absl::Now();
    grpc::Status status = stub->GetUser(Context(absl::Seconds(2)).get(), get, &got);
    latencies.push_back(absl::Now() - before);
    if (!status.ok()) ++failed;
    absl::SleepFor(absl::Milliseconds(10));
  }
  rollout.join();
  absl::Duration slowest;
  absl::Duration total;
  for (absl::Duration latency : latencies) {
    slowest = std::max(slowest, latency);
    total += latency;
  }
  std::printf(
      "GetUser during the blocked migration: %zu calls, mean %s, slowest %s "
      "(--migrate-statement-lock-timeout=500ms)\n",
      latencies.size(), absl::FormatDuration(total / latencies.size()).c_str(),
      absl::FormatDuration(slowest).c_str());
  EXPECT_EQ(failed, 0);
  EXPECT_GT(latencies.size(), 20u);
  EXPECT_LT(slowest, absl::Milliseconds(900)) << "a call waited past the lock timeout";
  EXPECT_GT(slowest, absl::Milliseconds(100)) << "the ALTER did queue the calls for a while";
  EXPECT_EQ(blocked.exit_code, 1) << blocked.output;
  for (const std::string& part :
       {std::string("000901_users_nickname.up.sql"),
        std::string("--migrate-statement-lock-timeout (500ms)"),
        std::string("application_name \"nightly-report\""), std::string("idle in transaction"),
        std::string("query started"), absl::StrCat("stays at version ", Head())}) {
    EXPECT_TRUE(absl::StrContains(blocked.output, part)) << part << " in " << blocked.output;
  }
  ASSERT_TRUE(sql_->ExecScript("COMMIT").ok());
  testing::CommandResult after = RunWithSet({"migrate", "up"});
  EXPECT_EQ(after.exit_code, 0) << after.output;
  EXPECT_EQ(Count("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' "
                  "AND column_name = 'nickname'"),
            1);
}

TEST_F(LiveMigrationTest, AFailedNoTransactionFileLeavesADirtyVersionAndAClearRepair) {
  ASSERT_TRUE(sql_->ExecScript("INSERT INTO users (email) VALUES ('twice@example.com'); "
                               "INSERT INTO briefings (user_id) SELECT id FROM users, "
                               "generate_series(1, 2)")
                  .ok());
  AddMigration("000901_one_briefing_per_user",
               "-- firstsip: no-transaction\n"
               "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS briefings_one_per_user\n"
               "  ON briefings (user_id);\n",
               "-- firstsip: no-transaction\n"
               "DROP INDEX CONCURRENTLY IF EXISTS briefings_one_per_user;\n");
  testing::CommandResult start = RunWithSet({"serve"});
  EXPECT_EQ(start.exit_code, 1) << start.output;
  for (const std::string& part :
       {std::string("000901_one_briefing_per_user.up.sql"), std::string("statement 1 of 1"),
        std::string("could not create unique index"), std::string("dirty at version 901"),
        std::string("Invalid indexes now in the database: briefings_one_per_user"),
        absl::StrCat("firstsip-server migrate force ", Head())}) {
    EXPECT_TRUE(absl::StrContains(start.output, part)) << part << " in " << start.output;
  }
  EXPECT_EQ(RunWithSet({"migrate", "version"}).output, "901 (dirty)\n");
  testing::CommandResult status = RunWithSet({"migrate", "status"});
  EXPECT_TRUE(absl::StrContains(status.output, "schema version 901 DIRTY")) << status.output;
  EXPECT_TRUE(absl::StrContains(status.output, "DIRTY    000901_one_briefing_per_user.up.sql"))
      << status.output;
  EXPECT_TRUE(absl::StrContains(status.output, "INVALID index briefings_one_per_user"))
      << status.output;
  testing::CommandResult again = RunWithSet({"serve"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(
      absl::StrContains(again.output, absl::StrCat("firstsip-server migrate force ", Head())))
      << again.output;

  // The documented repair: drop the invalid index, fix the data, force, start again.
  ASSERT_TRUE(sql_->ExecScript("DROP INDEX CONCURRENTLY IF EXISTS briefings_one_per_user").ok());
  ASSERT_TRUE(
      sql_->ExecScript("DELETE FROM briefings WHERE id = (SELECT max(id) FROM briefings)").ok());
  ASSERT_EQ(RunWithSet({"migrate", "force", "4"}).exit_code, 0);
  auto server =
      testing::ServerProcess::Start(database_->dsn(), {"--migrations-dir=" + directory_.string()},
                                    {{"ENCRYPTION_KEY", std::string(testing::kTestEncryptionKey)}});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(Count("SELECT count(*) FROM pg_index WHERE indexrelid = "
                  "'briefings_one_per_user'::regclass AND indisvalid"),
            1);
  EXPECT_EQ((*server)->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace firstsip
