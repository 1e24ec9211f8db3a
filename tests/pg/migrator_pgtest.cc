// Migrations against a real PostgreSQL: golang-migrate's bookkeeping and what we add to it.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "db/blocking_connection.h"
#include "db/sql_error.h"
#include "gtest/gtest.h"
#include "migrate/migrator.h"
#include "migrate/sql_splitter.h"
#include "support/pgbouncer.h"
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

TEST(GolangMigrateLockId, MatchesGolangMigratesOwnTestVectors) {
  // database/util_test.go in golang-migrate v4.
  EXPECT_EQ(GolangMigrateLockId("database_name", {}), "1764327054");
  EXPECT_EQ(GolangMigrateLockId("database_name", {"schema_name_1"}), "2453313553");
  EXPECT_EQ(GolangMigrateLockId("database_name", {"schema_name_1", "schema_name_2"}), "3743845847");
}

TEST_F(MigratorTest, HoldsBothGolangMigrateLockKeysAndWaitsForEitherUpToTheTimeout) {
  Migrator migrator(*connection_, embedded_, absl::Milliseconds(300));
  auto lock_ids = migrator.LockIds();
  ASSERT_TRUE(lock_ids.ok());
  // The library's key (over current_database()) and the CLI's (over the URL path "/db").
  std::vector<std::string> expected = {
      GolangMigrateLockId(database_->name(), {"public", "schema_migrations"}),
      GolangMigrateLockId("/" + database_->name(), {"public", "schema_migrations"})};
  std::vector<std::string> got = *lock_ids;
  std::sort(got.begin(), got.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(got, expected);
  for (const std::string& lock_id : *lock_ids) {
    SCOPED_TRACE(lock_id);
    auto holder = Connect();
    ASSERT_TRUE(holder->ExecScript("SET application_name = 'golang-migrate'").ok());
    db::Params params;
    params.Add(lock_id);
    ASSERT_TRUE(holder->Exec("SELECT pg_advisory_lock($1::bigint)", params).ok());
    absl::Time start = absl::Now();
    absl::Status waited = migrator.Up();
    EXPECT_EQ(waited.code(), absl::StatusCode::kDeadlineExceeded) << waited;
    EXPECT_TRUE(absl::StrContains(waited.message(), "--migrate-lock-timeout")) << waited;
    EXPECT_TRUE(absl::StrContains(waited.message(), "golang-migrate")) << waited;
    EXPECT_LT(absl::Now() - start, absl::Seconds(3));
    EXPECT_FALSE(TableExists("users"));
    EXPECT_EQ(Count("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = "
                    "pg_backend_pid()"),
              0)
        << "a migrator that gives up holds no key";
    ASSERT_TRUE(holder->Exec("SELECT pg_advisory_unlock($1::bigint)", params).ok());
  }
  EXPECT_TRUE(migrator.Up().ok());
}

// Behind PgBouncer in transaction mode, a session-level advisory lock stays on the server
// connection that took it while the migrator's next statement may run on another: migrating
// then would be unserialised, and the lock would stay with whichever client gets that server
// connection next. The migrator must notice and stop before it changes anything.
// A PgBouncer in transaction mode with `server_connections` server connections, all open and
// handed out oldest first, so one client's consecutive transactions go round them: what a busy
// pooler may do at any time, made certain here.
absl::StatusOr<std::unique_ptr<testing::PgBouncer>> RoundRobinPooler(const std::string& dsn,
                                                                     int server_connections) {
  auto bouncer = testing::PgBouncer::Start(dsn, server_connections, /*server_round_robin=*/true);
  if (!bouncer.ok()) return bouncer.status();
  std::string through = (*bouncer)->Through(dsn);
  // pgbouncer opens server connections on demand: clients holding a transaction open each keep
  // one, so the last client's statement needs one more. No timing involved.
  std::vector<std::unique_ptr<db::BlockingConnection>> clients;
  for (int i = 0; i < server_connections; ++i) {
    auto client = db::BlockingConnection::Open(through);
    if (!client.ok()) return client.status();
    bool last = i + 1 == server_connections;
    if (absl::Status ran = (*client)->ExecScript(last ? "SELECT 1" : "BEGIN; SELECT 1");
        !ran.ok()) {
      return ran;
    }
    clients.push_back(*std::move(client));
  }
  for (int i = 0; i + 1 < server_connections; ++i) {
    if (absl::Status ran = clients[i]->ExecScript("COMMIT"); !ran.ok()) return ran;
  }
  return bouncer;
}

TEST_F(MigratorTest, ALockTakenThroughATransactionPoolerIsRefusedBeforeAnythingIsApplied) {
  auto bouncer = RoundRobinPooler(database_->dsn(), 2);
  ASSERT_TRUE(bouncer.ok()) << bouncer.status();
  auto pooled = db::BlockingConnection::Open((*bouncer)->Through(database_->dsn()));
  ASSERT_TRUE(pooled.ok()) << pooled.status();
  auto one = (*pooled)->Exec("SELECT pg_backend_pid()");
  auto next = (*pooled)->Exec("SELECT pg_backend_pid()");
  ASSERT_TRUE(one.ok() && next.ok());
  ASSERT_NE(*one->Int64(0, 0), *next->Int64(0, 0))
      << "the setup must move consecutive statements between server connections\n"
      << (*bouncer)->log();

  Migrator migrator(**pooled, embedded_, absl::Seconds(5));
  absl::Status refused = migrator.Up();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_TRUE(
      absl::StrContains(refused.message(), "the migration lock did not stay with this session"))
      << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "--direct-database-url"))
      << "the message names the way out: " << refused;
  // Seen past the pooler: no bookkeeping table, no migration.
  EXPECT_FALSE(TableExists("schema_migrations"));
  EXPECT_FALSE(TableExists("schema_migrations_history"));
  EXPECT_FALSE(TableExists("users"));
}

TEST_F(MigratorTest, ARefusedLockLeftOnAPooledConnectionIsNamedWithHowToFreeIt) {
  // Three server connections: the lock lands on one, the check on the next, the unlock on the
  // third, which does not hold it. The lock stays, and would block every later migration.
  auto bouncer = RoundRobinPooler(database_->dsn(), 3);
  ASSERT_TRUE(bouncer.ok()) << bouncer.status();
  auto pooled = db::BlockingConnection::Open((*bouncer)->Through(database_->dsn()));
  ASSERT_TRUE(pooled.ok()) << pooled.status();
  Migrator migrator(**pooled, embedded_, absl::Seconds(5));
  absl::Status refused = migrator.Up();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  auto holder = db::BlockingConnection::Open(database_->dsn());
  ASSERT_TRUE(holder.ok());
  // pg_locks is cluster-wide, and other tests take migration locks in databases of their own.
  auto pid = (*holder)->Exec(
      "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
      "(SELECT oid FROM pg_database WHERE datname = current_database())");
  ASSERT_TRUE(pid.ok());
  ASSERT_EQ(pid->rows(), 1) << "the lock stayed behind: " << refused;
  EXPECT_TRUE(
      absl::StrContains(refused.message(), absl::StrCat("still held by pid ", *pid->Int64(0, 0))))
      << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "pg_terminate_backend")) << refused;
  EXPECT_FALSE(TableExists("users"));
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

TEST_F(MigratorTest, AFailedConcurrentIndexIsReportedAsAnInvalidIndex) {
  std::vector<EmbeddedFile> files = {
      {"000001_t.up.sql", "CREATE TABLE t (x int); INSERT INTO t VALUES (1), (1);"},
      {"000001_t.down.sql", "DROP TABLE t;"},
      {"000002_unique.up.sql",
       "-- firstsip: no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_x_key "
       "ON t (x);\n"},
      {"000002_unique.down.sql",
       "-- firstsip: no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS t_x_key;\n"}};
  auto set = MigrationSet::FromFiles(files);
  ASSERT_TRUE(set.ok());
  Migrator migrator(*connection_, *set, absl::Seconds(5));
  absl::Status failed = migrator.Up();
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(absl::StrContains(failed.message(), "Invalid indexes now in the database: t_x_key"))
      << failed;
  auto invalid = migrator.InvalidIndexes();
  ASSERT_TRUE(invalid.ok());
  ASSERT_EQ(invalid->size(), 1u);
  EXPECT_EQ((*invalid)[0].index, "t_x_key");
  EXPECT_EQ((*invalid)[0].table, "t");
  auto lines = migrator.Status();
  ASSERT_TRUE(lines.ok());
  EXPECT_TRUE((*lines)[1].dirty);
  EXPECT_TRUE((*lines)[1].no_transaction);
  EXPECT_FALSE((*lines)[1].applied);
}

// golang-migrate v4's postgres driver, as the CLI opened from a URL runs it: its lock over the
// URL path, then for each file the dirty version, the file as one multi-statement query (one
// implicit transaction), the clean version. It never touches schema_migrations_history.
class GolangMigrate {
 public:
  GolangMigrate(db::BlockingConnection& connection, const MigrationSet& set, std::string database)
      : connection_(connection), set_(set) {
    lock_id_ = GolangMigrateLockId("/" + database, {"public", "schema_migrations"});
  }

  absl::Status Up(int64_t to) {
    return Locked([&]() -> absl::Status {
      int64_t current = Current();
      for (const Migration& m : set_.migrations()) {
        if (m.version <= current || m.version > to) continue;
        if (absl::Status s = Set(m.version, true); !s.ok()) return s;
        if (absl::Status s = Run(m.up_sql, m.up_no_transaction); !s.ok()) return s;  // dirty
        if (absl::Status s = Set(m.version, false); !s.ok()) return s;
      }
      return absl::OkStatus();
    });
  }
  absl::Status Down(int steps) {
    return Locked([&]() -> absl::Status {
      for (int i = 0; i < steps; ++i) {
        const Migration* m = set_.Find(Current());
        if (m == nullptr) break;
        int64_t previous = set_.Previous(m->version);
        if (absl::Status s = Set(previous, true); !s.ok()) return s;
        if (absl::Status s = Run(m->down_sql, m->down_no_transaction); !s.ok()) return s;
        if (absl::Status s = Set(previous, false); !s.ok()) return s;
      }
      return absl::OkStatus();
    });
  }

 private:
  // A file marked no-transaction one statement at a time, as golang-migrate's
  // x-multi-statement mode does (CREATE INDEX CONCURRENTLY refuses a multi-statement script).
  absl::Status Run(absl::string_view sql, bool no_transaction) {
    if (!no_transaction) return connection_.ExecScript(sql);
    auto statements = SplitSqlStatements(sql);
    if (!statements.ok()) return statements.status();
    for (const SqlStatement& statement : *statements) {
      if (absl::Status s = connection_.ExecScript(statement.text); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  absl::Status Locked(const std::function<absl::Status()>& body) {
    db::Params params;
    params.Add(lock_id_);
    if (auto locked = connection_.Exec("SELECT pg_advisory_lock($1)", params); !locked.ok()) {
      return locked.status();
    }
    absl::Status outcome = connection_.ExecScript(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint not null primary key, "
        "dirty boolean not null)");
    if (outcome.ok()) outcome = body();
    (void)connection_.Exec("SELECT pg_advisory_unlock($1)", params);
    return outcome;
  }
  int64_t Current() {
    auto row = connection_.Exec("SELECT version FROM schema_migrations LIMIT 1");
    return row.ok() && row->rows() == 1 ? *row->Int64(0, 0) : 0;
  }
  absl::Status Set(int64_t version, bool dirty) {
    std::string insert = version > 0 || dirty
                             ? absl::StrCat(
                                   "INSERT INTO schema_migrations "
                                   "(version, dirty) VALUES (",
                                   version > 0 ? version : -1, ", ", dirty ? "true" : "false", ");")
                             : "";
    return connection_.ExecScript(
        absl::StrCat("BEGIN; TRUNCATE schema_migrations; ", insert, " COMMIT;"));
  }

  db::BlockingConnection& connection_;
  const MigrationSet& set_;
  std::string lock_id_;
};

TEST_F(MigratorTest, AfterGolangMigrateFailedWithNoHistoryTheHintIsTheVersionBefore) {
  GolangMigrate golang(*connection_, embedded_, database_->name());
  ASSERT_TRUE(golang.Up(3).ok());
  EXPECT_FALSE(TableExists("schema_migrations_history"));
  // --migrate=false on a database golang-migrate built: checking needs no history table.
  Migrator at_three(*connection_, embedded_, absl::Seconds(5));
  absl::Status behind = at_three.CheckCurrent();
  EXPECT_TRUE(absl::StrContains(behind.message(), "is at version 3 but this binary needs"))
      << behind;
  // golang-migrate fails half-way through 4 (here: its file meets an error).
  ASSERT_TRUE(connection_->ExecScript("ALTER TABLE briefings ADD COLUMN content_proto int").ok());
  EXPECT_FALSE(golang.Up(4).ok());
  EXPECT_EQ(at_three.Version()->version, 4);
  EXPECT_TRUE(at_three.Version()->dirty);
  absl::Status refused = at_three.CheckCurrent();
  EXPECT_TRUE(absl::StrContains(refused.message(), "dirty at version 4")) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "firstsip-server migrate force 3")) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "did not record that state")) << refused;
  EXPECT_FALSE(absl::StrContains(refused.message(), "none of it was kept")) << refused;
  auto lines = at_three.Status();
  ASSERT_TRUE(lines.ok());
  auto four = std::find_if(lines->begin(), lines->end(),
                           [](const auto& line) { return line.version == 4; });
  ASSERT_NE(four, lines->end());
  EXPECT_TRUE(four->dirty) << "status shows the dirty version as dirty";
  // The repair as the message says: undo what was kept, force, start again.
  ASSERT_TRUE(connection_->ExecScript("ALTER TABLE briefings DROP COLUMN content_proto").ok());
  ASSERT_TRUE(at_three.Force(3).ok());
  absl::Status up = at_three.Up();
  ASSERT_TRUE(up.ok()) << up;
  EXPECT_TRUE(at_three.CheckCurrent().ok());
  // One history row per file (versions may have gaps: numbers are handed out to branches).
  EXPECT_EQ(Count("SELECT count(*) FROM schema_migrations_history"),
            static_cast<int64_t>(embedded_.migrations().size()))
      << "adopted 1-3, ran the rest";
}

TEST_F(MigratorTest, StaleHistoryDoesNotVouchForAStateGolangMigrateLeftDirty) {
  Migrator migrator(*connection_, embedded_, absl::Seconds(5));
  ASSERT_TRUE(migrator.Up().ok());
  GolangMigrate golang(*connection_, embedded_, database_->name());
  ASSERT_TRUE(golang.Down(static_cast<int>(embedded_.migrations().size()) - 2).ok());  // to 2
  EXPECT_FALSE(TableExists("briefings"));
  // golang-migrate then fails on 3 (a table of that name is in the way).
  ASSERT_TRUE(connection_->ExecScript("CREATE TABLE briefings (id int)").ok());
  EXPECT_FALSE(golang.Up(4).ok());
  absl::Status refused = migrator.CheckCurrent();
  EXPECT_TRUE(absl::StrContains(refused.message(), "dirty at version 3")) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "firstsip-server migrate force 2"))
      << "not 4, which the stale history would say: " << refused;
  ASSERT_TRUE(connection_->ExecScript("DROP TABLE briefings").ok());
  ASSERT_TRUE(migrator.Force(2).ok());
  ASSERT_TRUE(migrator.Up().ok());
  EXPECT_TRUE(TableExists("briefings"));
  EXPECT_TRUE(migrator.CheckCurrent().ok());
}

TEST_F(MigratorTest, HistoryFollowsAGolangMigrateDownSoAnEditedRolledBackFileMayBeReapplied) {
  Migrator migrator(*connection_, embedded_, absl::Seconds(5));
  ASSERT_TRUE(migrator.Up().ok());
  GolangMigrate golang(*connection_, embedded_, database_->name());
  ASSERT_TRUE(golang.Down(1).ok());
  auto lines = migrator.Status();
  ASSERT_TRUE(lines.ok());
  EXPECT_FALSE(lines->back().applied);
  EXPECT_FALSE(lines->back().applied_at.has_value()) << "a pending file has no applied time";
  // The rolled-back file is edited, then applied again by this service.
  std::vector<EmbeddedFile> files(EmbeddedMigrationFiles().begin(), EmbeddedMigrationFiles().end());
  std::string edited = std::string(files.back().contents) + "\n-- edited before re-applying\n";
  ASSERT_TRUE(absl::EndsWith(files.back().name, ".up.sql"));
  files.back().contents = edited;
  auto set = MigrationSet::FromFiles(files);
  ASSERT_TRUE(set.ok());
  Migrator edited_binary(*connection_, *set, absl::Seconds(5));
  absl::Status up = edited_binary.Up();
  ASSERT_TRUE(up.ok()) << up;
  EXPECT_TRUE(edited_binary.CheckCurrent().ok());
  EXPECT_FALSE(edited_binary.Status()->back().edited_since_applied);
}

TEST_F(MigratorTest, ABlockedStatementGivesUpAfterItsRetriesNamingTheBlockerWhileOthersRead) {
  Migrator base(*connection_, embedded_, absl::Seconds(5));
  ASSERT_TRUE(base.Up().ok());
  std::vector<EmbeddedFile> files(EmbeddedMigrationFiles().begin(), EmbeddedMigrationFiles().end());
  files.push_back({"000099_users_column.up.sql", "ALTER TABLE users ADD COLUMN nickname text;"});
  files.push_back({"000099_users_column.down.sql", "ALTER TABLE users DROP COLUMN nickname;"});
  auto set = MigrationSet::FromFiles(files);
  ASSERT_TRUE(set.ok());
  // A long transaction that read users: ALTER TABLE must wait for it.
  auto holder = Connect();
  ASSERT_TRUE(holder
                  ->ExecScript("SET application_name = 'nightly-report'; BEGIN; "
                               "SELECT count(*) FROM users")
                  .ok());
  MigratorOptions options;
  options.lock_wait = absl::Seconds(5);
  options.statement_lock_timeout = absl::Milliseconds(300);
  options.statement_max_wait = absl::Seconds(2);
  options.observer_dsn = database_->dsn();
  auto migration_connection = Connect();
  Migrator migrator(*migration_connection, *set, options);
  absl::Status outcome;
  absl::Time start = absl::Now();
  std::thread migrating([&] { outcome = migrator.Up(); });
  // Meanwhile: golang-migrate's keys are taken, and readers wait at most the lock timeout.
  absl::SleepFor(absl::Milliseconds(100));
  auto reader = Connect();
  Migrator same_keys(*reader, *set, options);
  auto lock_ids = same_keys.LockIds();
  ASSERT_TRUE(lock_ids.ok());
  for (const std::string& lock_id : *lock_ids) {
    db::Params params;
    params.Add(lock_id);
    auto taken = reader->Exec("SELECT pg_try_advisory_lock($1::bigint)", params);
    ASSERT_TRUE(taken.ok());
    EXPECT_FALSE(*taken->Bool(0, 0)) << "golang-migrate could take key " << lock_id;
  }
  absl::Duration slowest;
  while (absl::Now() - start < absl::Milliseconds(1800)) {
    absl::Time before = absl::Now();
    ASSERT_TRUE(reader->Exec("SELECT count(*) FROM users").ok());
    slowest = std::max(slowest, absl::Now() - before);
    absl::SleepFor(absl::Milliseconds(20));
  }
  migrating.join();
  absl::Duration took = absl::Now() - start;
  std::printf("reads of users during the blocked migration: slowest %s (lock_timeout 300ms)\n",
              absl::FormatDuration(slowest).c_str());
  EXPECT_LT(slowest, absl::Milliseconds(700));
  EXPECT_EQ(outcome.code(), absl::StatusCode::kDeadlineExceeded) << outcome;
  const std::string stays = absl::StrCat("stays at version ", embedded_.head());
  for (absl::string_view part :
       {"000099_users_column.up.sql", "--migrate-statement-lock-timeout (300ms)", "nightly-report",
        "idle in transaction", "transaction started", "query started", stays.c_str()}) {
    EXPECT_TRUE(absl::StrContains(outcome.message(), part)) << part << " in " << outcome;
  }
  EXPECT_GE(took, absl::Milliseconds(1500));
  EXPECT_LT(took, absl::Seconds(4));
  EXPECT_EQ(migrator.Version()->version, embedded_.head());
  EXPECT_FALSE(migrator.Version()->dirty);
  // Once the long transaction ends, the same migration goes through.
  ASSERT_TRUE(holder->ExecScript("COMMIT").ok());
  EXPECT_TRUE(migrator.Up().ok());
  EXPECT_EQ(migrator.Version()->version, 99);
}

}  // namespace
}  // namespace firstsip::migrate
