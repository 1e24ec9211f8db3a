// Faults: the database going away under load, a migration killed half-way, replicas starting
// together on an empty database.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "db/blocking_connection.h"
#include "firstsip/client/client.h"
#include "gtest/gtest.h"
#include "migrate/migration_set.h"
#include "support/server_process.h"
#include "support/test_database.h"

namespace firstsip {
namespace {

std::string Script() { return std::string(FIRSTSIP_SOURCE_DIR) + "/scripts/pg-cluster.sh"; }

TEST(DatabaseRestartTest, AcknowledgedWritesSurviveAndCallsFailFastWhileTheDatabaseIsDown) {
  // A cluster of its own: this test stops and starts it.
  std::string dir = "/tmp/firstsip-fault-" + std::to_string(getpid());
  ASSERT_EQ(std::system((Script() + " start " + dir + " >/dev/null").c_str()), 0);
  std::string admin = "host=" + dir + " port=5432 user=postgres dbname=postgres";
  {
    auto connection = db::BlockingConnection::Open(admin);
    ASSERT_TRUE(connection.ok());
    ASSERT_TRUE((*connection)->ExecScript("CREATE DATABASE faults").ok());
  }
  std::string dsn = "host=" + dir + " port=5432 user=postgres dbname=faults";
  auto server = testing::ServerProcess::Start(dsn);
  ASSERT_TRUE(server.ok()) << server.status();
  client::ClientOptions options;
  options.target = (*server)->target();
  options.timeout = absl::Seconds(3);
  options.max_attempts = 1;  // count every failure as the caller sees it
  auto client = client::Client::Create(options);
  ASSERT_TRUE(client.ok());

  std::mutex mutex;
  std::vector<std::string> acknowledged;
  std::atomic<int> unavailable{0}, other_errors{0}, slow_failures{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop.load(); ++i) {
        v1::User user;
        user.set_email(absl::StrCat("w", w, "-", i, "@example.com"));
        absl::Time start = absl::Now();
        auto created = (*client)->CreateUser(user);
        if (created.ok()) {
          std::lock_guard<std::mutex> lock(mutex);
          acknowledged.push_back(user.email());
          continue;
        }
        if (absl::Now() - start > absl::Seconds(1)) ++slow_failures;
        if (created.status().code() == absl::StatusCode::kUnavailable) {
          ++unavailable;
        } else {
          ++other_errors;
          std::fprintf(stderr, "unexpected: %s\n", created.status().ToString().c_str());
        }
        absl::SleepFor(absl::Milliseconds(20));
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(700));
  ASSERT_EQ(std::system((Script() + " stop " + dir).c_str()), 0);
  absl::SleepFor(absl::Milliseconds(300));
  auto health_down = (*client)->Healthy();
  EXPECT_TRUE(health_down.ok() && !*health_down) << "NOT_SERVING while the database is down";
  absl::SleepFor(absl::Milliseconds(700));
  ASSERT_EQ(std::system((Script() + " start " + dir + " >/dev/null").c_str()), 0);
  bool serving_again = false;
  for (int i = 0; i < 100 && !serving_again; ++i) {
    auto healthy = (*client)->Healthy();
    serving_again = healthy.ok() && *healthy;
    if (!serving_again) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(serving_again) << "SERVING again without a restart";
  absl::SleepFor(absl::Milliseconds(700));
  stop.store(true);
  for (auto& writer : writers) writer.join();

  EXPECT_GT(unavailable.load(), 0) << "the outage was seen";
  EXPECT_EQ(other_errors.load(), 0);
  EXPECT_EQ(slow_failures.load(), 0) << "failures come fast, not at the deadline";
  auto connection = db::BlockingConnection::Open(dsn);
  ASSERT_TRUE(connection.ok());
  auto stored = (*connection)->Exec("SELECT email FROM users");
  ASSERT_TRUE(stored.ok());
  std::set<std::string> emails;
  for (int row = 0; row < stored->rows(); ++row) emails.insert(std::string(stored->Text(row, 0)));
  int missing = 0;
  for (const std::string& email : acknowledged) missing += emails.count(email) == 0;
  EXPECT_GT(acknowledged.size(), 20u);
  EXPECT_EQ(missing, 0) << "every acknowledged write is in the database";
  EXPECT_EQ((*server)->Stop(SIGTERM), 0);
  std::system((Script() + " stop " + dir + "; rm -rf " + dir).c_str());
}

class MigrationFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto database = testing::TestDatabase::Create();
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
  }
  std::unique_ptr<testing::TestDatabase> database_;
};

TEST_F(MigrationFaultTest, AServerKilledInsideAMigrationLeavesADirtyVersionAndTheRepair) {
  ASSERT_EQ(
      testing::RunServerCommand({"--database-url=" + database_->dsn(), "migrate", "goto", "3"})
          .exit_code,
      0);
  // Hold the table migration 4 alters, so the migrator is inside it when it is killed.
  auto blocker = db::BlockingConnection::Open(database_->dsn());
  ASSERT_TRUE(blocker.ok());
  ASSERT_TRUE((*blocker)->ExecScript("BEGIN; LOCK TABLE briefings IN ACCESS EXCLUSIVE MODE").ok());
  auto server = testing::ServerProcess::Launch(database_->dsn());
  auto watcher = db::BlockingConnection::Open(database_->dsn());
  bool inside = false;
  for (int i = 0; i < 200 && !inside; ++i) {
    auto marker = (*watcher)->Exec("SELECT version, dirty FROM schema_migrations");
    inside = marker.ok() && marker->rows() == 1 && *marker->Int64(0, 0) == 4 && *marker->Bool(0, 1);
    if (!inside) absl::SleepFor(absl::Milliseconds(25));
  }
  ASSERT_TRUE(inside) << server->output();
  EXPECT_EQ(server->Stop(SIGKILL), 128 + SIGKILL);
  ASSERT_TRUE((*blocker)->ExecScript("ROLLBACK").ok());

  testing::CommandResult restart =
      testing::RunServerCommand({"--database-url=" + database_->dsn(), "--listen=127.0.0.1:0"},
                                {{"ENCRYPTION_KEY", testing::kTestEncryptionKey}});
  EXPECT_EQ(restart.exit_code, 1) << restart.output;
  EXPECT_TRUE(absl::StrContains(restart.output, "dirty at version 4")) << restart.output;
  EXPECT_TRUE(absl::StrContains(restart.output, "firstsip-server migrate force 3"))
      << restart.output;
  ASSERT_EQ(
      testing::RunServerCommand({"--database-url=" + database_->dsn(), "migrate", "force", "3"})
          .exit_code,
      0);
  auto started = testing::ServerProcess::Start(database_->dsn());
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ((*started)->Stop(SIGTERM), 0);
}

TEST_F(MigrationFaultTest, ThreeServersStartingTogetherOnAnEmptyDatabaseMigrateOnce) {
  std::vector<std::unique_ptr<testing::ServerProcess>> servers(3);
  std::vector<std::thread> starters;
  for (int i = 0; i < 3; ++i) {
    starters.emplace_back([&, i] {
      auto server = testing::ServerProcess::Start(database_->dsn());
      if (server.ok()) servers[i] = std::move(*server);
    });
  }
  for (auto& starter : starters) starter.join();
  int applied_lines = 0;
  for (auto& server : servers) {
    ASSERT_NE(server, nullptr) << "every replica starts";
    std::string output = server->output();
    for (size_t at = output.find("applied 0000"); at != std::string::npos;
         at = output.find("applied 0000", at + 1)) {
      ++applied_lines;
    }
    EXPECT_EQ(server->Stop(SIGTERM), 0);
  }
  const int64_t files = migrate::MigrationSet::Embedded()->head();
  EXPECT_EQ(applied_lines, files) << "each file applied once, by one replica";
  auto connection = db::BlockingConnection::Open(database_->dsn());
  auto history = (*connection)->Exec("SELECT count(*) FROM schema_migrations_history");
  EXPECT_EQ(*history->Int64(0, 0), files);
}

}  // namespace
}  // namespace firstsip
