// The asynchronous engine against a real PostgreSQL.
#include <atomic>
#include <future>
#include <memory>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "db/blocking_connection.h"
#include "db/pool.h"
#include "db/sql_error.h"
#include "gtest/gtest.h"
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
        query, std::move(params), absl::Now() + timeout,
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
    pool->Execute(kAddOne, std::move(params), absl::Now() + absl::Seconds(30),
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

TEST_F(PoolTest, ARequestWhoseDeadlinePassesWhileWaitingFailsWithDeadlineExceeded) {
  auto pool = MakePool(1);
  ASSERT_TRUE(Run(*pool, kBackendPid).ok());  // connected
  std::promise<absl::StatusOr<Result>> slow_promise;
  Params sleep;
  sleep.Add("0.5");
  pool->Execute(kSleep, std::move(sleep), absl::Now() + absl::Seconds(10),
                [&](absl::StatusOr<Result> r) { slow_promise.set_value(std::move(r)); });
  absl::Time start = absl::Now();
  absl::StatusOr<Result> late = Run(*pool, kBackendPid, Params(), absl::Milliseconds(50));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(400));
  EXPECT_TRUE(slow_promise.get_future().get().ok());
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

TEST_F(PoolTest, StopFailsWaitingRequestsWithUnavailableAndCallsEveryCallbackOnce) {
  auto pool = MakePool(1);
  ASSERT_TRUE(Run(*pool, kBackendPid).ok());
  std::atomic<int> calls{0};
  std::atomic<int> unavailable{0};
  for (int i = 0; i < 20; ++i) {
    Params sleep;
    sleep.Add("0.2");
    pool->Execute(kSleep, std::move(sleep), absl::Now() + absl::Seconds(30),
                  [&](absl::StatusOr<Result> result) {
                    ++calls;
                    if (result.status().code() == absl::StatusCode::kUnavailable) ++unavailable;
                  });
  }
  pool->Stop();
  EXPECT_EQ(calls.load(), 20);
  EXPECT_GE(unavailable.load(), 19);
  std::promise<absl::Status> after;
  pool->Execute(kBackendPid, Params(), absl::InfiniteFuture(),
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
    pool.Execute(kSleep, std::move(sleep), absl::Now() + absl::Seconds(30),
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

}  // namespace
}  // namespace firstsip::db
