// The change feed's process side: parsing notices, fan-out to the right user's watchers, and
// what a lost connection or a shutdown does to watchers and to waiting claims.
#include "push/change_feed.h"

#include <atomic>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "push/claim_waiters.h"

namespace firstsip::push {
namespace {

class RecordingWatcher : public ChangeSubscriber {
 public:
  void OnChange(int64_t change_seq) override { changes.push_back(change_seq); }
  void OnFeedLost(const absl::Status& why) override { lost.push_back(why); }

  std::vector<int64_t> changes;
  std::vector<absl::Status> lost;
};

TEST(ParseChangeNotice, ReadsEveryKind) {
  std::optional<ChangeNotice> created = ParseChangeNotice("42 7 1700000000000000 p");
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(created->user_id, 42);
  EXPECT_EQ(created->change_seq, 7);
  EXPECT_EQ(created->sent, absl::FromUnixMicros(1700000000000000));
  EXPECT_EQ(created->kind, 'p');
  EXPECT_FALSE(created->lease_expiry.has_value());

  std::optional<ChangeNotice> leased =
      ParseChangeNotice("42 8 1700000000000000 l 1700000300000000");
  ASSERT_TRUE(leased.has_value());
  EXPECT_EQ(leased->kind, 'l');
  EXPECT_EQ(leased->lease_expiry, absl::FromUnixMicros(1700000300000000));

  std::optional<ChangeNotice> other = ParseChangeNotice("1 2 3 x");
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->kind, 'x');
  std::optional<ChangeNotice> erased = ParseChangeNotice("1 2 3 e");
  ASSERT_TRUE(erased.has_value());
  EXPECT_EQ(erased->kind, 'e');
}

TEST(ParseChangeNotice, RefusesAnythingElse) {
  for (const char* payload : {"", "42", "42 7", "42 7 1", "a 7 1 p", "42 b 1 p", "42 7 c p",
                              "42 7 1 q", "42 7 1 pp", "42 7 1 l", "42 7 1 l zz", "42 7 1 p 5",
                              "42 7 1 x 5", "42 7 1 e 5", "42  7 1 p", "42 7 1 p "}) {
    EXPECT_FALSE(ParseChangeNotice(payload).has_value()) << "'" << payload << "'";
  }
}

TEST(ChangeFeed, RefusesWatchersUntilListeningAndFansOutToTheUserOnly) {
  ChangeFeed feed(nullptr, nullptr);
  auto ada = std::make_shared<RecordingWatcher>();
  auto ada_too = std::make_shared<RecordingWatcher>();
  auto bob = std::make_shared<RecordingWatcher>();
  EXPECT_EQ(feed.Subscribe(1, ada).status().code(), absl::StatusCode::kUnavailable);

  feed.OnListening();
  ASSERT_TRUE(feed.Subscribe(1, ada).ok());
  absl::StatusOr<uint64_t> second = feed.Subscribe(1, ada_too);
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(feed.Subscribe(2, bob).ok());
  EXPECT_EQ(feed.watchers(), 3u);

  feed.OnNotification("1 5 0 x");
  feed.OnNotification("2 9 0 p");
  feed.OnNotification("not a notice");
  feed.OnNotification("3 1 0 x");
  EXPECT_EQ(ada->changes, std::vector<int64_t>{5});
  EXPECT_EQ(ada_too->changes, std::vector<int64_t>{5});
  EXPECT_EQ(bob->changes, std::vector<int64_t>{9});

  feed.Unsubscribe(1, *second);
  feed.OnNotification("1 6 0 x");
  EXPECT_EQ(ada->changes, (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(ada_too->changes, std::vector<int64_t>{5}) << "gone after Unsubscribe";
  EXPECT_EQ(feed.watchers(), 2u);
}

TEST(ChangeFeed, AnErasureEndsTheUsersWatchersWithNotFoundAndNoOneElses) {
  ChangeFeed feed(nullptr, nullptr);
  feed.OnListening();
  auto ada = std::make_shared<RecordingWatcher>();
  auto ada_too = std::make_shared<RecordingWatcher>();
  auto bob = std::make_shared<RecordingWatcher>();
  ASSERT_TRUE(feed.Subscribe(1, ada).ok());
  ASSERT_TRUE(feed.Subscribe(1, ada_too).ok());
  ASSERT_TRUE(feed.Subscribe(2, bob).ok());
  feed.OnNotification("1 9 0 e");
  ASSERT_EQ(ada->lost.size(), 1u);
  ASSERT_EQ(ada_too->lost.size(), 1u);
  EXPECT_EQ(ada->lost[0].code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(ada->changes.empty()) << "an erasure is no change to read";
  EXPECT_TRUE(bob->lost.empty());
  EXPECT_EQ(feed.watchers(), 1u);
  feed.EndUser(1, absl::NotFoundError("again"));  // the sweep's second word changes nothing
  EXPECT_EQ(ada->lost.size(), 1u);
  EXPECT_TRUE(feed.live()) << "the feed goes on for everyone else";
}

TEST(ChangeFeed, ALostConnectionEndsEveryWatcherUntilItListensAgain) {
  ChangeFeed feed(nullptr, nullptr);
  feed.OnListening();
  auto ada = std::make_shared<RecordingWatcher>();
  auto bob = std::make_shared<RecordingWatcher>();
  ASSERT_TRUE(feed.Subscribe(1, ada).ok());
  ASSERT_TRUE(feed.Subscribe(2, bob).ok());
  feed.OnLost(absl::UnavailableError("connection reset"));
  ASSERT_EQ(ada->lost.size(), 1u);
  ASSERT_EQ(bob->lost.size(), 1u);
  EXPECT_EQ(ada->lost[0].code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(feed.watchers(), 0u);
  feed.OnNotification("1 5 0 x");
  EXPECT_TRUE(ada->changes.empty());
  EXPECT_EQ(feed.Subscribe(1, ada).status().code(), absl::StatusCode::kUnavailable);
  feed.OnListening();
  EXPECT_TRUE(feed.Subscribe(1, ada).ok());
}

TEST(ChangeFeed, ShutdownEndsWatchersAndRefusesNewOnesForGood) {
  ChangeFeed feed(nullptr, nullptr);
  feed.OnListening();
  auto ada = std::make_shared<RecordingWatcher>();
  ASSERT_TRUE(feed.Subscribe(1, ada).ok());
  feed.Shutdown();
  ASSERT_EQ(ada->lost.size(), 1u);
  EXPECT_EQ(ada->lost[0].code(), absl::StatusCode::kUnavailable);
  feed.OnListening();  // a reconnect during shutdown does not reopen it
  EXPECT_EQ(feed.Subscribe(1, ada).status().code(), absl::StatusCode::kUnavailable);
}

TEST(ChangeFeed, ReportsTheLagAndHandsWorkToTheWaiters) {
  std::atomic<int> leases_asked{0};
  ClaimWaiters waiters([&] { ++leases_asked; });
  std::vector<absl::Duration> lags;
  ChangeFeed feed(&waiters, [&](absl::Duration lag) { lags.push_back(lag); });
  feed.OnListening();
  std::atomic<int> woken{0};
  const uint64_t id =
      waiters.Add(absl::Now() + absl::Seconds(30), nullptr, [&](ClaimWaiters::Wake wake) {
        if (wake == ClaimWaiters::Wake::kTryClaim) ++woken;
      });
  ASSERT_EQ(waiters.Rearm(id), ClaimWaiters::Rearmed::kSleeping);
  const int64_t sent_us = absl::ToUnixMicros(absl::Now() - absl::Milliseconds(40));
  feed.OnNotification(absl::StrCat("1 1 ", sent_us, " x"));
  EXPECT_EQ(woken.load(), 0) << "a change that makes nothing claimable wakes nobody";
  feed.OnNotification(absl::StrCat("1 2 ", sent_us, " p"));
  EXPECT_EQ(woken.load(), 1);
  ASSERT_EQ(lags.size(), 2u);
  EXPECT_GE(lags[0], absl::Milliseconds(40));
  waiters.Remove(id);
  waiters.Shutdown();
}

}  // namespace
}  // namespace firstsip::push
