// The change feed against a real PostgreSQL: replay "after N" is exact while one user's
// briefings change concurrently (no change commits late with a smaller number), and the LISTEN
// connection comes back by itself after its backend is killed.
#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "db/blocking_connection.h"
#include "db/notification_listener.h"
#include "db/pool.h"
#include "gtest/gtest.h"
#include "push/change_announcer.h"
#include "push/change_feed.h"
#include "push/change_sweeper.h"
#include "storage/briefing_store.h"
#include "storage/change_store.h"
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

class ChangeFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto migrated = testing::MigratedDatabase::Create();
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    database_ = std::move(migrated->database);
    connection_ = std::move(migrated->connection);
    ASSERT_TRUE(
        connection_->ExecScript("INSERT INTO users (email) VALUES ('ada@example.com')").ok());
  }

  std::unique_ptr<testing::TestDatabase> database_;
  std::unique_ptr<db::BlockingConnection> connection_;
};

TEST_F(ChangeFeedTest, AReaderThatResumesAfterTheLastChangeItSawNeverMissesOne) {
  db::PoolOptions options;
  options.dsn = database_->dsn();
  options.size = 8;
  db::Pool pool(options);
  BriefingStore briefings(pool);
  ChangeStore changes(pool);

  // Eight writers take briefings of the same user through their lifecycle at once, so their
  // statements queue on the user's row lock and commit in an order of the server's choosing.
  constexpr int kWriters = 8, kPerWriter = 40;
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&] {
      for (int i = 0; i < kPerWriter; ++i) {
        auto created = Wait<v1::Briefing>(
            [&](Done<v1::Briefing> d) { briefings.Create(1, std::nullopt, Soon(), std::move(d)); });
        if (!created.ok()) {
          ++failures;
          continue;
        }
        auto started = Wait<v1::Briefing>(
            [&](Done<v1::Briefing> d) { briefings.Start(created->id(), Soon(), std::move(d)); });
        // Fail rather than Complete: no content, so ThreadSanitizer's build can run this too
        // (see scripts/test.sh on protobuf maps there).
        auto failed = Wait<v1::Briefing>([&](Done<v1::Briefing> d) {
          briefings.Fail(created->id(), "no news", Soon(), std::move(d));
        });
        if (!started.ok() || !failed.ok()) ++failures;
      }
    });
  }
  // A watcher's read loop: always "after the last one I saw".
  std::set<int64_t> seen;
  int64_t cursor = 0;
  std::thread reader([&] {
    while (true) {
      const bool last_round = done.load();
      auto batch = Wait<std::vector<BriefingChange>>([&](Done<std::vector<BriefingChange>> d) {
        changes.ChangesAfter(1, cursor, 64, Soon(), std::move(d));
      });
      if (!batch.ok()) {
        ++failures;
        break;
      }
      for (const BriefingChange& change : *batch) {
        EXPECT_GT(change.change_seq, cursor);
        seen.insert(change.change_seq);
        cursor = change.change_seq;
      }
      if (last_round && batch->empty()) break;
    }
  });
  for (auto& writer : writers) writer.join();
  done.store(true);
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  const int64_t total = 3 * kWriters * kPerWriter;
  EXPECT_EQ(static_cast<int64_t>(seen.size()), total) << "every change was read";
  EXPECT_EQ(seen.empty() ? 0 : *seen.rbegin(), total) << "numbered 1..N without gaps";
  auto position = Wait<int64_t>(
      [&](Done<int64_t> d) { changes.Position(1, std::nullopt, Soon(), std::move(d)); });
  ASSERT_TRUE(position.ok());
  EXPECT_EQ(*position, total);
  pool.Stop();
}

TEST_F(ChangeFeedTest, ChangesCarryTheBriefingAsThatChangeLeftIt) {
  db::PoolOptions options;
  options.dsn = database_->dsn();
  db::Pool pool(options);
  BriefingStore briefings(pool);
  ChangeStore changes(pool);
  auto created = Wait<v1::Briefing>(
      [&](Done<v1::Briefing> d) { briefings.Create(1, std::nullopt, Soon(), std::move(d)); });
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(Wait<v1::Briefing>([&](Done<v1::Briefing> d) {
                briefings.Start(created->id(), Soon(), std::move(d));
              }).ok());
  ASSERT_TRUE(Wait<v1::Briefing>([&](Done<v1::Briefing> d) {
                briefings.Complete(created->id(), "{\"news\": [1]}", Soon(), std::move(d));
              }).ok());
  ASSERT_TRUE(Wait<v1::Briefing>([&](Done<v1::Briefing> d) {
                briefings.MarkRead(created->id(), Soon(), std::move(d));
              }).ok());
  auto all = Wait<std::vector<BriefingChange>>([&](Done<std::vector<BriefingChange>> d) {
    changes.ChangesAfter(1, 0, 10, Soon(), std::move(d));
  });
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].briefing.status(), v1::BRIEFING_STATUS_PENDING);
  EXPECT_FALSE((*all)[0].briefing.has_content()) << "no content before completion";
  EXPECT_EQ((*all)[1].briefing.status(), v1::BRIEFING_STATUS_PROCESSING);
  EXPECT_EQ((*all)[2].briefing.status(), v1::BRIEFING_STATUS_COMPLETED);
  EXPECT_TRUE((*all)[2].briefing.has_content());
  EXPECT_FALSE((*all)[2].briefing.has_read_at());
  EXPECT_TRUE((*all)[3].briefing.has_read_at());
  EXPECT_LT((*all)[0].briefing.update_time().seconds() * 1000000000 +
                (*all)[0].briefing.update_time().nanos(),
            (*all)[3].briefing.update_time().seconds() * 1000000000 +
                (*all)[3].briefing.update_time().nanos());

  // Retention: once the log is pruned, a token from before it is OUT_OF_RANGE, a current one
  // is fine.
  ASSERT_TRUE(connection_
                  ->ExecScript("UPDATE briefing_changes SET change_time = now() - "
                               "interval '8 days' WHERE change_seq <= 2")
                  .ok());
  auto pruned = Wait<int>(
      [&](Done<int> d) { changes.Prune(absl::Hours(24 * 7), 1000, Soon(), std::move(d)); });
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 2);
  auto too_old =
      Wait<int64_t>([&](Done<int64_t> d) { changes.Position(1, 1, Soon(), std::move(d)); });
  EXPECT_EQ(too_old.status().code(), absl::StatusCode::kOutOfRange);
  auto kept = Wait<int64_t>([&](Done<int64_t> d) { changes.Position(1, 3, Soon(), std::move(d)); });
  EXPECT_TRUE(kept.ok()) << kept.status();
  auto ahead =
      Wait<int64_t>([&](Done<int64_t> d) { changes.Position(1, 99, Soon(), std::move(d)); });
  EXPECT_EQ(ahead.status().code(), absl::StatusCode::kOutOfRange);
  pool.Stop();
}

// A change whose announcement never went out (its writer died after the commit) still reaches
// the user's watchers, through the sweep.
TEST_F(ChangeFeedTest, TheSweepNudgesWatchersOfAChangeNobodyAnnounced) {
  db::PoolOptions options;
  options.dsn = database_->dsn();
  db::Pool pool(options);
  BriefingStore briefings(pool);  // announces nothing
  ChangeStore changes(pool);
  push::ChangeFeed feed(nullptr, nullptr);
  feed.OnListening();
  struct Watcher : push::ChangeSubscriber {
    void OnChange(int64_t change_seq) override { seen.store(change_seq); }
    void OnFeedLost(const absl::Status&) override {}
    std::atomic<int64_t> seen{0};
  };
  auto watcher = std::make_shared<Watcher>();
  ASSERT_TRUE(feed.Subscribe(1, watcher).ok());
  push::ChangeSweeper sweeper(changes, feed, absl::Milliseconds(50));
  ASSERT_TRUE(Wait<v1::Briefing>([&](Done<v1::Briefing> d) {
                briefings.Create(1, std::nullopt, Soon(), std::move(d));
              }).ok());
  for (int i = 0; i < 200 && watcher->seen.load() == 0; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(watcher->seen.load(), 1) << "the watcher learnt that the feed moved to 1";
  sweeper.Stop();
  pool.Stop();
}

// Announced changes go out as NOTIFYs on the changes channel, many in one statement.
TEST_F(ChangeFeedTest, TheAnnouncerNotifiesCommittedChanges) {
  db::PoolOptions options;
  options.dsn = database_->dsn();
  db::Pool pool(options);
  ChangeStore changes(pool);
  push::ChangeAnnouncer announcer(changes);
  std::mutex mutex;
  std::vector<std::string> heard;
  db::ListenerOptions listen;
  listen.dsn = database_->dsn();
  listen.channel = FIRSTSIP_CHANGES_CHANNEL;
  db::ListenerHandler handler;
  handler.notified = [&](absl::string_view payload) {
    std::lock_guard<std::mutex> lock(mutex);
    heard.emplace_back(payload);
  };
  db::NotificationListener listener(listen, std::move(handler));
  for (int i = 0; i < 500 && !listener.listening(); ++i) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_TRUE(listener.listening());
  BriefingStore briefings(pool, [&](std::string notice) { announcer.Announce(std::move(notice)); });
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(Wait<v1::Briefing>([&](Done<v1::Briefing> d) {
                  briefings.Create(1, std::nullopt, Soon(), std::move(d));
                }).ok());
  }
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (heard.size() >= 20) break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  std::lock_guard<std::mutex> lock(mutex);
  ASSERT_EQ(heard.size(), 20u);
  for (size_t i = 0; i < heard.size(); ++i) {
    std::optional<push::ChangeNotice> notice = push::ParseChangeNotice(heard[i]);
    ASSERT_TRUE(notice.has_value()) << heard[i];
    EXPECT_EQ(notice->user_id, 1);
    EXPECT_EQ(notice->change_seq, static_cast<int64_t>(i + 1)) << "in commit order";
    EXPECT_EQ(notice->kind, 'p');
  }
  listener.Stop();
  pool.Stop();
}

TEST_F(ChangeFeedTest, TheListenerComesBackAfterItsBackendIsKilled) {
  std::mutex mutex;
  std::vector<std::string> payloads;
  std::atomic<int> listening{0}, lost{0};
  db::ListenerOptions options;
  options.dsn = database_->dsn();
  options.channel = "firstsip_test_channel";
  options.reconnect_min = absl::Milliseconds(20);
  db::ListenerHandler handler;
  handler.listening = [&] { ++listening; };
  handler.notified = [&](absl::string_view payload) {
    std::lock_guard<std::mutex> lock(mutex);
    payloads.emplace_back(payload);
  };
  handler.lost = [&](const absl::Status&) { ++lost; };
  db::NotificationListener listener(options, std::move(handler));
  auto await = [](const std::function<bool()>& condition) {
    for (int i = 0; i < 500 && !condition(); ++i) absl::SleepFor(absl::Milliseconds(10));
    return condition();
  };
  ASSERT_TRUE(await([&] { return listener.listening(); }));
  ASSERT_TRUE(connection_->ExecScript("NOTIFY firstsip_test_channel, 'one'").ok());
  ASSERT_TRUE(await([&] {
    std::lock_guard<std::mutex> lock(mutex);
    return payloads.size() == 1;
  }));

  // Only this test's database: parallel tests run listeners of their own in the same cluster.
  ASSERT_TRUE(connection_
                  ->ExecScript("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE application_name = 'firstsip-listener' "
                               "AND datname = current_database()")
                  .ok());
  ASSERT_TRUE(await([&] { return lost.load() == 1; })) << "the drop is reported";
  ASSERT_TRUE(await([&] { return listening.load() == 2 && listener.listening(); }))
      << "and it listens again by itself";
  ASSERT_TRUE(connection_->ExecScript("NOTIFY firstsip_test_channel, 'two'").ok());
  ASSERT_TRUE(await([&] {
    std::lock_guard<std::mutex> lock(mutex);
    return payloads.size() == 2;
  }));
  EXPECT_EQ(payloads, (std::vector<std::string>{"one", "two"}));
  listener.Stop();
}

}  // namespace
}  // namespace firstsip::storage
