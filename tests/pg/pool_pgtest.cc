// The asynchronous engine against a real PostgreSQL.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <future>
#include <memory>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "db/blocking_connection.h"
#include "db/pool.h"
#include "db/sql_error.h"
#include "gtest/gtest.h"
#include "support/pgbouncer.h"
#include "support/test_database.h"

namespace firstsip::db {
namespace {

constexpr Query kAddOne{"test_add_one", "SELECT $1::int8 + 1"};
constexpr Query kSleep{"test_sleep", "SELECT pg_sleep($1::float8)"};
constexpr Query kInsertItem{"test_insert_item", "INSERT INTO items (name) VALUES ($1)"};
constexpr Query kBackendPid{"test_backend_pid", "SELECT pg_backend_pid()"};

class PoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto database = testing::TestDatabase::Create();
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
  }

  std::unique_ptr<Pool> MakePool(int size) {
    PoolOptions options;
    options.dsn = database_->dsn();
    options.size = size;
    return std::make_unique<Pool>(options);
  }

  static absl::StatusOr<Result> Run(Pool& pool, const Query& query, Params params = Params(),
                                    absl::Duration timeout = absl::Seconds(10)) {
    std::promise<absl::StatusOr<Result>> promise;
    auto future = promise.get_future();
    pool.Execute(
        query, std::move(params), CallOptions::WithDeadline(absl::Now() + timeout),
        [&promise](absl::StatusOr<Result> result) { promise.set_value(std::move(result)); });
    return future.get();
  }

  std::unique_ptr<testing::TestDatabase> database_;
};

TEST_F(PoolTest, RunsPreparedStatementsWithParameters) {
  auto pool = MakePool(2);
  Params params;
  params.Add(int64_t{41});
  absl::StatusOr<Result> result = Run(*pool, kAddOne, std::move(params));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result->Int64(0, 0), 42);
}

TEST_F(PoolTest, ManyConcurrentRequestsOnFewConnectionsEachGetTheirOwnAnswer) {
  auto pool = MakePool(3);
  constexpr int kRequests = 600;
  std::atomic<int> correct{0};
  std::atomic<int> finished{0};
  absl::Notification all_done;
  for (int i = 0; i < kRequests; ++i) {
    Params params;
    params.Add(int64_t{i});
    pool->Execute(kAddOne, std::move(params),
                  CallOptions::WithDeadline(absl::Now() + absl::Seconds(30)),
                  [&, i](absl::StatusOr<Result> result) {
                    if (result.ok() && *result->Int64(0, 0) == i + 1) ++correct;
                    if (++finished == kRequests) all_done.Notify();
                  });
  }
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(correct.load(), kRequests);
  EXPECT_EQ(pool->stats().waiting, 0);
}

TEST_F(PoolTest, AFailingStatementFailsOnlyItsOwnRequest) {
  auto setup = BlockingConnection::Open(database_->dsn());
  ASSERT_TRUE(setup.ok());
  ASSERT_TRUE(
      (*setup)->ExecScript("CREATE TABLE items (name text CONSTRAINT items_name_key UNIQUE)").ok());
  auto pool = MakePool(1);
  Params first;
  first.Add("espresso");
  ASSERT_TRUE(Run(*pool, kInsertItem, std::move(first)).ok());
  Params duplicate;
  duplicate.Add("espresso");
  absl::StatusOr<Result> failed = Run(*pool, kInsertItem, std::move(duplicate));
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ConstraintOf(failed.status()), "items_name_key");
  EXPECT_EQ(SqlStateOf(failed.status()), "23505");
  EXPECT_EQ(failed.status().message().find("INSERT"), absl::string_view::npos)
      << "SQL text must not leak into errors";
  Params next;
  next.Add(int64_t{1});
  EXPECT_TRUE(Run(*pool, kAddOne, std::move(next)).ok()) << "the connection stays usable";
}

TEST_F(PoolTest, ARequestWhoseDeadlinePassesBehindASlowStatementFailsWithDeadlineExceeded) {
  auto pool = MakePool(1);
  ASSERT_TRUE(Run(*pool, kBackendPid).ok());  // connected
  std::promise<absl::StatusOr<Result>> slow_promise;
  Params sleep;
  sleep.Add("0.5");
  pool->Execute(kSleep, std::move(sleep),
                CallOptions::WithDeadline(absl::Now() + absl::Seconds(10)),
                [&](absl::StatusOr<Result> r) { slow_promise.set_value(std::move(r)); });
  absl::Time start = absl::Now();
  absl::StatusOr<Result> late = Run(*pool, kBackendPid, Params(), absl::Milliseconds(50));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(1000));
  EXPECT_TRUE(slow_promise.get_future().get().ok()) << "the slow statement was not the target";
}

TEST_F(PoolTest, AnUnreachableDatabaseFailsFastWithUnavailable) {
  PoolOptions options;
  options.dsn = "host=127.0.0.1 port=1 dbname=nothing user=nobody";
  options.size = 2;
  Pool pool(options);
  absl::Time start = absl::Now();
  absl::StatusOr<Result> result = Run(pool, kBackendPid, Params(), absl::Seconds(20));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(PoolTest, ReconnectsAfterTheServerDropsItsConnections) {
  auto pool = MakePool(2);
  ASSERT_TRUE(Run(*pool, kBackendPid).ok());
  auto admin = BlockingConnection::Open(database_->admin_dsn());
  ASSERT_TRUE(admin.ok());
  Params name;
  name.Add(database_->name());
  ASSERT_TRUE((*admin)
                  ->Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = $1 AND pid <> pg_backend_pid()",
                         name)
                  .ok());
  bool recovered = false;
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (!recovered && absl::Now() < give_up) {
    absl::StatusOr<Result> result = Run(*pool, kBackendPid);
    if (result.ok()) {
      recovered = true;
    } else {
      EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  EXPECT_TRUE(recovered);
}

TEST_F(PoolTest, AWriteRefusedAsReadOnlyFailsUnavailableAndDropsTheConnection) {
  // Every session of this DSN is read-only, as on a standby or a demoted primary.
  PoolOptions options;
  options.dsn = database_->dsn() + " options='-c default_transaction_read_only=on'";
  options.size = 1;
  options.reconnect_min = absl::Milliseconds(10);
  Pool pool(options);
  absl::StatusOr<Result> before = Run(pool, kBackendPid);
  ASSERT_TRUE(before.ok()) << before.status();
  constexpr Query kWrite{"test_write", "CREATE TABLE refused (id int)"};
  absl::StatusOr<Result> write = Run(pool, kWrite);
  EXPECT_EQ(write.status().code(), absl::StatusCode::kUnavailable) << write.status();
  EXPECT_EQ(SqlStateOf(write.status()), "25006");
  absl::StatusOr<Result> after;
  absl::Time give_up = absl::Now() + absl::Seconds(5);
  do {
    after = Run(pool, kBackendPid);
  } while (!after.ok() && absl::Now() < give_up);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_NE(*before->Int64(0, 0), *after->Int64(0, 0)) << "a new connection, not the read-only one";
}

TEST_F(PoolTest, UnnamedStatementsPrepareNothingOnTheServer) {
  PoolOptions options;
  options.dsn = database_->dsn();
  options.size = 1;
  options.prepare_statements = false;
  Pool pool(options);
  std::vector<std::future<absl::StatusOr<Result>>> answers;
  std::vector<std::promise<absl::StatusOr<Result>>> promises(50);
  for (int i = 0; i < 50; ++i) {
    answers.push_back(promises[i].get_future());
    Params params;
    params.Add(int64_t{i});
    pool.Execute(kAddOne, std::move(params),
                 CallOptions::WithDeadline(absl::Now() + absl::Seconds(10)),
                 [&promises, i](absl::StatusOr<Result> result) {
                   promises[i].set_value(std::move(result));
                 });
  }
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<Result> result = answers[i].get();
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(*result->Int64(0, 0), i + 1);
  }
  constexpr Query kPrepared{"test_prepared", "SELECT count(*) FROM pg_prepared_statements"};
  absl::StatusOr<Result> prepared = Run(pool, kPrepared);
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  EXPECT_EQ(*prepared->Int64(0, 0), 0);
}

TEST_F(PoolTest, StopFailsWaitingRequestsWithUnavailableAndCallsEveryCallbackOnce) {
  auto pool = MakePool(1);
  ASSERT_TRUE(Run(*pool, kBackendPid).ok());
  std::atomic<int> calls{0};
  std::atomic<int> unavailable{0};
  for (int i = 0; i < 20; ++i) {
    Params sleep;
    sleep.Add("0.2");
    pool->Execute(kSleep, std::move(sleep),
                  CallOptions::WithDeadline(absl::Now() + absl::Seconds(30)),
                  [&](absl::StatusOr<Result> result) {
                    ++calls;
                    if (result.status().code() == absl::StatusCode::kUnavailable) ++unavailable;
                  });
  }
  pool->Stop();
  EXPECT_EQ(calls.load(), 20);
  EXPECT_GE(unavailable.load(), 19);
  std::promise<absl::Status> after;
  pool->Execute(kBackendPid, Params(), CallOptions(),
                [&](absl::StatusOr<Result> r) { after.set_value(r.status()); });
  EXPECT_EQ(after.get_future().get().code(), absl::StatusCode::kUnavailable);
}

TEST_F(PoolTest, RefusesParametersWithNulBytesInsteadOfTruncatingThem) {
  auto pool = MakePool(1);
  Params params;
  params.Add(absl::string_view("ab\0cd", 5));
  EXPECT_EQ(Run(*pool, kInsertItem, std::move(params)).status().code(),
            absl::StatusCode::kInternal);
}

TEST_F(PoolTest, BoundsTheNumberOfWaitingRequests) {
  PoolOptions options;
  options.dsn = database_->dsn();
  options.size = 1;
  options.pipeline_depth = 1;  // one statement running; the rest wait, up to the bound
  options.max_waiting = 5;
  Pool pool(options);
  ASSERT_TRUE(Run(pool, kBackendPid).ok());
  std::atomic<int> exhausted{0};
  std::atomic<int> succeeded{0};
  std::atomic<int> finished{0};
  absl::Notification done;
  for (int i = 0; i < 30; ++i) {
    Params sleep;
    sleep.Add("0.05");
    pool.Execute(kSleep, std::move(sleep),
                 CallOptions::WithDeadline(absl::Now() + absl::Seconds(30)),
                 [&](absl::StatusOr<Result> result) {
                   if (result.ok()) ++succeeded;
                   if (result.status().code() == absl::StatusCode::kResourceExhausted) ++exhausted;
                   if (++finished == 30) done.Notify();
                 });
  }
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_GT(exhausted.load(), 0) << "requests past the bound are refused, not queued";
  EXPECT_EQ(succeeded.load() + exhausted.load(), 30);
}

constexpr Query kDivide{"test_divide", "SELECT 100 / $1::int8"};

TEST_F(PoolTest, InAPipelineAFailingStatementFailsOnlyItsOwnRequest) {
  auto pool = MakePool(1);
  ASSERT_TRUE(Run(*pool, kBackendPid).ok());
  constexpr int kRequests = 60;
  std::vector<std::promise<absl::StatusOr<Result>>> promises(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    Params params;
    params.Add(int64_t{i % 3 == 0 ? 0 : i});  // every third divides by zero
    pool->Execute(
        kDivide, std::move(params), CallOptions(),
        [&promises, i](absl::StatusOr<Result> r) { promises[i].set_value(std::move(r)); });
  }
  for (int i = 0; i < kRequests; ++i) {
    SCOPED_TRACE(i);
    absl::StatusOr<Result> result = promises[i].get_future().get();
    if (i % 3 == 0) {
      EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(SqlStateOf(result.status()), "22012");
    } else {
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_EQ(*result->Int64(0, 0), 100 / i);
    }
  }
}

TEST_F(PoolTest, ThePipelineCarriesManyStatementsOnOneConnection) {
  PoolOptions options;
  options.dsn = database_->dsn();
  options.size = 1;
  options.pipeline_depth = 64;
  Pool pool(options);
  ASSERT_TRUE(Run(pool, kBackendPid).ok());
  std::atomic<int> peak{0};
  std::atomic<int> finished{0};
  absl::Notification done;
  for (int i = 0; i < 64; ++i) {
    Params sleep;
    sleep.Add("0.01");
    pool.Execute(kSleep, std::move(sleep), CallOptions(), [&](absl::StatusOr<Result> result) {
      EXPECT_TRUE(result.ok());
      if (++finished == 64) done.Notify();
    });
  }
  for (int i = 0; i < 50 && !done.HasBeenNotified(); ++i) {
    peak = std::max(peak.load(), pool.stats().in_flight);
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_GT(peak.load(), 8) << "statements were sent without waiting for earlier answers";
}

TEST_F(PoolTest, ADeadlineCancelsARunningSleepOnTheServer) {
  auto pool = MakePool(1);
  ASSERT_TRUE(Run(*pool, kBackendPid).ok());
  Params sleep;
  sleep.Add("30");
  absl::Time start = absl::Now();
  absl::StatusOr<Result> result = Run(*pool, kSleep, std::move(sleep), absl::Milliseconds(300));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded) << result.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  auto admin = BlockingConnection::Open(database_->admin_dsn());
  Params database;
  database.Add(database_->name());
  absl::StatusOr<Result> sleeping;
  for (int i = 0; i < 20; ++i) {  // the cancel request travels on a connection of its own
    sleeping = (*admin)->Exec(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND state = 'active' "
        "AND query LIKE '%pg_sleep%'",
        database);
    if (*sleeping->Int64(0, 0) == 0) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(*sleeping->Int64(0, 0), 0) << "the server stopped the statement too";
  EXPECT_TRUE(Run(*pool, kBackendPid).ok()) << "the connection stays usable";
}

TEST_F(PoolTest, ACallerCancellationCancelsItsRunningAndWaitingStatements) {
  auto pool = MakePool(1);
  ASSERT_TRUE(Run(*pool, kBackendPid).ok());
  auto cancellation = std::make_shared<Cancellation>();
  CallOptions call{absl::InfiniteFuture(), cancellation};
  std::promise<absl::Status> running, queued;
  Params sleep;
  sleep.Add("30");
  pool->Execute(kSleep, std::move(sleep), call,
                [&](absl::StatusOr<Result> r) { running.set_value(r.status()); });
  Params more;
  more.Add("30");
  pool->Execute(kSleep, std::move(more), call,
                [&](absl::StatusOr<Result> r) { queued.set_value(r.status()); });
  absl::SleepFor(absl::Milliseconds(200));
  absl::Time start = absl::Now();
  cancellation->Cancel();
  EXPECT_EQ(running.get_future().get().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(queued.get_future().get().code(), absl::StatusCode::kCancelled);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_TRUE(Run(*pool, kBackendPid).ok());
}

TEST_F(PoolTest, CancellationsLeakNoConnectionOrQueueSlot) {
  auto pool = MakePool(2);
  ASSERT_TRUE(Run(*pool, kBackendPid).ok());
  constexpr int kCalls = 40;
  std::atomic<int> finished{0};
  absl::Notification done;
  std::vector<std::shared_ptr<Cancellation>> cancellations;
  for (int i = 0; i < kCalls; ++i) {
    auto cancellation = std::make_shared<Cancellation>();
    cancellations.push_back(cancellation);
    Params sleep;
    sleep.Add("5");
    pool->Execute(kSleep, std::move(sleep), CallOptions{absl::InfiniteFuture(), cancellation},
                  [&](absl::StatusOr<Result>) {
                    if (++finished == kCalls) done.Notify();
                  });
  }
  absl::SleepFor(absl::Milliseconds(100));
  for (auto& cancellation : cancellations) cancellation->Cancel();
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  // Every caller has its answer; the statements already sent drain as they are cancelled.
  PoolStats stats = pool->stats();
  for (int i = 0; i < 100 && (stats.in_flight > 0 || stats.waiting > 0); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    stats = pool->stats();
  }
  EXPECT_EQ(stats.in_flight, 0);
  EXPECT_EQ(stats.waiting, 0);
  EXPECT_EQ(stats.connected, 2);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(Run(*pool, kBackendPid).ok());
}

TEST(PoolRestartTest, RecoversWhenTheDatabaseServerRestarts) {
  std::string dir = "/tmp/firstsip-restart-" + std::to_string(getpid());
  std::string script = std::string(FIRSTSIP_SOURCE_DIR) + "/scripts/pg-cluster.sh";
  ASSERT_EQ(std::system((script + " start " + dir + " >/dev/null").c_str()), 0);
  PoolOptions options;
  options.dsn = "host=" + dir + " port=5432 user=postgres dbname=postgres";
  options.size = 2;
  options.reconnect_max = absl::Milliseconds(200);
  Pool pool(options);
  auto run = [&] {
    std::promise<absl::StatusOr<Result>> promise;
    pool.Execute(kBackendPid, Params(), CallOptions::WithDeadline(absl::Now() + absl::Seconds(5)),
                 [&](absl::StatusOr<Result> r) { promise.set_value(std::move(r)); });
    return promise.get_future().get();
  };
  EXPECT_TRUE(run().ok());
  ASSERT_EQ(std::system((script + " stop " + dir).c_str()), 0);
  absl::Time start = absl::Now();
  absl::StatusOr<Result> down = run();
  for (int i = 0; i < 20 && down.ok(); ++i) down = run();
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3)) << "fails fast while the server is away";
  ASSERT_EQ(std::system((script + " start " + dir + " >/dev/null").c_str()), 0);
  bool recovered = false;
  for (int i = 0; i < 100 && !recovered; ++i) {
    recovered = run().ok();
    if (!recovered) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(recovered);
  pool.Stop();
  std::system((script + " stop " + dir + "; rm -rf " + dir).c_str());
}

// Through PgBouncer 1.18 in transaction mode: unnamed statements, with and without batches,
// more client connections than server connections, and failing statements among the others:
// writes (a Sync each), reads (sharing Syncs) and lookups (merged by kind).
class PoolThroughPgBouncerTest : public ::testing::TestWithParam<int> {};

TEST_P(PoolThroughPgBouncerTest, UnnamedStatementsAnswerEveryRequestCorrectly) {
  auto database = testing::TestDatabase::Create();
  ASSERT_TRUE(database.ok()) << database.status();
  auto bouncer = testing::PgBouncer::Start((*database)->dsn(), /*server_connections=*/2);
  ASSERT_TRUE(bouncer.ok()) << bouncer.status();
  PoolOptions options;
  options.dsn = (*bouncer)->Through((*database)->dsn());
  options.size = 6;
  options.prepare_statements = false;
  options.pipeline_depth = GetParam();
  Pool pool(options);
  constexpr Query kFail{"test_fail", "SELECT 1 / ($1::int8 - $1::int8)"};
  constexpr Query kSlowAddOne{"test_slow_add_one",
                              "SELECT $1::int8 + 1 FROM pg_sleep(0.001 * ($1::int8 % 3))"};
  constexpr Query kReadFail{"test_read_fail", "SELECT 1 / ($1::int8 - $1::int8)", Access::kRead};
  constexpr Query kReadAddOne{"test_read_add_one", "SELECT $1::int8 + 1", Access::kRead};
  // Each key's successor; the key 0 fails the merged statement (and then only itself).
  constexpr Lookup kFindNext{"test_find_next",
                             "SELECT k, k + 1, 1 / k FROM unnest($1::int8[]) AS k"};
  constexpr int kRequests = 800;
  std::vector<std::promise<absl::StatusOr<int64_t>>> promises(kRequests);
  auto deadline = [] { return CallOptions::WithDeadline(absl::Now() + absl::Seconds(15)); };
  for (int i = 0; i < kRequests; ++i) {
    auto answer = [&promises, i](absl::StatusOr<Result> result) {
      // Detached: the status crosses to the test's thread (db/sql_error.h says why).
      promises[i].set_value(result.ok() ? result->Int64(0, 0) : Detached(result.status()));
    };
    const bool fails = i % 7 == 0;
    switch (i % 4) {
      case 0:
        pool.Execute(fails ? kFail : (i % 5 == 0 ? kSlowAddOne : kAddOne), Params().Add(int64_t{i}),
                     deadline(), answer);
        break;
      case 1:
        pool.Execute(fails ? kReadFail : kReadAddOne, Params().Add(int64_t{i}), deadline(), answer);
        break;
      default:
        pool.Find(kFindNext, std::to_string(fails ? 0 : i), deadline(),
                  [&promises, i](absl::StatusOr<LookupRow> row) {
                    if (!row.ok()) return promises[i].set_value(Detached(row.status()));
                    if (!row->found()) return promises[i].set_value(absl::NotFoundError("none"));
                    promises[i].set_value(row->result->Int64(row->index, 1));
                  });
    }
  }
  int wrong = 0;
  int most_in_flight = 0;
  for (int i = 0; i < kRequests; ++i) {
    most_in_flight = std::max(most_in_flight, pool.stats().in_flight);
    absl::StatusOr<int64_t> result = promises[i].get_future().get();
    bool right =
        i % 7 == 0 ? SqlStateOf(result.status()) == "22012" : result.ok() && *result == i + 1;
    if (!right && wrong++ < 3) {
      ADD_FAILURE() << "request " << i << ": "
                    << (result.ok() ? std::to_string(*result) : result.status().ToString());
    }
  }
  EXPECT_EQ(wrong, 0) << (*bouncer)->log();
  if (GetParam() > 1) {
    EXPECT_GT(most_in_flight, options.size) << "several statements at once on a connection";
    PoolStats stats = pool.stats();
    EXPECT_LT(stats.syncs, stats.requests) << "reads shared Syncs";
    EXPECT_LT(stats.statements, stats.requests) << "lookups were merged";
  }
}

INSTANTIATE_TEST_SUITE_P(PipelineDepth, PoolThroughPgBouncerTest, ::testing::Values(1, 32));

}  // namespace
}  // namespace firstsip::db
