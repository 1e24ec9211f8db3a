// Beyond one database server: a primary and a streaming standby on this machine
// (tests/support/replica-cluster.sh), the primary crashed and the standby promoted under load.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
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
#include "support/server_process.h"

namespace firstsip {
namespace {

std::string Script() {
  return std::string(FIRSTSIP_SOURCE_DIR) + "/tests/support/replica-cluster.sh";
}

// A primary and a standby of their own, on ports derived from the test's pid.
class ReplicaCluster {
 public:
  explicit ReplicaCluster(bool synchronous)
      : dir_("/tmp/firstsip-replicas-" + std::to_string(getpid())),
        primary_port_(20000 + (getpid() % 5000) * 2),
        standby_port_(primary_port_ + 1) {
    std::system(("rm -rf " + dir_).c_str());
    started_ = Run(absl::StrCat("start ", dir_, " ", primary_port_, " ", standby_port_,
                                synchronous ? " sync" : ""));
  }
  ~ReplicaCluster() {
    Run("stop " + dir_);
    std::system(("rm -rf " + dir_).c_str());
  }

  bool started() const { return started_; }
  bool Run(const std::string& args) { return std::system((Script() + " " + args).c_str()) == 0; }
  bool KillPrimary() { return Run("kill-primary " + dir_); }
  bool Promote() { return Run("promote " + dir_); }
  bool StopStandby() { return Run("stop-standby " + dir_); }

  std::string PrimaryDsn() const { return Dsn(primary_port_); }
  std::string StandbyDsn() const { return Dsn(standby_port_); }
  // Both hosts; libpq keeps to the one that accepts writes.
  std::string FailoverDsn() const {
    return absl::StrCat("host=127.0.0.1,127.0.0.1 port=", primary_port_, ",", standby_port_,
                        " user=postgres dbname=postgres target_session_attrs=read-write");
  }

 private:
  static std::string Dsn(int port) {
    return absl::StrCat("host=127.0.0.1 port=", port, " user=postgres dbname=postgres");
  }

  std::string dir_;
  int primary_port_;
  int standby_port_;
  bool started_ = false;
};

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

}  // namespace
}  // namespace firstsip
