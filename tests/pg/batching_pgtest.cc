// The pool's batches against a real PostgreSQL: reads that wait together go under one Sync,
// lookups of one kind become one statement, and every guarantee of a lone statement (its own
// error, its deadline, its cancellation, its connection) still holds inside a batch.
//
// To put several requests into one batch on purpose, the tests keep the pool's one connection
// busy with a short sleep: whatever is submitted meanwhile waits, and goes out together once
// the sleep's batch comes back (one batch in flight per connection).
#include <atomic>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "db/blocking_connection.h"
#include "db/pool.h"
#include "db/sql_error.h"
#include "gtest/gtest.h"
#include "support/test_database.h"

namespace firstsip::db {
namespace {

constexpr Query kSleep{"batch_test_sleep", "SELECT pg_sleep($1::float8)", Access::kRead};
// The implicit transaction's start: equal for statements that shared a Sync.
constexpr Query kEcho{"batch_test_echo",
                      "SELECT $1::int8, (extract(epoch FROM now()) * 1000000)::int8, "
                      "pg_backend_pid()",
                      Access::kRead};
constexpr Query kDivide{"batch_test_divide", "SELECT 100 / $1::int8", Access::kRead};
constexpr Query kInsert{"batch_test_insert", "INSERT INTO items (id, name) VALUES ($1, $2)"};
constexpr Lookup kFindItems{"batch_test_find_items",
                            "SELECT id, name FROM items WHERE id = ANY($1::int8[])"};
// Fails for the key 13 only: a merged statement with 13 among its keys fails as a whole.
constexpr Lookup kFindInverses{"batch_test_find_inverses",
                               "SELECT k, 1000 / (k - 13) FROM unnest($1::int8[]) AS k"};
// Text keys, returned as sent.
constexpr Lookup kFindNames{
    "batch_test_find_names",
    "SELECT k.name, i.id FROM unnest($1::text[]) AS k(name) JOIN items i ON i.name = k.name"};

template <typename T>
class Answer {
 public:
  auto Callback() {
    return [this](absl::StatusOr<T> value) { promise_.set_value(std::move(value)); };
  }
  absl::StatusOr<T> Get() { return future_.get(); }
  bool ReadyWithin(absl::Duration timeout) {
    return future_.wait_for(absl::ToChronoMilliseconds(timeout)) == std::future_status::ready;
  }

 private:
  std::promise<absl::StatusOr<T>> promise_;
  std::future<absl::StatusOr<T>> future_ = promise_.get_future();
};

class BatchingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto database = testing::TestDatabase::Create();
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    auto setup = BlockingConnection::Open(database_->dsn());
    ASSERT_TRUE(setup.ok()) << setup.status();
    ASSERT_TRUE((*setup)
                    ->ExecScript("CREATE TABLE items (id int8 PRIMARY KEY, name text UNIQUE);"
                                 "INSERT INTO items SELECT i, 'item ' || i "
                                 "FROM generate_series(1, 100) i")
                    .ok());
    setup_ = std::move(*setup);
  }

  std::unique_ptr<Pool> MakePool(int size, bool prepare = true) {
    PoolOptions options;
    options.dsn = database_->dsn();
    options.size = size;
    options.prepare_statements = prepare;
    auto pool = std::make_unique<Pool>(options);
    // Connected before the test starts, so the first batch is not the connection's first.
    Answer<Result> ready;
    pool->Execute(kEcho, Params().Add(int64_t{0}), Deadline(), ready.Callback());
    EXPECT_TRUE(ready.Get().ok());
    return pool;
  }

  static CallOptions Deadline(absl::Duration timeout = absl::Seconds(10)) {
    return CallOptions::WithDeadline(absl::Now() + timeout);
  }

  // Occupies the pool's (one) connection for `seconds`; what is submitted meanwhile waits.
  static std::unique_ptr<Answer<Result>> Occupy(Pool& pool, const char* seconds = "0.3") {
    auto sleeping = std::make_unique<Answer<Result>>();
    pool.Execute(kSleep, Params().Add(seconds), Deadline(), sleeping->Callback());
    absl::SleepFor(absl::Milliseconds(50));  // the sleep is on the wire before anything else
    return sleeping;
  }

  std::unique_ptr<testing::TestDatabase> database_;
  std::unique_ptr<BlockingConnection> setup_;
};

TEST_F(BatchingTest, ReadsThatWaitTogetherGoUnderOneSyncInOneTransaction) {
  auto pool = MakePool(1);
  auto sleeping = Occupy(*pool);
  PoolStats before = pool->stats();
  constexpr int kReads = 20;
  std::vector<Answer<Result>> answers(kReads);
  for (int i = 0; i < kReads; ++i) {
    pool->Execute(kEcho, Params().Add(int64_t{i}), Deadline(), answers[i].Callback());
  }
  ASSERT_TRUE(sleeping->Get().ok());
  std::set<std::string> transaction_starts;
  for (int i = 0; i < kReads; ++i) {
    absl::StatusOr<Result> result = answers[i].Get();
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(*result->Int64(0, 0), i) << "each caller gets its own answer";
    transaction_starts.insert(std::string(result->Text(0, 1)));
  }
  PoolStats after = pool->stats();
  EXPECT_EQ(after.requests - before.requests, kReads);
  EXPECT_EQ(after.statements - before.statements, kReads);
  EXPECT_EQ(after.syncs - before.syncs, 1) << "one Sync for the whole batch";
  EXPECT_EQ(transaction_starts.size(), 1u) << "PostgreSQL ran them in one implicit transaction";
}

TEST_F(BatchingTest, ALoneReadGoesAtOnce) {
  auto pool = MakePool(1);
  for (int i = 0; i < 5; ++i) {
    PoolStats before = pool->stats();
    Answer<Result> answer;
    absl::Time start = absl::Now();
    pool->Execute(kEcho, Params().Add(int64_t{i}), Deadline(), answer.Callback());
    ASSERT_TRUE(answer.Get().ok());
    EXPECT_LT(absl::Now() - start, absl::Milliseconds(500)) << "no timer holds a lone call";
    EXPECT_EQ(pool->stats().syncs - before.syncs, 1);
  }
}

TEST_F(BatchingTest, LookupsOfOneKindBecomeOneStatementAndEachCallerGetsItsOwnRow) {
  auto pool = MakePool(1);
  auto sleeping = Occupy(*pool);
  PoolStats before = pool->stats();
  // 7 and 42 twice each, 500 has no row.
  const std::vector<std::string> keys = {"7", "42", "500", "7", "3", "42"};
  std::vector<Answer<LookupRow>> answers(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    pool->Find(kFindItems, keys[i], Deadline(), answers[i].Callback());
  }
  ASSERT_TRUE(sleeping->Get().ok());
  for (size_t i = 0; i < keys.size(); ++i) {
    SCOPED_TRACE(keys[i]);
    absl::StatusOr<LookupRow> row = answers[i].Get();
    ASSERT_TRUE(row.ok()) << row.status();
    if (keys[i] == "500") {
      EXPECT_FALSE(row->found());
      continue;
    }
    ASSERT_TRUE(row->found());
    EXPECT_EQ(row->result->Text(row->index, 0), keys[i]);
    EXPECT_EQ(row->result->Text(row->index, 1), "item " + keys[i]);
  }
  PoolStats after = pool->stats();
  EXPECT_EQ(after.requests - before.requests, static_cast<int64_t>(keys.size()));
  EXPECT_EQ(after.statements - before.statements, 1) << "one statement for every key";
  EXPECT_EQ(after.syncs - before.syncs, 1);
}

TEST_F(BatchingTest, TextKeysComeBackAsTheCallerWroteThem) {
  auto pool = MakePool(1);
  ASSERT_TRUE(
      setup_->ExecScript("INSERT INTO items VALUES (1000, 'a \"quoted\" \\ name, {x}')").ok());
  auto sleeping = Occupy(*pool);
  const std::vector<std::string> keys = {"item 5", "a \"quoted\" \\ name, {x}", "nobody", "item 6"};
  std::vector<Answer<LookupRow>> answers(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    pool->Find(kFindNames, keys[i], Deadline(), answers[i].Callback());
  }
  ASSERT_TRUE(sleeping->Get().ok());
  const std::vector<std::string> ids = {"5", "1000", "", "6"};
  for (size_t i = 0; i < keys.size(); ++i) {
    SCOPED_TRACE(keys[i]);
    absl::StatusOr<LookupRow> row = answers[i].Get();
    ASSERT_TRUE(row.ok()) << row.status();
    ASSERT_EQ(row->found(), !ids[i].empty());
    if (row->found()) {
      EXPECT_EQ(row->result->Text(row->index, 1), ids[i]);
    }
  }
}

TEST_F(BatchingTest, AFailingReadInABatchFailsOnlyItselfAndTheSkippedOnesAreSentAgain) {
  auto pool = MakePool(1);
  auto sleeping = Occupy(*pool);
  PoolStats before = pool->stats();
  // 100 / 0 fails; PostgreSQL skips the reads after it in the same Sync.
  const std::vector<int64_t> divisors = {1, 2, 0, 4, 5};
  std::vector<Answer<Result>> answers(divisors.size());
  for (size_t i = 0; i < divisors.size(); ++i) {
    pool->Execute(kDivide, Params().Add(divisors[i]), Deadline(), answers[i].Callback());
  }
  ASSERT_TRUE(sleeping->Get().ok());
  for (size_t i = 0; i < divisors.size(); ++i) {
    SCOPED_TRACE(divisors[i]);
    absl::StatusOr<Result> result = answers[i].Get();
    if (divisors[i] == 0) {
      EXPECT_EQ(SqlStateOf(result.status()), "22012");
      continue;
    }
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(*result->Int64(0, 0), 100 / divisors[i]);
  }
  PoolStats after = pool->stats();
  EXPECT_EQ(after.requests - before.requests, 5 + 2) << "the two skipped reads went again";
  EXPECT_EQ(after.errors - before.errors, 1);
}

TEST_F(BatchingTest, AMergedLookupThatFailsSendsEachKeyAloneSoOnlyTheBadKeyFails) {
  auto pool = MakePool(1);
  auto sleeping = Occupy(*pool);
  const std::vector<std::string> keys = {"10", "13", "23"};
  std::vector<Answer<LookupRow>> answers(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    pool->Find(kFindInverses, keys[i], Deadline(), answers[i].Callback());
  }
  ASSERT_TRUE(sleeping->Get().ok());
  for (size_t i = 0; i < keys.size(); ++i) {
    SCOPED_TRACE(keys[i]);
    absl::StatusOr<LookupRow> row = answers[i].Get();
    if (keys[i] == "13") {
      EXPECT_EQ(SqlStateOf(row.status()), "22012");
      continue;
    }
    ASSERT_TRUE(row.ok()) << row.status();
    ASSERT_TRUE(row->found());
    EXPECT_EQ(row->result->Text(row->index, 1), keys[i] == "10" ? "-333" : "100");
  }
}

TEST_F(BatchingTest, WritesInABatchCommitAloneWhateverTheirNeighboursDo) {
  auto pool = MakePool(1);
  auto sleeping = Occupy(*pool);
  PoolStats before = pool->stats();
  // 5 exists already: that insert fails; the others commit, and the reads are answered.
  const std::vector<int64_t> ids = {201, 5, 202};
  std::vector<Answer<Result>> inserts(ids.size());
  std::vector<Answer<LookupRow>> reads(2);
  pool->Find(kFindItems, "1", Deadline(), reads[0].Callback());
  for (size_t i = 0; i < ids.size(); ++i) {
    pool->Execute(kInsert, Params().Add(ids[i]).Add(absl::StrCat("new ", ids[i])), Deadline(),
                  inserts[i].Callback());
  }
  pool->Find(kFindItems, "2", Deadline(), reads[1].Callback());
  ASSERT_TRUE(sleeping->Get().ok());
  EXPECT_TRUE(inserts[0].Get().ok());
  EXPECT_EQ(inserts[1].Get().status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(inserts[2].Get().ok());
  for (auto& read : reads) {
    absl::StatusOr<LookupRow> row = read.Get();
    ASSERT_TRUE(row.ok()) << row.status();
    EXPECT_TRUE(row->found());
  }
  EXPECT_EQ(pool->stats().syncs - before.syncs, 4) << "three writes alone, the reads together";
  auto count = setup_->Exec("SELECT count(*) FROM items WHERE id IN (201, 202)");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count->Int64(0, 0), 2);
}

TEST_F(BatchingTest, ACancelledCallerIsAnsweredAtOnceAndItsNeighboursAreServed) {
  auto pool = MakePool(1);
  auto sleeping = Occupy(*pool);
  const std::vector<std::string> keys = {"11", "12", "13"};
  std::vector<Answer<LookupRow>> answers(keys.size());
  auto cancellation = std::make_shared<Cancellation>();
  for (size_t i = 0; i < keys.size(); ++i) {
    CallOptions call = Deadline();
    if (i == 1) call.cancellation = cancellation;
    pool->Find(kFindItems, keys[i], call, answers[i].Callback());
  }
  cancellation->Cancel();
  EXPECT_EQ(answers[1].Get().status().code(), absl::StatusCode::kCancelled);
  ASSERT_TRUE(sleeping->Get().ok()) << "the sleep serves no cancelled caller: it is not stopped";
  for (size_t i : {size_t{0}, size_t{2}}) {
    absl::StatusOr<LookupRow> row = answers[i].Get();
    ASSERT_TRUE(row.ok()) << row.status();
    EXPECT_TRUE(row->found());
  }
}

TEST_F(BatchingTest, ARunningStatementWhoseCallersAllLeftIsCancelledAndTheRestIsSentAgain) {
  auto pool = MakePool(1);
  auto sleeping = Occupy(*pool, "0.2");
  // One batch: a 5 s sleep whose caller will cancel, then reads behind it in the same Sync.
  auto cancellation = std::make_shared<Cancellation>();
  Answer<Result> long_sleep;
  pool->Execute(kSleep, Params().Add("5"),
                CallOptions{absl::Now() + absl::Seconds(20), cancellation}, long_sleep.Callback());
  std::vector<Answer<Result>> behind(4);
  for (size_t i = 0; i < behind.size(); ++i) {
    pool->Execute(kEcho, Params().Add(static_cast<int64_t>(i)), Deadline(), behind[i].Callback());
  }
  ASSERT_TRUE(sleeping->Get().ok());
  absl::SleepFor(absl::Milliseconds(200));  // the long sleep runs on the server
  absl::Time cancelled_at = absl::Now();
  cancellation->Cancel();
  EXPECT_EQ(long_sleep.Get().status().code(), absl::StatusCode::kCancelled);
  for (size_t i = 0; i < behind.size(); ++i) {
    ASSERT_TRUE(behind[i].ReadyWithin(absl::Seconds(3)))
        << "the reads behind the cancelled sleep wait for it only until the server stops it";
    absl::StatusOr<Result> result = behind[i].Get();
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(*result->Int64(0, 0), static_cast<int64_t>(i));
  }
  EXPECT_LT(absl::Now() - cancelled_at, absl::Seconds(3));
}

TEST_F(BatchingTest, ADeadlineInsideABatchExpiresOnlyItsOwnCaller) {
  auto pool = MakePool(1);
  auto sleeping = Occupy(*pool, "0.5");
  Answer<LookupRow> hurried;
  Answer<LookupRow> patient;
  pool->Find(kFindItems, "21", Deadline(absl::Milliseconds(100)), hurried.Callback());
  pool->Find(kFindItems, "22", Deadline(), patient.Callback());
  EXPECT_EQ(hurried.Get().status().code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(sleeping->Get().ok());
  absl::StatusOr<LookupRow> row = patient.Get();
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_TRUE(row->found());
}

TEST_F(BatchingTest, ABrokenConnectionFailsWhatWasOnItWithUnavailableAndNothingElse) {
  auto pool = MakePool(2);
  // Both connections busy; then what waits goes as one batch to whichever frees first: a long
  // sleep with a lookup behind it. A second batch (a short sleep, a lookup) takes the other.
  auto first = Occupy(*pool, "0.3");
  auto second = Occupy(*pool, "0.3");
  constexpr Query kDoomedSleep{"batch_test_doomed_sleep", "SELECT pg_sleep($1::float8) AS doomed",
                               Access::kRead};
  Answer<Result> doomed_sleep;
  Answer<LookupRow> doomed_lookup;
  pool->Execute(kDoomedSleep, Params().Add("3"), Deadline(), doomed_sleep.Callback());
  pool->Find(kFindItems, "31", Deadline(), doomed_lookup.Callback());
  ASSERT_TRUE(first->Get().ok());
  ASSERT_TRUE(second->Get().ok());
  Answer<Result> other_sleep;
  Answer<LookupRow> other_lookup;
  pool->Execute(kSleep, Params().Add("0.5"), Deadline(), other_sleep.Callback());
  pool->Find(kFindItems, "32", Deadline(), other_lookup.Callback());
  absl::SleepFor(absl::Milliseconds(200));
  auto killed = setup_->Exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
      "AND query LIKE '%AS doomed%' AND state = 'active' AND pid <> pg_backend_pid()");
  ASSERT_TRUE(killed.ok()) << killed.status();
  ASSERT_EQ(killed->rows(), 1);
  EXPECT_EQ(doomed_sleep.Get().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(doomed_lookup.Get().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(other_sleep.Get().ok());
  absl::StatusOr<LookupRow> row = other_lookup.Get();
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_TRUE(row->found());
}

TEST_F(BatchingTest, UnnamedStatementsBatchAndMergeToo) {
  auto pool = MakePool(1, /*prepare=*/false);
  auto sleeping = Occupy(*pool);
  PoolStats before = pool->stats();
  std::vector<Answer<LookupRow>> lookups(5);
  std::vector<Answer<Result>> reads(3);
  for (size_t i = 0; i < lookups.size(); ++i) {
    pool->Find(kFindItems, absl::StrCat(40 + i), Deadline(), lookups[i].Callback());
  }
  for (size_t i = 0; i < reads.size(); ++i) {
    pool->Execute(kDivide, Params().Add(static_cast<int64_t>(i + 1)), Deadline(),
                  reads[i].Callback());
  }
  ASSERT_TRUE(sleeping->Get().ok());
  for (size_t i = 0; i < lookups.size(); ++i) {
    absl::StatusOr<LookupRow> row = lookups[i].Get();
    ASSERT_TRUE(row.ok()) << row.status();
    ASSERT_TRUE(row->found());
    EXPECT_EQ(row->result->Text(row->index, 0), absl::StrCat(40 + i));
  }
  for (size_t i = 0; i < reads.size(); ++i) {
    absl::StatusOr<Result> result = reads[i].Get();
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(*result->Int64(0, 0), 100 / static_cast<int64_t>(i + 1));
  }
  PoolStats after = pool->stats();
  EXPECT_EQ(after.statements - before.statements, 1 + 3);
  EXPECT_EQ(after.syncs - before.syncs, 1);
}

TEST_F(BatchingTest, ManyThreadsOfLookupsEachGetTheirOwnRow) {
  auto pool = MakePool(2);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::atomic<int> wrong{0};
  std::atomic<int> done{0};
  absl::Notification all_done;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        int64_t id = 1 + (t * kPerThread + i) % 120;  // 101..120 have no row
        pool->Find(kFindItems, absl::StrCat(id), Deadline(absl::Seconds(30)),
                   [&, id](absl::StatusOr<LookupRow> row) {
                     bool right = row.ok() && row->found() == (id <= 100) &&
                                  (!row->found() ||
                                   row->result->Text(row->index, 1) == absl::StrCat("item ", id));
                     if (!right) ++wrong;
                     if (++done == kThreads * kPerThread) all_done.Notify();
                   });
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(wrong.load(), 0);
  PoolStats stats = pool->stats();
  EXPECT_LT(stats.statements, stats.requests) << "concurrent lookups were merged";
}

}  // namespace
}  // namespace firstsip::db
