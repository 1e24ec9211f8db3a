// The scheduler against a real PostgreSQL: what a batch does with due, paused, deleted, late
// and already-served users; concurrent batches; users of the previous release (backfill); time
// zones the database does not know; the scheduler's sleep (until the earliest due time, and
// earlier when told of a closer one); and next_briefing_time as the user statements keep it.
#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "db/blocking_connection.h"
#include "db/pool.h"
#include "db/sql_error.h"
#include "gtest/gtest.h"
#include "schedule/briefing_scheduler.h"
#include "storage/briefing_store.h"
#include "storage/schedule_store.h"
#include "storage/user_store.h"
#include "support/migrated_database.h"
#include "support/test_database.h"

namespace firstsip::storage {
namespace {

template <typename T, typename Start>
absl::StatusOr<T> Wait(Start start) {
  std::promise<absl::StatusOr<T>> promise;
  auto future = promise.get_future();
  start([&promise](absl::StatusOr<T> value) { promise.set_value(std::move(value)); });
  return future.get();
}

db::CallOptions Soon() { return db::CallOptions::WithDeadline(absl::Now() + absl::Seconds(30)); }

constexpr absl::Duration kLateness = absl::Hours(6);

class ScheduleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto migrated = testing::MigratedDatabase::Create();
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    database_ = std::move(migrated->database);
    connection_ = std::move(migrated->connection);
    db::PoolOptions options;
    options.dsn = database_->dsn();
    options.size = 4;
    pool_ = std::make_unique<db::Pool>(options);
    store_ = std::make_unique<ScheduleStore>(*pool_, [this](std::string notice) {
      std::lock_guard<std::mutex> lock(mutex_);
      notices_.push_back(std::move(notice));
    });
  }
  void TearDown() override {
    if (pool_ != nullptr) pool_->Stop();
  }

  void Sql(const std::string& sql) {
    absl::Status done = connection_->ExecScript(sql);
    ASSERT_TRUE(done.ok()) << done << "\n" << sql;
  }
  int64_t Number(const std::string& sql) {
    absl::StatusOr<db::Result> row = connection_->Exec(sql);
    EXPECT_TRUE(row.ok()) << row.status() << "\n" << sql;
    if (!row.ok() || row->rows() == 0 || row->IsNull(0, 0)) return -1;
    return *row->Int64(0, 0);
  }
  std::string Text(const std::string& sql) {
    absl::StatusOr<db::Result> row = connection_->Exec(sql);
    EXPECT_TRUE(row.ok()) << row.status() << "\n" << sql;
    if (!row.ok() || row->rows() == 0) return "";
    return std::string(row->Text(0, 0));
  }
  // A user in `zone` whose briefing time passed `ago` (rounded down to the minute), with
  // next_briefing_time set to that occurrence, as the scheduler would have left it. Its id.
  int64_t DueUser(const std::string& email, const std::string& zone, absl::Duration ago,
                  const std::string& extra_columns = "", const std::string& extra_values = "") {
    const std::string due = absl::StrCat("date_trunc('minute', now() - interval '",
                                         absl::ToInt64Seconds(ago), " seconds')");
    return Number(absl::StrCat(
        "INSERT INTO users (email, timezone, preferred_briefing_time, next_briefing_time",
        extra_columns, ") VALUES ('", email, "', '", zone, "', to_char(", due, " AT TIME ZONE '",
        zone, "', 'HH24:MI'), ", due, extra_values, ") RETURNING id"));
  }
  // The local day (YYYY-MM-DD) of the user's next_briefing_time, read before the batch.
  std::string LocalDayOfNext(int64_t user) {
    return Text(absl::StrCat(
        "SELECT to_char(next_briefing_time AT TIME ZONE timezone, 'YYYY-MM-DD') FROM users "
        "WHERE id = ",
        user));
  }
  int64_t Briefings(int64_t user) {
    return Number(absl::StrCat("SELECT count(*) FROM briefings WHERE user_id = ", user));
  }
  absl::StatusOr<ScheduleBatch> RunDue(int limit = 500, absl::Duration lateness = kLateness) {
    return Wait<ScheduleBatch>([&](Done<ScheduleBatch> done) {
      store_->RunDue(limit, lateness, Soon(), std::move(done));
    });
  }

  std::unique_ptr<testing::TestDatabase> database_;
  std::unique_ptr<db::BlockingConnection> connection_;
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<ScheduleStore> store_;
  std::mutex mutex_;
  std::vector<std::string> notices_;  // guarded by mutex_
};

TEST_F(ScheduleTest, ADueUserGetsOnePendingBriefingNamedAfterItsLocalDayThroughTheChangeFeed) {
  // +14: the local day is a day ahead of UTC's for ten hours of each day.
  const int64_t user = DueUser("kiri@example.com", "Pacific/Kiritimati", absl::Seconds(90));
  const std::string day = LocalDayOfNext(user);
  const int64_t due_us =
      Number("SELECT (extract(epoch FROM next_briefing_time) * 1000000)::int8 FROM users");
  absl::StatusOr<ScheduleBatch> batch = RunDue();
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->claimed, 1);
  EXPECT_EQ(batch->created, 1);
  EXPECT_EQ(batch->existed + batch->missed, 0);
  EXPECT_EQ(Text("SELECT status || ' ' || request_id FROM briefings"), "pending " + day);
  // As CreateBriefing: the user's feed moved by one, the change is logged under it, and its
  // notice ('p': claimable) was handed on for announcing.
  EXPECT_EQ(Number("SELECT change_seq FROM users"), 1);
  EXPECT_EQ(Number("SELECT count(*) FROM briefing_changes WHERE change_seq = 1 AND status = "
                   "'pending' AND briefing_id = (SELECT id FROM briefings)"),
            1);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ASSERT_EQ(notices_.size(), 1u);
    std::vector<std::string> parts = absl::StrSplit(notices_[0], ' ');
    ASSERT_EQ(parts.size(), 4u) << notices_[0];
    EXPECT_EQ(parts[0], absl::StrCat(user));
    EXPECT_EQ(parts[1], "1");
    EXPECT_EQ(parts[3], "p");
  }
  // The next day's occurrence: a day later in a zone without DST.
  EXPECT_EQ(Number("SELECT (extract(epoch FROM next_briefing_time) * 1000000)::int8 FROM users"),
            due_us + 24LL * 3600 * 1000000);
  EXPECT_EQ(Number("SELECT revision FROM users"), 1) << "the etag stays: the user did not change";
  ASSERT_TRUE(batch->next_due_in.has_value());
  EXPECT_GT(*batch->next_due_in, absl::Hours(23));
  EXPECT_EQ(batch->lag, absl::ZeroDuration());
  EXPECT_FALSE(batch->unfilled);
}

TEST_F(ScheduleTest, PausedDeletedAndNotYetDueUsersGetNone) {
  const int64_t live = DueUser("live@example.com", "Asia/Kathmandu", absl::Minutes(2));
  const int64_t paused = DueUser("paused@example.com", "Asia/Kathmandu", absl::Minutes(2),
                                 ", briefings_paused", ", true");
  const int64_t deleted = DueUser("deleted@example.com", "Asia/Kathmandu", absl::Minutes(2),
                                  ", delete_time", ", now()");
  const int64_t later = DueUser("later@example.com", "Asia/Kathmandu", -absl::Minutes(5));
  absl::StatusOr<ScheduleBatch> batch = RunDue();
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->created, 1);
  EXPECT_EQ(Briefings(live), 1);
  EXPECT_EQ(Briefings(paused), 0);
  EXPECT_EQ(Briefings(deleted), 0);
  EXPECT_EQ(Briefings(later), 0);
  ASSERT_TRUE(batch->next_due_in.has_value());
  EXPECT_GT(*batch->next_due_in, absl::Minutes(3)) << "the not-yet-due user is the earliest";
  EXPECT_LT(*batch->next_due_in, absl::Minutes(6));
}

TEST_F(ScheduleTest, DaysMissedWhilePausedAreNotMadeUpOnResuming) {
  // Due two minutes ago, but paused before any batch ran: nothing while paused, and resuming
  // schedules the next occurrence after the moment of resuming (tomorrow's), not today's.
  const int64_t user = DueUser("away@example.com", "Asia/Kolkata", absl::Minutes(2));
  UserStore users(*pool_, *pool_);
  auto update = [&](bool paused) {
    logic::UserPatch patch;
    patch.briefings_paused = paused;
    return Wait<v1::User>(
        [&](Done<v1::User> done) { users.Update(user, patch, Soon(), std::move(done)); });
  };
  absl::StatusOr<v1::User> paused = update(true);
  ASSERT_TRUE(paused.ok()) << paused.status();
  EXPECT_FALSE(paused->has_next_briefing_time());
  absl::StatusOr<ScheduleBatch> batch = RunDue();
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->claimed, 0);
  EXPECT_FALSE(batch->unfilled) << "a paused user has no due time to fill in";
  absl::StatusOr<v1::User> resumed = update(false);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ASSERT_TRUE(resumed->has_next_briefing_time());
  const absl::Duration ahead =
      absl::FromUnixSeconds(resumed->next_briefing_time().seconds()) - absl::Now();
  EXPECT_GT(ahead, absl::Hours(23) + absl::Minutes(50));
  EXPECT_LE(ahead, absl::Hours(24));
  batch = RunDue();
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->claimed, 0);
  EXPECT_EQ(Briefings(user), 0) << "the day missed while paused is not made up";
}

TEST_F(ScheduleTest, ADayThatHasItsBriefingGetsNoOtherEvenWhenDueTwice) {
  const int64_t user = DueUser("ada@example.com", "Europe/Berlin", absl::Minutes(3));
  const std::string day = LocalDayOfNext(user);
  const std::string due = Text("SELECT next_briefing_time::text FROM users");
  // The backend already created the day's briefing by hand, with the day as request_id.
  BriefingStore briefings(*pool_);
  auto by_hand = Wait<v1::Briefing>(
      [&](Done<v1::Briefing> done) { briefings.Create(user, day, Soon(), std::move(done)); });
  ASSERT_TRUE(by_hand.ok()) << by_hand.status();
  absl::StatusOr<ScheduleBatch> batch = RunDue();
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->created, 0);
  EXPECT_EQ(batch->existed, 1);
  EXPECT_EQ(Briefings(user), 1);
  EXPECT_EQ(Number("SELECT change_seq FROM users"), 1) << "only CreateBriefing's change";
  EXPECT_GT(Number("SELECT extract(epoch FROM next_briefing_time - now())::int8 FROM users"),
            20 * 3600)
      << "moved on to the next day anyway";
  // Due again the same day (its time set back by hand): still the one briefing.
  Sql(absl::StrCat("UPDATE users SET next_briefing_time = '", due, "'"));
  batch = RunDue();
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->existed, 1);
  EXPECT_EQ(Briefings(user), 1);
  std::lock_guard<std::mutex> lock(mutex_);
  EXPECT_TRUE(notices_.empty()) << "nothing changed, nothing announced";
}

TEST_F(ScheduleTest, PastTheLatenessNothingIsCreatedButADayStillWithinItIsCaughtUp) {
  const int64_t late = DueUser("late@example.com", "America/New_York", absl::Hours(5));
  const int64_t missed = DueUser("missed@example.com", "America/New_York", absl::Hours(7));
  // Down since yesterday: yesterday's time is 29 hours ago (missed), today's 5 hours ago.
  const int64_t yesterday = DueUser("yesterday@example.com", "UTC", absl::Hours(29));
  const std::string today =
      Text("SELECT to_char((now() - interval '5 hours') AT TIME ZONE 'UTC', 'YYYY-MM-DD')");
  absl::StatusOr<ScheduleBatch> batch = RunDue();
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->claimed, 3);
  EXPECT_EQ(batch->created, 1);
  EXPECT_EQ(batch->missed, 2);
  EXPECT_EQ(Briefings(late), 1) << "within the lateness: late rather than not at all";
  EXPECT_EQ(Briefings(missed), 0);
  EXPECT_GT(Number(absl::StrCat("SELECT extract(epoch FROM next_briefing_time - now())::int8 "
                                "FROM users WHERE id = ",
                                missed)),
            16 * 3600)
      << "moved on to tomorrow's";
  EXPECT_EQ(Briefings(yesterday), 0);
  ASSERT_TRUE(batch->next_due_in.has_value());
  EXPECT_LT(*batch->next_due_in, absl::ZeroDuration()) << "today's is due already";
  batch = RunDue();
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->created, 1);
  EXPECT_EQ(Text(absl::StrCat("SELECT request_id FROM briefings WHERE user_id = ", yesterday)),
            today);
}

TEST_F(ScheduleTest, ConcurrentBatchesCreateEachBriefingExactlyOnce) {
  Sql("INSERT INTO users (email, next_briefing_time) SELECT 'u' || i || '@example.com', "
      "now() - interval '1 minute' FROM generate_series(1, 3000) i");
  std::atomic<int> created{0}, failures{0};
  std::vector<std::thread> replicas;
  for (int r = 0; r < 4; ++r) {
    replicas.emplace_back([&] {
      for (;;) {
        absl::StatusOr<ScheduleBatch> batch = RunDue(200);
        if (!batch.ok()) {
          ++failures;
          return;
        }
        created += batch->created;
        if (batch->claimed == 0 && batch->next_due_in.has_value() &&
            *batch->next_due_in > absl::ZeroDuration()) {
          return;
        }
      }
    });
  }
  for (auto& replica : replicas) replica.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(created.load(), 3000);
  EXPECT_EQ(Number("SELECT count(*) FROM briefings"), 3000);
  EXPECT_EQ(Number("SELECT count(DISTINCT user_id) FROM briefings"), 3000);
  EXPECT_EQ(Number("SELECT count(*) FROM briefing_changes"), 3000);
}

TEST_F(ScheduleTest, UsersOfThePreviousReleaseAreFilledInAndScheduled) {
  // As a replica of the previous release leaves them: no next_briefing_time.
  Sql("INSERT INTO users (email, timezone, preferred_briefing_time) SELECT 'u' || i || "
      "'@example.com', 'Asia/Kolkata', '07:00' FROM generate_series(1, 50) i;"
      "INSERT INTO users (email, briefings_paused) VALUES ('paused@example.com', true);"
      "INSERT INTO users (email, delete_time) VALUES ('gone@example.com', now())");
  absl::StatusOr<ScheduleBatch> batch = RunDue();
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_TRUE(batch->unfilled);
  EXPECT_FALSE(batch->next_due_in.has_value());
  absl::StatusOr<int> filled =
      Wait<int>([&](Done<int> done) { store_->Fill(20, Soon(), std::move(done)); });
  ASSERT_TRUE(filled.ok()) << filled.status();
  EXPECT_EQ(*filled, 20) << "a batch at a time";
  for (int i = 0; i < 2; ++i) {
    filled = Wait<int>([&](Done<int> done) { store_->Fill(20, Soon(), std::move(done)); });
  }
  EXPECT_EQ(*filled, 10);
  EXPECT_EQ(Number("SELECT count(*) FROM users WHERE next_briefing_time IS NULL"), 2)
      << "the paused and the deleted user stay unset";
  // The next 07:00 in Kolkata, from now.
  EXPECT_EQ(Number("SELECT count(*) FROM users WHERE next_briefing_time > now() AND "
                   "next_briefing_time <= now() + interval '1 day' AND "
                   "to_char(next_briefing_time AT TIME ZONE 'Asia/Kolkata', 'HH24:MI') = '07:00'"),
            50);
  batch = RunDue();
  ASSERT_TRUE(batch.ok());
  EXPECT_FALSE(batch->unfilled);
  EXPECT_TRUE(batch->next_due_in.has_value());
}

TEST_F(ScheduleTest, AZoneTheDatabaseDoesNotKnowIsQuarantinedInsteadOfFailingEveryone) {
  const int64_t good = DueUser("good@example.com", "Europe/Paris", absl::Minutes(1));
  // Written past the service's validation (or known to the service's tzdata but not the
  // database's).
  Sql("INSERT INTO users (email, timezone, next_briefing_time) VALUES "
      "('mars@example.com', 'Mars/Olympus', now() - interval '1 minute')");
  absl::StatusOr<ScheduleBatch> failed = RunDue();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(db::SqlStateOf(failed.status()), "22023") << failed.status();
  auto quarantined =
      Wait<std::vector<UnschedulableUser>>([&](Done<std::vector<UnschedulableUser>> done) {
        store_->Quarantine(Soon(), std::move(done));
      });
  ASSERT_TRUE(quarantined.ok()) << quarantined.status();
  ASSERT_EQ(quarantined->size(), 1u);
  EXPECT_EQ((*quarantined)[0].timezone, "Mars/Olympus");
  absl::StatusOr<ScheduleBatch> batch = RunDue();
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->created, 1);
  EXPECT_EQ(Briefings(good), 1);
  // Shown without a next briefing time; a zone the database knows schedules it again.
  UserStore users(*pool_);
  const int64_t mars = Number("SELECT id FROM users WHERE email = 'mars@example.com'");
  auto shown =
      Wait<v1::User>([&](Done<v1::User> done) { users.Get(mars, false, Soon(), std::move(done)); });
  ASSERT_TRUE(shown.ok()) << shown.status();
  EXPECT_FALSE(shown->has_next_briefing_time());
  logic::UserPatch patch;
  patch.timezone = "Europe/Paris";
  auto fixed = Wait<v1::User>(
      [&](Done<v1::User> done) { users.Update(mars, patch, Soon(), std::move(done)); });
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_TRUE(fixed->has_next_briefing_time());
}

TEST_F(ScheduleTest, TheDueStatementWalksTheNextBriefingIndex) {
  Sql("INSERT INTO users (email, next_briefing_time, briefings_paused, delete_time) "
      "SELECT 'u' || i || '@example.com', now() + i * interval '1 second', i % 10 = 0, "
      "CASE WHEN i % 10 = 1 THEN now() END FROM generate_series(1, 20000) i; ANALYZE users");
  for (const char* mode : {"force_custom_plan", "force_generic_plan"}) {
    SCOPED_TRACE(mode);
    Sql(absl::StrCat("SET plan_cache_mode = ", mode));
    Sql(absl::StrCat("PREPARE due AS ", queries::kScheduleDue.sql));
    absl::StatusOr<db::Result> plan = connection_->Exec("EXPLAIN EXECUTE due(500, 21600000000)");
    ASSERT_TRUE(plan.ok()) << plan.status();
    std::string text;
    for (int row = 0; row < plan->rows(); ++row) absl::StrAppend(&text, plan->Text(row, 0), "\n");
    Sql("DEALLOCATE due");
    EXPECT_TRUE(absl::StrContains(text, "users_next_briefing_idx")) << text;
    EXPECT_FALSE(absl::StrContains(text, "Seq Scan on users")) << text;
  }
}

// next_briefing_time as the user statements keep it, and the scheduler told of each.
TEST_F(ScheduleTest, UserWritesComputeTheNextBriefingTimeAndTellTheScheduler) {
  std::mutex told_mutex;
  std::vector<absl::Time> told;
  UserStore users(*pool_, *pool_, [&](absl::Time due) {
    std::lock_guard<std::mutex> lock(told_mutex);
    told.push_back(due);
  });
  auto check = [&](absl::StatusOr<v1::User> user) {
    EXPECT_TRUE(user.ok()) << user.status();
    return user.ok() ? *user : v1::User();
  };
  auto next_of = [](const v1::User& user) {
    return absl::FromUnixSeconds(user.next_briefing_time().seconds());
  };
  logic::NewUser ada{"ada@example.com", "", "Asia/Tokyo", "07:30", "user", false};
  v1::User created = check(
      Wait<v1::User>([&](Done<v1::User> done) { users.Create(ada, Soon(), std::move(done)); }));
  ASSERT_TRUE(created.has_next_briefing_time());
  const absl::Time first = next_of(created);
  EXPECT_GT(first, absl::Now());
  EXPECT_LE(first, absl::Now() + absl::Hours(24));
  EXPECT_EQ(absl::FormatTime("%H:%M", first, absl::FixedTimeZone(9 * 3600)), "07:30");

  auto update = [&](logic::UserPatch patch) {
    return check(Wait<v1::User>(
        [&](Done<v1::User> done) { users.Update(created.id(), patch, Soon(), std::move(done)); }));
  };
  logic::UserPatch rename;
  rename.name = "Ada";
  EXPECT_EQ(next_of(update(rename)), first) << "unrelated fields keep it";
  logic::UserPatch same_zone;
  same_zone.timezone = "Asia/Tokyo";
  EXPECT_EQ(next_of(update(same_zone)), first) << "the same zone again keeps it";
  logic::UserPatch earlier;
  earlier.preferred_briefing_time = "07:00";
  v1::User moved = update(earlier);
  EXPECT_EQ(absl::FormatTime("%H:%M", next_of(moved), absl::FixedTimeZone(9 * 3600)), "07:00");
  logic::UserPatch pause;
  pause.briefings_paused = true;
  v1::User paused = update(pause);
  EXPECT_TRUE(paused.briefings_paused());
  EXPECT_FALSE(paused.has_next_briefing_time());
  EXPECT_EQ(Number("SELECT count(*) FROM users WHERE next_briefing_time IS NULL"), 1);
  logic::UserPatch resume;
  resume.briefings_paused = false;
  v1::User resumed = update(resume);
  EXPECT_FALSE(resumed.briefings_paused());
  EXPECT_EQ(next_of(resumed), next_of(moved)) << "the next occurrence from the moment of resuming";

  v1::User deleted = check(Wait<v1::User>(
      [&](Done<v1::User> done) { users.Delete(created.id(), Soon(), std::move(done)); }));
  EXPECT_FALSE(deleted.has_next_briefing_time());
  v1::User back = check(Wait<v1::User>(
      [&](Done<v1::User> done) { users.Undelete(created.id(), Soon(), std::move(done)); }));
  EXPECT_EQ(next_of(back), next_of(moved));

  logic::NewUser quiet{"quiet@example.com", "", "UTC", "06:00", "user", true};
  v1::User quiet_user = check(
      Wait<v1::User>([&](Done<v1::User> done) { users.Create(quiet, Soon(), std::move(done)); }));
  EXPECT_TRUE(quiet_user.briefings_paused());
  EXPECT_FALSE(quiet_user.has_next_briefing_time());

  std::lock_guard<std::mutex> lock(told_mutex);
  // Create, the three updates that left it set, resume, undelete.
  EXPECT_EQ(told.size(), 6u);

  logic::NewUser martian{"mars@example.com", "", "Mars/Olympus", "06:00", "user", false};
  auto refused =
      Wait<v1::User>([&](Done<v1::User> done) { users.Create(martian, Soon(), std::move(done)); });
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(refused.status().message(), "user.timezone: ")) << refused.status();
}

TEST_F(ScheduleTest, TheSchedulerSleepsUntilTheEarliestDueTimeAndWakesEarlierWhenTold) {
  // Known before the scheduler starts: due in 1.5 s, far below the 10 s cap a blind poll of
  // that period would take.
  Sql("INSERT INTO users (email, next_briefing_time) VALUES "
      "('soon@example.com', now() + interval '1500 milliseconds'), "
      "('later@example.com', now() + interval '8 seconds')");
  std::atomic<int> batches{0};
  schedule::SchedulerOptions options;
  options.max_lateness = kLateness;
  schedule::SchedulerObserver observer;
  observer.batch = [&](const ScheduleBatch&, absl::Duration) { ++batches; };
  schedule::BriefingScheduler scheduler(*store_, options, observer);
  const absl::Time started = absl::Now();
  scheduler.Start();
  auto wait_for = [&](const std::string& email, absl::Duration limit) {
    const std::string sql = absl::StrCat(
        "SELECT count(*) FROM briefings b JOIN users u ON u.id = b.user_id WHERE u.email = '",
        email, "'");
    for (absl::Time until = absl::Now() + limit; absl::Now() < until;) {
      if (Number(sql) == 1) return absl::Now();
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::InfiniteFuture();
  };
  const absl::Time soon = wait_for("soon@example.com", absl::Seconds(5));
  EXPECT_LT(soon - started, absl::Milliseconds(1500 + 700));
  EXPECT_GE(soon - started, absl::Milliseconds(1400));
  // Now it sleeps until "later" (8 s). A write on this replica sets a closer due time, and
  // says so: the scheduler wakes for it.
  Sql("INSERT INTO users (email, next_briefing_time) VALUES "
      "('told@example.com', now() + interval '500 milliseconds')");
  const absl::Time told_at = absl::Now();
  scheduler.DueAt(told_at + absl::Milliseconds(500));
  const absl::Time told = wait_for("told@example.com", absl::Seconds(5));
  EXPECT_LT(told - told_at, absl::Milliseconds(500 + 700));
  EXPECT_LT(told, started + absl::Seconds(7)) << "well before the time it was sleeping until";
  scheduler.Stop();
  EXPECT_LE(batches.load(), 6) << "one statement a wake-up while nothing else is due";
}

}  // namespace
}  // namespace firstsip::storage
