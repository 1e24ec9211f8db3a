// Beyond one database server: a primary and a streaming standby on this machine
// (tests/support/replica-cluster.sh). The primary crashed and the standby promoted under load;
// reads served by the standby (--read-database-url) within --read-max-lag, and by the primary
// when the standby lags or stops.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "db/blocking_connection.h"
#include "firstsip/client/client.h"
#include "gtest/gtest.h"
#include "support/metrics_scrape.h"
#include "support/replica_cluster.h"
#include "support/server_process.h"

namespace firstsip {
namespace {

using testing::ReplicaCluster;

TEST(FailoverTest, PromotedStandbyTakesOverWithNoAcknowledgedWriteLostAndNoCallPastItsDeadline) {
  ReplicaCluster cluster(/*synchronous=*/true);
  ASSERT_TRUE(cluster.started());
  auto server = testing::ServerProcess::Start(cluster.FailoverDsn(), {"--health-interval=200ms"});
  ASSERT_TRUE(server.ok()) << server.status();
  client::ClientOptions options;
  options.target = (*server)->target();
  constexpr absl::Duration kDeadline = absl::Seconds(2);
  options.timeout = kDeadline;
  options.max_attempts = 1;  // count every failure as the caller sees it
  auto client = client::Client::Create(options);
  ASSERT_TRUE(client.ok());

  std::mutex mutex;
  std::vector<std::string> acknowledged;
  std::atomic<int> unavailable{0}, other_errors{0}, slow_failures{0}, past_deadline{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop.load(); ++i) {
        v1::User user;
        user.set_email(absl::StrCat("w", w, "-", i, "@example.com"));
        absl::Time start = absl::Now();
        auto created = (*client)->CreateUser(user);
        absl::Duration took = absl::Now() - start;
        if (took > kDeadline + absl::Milliseconds(200)) ++past_deadline;
        if (created.ok()) {
          std::lock_guard<std::mutex> lock(mutex);
          acknowledged.push_back(user.email());
          continue;
        }
        if (took > absl::Seconds(1)) ++slow_failures;
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
  ASSERT_TRUE(cluster.KillPrimary());
  absl::Time killed = absl::Now();
  absl::SleepFor(absl::Milliseconds(600));
  auto health_down = (*client)->Healthy();
  EXPECT_TRUE(health_down.ok() && !*health_down) << "NOT_SERVING while no primary is reachable";
  ASSERT_TRUE(cluster.Promote());
  absl::Time promoted = absl::Now();
  bool serving_again = false;
  for (int i = 0; i < 200 && !serving_again; ++i) {
    auto healthy = (*client)->Healthy();
    serving_again = healthy.ok() && *healthy;
    if (!serving_again) absl::SleepFor(absl::Milliseconds(50));
  }
  absl::Time recovered = absl::Now();
  EXPECT_TRUE(serving_again) << "SERVING again without a restart";
  // Writes succeed again on the new primary.
  size_t acknowledged_at_recovery;
  {
    std::lock_guard<std::mutex> lock(mutex);
    acknowledged_at_recovery = acknowledged.size();
  }
  absl::SleepFor(absl::Milliseconds(700));
  stop.store(true);
  for (auto& writer : writers) writer.join();

  auto connection = db::BlockingConnection::Open(cluster.StandbyDsn());
  ASSERT_TRUE(connection.ok());
  auto stored = (*connection)->Exec("SELECT email FROM users");
  ASSERT_TRUE(stored.ok());
  std::set<std::string> emails;
  for (int row = 0; row < stored->rows(); ++row) emails.insert(std::string(stored->Text(row, 0)));
  int missing = 0;
  for (const std::string& email : acknowledged) missing += emails.count(email) == 0;
  std::fprintf(stderr,
               "failover: %zu acknowledged writes, %d lost, %d UNAVAILABLE; SERVING %.2f s after "
               "the promotion (%.2f s after the crash)\n",
               acknowledged.size(), missing, unavailable.load(),
               absl::ToDoubleSeconds(recovered - promoted),
               absl::ToDoubleSeconds(recovered - killed));
  EXPECT_GT(acknowledged.size(), acknowledged_at_recovery) << "writes succeed after the failover";
  EXPECT_GT(unavailable.load(), 0) << "the outage was seen";
  EXPECT_EQ(other_errors.load(), 0);
  EXPECT_EQ(slow_failures.load(), 0) << "failures come fast, not at the deadline";
  EXPECT_EQ(past_deadline.load(), 0);
  EXPECT_EQ(missing, 0) << "every acknowledged write is on the promoted standby";
  EXPECT_LT(recovered - promoted, absl::Seconds(8));
  // The change feed's LISTEN connection follows the primary too (a standby refuses LISTEN).
  EXPECT_TRUE((*server)->WaitForOutput("change feed listening again", absl::Seconds(10)));
  int code = (*server)->Stop(SIGTERM);
  EXPECT_EQ(code, 0) << (*server)->output();
  if (HasFailure()) std::fprintf(stderr, "server output:\n%s\n", (*server)->output().c_str());
}

// Runs one statement on `dsn` and returns its first value as a number (-1 on failure).
int64_t QueryNumber(const std::string& dsn, const std::string& sql) {
  auto connection = db::BlockingConnection::Open(dsn);
  if (!connection.ok()) return -1;
  auto result = (*connection)->Exec(sql);
  if (!result.ok() || result->rows() != 1) return -1;
  return result->Int64(0, 0).value_or(-1);
}

// Table scans (sequential and index) a server has counted on the service's tables: the reads
// it ran. Each server keeps its own statistics, a standby included.
int64_t ScansOf(const std::string& dsn, const std::string& table) {
  return QueryNumber(dsn,
                     "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) "
                     "FROM pg_stat_user_tables WHERE relname = '" +
                         table + "'");
}

// A primary and a standby, and a server with DATABASE_URL on the primary and
// --read-database-url on the standby.
class ReadReplicaTest : public ::testing::Test {
 protected:
  void StartServer(absl::Duration max_lag) {
    ASSERT_TRUE(cluster_.started());
    auto server = testing::ServerProcess::Start(
        cluster_.PrimaryDsn(), {"--read-database-url=" + cluster_.StandbyDsn(),
                                "--read-max-lag=" + absl::FormatDuration(max_lag),
                                "--health-interval=100ms", "--metrics-listen=127.0.0.1:0"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    metrics_port_ = testing::MetricsPort(server_->output());
    ASSERT_GT(metrics_port_, 0) << server_->output();
    client::ClientOptions options;
    options.target = server_->target();
    options.max_attempts = 1;  // every failure counts as the caller sees it
    auto client = client::Client::Create(options);
    ASSERT_TRUE(client.ok());
    client_ = *std::move(client);
  }

  void TearDown() override {
    if (server_ != nullptr) {
      EXPECT_EQ(server_->Stop(SIGTERM), 0);
      if (HasFailure()) std::fprintf(stderr, "server output:\n%s\n", server_->output().c_str());
    }
  }

  // A user signed in with Google (so with an identity and tokens), written on the primary.
  struct SignedIn {
    v1::User user;
    v1::AuthIdentity identity;
  };
  void SignIn(const std::string& name, SignedIn* out) {
    v1::SignInRequest request;
    request.set_provider("google");
    request.set_provider_user_id("sub-" + name);
    request.set_email(name + "@example.com");
    request.mutable_tokens()->set_access_token(name + "-access");
    auto signed_in = client_->SignIn(request);
    ASSERT_TRUE(signed_in.ok()) << signed_in.status();
    out->user = signed_in->user();
    out->identity = signed_in->identity();
  }

  std::string Replica() const {
    return absl::StrCat("replica=\"127.0.0.1:", cluster_.standby_port(), "\"");
  }
  double Metric(const std::vector<std::string>& parts) const {
    return testing::MetricValue(testing::HttpGet(metrics_port_, "/metrics"), parts);
  }
  double Usable() const { return Metric({"firstsip_db_replica_usable{", Replica()}); }
  double Lag() const { return Metric({"firstsip_db_replica_lag_seconds{", Replica()}); }
  double Reads(const std::string& target) const {
    return Metric({"firstsip_db_reads_total{", "target=\"" + target + "\""});
  }
  // Waits until the metrics say the standby is (or is not) in use.
  bool WaitUsable(bool usable, absl::Duration timeout = absl::Seconds(15)) const {
    for (absl::Time until = absl::Now() + timeout; absl::Now() < until;) {
      if (Usable() == (usable ? 1 : 0)) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }
  // Waits until `number` (e.g. scans on the standby, whose statistics lag a little) is at least
  // `at_least`; returns its last value.
  static int64_t WaitAtLeast(const std::function<int64_t()>& number, int64_t at_least) {
    int64_t value = number();
    for (absl::Time until = absl::Now() + absl::Seconds(20);
         value < at_least && absl::Now() < until;) {
      absl::SleepFor(absl::Milliseconds(200));
      value = number();
    }
    return value;
  }
  ReplicaCluster cluster_{/*synchronous=*/false};
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<client::Client> client_;
  int metrics_port_ = 0;
};

TEST_F(ReadReplicaTest, ReadsRunOnTheStandbyAndWritesOnThePrimary) {
  StartServer(absl::Milliseconds(500));
  ASSERT_TRUE(WaitUsable(true)) << "the standby is measured and put to use";
  SignedIn reader;
  ASSERT_NO_FATAL_FAILURE(SignIn("reader", &reader));
  const v1::User& user = reader.user;
  const v1::AuthIdentity& identity = reader.identity;
  auto briefing = client_->CreateBriefing(user.id());
  ASSERT_TRUE(briefing.ok()) << briefing.status();
  // The standby replays them within moments (asynchronous replication).
  for (int i = 0; i < 100 && !client_->GetBriefing(briefing->id()).ok(); ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }

  std::string standby = cluster_.StandbyDsn();
  std::string primary = cluster_.PrimaryDsn();
  int64_t standby_users = ScansOf(standby, "users");
  int64_t standby_identities = ScansOf(standby, "auth_identities");
  int64_t standby_briefings = ScansOf(standby, "briefings");
  int64_t primary_users = ScansOf(primary, "users");
  int64_t primary_identities = ScansOf(primary, "auth_identities");
  int64_t primary_briefings = ScansOf(primary, "briefings");
  double replica_reads = Reads("replica");
  constexpr int kRounds = 30;
  v1::ListUsersRequest list_users;
  v1::ListBriefingsRequest list_briefings;
  list_briefings.set_user_id(user.id());
  for (int i = 0; i < kRounds; ++i) {
    ASSERT_TRUE(client_->GetUser(user.id()).ok());
    ASSERT_TRUE(client_->GetUserByEmail("reader@example.com").ok());
    ASSERT_TRUE(client_->ListUsers(list_users).ok());
    ASSERT_TRUE(client_->GetIdentity(identity.id()).ok());
    ASSERT_TRUE(client_->ListIdentities(user.id()).ok());
    ASSERT_TRUE(client_->GetBriefing(briefing->id()).ok());
    auto listed = client_->ListBriefings(list_briefings);
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->briefings_size(), 1);
  }
  // The standby's own statistics count the reads (it flushes them within a second or so).
  EXPECT_GE(WaitAtLeast([&] { return ScansOf(standby, "users"); }, standby_users + 4 * kRounds),
            standby_users + 4 * kRounds);
  EXPECT_GE(WaitAtLeast([&] { return ScansOf(standby, "auth_identities"); },
                        standby_identities + 2 * kRounds),
            standby_identities + 2 * kRounds);
  EXPECT_GE(
      WaitAtLeast([&] { return ScansOf(standby, "briefings"); }, standby_briefings + 2 * kRounds),
      standby_briefings + 2 * kRounds);
  // None of them ran on the primary.
  EXPECT_LT(ScansOf(primary, "users") - primary_users, kRounds);
  EXPECT_LT(ScansOf(primary, "auth_identities") - primary_identities, kRounds);
  EXPECT_LT(ScansOf(primary, "briefings") - primary_briefings, kRounds);
  EXPECT_GE(Reads("replica") - replica_reads, 7 * kRounds);

  // An idle primary: replay timestamps stand still, positions do not move, and the standby
  // stays in use at lag zero (for several times --read-max-lag).
  absl::SleepFor(absl::Seconds(3));
  EXPECT_EQ(Usable(), 1);
  EXPECT_LT(Lag(), 0.1) << "lag zero, or a record the standby is replaying this instant";
  double before = Reads("replica");
  ASSERT_TRUE(client_->GetUser(user.id()).ok());
  absl::SleepFor(absl::Milliseconds(300));  // the metrics are published with each probe
  EXPECT_EQ(Reads("replica"), before + 1);
}

TEST_F(ReadReplicaTest, AStandbyBehindMaxLagIsSkippedUntilItCatchesUp) {
  StartServer(absl::Seconds(2));
  ASSERT_TRUE(WaitUsable(true));
  ASSERT_TRUE(cluster_.SetStandbyReplay(false));
  // Writes and the calls that must see them go to the primary at once...
  SignedIn fresh_user;
  ASSERT_NO_FATAL_FAILURE(SignIn("fresh", &fresh_user));
  const v1::User& user = fresh_user.user;
  const v1::AuthIdentity& identity = fresh_user.identity;
  auto tokens = client_->GetTokens(identity.id());
  ASSERT_TRUE(tokens.ok()) << "GetTokens reads the primary: " << tokens.status();
  EXPECT_EQ(tokens->access_token(), "fresh-access");
  auto briefing = client_->CreateBriefing(user.id());
  ASSERT_TRUE(briefing.ok());
  auto claimed = client_->ClaimNextBriefing();
  ASSERT_TRUE(claimed.ok() && claimed->has_value()) << "ClaimNextBriefing runs on the primary";
  EXPECT_EQ((*claimed)->id(), briefing->id());
  // ...while reads within --read-max-lag may still come from the paused standby, which has
  // none of it: stale, as the contract allows.
  EXPECT_EQ(client_->GetUser(user.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->GetIdentity(identity.id()).status().code(), absl::StatusCode::kNotFound);

  // Past --read-max-lag the standby is skipped and the primary answers.
  ASSERT_TRUE(WaitUsable(false)) << "a standby 2 s behind is skipped";
  // The gauge shows the lower bound of the lag; it passes max lag a sampling gap later.
  bool lag_shown = false;
  for (absl::Time until = absl::Now() + absl::Seconds(10); !lag_shown && absl::Now() < until;) {
    lag_shown = Lag() >= 2.0;
    if (!lag_shown) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(lag_shown) << Lag();
  double on_primary = Reads("primary");
  auto fresh = client_->GetUser(user.id());
  EXPECT_TRUE(fresh.ok()) << fresh.status();
  auto fresh_identity = client_->GetIdentity(identity.id());
  EXPECT_TRUE(fresh_identity.ok()) << fresh_identity.status();
  absl::SleepFor(absl::Milliseconds(1000));
  EXPECT_GE(Reads("primary"), on_primary + 2);

  // Caught up again, it is used again.
  ASSERT_TRUE(cluster_.SetStandbyReplay(true));
  ASSERT_TRUE(WaitUsable(true));
  EXPECT_LT(Lag(), 2.0);
  double on_replica = Reads("replica");
  EXPECT_TRUE(client_->GetUser(user.id()).ok());
  absl::SleepFor(absl::Milliseconds(1000));
  EXPECT_EQ(Reads("replica"), on_replica + 1);
}

TEST_F(ReadReplicaTest, WhenTheStandbyStopsReadsAnswerFromThePrimaryWithoutAFailure) {
  StartServer(absl::Seconds(1));
  ASSERT_TRUE(WaitUsable(true));
  v1::User user;
  user.set_email("steady@example.com");
  auto created = client_->CreateUser(user);
  ASSERT_TRUE(created.ok());
  for (int i = 0; i < 100 && !client_->GetUser(created->id()).ok(); ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0}, failed{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      v1::ListUsersRequest list;
      while (!stop.load()) {
        auto got = client_->GetUser(created->id());
        auto listed = client_->ListUsers(list);
        if (got.ok() && listed.ok()) {
          ++answered;
        } else {
          ++failed;
          std::fprintf(stderr, "read failed: %s / %s\n", got.status().ToString().c_str(),
                       listed.status().ToString().c_str());
        }
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(500));
  double replica_reads = Reads("replica");
  int answered_before = answered.load();
  ASSERT_TRUE(cluster_.StopStandby());
  absl::SleepFor(absl::Milliseconds(1500));
  stop.store(true);
  for (auto& reader : readers) reader.join();
  std::fprintf(stderr, "standby stopped: %d reads answered (%d before the stop), %d failed\n",
               answered.load(), answered_before, failed.load());
  EXPECT_GT(replica_reads, 0) << "reads went to the standby before it stopped";
  EXPECT_GT(answered.load(), answered_before) << "reads go on";
  EXPECT_EQ(failed.load(), 0) << "no caller sees the standby go";
  EXPECT_TRUE(WaitUsable(false));
  EXPECT_TRUE(std::isnan(Lag())) << "no lag can be measured on a stopped standby";
  double on_primary = Reads("primary");
  EXPECT_TRUE(client_->GetUser(created->id()).ok());
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_GE(Reads("primary"), on_primary + 1);
  EXPECT_TRUE(server_->WaitForOutput("skipped: unreachable", absl::Seconds(5)));
}

}  // namespace
}  // namespace firstsip
