// Reads on hot standbys (db/read_pool.h) against a real primary and streaming standby
// (tests/support/replica-cluster.sh). Where a read ran is asked of the server that ran it:
// pg_is_in_recovery() is true only on the standby.
#include <atomic>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "db/blocking_connection.h"
#include "db/read_pool.h"
#include "gtest/gtest.h"
#include "support/replica_cluster.h"

namespace firstsip::db {
namespace {

constexpr Query kWhere{"test_read_where", "SELECT pg_is_in_recovery()"};
// A lookup answering, for each key, whether the server that ran it is a standby.
constexpr Lookup kFindWhere{"test_find_where",
                            "SELECT k, pg_is_in_recovery() FROM unnest($1::int8[]) AS k"};

class ReadPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.started());
    PoolOptions options;
    options.dsn = cluster_.PrimaryDsn();
    options.size = 2;
    primary_ = std::make_unique<Pool>(options);
  }
  void TearDown() override {
    if (reads_ != nullptr) reads_->Stop();
    primary_->Stop();
  }

  void StartReads(const std::string& dsn, absl::Duration max_lag) {
    ReadPoolOptions options;
    options.dsn = dsn;
    options.pool.size = 2;
    options.max_lag = max_lag;
    auto reads = ReadPool::Create(*primary_, options, [this](const ReadPoolStats& stats) {
      observed_.fetch_add(1);
      last_observed_on_standby_.store(stats.on_standby);
    });
    ASSERT_TRUE(reads.ok()) << reads.status();
    reads_ = *std::move(reads);
  }

  // True when the read ran on a standby, false on the primary.
  absl::StatusOr<bool> ReadOnStandby() {
    std::promise<absl::StatusOr<Result>> promise;
    auto future = promise.get_future();
    reads_->Execute(
        kWhere, Params(), CallOptions::WithDeadline(absl::Now() + absl::Seconds(10)),
        [&promise](absl::StatusOr<Result> result) { promise.set_value(std::move(result)); });
    absl::StatusOr<Result> result = future.get();
    if (!result.ok()) return result.status();
    return result->Bool(0, 0);
  }

  // As ReadOnStandby, for a lookup (Executor::Find).
  absl::StatusOr<bool> FindOnStandby() {
    std::promise<absl::StatusOr<LookupRow>> promise;
    auto future = promise.get_future();
    reads_->Find(kFindWhere, "7", CallOptions::WithDeadline(absl::Now() + absl::Seconds(10)),
                 [&promise](absl::StatusOr<LookupRow> row) { promise.set_value(std::move(row)); });
    absl::StatusOr<LookupRow> row = future.get();
    if (!row.ok()) return row.status();
    if (!row->found()) return absl::NotFoundError("no row for the key");
    return row->result->Bool(row->index, 1);
  }

  // Waits until standby `index` is (or is not) in use.
  bool WaitUsable(size_t index, bool usable, absl::Duration timeout = absl::Seconds(10)) {
    for (absl::Time until = absl::Now() + timeout; absl::Now() < until;) {
      ReadPoolStats stats = reads_->stats();
      if (index < stats.standbys.size() && stats.standbys[index].usable == usable) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  testing::ReplicaCluster cluster_{/*synchronous=*/false};
  std::unique_ptr<Pool> primary_;
  std::unique_ptr<ReadPool> reads_;
  std::atomic<int> observed_{0};
  std::atomic<int64_t> last_observed_on_standby_{0};
};

TEST_F(ReadPoolTest, ReadsRunOnTheStandbyUntilItFallsBehindAndAgainOnceItCatchesUp) {
  StartReads(cluster_.StandbyDsn(), absl::Milliseconds(300));
  ASSERT_TRUE(WaitUsable(0, true));
  EXPECT_EQ(ReadOnStandby().value_or(false), true);
  ReadPoolStats stats = reads_->stats();
  ASSERT_EQ(stats.standbys.size(), 1u);
  EXPECT_EQ(stats.standbys[0].server, absl::StrCat("127.0.0.1:", cluster_.standby_port()));
  ASSERT_TRUE(stats.standbys[0].lag.has_value());
  EXPECT_LT(*stats.standbys[0].lag, absl::Milliseconds(300));
  EXPECT_GE(stats.standbys[0].pool.connected, 1);

  // Paused replay while the primary writes: the standby falls behind and is skipped.
  ASSERT_TRUE(cluster_.SetStandbyReplay(false));
  auto writer = BlockingConnection::Open(cluster_.PrimaryDsn());
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Exec("CREATE TABLE lag_marker (id int)").ok());
  ASSERT_TRUE(WaitUsable(0, false)) << "skipped once 300 ms behind";
  EXPECT_EQ(ReadOnStandby().value_or(true), false) << "the primary answers";
  // The gauge's lag is the lower bound (the oldest missing change is at least that old) while
  // skipping goes by the upper bound, a sampling gap apart: it reaches max lag soon after.
  bool lag_shown = false;
  for (absl::Time until = absl::Now() + absl::Seconds(10); !lag_shown && absl::Now() < until;) {
    std::optional<absl::Duration> lag = reads_->stats().standbys[0].lag;
    lag_shown = lag.has_value() && *lag >= absl::Milliseconds(300);
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(lag_shown) << "the lag of a paused standby grows past max lag";
  EXPECT_FALSE(reads_->stats().standbys[0].usable);

  ASSERT_TRUE(cluster_.SetStandbyReplay(true));
  ASSERT_TRUE(WaitUsable(0, true));
  EXPECT_EQ(ReadOnStandby().value_or(false), true);
  stats = reads_->stats();
  EXPECT_GE(stats.on_standby, 2);
  EXPECT_GE(stats.on_primary, 1);
  EXPECT_GT(observed_.load(), 0) << "the observer hears of every probe";
}

TEST_F(ReadPoolTest, LookupsRunOnTheStandbyAndOnThePrimaryWhileItLags) {
  StartReads(cluster_.StandbyDsn(), absl::Milliseconds(300));
  ASSERT_TRUE(WaitUsable(0, true));
  EXPECT_EQ(FindOnStandby().value_or(false), true);
  ASSERT_TRUE(cluster_.SetStandbyReplay(false));
  auto writer = BlockingConnection::Open(cluster_.PrimaryDsn());
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Exec("CREATE TABLE lookup_lag_marker (id int)").ok());
  ASSERT_TRUE(WaitUsable(0, false));
  EXPECT_EQ(FindOnStandby().value_or(true), false) << "the primary answers";
  ASSERT_TRUE(cluster_.SetStandbyReplay(true));
  ASSERT_TRUE(WaitUsable(0, true));
  EXPECT_EQ(FindOnStandby().value_or(false), true);
}

TEST_F(ReadPoolTest, OfSeveralHostsOnlyTheStandbysAreUsedNeverAPrimary) {
  // The primary named among the read hosts (by mistake, or a standby since promoted) is
  // measured and skipped: it is not in recovery.
  StartReads(absl::StrCat("host=127.0.0.1,127.0.0.1 port=", cluster_.primary_port(), ",",
                          cluster_.standby_port(), " user=postgres dbname=postgres"),
             absl::Seconds(1));
  ASSERT_TRUE(WaitUsable(1, true));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(ReadOnStandby().value_or(false), true);
  ReadPoolStats stats = reads_->stats();
  ASSERT_EQ(stats.standbys.size(), 2u);
  EXPECT_FALSE(stats.standbys[0].usable);
  EXPECT_FALSE(stats.standbys[0].lag.has_value());
  EXPECT_EQ(stats.on_primary, 0);
}

TEST_F(ReadPoolTest, ReadsInFlightWhenTheStandbyStopsAreAnsweredByThePrimary) {
  StartReads(cluster_.StandbyDsn(), absl::Seconds(1));
  ASSERT_TRUE(WaitUsable(0, true));
  std::atomic<bool> stop{false};
  std::atomic<int> on_standby{0}, on_primary{0}, failed{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        // Several reads in flight per thread, so some are on the standby when it stops.
        std::vector<std::future<absl::StatusOr<Result>>> pending;
        for (int i = 0; i < 8; ++i) {
          auto promise = std::make_shared<std::promise<absl::StatusOr<Result>>>();
          pending.push_back(promise->get_future());
          reads_->Execute(
              kWhere, Params(), CallOptions::WithDeadline(absl::Now() + absl::Seconds(10)),
              [promise](absl::StatusOr<Result> result) { promise->set_value(std::move(result)); });
        }
        for (auto& future : pending) {
          absl::StatusOr<Result> result = future.get();
          if (!result.ok()) {
            ++failed;
          } else if (result->Bool(0, 0).value_or(false)) {
            ++on_standby;
          } else {
            ++on_primary;
          }
        }
      }
    });
  }
  // Stats are read meanwhile too, as the metrics do.
  std::thread observer([&] {
    while (!stop.load()) {
      ReadPoolStats stats = reads_->stats();
      EXPECT_EQ(stats.standbys.size(), 1u);
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_TRUE(cluster_.StopStandby());
  absl::SleepFor(absl::Milliseconds(700));
  stop.store(true);
  for (auto& reader : readers) reader.join();
  observer.join();
  EXPECT_GT(on_standby.load(), 0);
  EXPECT_GT(on_primary.load(), 0);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_FALSE(reads_->stats().standbys[0].usable);
  EXPECT_EQ(reads_->stats().on_standby + reads_->stats().on_primary,
            on_standby.load() + on_primary.load())
      << "every read was counted where it was sent";
}

}  // namespace
}  // namespace firstsip::db
