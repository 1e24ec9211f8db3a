// The client library's push calls against the real server: BriefingWatch delivers every change
// after a listing's token, resumes by itself across a server restart on the same port (changes
// made while it was away arrive, none twice), and ends on errors it must not resume from; and
// ClaimNextBriefing with a wait.
#include <signal.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "firstsip/client/client.h"
#include "gtest/gtest.h"
#include "support/running_server.h"

namespace firstsip {
namespace {

// Calls Next() on a thread of its own until the watch ends, keeping what it returned.
class Collector {
 public:
  explicit Collector(client::BriefingWatch& watch) : watch_(watch) {
    thread_ = std::thread([this] {
      while (true) {
        absl::StatusOr<v1::WatchBriefingsResponse> change = watch_.Next();
        std::lock_guard<std::mutex> lock(mutex_);
        if (!change.ok()) {
          ended_ = change.status();
          changed_.notify_all();
          return;
        }
        changes_.push_back(*std::move(change));
        changed_.notify_all();
      }
    });
  }
  ~Collector() {
    watch_.Cancel();
    thread_.join();
  }

  // The changes so far, once there are at least `count` (or the watch ended, or 20 s passed).
  std::vector<v1::WatchBriefingsResponse> WaitFor(size_t count) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(20),
                      [&] { return changes_.size() >= count || !ended_.ok(); });
    return changes_;
  }
  // The error the watch ended with (OK if it has not within `timeout`).
  absl::Status Ended(absl::Duration timeout = absl::Seconds(10)) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return !ended_.ok(); });
    return ended_;
  }

 private:
  client::BriefingWatch& watch_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<v1::WatchBriefingsResponse> changes_;
  absl::Status ended_;
  std::thread thread_;
};

// "id:STATUS[:read]" for comparing sequences of changes.
std::vector<std::string> Describe(const std::vector<v1::WatchBriefingsResponse>& changes) {
  std::vector<std::string> texts;
  for (const auto& change : changes) {
    const v1::Briefing& b = change.briefing();
    texts.push_back(absl::StrCat(b.id(), ":", v1::BriefingStatus_Name(b.status()),
                                 b.has_read_at() ? ":read" : ""));
  }
  return texts;
}

std::string Is(int64_t id, const char* status) {
  return absl::StrCat(id, ":BRIEFING_STATUS_", status);
}

class ClientWatchTest : public testing::RunningServerTest {
 protected:
  void SetUp() override {
    RunningServerTest::SetUp();
    if (HasFatalFailure()) return;
    client_ = Connect(server_->target());
  }

  static std::unique_ptr<client::Client> Connect(const std::string& target,
                                                 absl::Duration timeout = absl::Seconds(5)) {
    client::ClientOptions options;
    options.target = target;
    options.timeout = timeout;
    auto made = client::Client::Create(options);
    EXPECT_TRUE(made.ok()) << made.status();
    return made.ok() ? std::move(*made) : nullptr;
  }
  int64_t MakeUser(const std::string& email) {
    v1::User user;
    user.set_email(email);
    auto created = client_->CreateUser(user);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->id() : 0;
  }
  std::string ListToken(int64_t user_id) {
    v1::ListBriefingsRequest request;
    request.set_user_id(user_id);
    auto page = client_->ListBriefings(request);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->resume_token() : "";
  }

  // Resumes that happen quickly, each recorded.
  client::WatchOptions Recorded() {
    client::WatchOptions options;
    options.backoff.initial = absl::Milliseconds(50);
    options.backoff.max = absl::Milliseconds(500);
    options.on_resume = [this](const absl::Status& ended, absl::Duration) {
      std::lock_guard<std::mutex> lock(mutex_);
      resumed_after_.push_back(ended);
    };
    return options;
  }
  std::vector<absl::Status> resumed_after() {
    std::lock_guard<std::mutex> lock(mutex_);
    return resumed_after_;
  }

  std::unique_ptr<client::Client> client_;
  std::mutex mutex_;
  std::vector<absl::Status> resumed_after_;
};

TEST_F(ClientWatchTest, TheWatchDeliversChangesAndResumesByItselfAcrossAServerRestart) {
  const int64_t ada = MakeUser("ada@example.com");
  auto first = client_->CreateBriefing(ada);
  ASSERT_TRUE(first.ok()) << first.status();
  // List-then-watch: the listing's token.
  auto watch = client_->WatchBriefings(ada, ListToken(ada), Recorded());
  Collector collector(*watch);
  ASSERT_TRUE(client_->StartBriefing(first->id()).ok());
  ASSERT_EQ(collector.WaitFor(1).size(), 1u);

  const int port = server_->port();
  ASSERT_EQ(server_->Stop(SIGTERM), 0);
  for (int i = 0; i < 200 && resumed_after().empty(); ++i) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_FALSE(resumed_after().empty()) << "the stream's end was noticed";
  EXPECT_EQ(resumed_after()[0].code(), absl::StatusCode::kUnavailable) << resumed_after()[0];

  // Changes while the watch is away, through another server on the same database.
  {
    auto other = testing::ServerProcess::Start(database_->dsn());
    ASSERT_TRUE(other.ok()) << other.status();
    auto other_client = Connect((*other)->target());
    ASSERT_TRUE(other_client->CompleteBriefing(first->id(), google::protobuf::Struct()).ok());
    ASSERT_TRUE(other_client->CreateBriefing(ada).ok());
    EXPECT_EQ((*other)->Stop(SIGTERM), 0);
  }
  // A new server where the old one was: the watch finds it by itself.
  auto next =
      testing::ServerProcess::Start(database_->dsn(), {absl::StrCat("--listen=127.0.0.1:", port)});
  ASSERT_TRUE(next.ok()) << next.status();
  server_ = std::move(*next);
  ASSERT_EQ(server_->port(), port);
  std::vector<v1::WatchBriefingsResponse> got = collector.WaitFor(3);
  ASSERT_EQ(got.size(), 3u) << "resumes so far: " << resumed_after().size();
  const int64_t second = got[2].briefing().id();
  // And it is live again.
  ASSERT_TRUE(client_->MarkBriefingRead(first->id()).ok());
  got = collector.WaitFor(4);
  EXPECT_EQ(Describe(got), (std::vector<std::string>{
                               Is(first->id(), "PROCESSING"), Is(first->id(), "COMPLETED"),
                               Is(second, "PENDING"), Is(first->id(), "COMPLETED") + ":read"}));
  std::set<std::string> tokens;
  for (const auto& change : got) tokens.insert(change.resume_token());
  EXPECT_EQ(tokens.size(), got.size()) << "no change twice";
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(watch->resume_token(), got.back().resume_token());
  for (const absl::Status& status : resumed_after()) {
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  }
  EXPECT_TRUE(collector.Ended(absl::Milliseconds(200)).ok()) << "still watching";
  watch->Cancel();
  EXPECT_EQ(collector.Ended().code(), absl::StatusCode::kCancelled);
}

TEST_F(ClientWatchTest, AWatchFromAnEmptyTokenSeesChangesAfterItIsLive) {
  const int64_t ada = MakeUser("ada@example.com");
  std::mutex mutex;
  std::condition_variable became_live;
  bool live = false;
  client::WatchOptions options;
  options.on_live = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    live = true;
    became_live.notify_all();
  };
  auto watch = client_->WatchBriefings(ada, "", options);
  Collector collector(*watch);
  {
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(became_live.wait_for(lock, std::chrono::seconds(10), [&] { return live; }));
  }
  auto created = client_->CreateBriefing(ada);
  ASSERT_TRUE(created.ok());
  std::vector<v1::WatchBriefingsResponse> got = collector.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].briefing().id(), created->id());
}

TEST_F(ClientWatchTest, ErrorsItMustNotResumeFromEndTheWatch) {
  const int64_t ada = MakeUser("ada@example.com");
  const int64_t bob = MakeUser("bob@example.com");
  const std::string adas_token = ListToken(ada);
  struct Case {
    const char* name;
    int64_t user_id;
    std::string token;
    absl::StatusCode code;
  };
  for (const Case& c :
       {Case{"unknown user", 987654, "", absl::StatusCode::kNotFound},
        Case{"garbage token", ada, "not-a-token", absl::StatusCode::kInvalidArgument},
        Case{"another user's token", bob, adas_token, absl::StatusCode::kInvalidArgument},
        Case{"no user", 0, "", absl::StatusCode::kInvalidArgument}}) {
    SCOPED_TRACE(c.name);
    auto watch = client_->WatchBriefings(c.user_id, c.token, Recorded());
    const absl::Time start = absl::Now();
    absl::Status ended = watch->Next().status();
    EXPECT_EQ(ended.code(), c.code) << ended;
    EXPECT_LT(absl::Now() - start, absl::Seconds(3));
    EXPECT_EQ(watch->Next().status(), ended) << "the watch stays ended";
    EXPECT_EQ(watch->resume_token(), c.token);
  }
  EXPECT_TRUE(resumed_after().empty());
}

TEST_F(ClientWatchTest, AWaitingClaimTakesABriefingCreatedDuringTheWait) {
  const int64_t ada = MakeUser("ada@example.com");
  absl::StatusOr<std::optional<v1::Briefing>> claimed;
  absl::Time answered;
  std::thread worker([&] {
    claimed = client_->ClaimNextBriefing(absl::Minutes(1), absl::Seconds(20));
    answered = absl::Now();
  });
  absl::SleepFor(absl::Milliseconds(400));
  const absl::Time created_at = absl::Now();
  auto created = client_->CreateBriefing(ada);
  ASSERT_TRUE(created.ok());
  worker.join();
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_TRUE(claimed->has_value());
  EXPECT_EQ((*claimed)->id(), created->id());
  EXPECT_LT(answered - created_at, absl::Seconds(2));
}

TEST_F(ClientWatchTest, AWaitLongerThanTheTimeoutStillRunsToItsEnd) {
  // The deadline is the wait plus the timeout: a 1 s timeout does not cut a 2 s wait short.
  auto hurried = Connect(server_->target(), absl::Seconds(1));
  const absl::Time start = absl::Now();
  auto claimed = hurried->ClaimNextBriefing(std::nullopt, absl::Seconds(2));
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_FALSE(claimed->has_value());
  EXPECT_GE(took, absl::Milliseconds(1900));
  EXPECT_LT(took, absl::Seconds(3));
  EXPECT_EQ(hurried->ClaimNextBriefing(std::nullopt, absl::Minutes(6)).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "more than 5 minutes";
}

}  // namespace
}  // namespace firstsip
