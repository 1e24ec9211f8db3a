// The morning itself, through real server processes: two replicas on one database create each
// of 10,000 due users' briefings exactly once, named after each user's local day; a server
// stopped past a due time creates it on restart within the lateness and counts a miss beyond
// it; a scheduled briefing reaches a watcher and a waiting ClaimNextBriefing on another replica.
// Users are made due by setting next_briefing_time in SQL, not by waiting for clocks.
#include <signal.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "db/blocking_connection.h"
#include "firstsip/v1/briefing.grpc.pb.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "support/metrics_scrape.h"
#include "support/migrated_database.h"
#include "support/server_process.h"
#include "support/test_database.h"

namespace firstsip {
namespace {

using testing::ServerProcess;

constexpr char kServing[] = "serving on";

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto migrated = testing::MigratedDatabase::Create();
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    database_ = std::move(migrated->database);
    connection_ = std::move(migrated->connection);
  }

  // A server that schedules briefings (the test support turns the scheduler off by default).
  static std::unique_ptr<ServerProcess> Scheduling(const std::string& dsn,
                                                   std::vector<std::string> flags = {},
                                                   const testing::EnvironmentOverrides& env = {}) {
    flags.push_back("--schedule-briefings=true");
    return ServerProcess::Launch(dsn, flags, env);
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
    return row.ok() && row->rows() > 0 ? std::string(row->Text(0, 0)) : "";
  }
  // Polls `sql` until it answers `expected`, for up to `timeout`; the last answer.
  int64_t WaitFor(const std::string& sql, int64_t expected, absl::Duration timeout) {
    int64_t value = Number(sql);
    for (absl::Time until = absl::Now() + timeout; value != expected && absl::Now() < until;) {
      absl::SleepFor(absl::Milliseconds(50));
      value = Number(sql);
    }
    return value;
  }

  std::unique_ptr<testing::TestDatabase> database_;
  std::unique_ptr<db::BlockingConnection> connection_;
};

// The briefings a server's log says it created.
int CreatedInLog(const std::string& output) {
  // Plain string search: <regex> trips GCC 12's false -Wmaybe-uninitialized under ASan.
  const std::string kLine = "schedule: created ";
  int total = 0;
  for (size_t at = output.find(kLine); at != std::string::npos; at = output.find(kLine, at)) {
    at += kLine.size();
    int created = 0;
    const size_t digits = output.find_first_not_of("0123456789", at);
    if (absl::SimpleAtoi(absl::string_view(output).substr(at, digits - at), &created)) {
      total += created;
    }
  }
  return total;
}

TEST_F(SchedulerTest, TwoServersCreateEachOfTenThousandDueBriefingsExactlyOnce) {
  // One instant for everyone, in zones whose local day differs (Kiritimati +14, Pago Pago -11):
  // each user's briefing time is the local time of that instant, as if all were due at once.
  const std::string due = Text("SELECT date_trunc('minute', now() - interval '1 minute')::text");
  Sql(absl::StrCat(
      "INSERT INTO users (email, timezone, preferred_briefing_time, next_briefing_time, "
      "  briefings_paused, delete_time) "
      "SELECT 'u' || i || '@example.com', z.zone, "
      "  to_char(timestamptz '",
      due, "' AT TIME ZONE z.zone, 'HH24:MI'), timestamptz '", due,
      "', i > 10000 AND i <= 10100, CASE WHEN i > 10100 THEN now() END "
      "FROM generate_series(1, 10200) i, LATERAL (SELECT (ARRAY['UTC', 'Asia/Kolkata', "
      "  'Asia/Kathmandu', 'America/New_York', 'Pacific/Kiritimati', 'Pacific/Pago_Pago', "
      "  'Australia/Lord_Howe', 'Europe/Berlin'])[1 + i % 8] AS zone) z"));
  // Both start together and race for the same users.
  std::unique_ptr<ServerProcess> a = Scheduling(database_->dsn());
  std::unique_ptr<ServerProcess> b = Scheduling(database_->dsn(), {"--metrics-listen=127.0.0.1:0"});
  ASSERT_TRUE(a->WaitForOutput(kServing, absl::Seconds(30))) << a->output();
  ASSERT_TRUE(b->WaitForOutput(kServing, absl::Seconds(30))) << b->output();

  EXPECT_EQ(WaitFor("SELECT count(*) FROM briefings", 10000, absl::Seconds(60)), 10000);
  absl::SleepFor(absl::Milliseconds(500));  // anything more would come now
  EXPECT_EQ(Number("SELECT count(*) FROM briefings"), 10000);
  EXPECT_EQ(Number("SELECT count(DISTINCT user_id) FROM briefings WHERE status = 'pending'"),
            10000);
  EXPECT_EQ(
      Number(absl::StrCat("SELECT count(*) FROM briefings b JOIN users u ON u.id = b.user_id WHERE "
                          "b.request_id = to_char(timestamptz '",
                          due, "' AT TIME ZONE u.timezone, 'YYYY-MM-DD')")),
      10000)
      << "each named after the user's own local day";
  EXPECT_GE(Number("SELECT count(DISTINCT request_id) FROM briefings"), 2)
      << "the due instant falls on more than one local day among these zones";
  EXPECT_EQ(Number("SELECT count(*) FROM briefings b JOIN users u ON u.id = b.user_id "
                   "WHERE u.briefings_paused OR u.delete_time IS NOT NULL"),
            0)
      << "paused and deleted users get none";
  EXPECT_EQ(Number("SELECT count(*) FROM briefing_changes"), 10000) << "through the change feed";
  EXPECT_EQ(Number("SELECT count(*) FROM users WHERE briefings_paused = false AND "
                   "delete_time IS NULL AND next_briefing_time > now()"),
            10000)
      << "every live user moved on to the next day";
  const int by_a = CreatedInLog(a->output()), by_b = CreatedInLog(b->output());
  EXPECT_EQ(by_a + by_b, 10000);
  std::printf("replica A created %d, replica B %d\n", by_a, by_b);

  // Due a second time the same day (its time set back by hand while both were stopped): still
  // one briefing, counted as one that existed already.
  ASSERT_EQ(a->Stop(SIGTERM), 0) << a->output();
  ASSERT_EQ(b->Stop(SIGTERM), 0) << b->output();
  const int64_t user = Number("SELECT min(id) FROM users");
  Sql(absl::StrCat("UPDATE users SET next_briefing_time = timestamptz '", due,
                   "' WHERE id = ", user));
  b = Scheduling(database_->dsn(), {"--metrics-listen=127.0.0.1:0"});
  ASSERT_TRUE(b->WaitForOutput(kServing, absl::Seconds(30))) << b->output();
  EXPECT_EQ(WaitFor(absl::StrCat("SELECT count(*) FROM users WHERE id = ", user,
                                 " AND next_briefing_time > now()"),
                    1, absl::Seconds(30)),
            1);
  EXPECT_EQ(Number(absl::StrCat("SELECT count(*) FROM briefings WHERE user_id = ", user)), 1);
  const std::string metrics = testing::HttpGet(testing::MetricsPort(b->output()), "/metrics");
  EXPECT_EQ(testing::MetricValue(metrics, {"firstsip_schedule_already_created_total"}), 1)
      << metrics;
  EXPECT_EQ(b->Stop(SIGTERM), 0) << b->output();
}

TEST_F(SchedulerTest, AServerStoppedPastADueTimeCatchesUpWithinTheLatenessAndCountsAMissBeyond) {
  Sql("INSERT INTO users (email, timezone, preferred_briefing_time) VALUES "
      "('late@example.com', 'Asia/Kolkata', '07:00'), "
      "('missed@example.com', 'Asia/Kolkata', '07:00')");
  std::unique_ptr<ServerProcess> server = Scheduling(database_->dsn());
  ASSERT_TRUE(server->WaitForOutput(kServing, absl::Seconds(30))) << server->output();
  // Filled in by the running service (they have none, as the previous release leaves them).
  EXPECT_EQ(
      WaitFor("SELECT count(*) FROM users WHERE next_briefing_time > now()", 2, absl::Seconds(20)),
      2);
  ASSERT_EQ(server->Stop(SIGTERM), 0) << server->output();
  // The server was down while their times passed: two hours ago, and four.
  Sql("UPDATE users SET preferred_briefing_time = to_char((now() - interval '2 hours') AT TIME "
      "ZONE timezone, 'HH24:MI'), next_briefing_time = date_trunc('minute', now() - interval "
      "'2 hours') WHERE email = 'late@example.com';"
      "UPDATE users SET preferred_briefing_time = to_char((now() - interval '4 hours') AT TIME "
      "ZONE timezone, 'HH24:MI'), next_briefing_time = date_trunc('minute', now() - interval "
      "'4 hours') WHERE email = 'missed@example.com'");
  const std::string late_day = Text(
      "SELECT to_char(next_briefing_time AT TIME ZONE timezone, 'YYYY-MM-DD') FROM users "
      "WHERE email = 'late@example.com'");
  // Started again with a lateness of 3 hours, through its environment variable.
  server = Scheduling(database_->dsn(), {"--metrics-listen=127.0.0.1:0"},
                      {{"FIRSTSIP_SCHEDULE_MAX_LATENESS", "3h"}});
  ASSERT_TRUE(server->WaitForOutput(kServing, absl::Seconds(30))) << server->output();
  EXPECT_EQ(
      WaitFor("SELECT count(*) FROM users WHERE next_briefing_time > now()", 2, absl::Seconds(20)),
      2)
      << "both handled";
  EXPECT_EQ(Text("SELECT b.request_id FROM briefings b JOIN users u ON u.id = b.user_id "
                 "WHERE u.email = 'late@example.com'"),
            late_day)
      << "created late rather than not at all";
  EXPECT_EQ(Number("SELECT count(*) FROM briefings b JOIN users u ON u.id = b.user_id "
                   "WHERE u.email = 'missed@example.com'"),
            0)
      << "past the lateness: nothing for that day";
  EXPECT_GT(Number("SELECT extract(epoch FROM next_briefing_time - now())::int8 FROM users "
                   "WHERE email = 'missed@example.com'"),
            18 * 3600)
      << "moved on to tomorrow's";
  const std::string metrics = testing::HttpGet(testing::MetricsPort(server->output()), "/metrics");
  EXPECT_EQ(testing::MetricValue(metrics, {"firstsip_schedule_missed_total"}), 1) << metrics;
  EXPECT_EQ(testing::MetricValue(metrics, {"firstsip_scheduled_briefings_total"}), 1) << metrics;
  EXPECT_EQ(testing::MetricValue(metrics, {"firstsip_schedule_lag_seconds"}), 0) << metrics;
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->output();
}

// One WatchBriefings call read by a thread of its own.
class Watch {
 public:
  Watch(v1::BriefingService::Stub& stub, int64_t user_id) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    v1::WatchBriefingsRequest request;
    request.set_user_id(user_id);
    reader_ = stub.WatchBriefings(&context_, request);
    reader_->WaitForInitialMetadata();  // subscribed: nothing committed from now on is missed
    thread_ = std::thread([this] {
      v1::WatchBriefingsResponse message;
      while (reader_->Read(&message)) {
        std::lock_guard<std::mutex> lock(mutex_);
        messages_.push_back(message);
        arrived_.notify_all();
      }
      reader_->Finish();
    });
  }
  ~Watch() {
    context_.TryCancel();
    thread_.join();
  }
  std::optional<v1::WatchBriefingsResponse> Next(absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    arrived_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return !messages_.empty(); });
    if (messages_.empty()) return std::nullopt;
    v1::WatchBriefingsResponse next = messages_.front();
    messages_.pop_front();
    return next;
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::WatchBriefingsResponse>> reader_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<v1::WatchBriefingsResponse> messages_;
  std::thread thread_;
};

TEST_F(SchedulerTest, AScheduledBriefingReachesAWatcherAndAWaitingClaimOnAnotherReplica) {
  // Replica A serves the watcher and the worker and schedules nothing itself.
  auto serving = ServerProcess::Start(database_->dsn());
  ASSERT_TRUE(serving.ok()) << serving.status();
  std::unique_ptr<ServerProcess> a = std::move(*serving);
  auto channel = grpc::CreateChannel(a->target(), grpc::InsecureChannelCredentials());
  auto users = v1::UserService::NewStub(channel);
  auto briefings = v1::BriefingService::NewStub(channel);
  grpc::ClientContext create_context;
  create_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::CreateUserRequest create;
  create.mutable_user()->set_email("ada@example.com");
  create.mutable_user()->set_timezone("Asia/Kathmandu");
  v1::User user;
  ASSERT_TRUE(users->CreateUser(&create_context, create, &user).ok());
  ASSERT_TRUE(user.has_next_briefing_time());

  Watch watch(*briefings, user.id());
  v1::ClaimNextBriefingResponse claimed;
  grpc::Status claim_status;
  std::thread worker([&] {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(40)));
    v1::ClaimNextBriefingRequest request;
    request.mutable_wait()->set_seconds(30);
    claim_status = briefings->ClaimNextBriefing(&context, request, &claimed);
  });
  absl::SleepFor(absl::Milliseconds(300));  // the worker is waiting

  // Its time has come (this very minute); replica B (scheduling) starts and creates the
  // briefing.
  Sql(
      absl::StrCat("UPDATE users SET preferred_briefing_time = to_char(date_trunc('minute', "
                   "now()) AT TIME ZONE timezone, 'HH24:MI'), next_briefing_time = "
                   "date_trunc('minute', now()) WHERE id = ",
                   user.id()));
  const std::string day =
      Text(absl::StrCat("SELECT to_char(next_briefing_time AT TIME ZONE timezone, 'YYYY-MM-DD') "
                        "FROM users WHERE id = ",
                        user.id()));
  std::unique_ptr<ServerProcess> b = Scheduling(database_->dsn());
  ASSERT_TRUE(b->WaitForOutput(kServing, absl::Seconds(30))) << b->output();

  std::optional<v1::WatchBriefingsResponse> seen = watch.Next(absl::Seconds(20));
  ASSERT_TRUE(seen.has_value()) << "the watcher saw nothing\n" << b->output();
  EXPECT_EQ(seen->briefing().user_id(), user.id());
  EXPECT_EQ(seen->briefing().status(), v1::BRIEFING_STATUS_PENDING);
  worker.join();
  ASSERT_TRUE(claim_status.ok()) << claim_status.error_message();
  ASSERT_TRUE(claimed.has_briefing()) << "the waiting worker was not woken";
  EXPECT_EQ(claimed.briefing().id(), seen->briefing().id());
  EXPECT_EQ(claimed.briefing().status(), v1::BRIEFING_STATUS_PROCESSING);
  EXPECT_EQ(
      Text(absl::StrCat("SELECT request_id FROM briefings WHERE id = ", seen->briefing().id())),
      day);
  EXPECT_EQ(b->Stop(SIGTERM), 0) << b->output();
  EXPECT_EQ(a->Stop(SIGTERM), 0) << a->output();
}

}  // namespace
}  // namespace firstsip
