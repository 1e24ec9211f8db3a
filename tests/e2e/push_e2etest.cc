// Push through the real server and PostgreSQL: WatchBriefings streams (every kind of change, in
// order, only to its user; resume after a cancel, a server restart and a database restart;
// list-then-watch; bad tokens; slow readers; many watchers) and waiting claims.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "db/blocking_connection.h"
#include "firstsip/v1/briefing.grpc.pb.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "support/metrics_scrape.h"
#include "support/running_server.h"

namespace firstsip {
namespace {

using grpc::StatusCode;

// One WatchBriefings call, read by a thread of its own into a queue the test takes from.
class Watch {
 public:
  // Opens the stream and waits for its headers: the subscription is live when this returns.
  // `read` false: nothing is read until Resume() (a stalled reader).
  Watch(v1::BriefingService::Stub& stub, int64_t user_id, const std::string& resume_token = "",
        bool read = true, absl::Duration timeout = absl::Seconds(60))
      : reading_(read) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    v1::WatchBriefingsRequest request;
    request.set_user_id(user_id);
    request.set_resume_token(resume_token);
    reader_ = stub.WatchBriefings(&context_, request);
    reader_->WaitForInitialMetadata();
    thread_ = std::thread([this] { Read(); });
  }
  ~Watch() {
    context_.TryCancel();
    Resume();
    thread_.join();
  }

  // The next message within `timeout`, or nullopt (none came, or the stream ended).
  std::optional<v1::WatchBriefingsResponse> Next(absl::Duration timeout = absl::Seconds(10)) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                      [&] { return !messages_.empty() || ended_; });
    if (messages_.empty()) return std::nullopt;
    v1::WatchBriefingsResponse next = std::move(messages_.front());
    messages_.pop_front();
    return next;
  }
  // Every message that arrives within `quiet` of the previous one.
  std::vector<v1::WatchBriefingsResponse> Drain(absl::Duration quiet = absl::Milliseconds(700)) {
    std::vector<v1::WatchBriefingsResponse> all;
    while (auto next = Next(quiet)) all.push_back(std::move(*next));
    return all;
  }
  // The stream's status, once it ended (waits up to `timeout`).
  std::optional<grpc::Status> Ended(absl::Duration timeout = absl::Seconds(10)) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return ended_; });
    if (!ended_) return std::nullopt;
    return status_;
  }
  void Cancel() { context_.TryCancel(); }
  void Resume() {
    std::lock_guard<std::mutex> lock(mutex_);
    reading_ = true;
    changed_.notify_all();
  }

 private:
  void Read() {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return reading_; });
    }
    v1::WatchBriefingsResponse message;
    while (reader_->Read(&message)) {
      std::lock_guard<std::mutex> lock(mutex_);
      messages_.push_back(message);
      changed_.notify_all();
    }
    grpc::Status status = reader_->Finish();
    std::lock_guard<std::mutex> lock(mutex_);
    status_ = status;
    ended_ = true;
    changed_.notify_all();
  }

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::WatchBriefingsResponse>> reader_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool reading_;
  std::deque<v1::WatchBriefingsResponse> messages_;
  bool ended_ = false;
  grpc::Status status_;
};

// "id:STATUS[:read][:deleted]" for comparing sequences of events.
std::string Describe(const v1::Briefing& briefing) {
  std::string text = absl::StrCat(briefing.id(), ":", v1::BriefingStatus_Name(briefing.status()));
  if (briefing.has_read_at()) absl::StrAppend(&text, ":read");
  if (briefing.has_delete_time()) absl::StrAppend(&text, ":deleted");
  return text;
}

std::vector<std::string> Describe(const std::vector<v1::WatchBriefingsResponse>& messages) {
  std::vector<std::string> texts;
  for (const auto& message : messages) texts.push_back(Describe(message.briefing()));
  return texts;
}

google::protobuf::Struct Content(size_t bytes) {
  google::protobuf::Struct content;
  (*content.mutable_fields())["news"].set_string_value(std::string(bytes, 'n'));
  return content;
}

class PushTest : public testing::RunningServerTest {
 protected:
  void SetUp() override {
    RunningServerTest::SetUp();
    if (HasFatalFailure()) return;
    Connect();
  }
  void Connect() {
    briefings_ = v1::BriefingService::NewStub(channel_);
    users_ = v1::UserService::NewStub(channel_);
  }

  int64_t MakeUser(const std::string& email) {
    v1::CreateUserRequest request;
    request.mutable_user()->set_email(email);
    v1::User user;
    grpc::Status status = users_->CreateUser(Context().get(), request, &user);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return user.id();
  }
  v1::Briefing Create(int64_t user_id, const std::string& request_id = "") {
    v1::CreateBriefingRequest request;
    request.set_user_id(user_id);
    request.set_request_id(request_id);
    v1::Briefing briefing;
    grpc::Status status = briefings_->CreateBriefing(Context().get(), request, &briefing);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return briefing;
  }
  v1::Briefing Start(int64_t id) {
    v1::StartBriefingRequest request;
    request.set_id(id);
    v1::Briefing briefing;
    grpc::Status status = briefings_->StartBriefing(Context().get(), request, &briefing);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return briefing;
  }
  v1::Briefing Complete(int64_t id, size_t content_bytes = 10) {
    v1::CompleteBriefingRequest request;
    request.set_id(id);
    *request.mutable_content() = Content(content_bytes);
    v1::Briefing briefing;
    grpc::Status status = briefings_->CompleteBriefing(Context().get(), request, &briefing);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return briefing;
  }
  v1::Briefing Fail(int64_t id) {
    v1::FailBriefingRequest request;
    request.set_id(id);
    request.set_error_message("no weather today");
    v1::Briefing briefing;
    grpc::Status status = briefings_->FailBriefing(Context().get(), request, &briefing);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return briefing;
  }
  v1::Briefing MarkRead(int64_t id) {
    v1::MarkBriefingReadRequest request;
    request.set_id(id);
    v1::Briefing briefing;
    grpc::Status status = briefings_->MarkBriefingRead(Context().get(), request, &briefing);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return briefing;
  }
  void Delete(int64_t id) {
    v1::DeleteBriefingRequest request;
    request.set_id(id);
    google::protobuf::Empty empty;
    grpc::Status status = briefings_->DeleteBriefing(Context().get(), request, &empty);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  // ClaimNextBriefing with `wait` and `lease` (zero: unset), under a deadline of `deadline`.
  grpc::Status Claim(v1::ClaimNextBriefingResponse* response, absl::Duration wait,
                     absl::Duration deadline = absl::Seconds(10),
                     absl::Duration lease = absl::ZeroDuration()) {
    v1::ClaimNextBriefingRequest request;
    if (wait > absl::ZeroDuration()) {
      request.mutable_wait()->set_seconds(absl::ToInt64Seconds(wait));
      request.mutable_wait()->set_nanos(
          static_cast<int32_t>(absl::ToInt64Nanoseconds(wait % absl::Seconds(1))));
    }
    if (lease > absl::ZeroDuration()) {
      request.mutable_lease()->set_seconds(absl::ToInt64Seconds(lease));
      request.mutable_lease()->set_nanos(
          static_cast<int32_t>(absl::ToInt64Nanoseconds(lease % absl::Seconds(1))));
    }
    return briefings_->ClaimNextBriefing(Context(deadline).get(), request, response);
  }
  v1::ListBriefingsResponse List(int64_t user_id) {
    v1::ListBriefingsRequest request;
    request.set_user_id(user_id);
    v1::ListBriefingsResponse page;
    grpc::Status status = briefings_->ListBriefings(Context().get(), request, &page);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return page;
  }
  grpc::Status WatchError(int64_t user_id, const std::string& token) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::WatchBriefingsRequest request;
    request.set_user_id(user_id);
    request.set_resume_token(token);
    auto reader = briefings_->WatchBriefings(&context, request);
    v1::WatchBriefingsResponse ignored;
    while (reader->Read(&ignored)) {
    }
    return reader->Finish();
  }

  std::unique_ptr<v1::BriefingService::Stub> briefings_;
  std::unique_ptr<v1::UserService::Stub> users_;
};

TEST_F(PushTest, EveryKindOfChangeArrivesInCommitOrderOnlyToItsUser) {
  const int64_t ada = MakeUser("ada@example.com");
  const int64_t bob = MakeUser("bob@example.com");
  Watch ada_watch(*briefings_, ada);
  Watch bob_watch(*briefings_, bob);

  v1::Briefing first = Create(ada, "morning-1");
  Create(ada, "morning-1");  // answered from its request_id: no change, nothing sent
  Start(first.id());
  Complete(first.id());
  MarkRead(first.id());
  MarkRead(first.id());  // already read: no change, nothing sent
  v1::Briefing second = Create(ada);
  v1::ClaimNextBriefingResponse claimed;
  ASSERT_TRUE(Claim(&claimed, absl::ZeroDuration()).ok());
  ASSERT_EQ(claimed.briefing().id(), second.id());
  Fail(second.id());
  Delete(first.id());
  v1::Briefing bobs = Create(bob);

  const std::string f = absl::StrCat(first.id()), s = absl::StrCat(second.id());
  std::vector<v1::WatchBriefingsResponse> got = ada_watch.Drain();
  EXPECT_EQ(Describe(got),
            (std::vector<std::string>{
                f + ":BRIEFING_STATUS_PENDING", f + ":BRIEFING_STATUS_PROCESSING",
                f + ":BRIEFING_STATUS_COMPLETED", f + ":BRIEFING_STATUS_COMPLETED:read",
                s + ":BRIEFING_STATUS_PENDING", s + ":BRIEFING_STATUS_PROCESSING",
                s + ":BRIEFING_STATUS_FAILED", f + ":BRIEFING_STATUS_COMPLETED:read:deleted"}));
  std::set<std::string> tokens;
  for (const auto& message : got) {
    EXPECT_EQ(message.briefing().user_id(), ada);
    EXPECT_FALSE(message.resume_token().empty());
    tokens.insert(message.resume_token());
  }
  EXPECT_EQ(tokens.size(), got.size()) << "each change has a token of its own";
  ASSERT_GE(got.size(), 3u);
  EXPECT_TRUE(got[2].briefing().has_content()) << "the briefing as it stands after the change";

  std::vector<v1::WatchBriefingsResponse> bob_got = bob_watch.Drain(absl::Milliseconds(200));
  ASSERT_EQ(bob_got.size(), 1u) << "only the user's own changes";
  EXPECT_EQ(bob_got[0].briefing().id(), bobs.id());
}

TEST_F(PushTest, AChangeReachesAnIdleServersWatcherWellWithinASecond) {
  const int64_t ada = MakeUser("ada@example.com");
  Watch watch(*briefings_, ada);
  absl::Time before = absl::Now();
  Create(ada);
  ASSERT_TRUE(watch.Next(absl::Seconds(2)).has_value());
  absl::Duration delay = absl::Now() - before;
  std::printf("create to watcher: %s\n", absl::FormatDuration(delay).c_str());
  EXPECT_LT(delay, absl::Seconds(1));
}

TEST_F(PushTest, ResumingAfterACancelledStreamDeliversWhatWasMissed) {
  const int64_t ada = MakeUser("ada@example.com");
  std::string token;
  v1::Briefing first = Create(ada);
  {
    Watch watch(*briefings_, ada);
    Start(first.id());
    auto message = watch.Next();
    ASSERT_TRUE(message.has_value());
    token = message->resume_token();
    watch.Cancel();
    ASSERT_TRUE(watch.Ended().has_value());
  }
  Complete(first.id());
  v1::Briefing second = Create(ada);
  Watch resumed(*briefings_, ada, token);
  EXPECT_EQ(Describe(resumed.Drain()),
            (std::vector<std::string>{absl::StrCat(first.id(), ":BRIEFING_STATUS_COMPLETED"),
                                      absl::StrCat(second.id(), ":BRIEFING_STATUS_PENDING")}));
  // And it goes on live after the replay, without repeating it.
  Start(second.id());
  EXPECT_EQ(Describe(resumed.Drain()),
            (std::vector<std::string>{absl::StrCat(second.id(), ":BRIEFING_STATUS_PROCESSING")}));
}

TEST_F(PushTest, ListThenWatchMissesNothing) {
  const int64_t ada = MakeUser("ada@example.com");
  v1::Briefing listed = Create(ada);
  v1::ListBriefingsResponse page = List(ada);
  ASSERT_EQ(page.briefings_size(), 1);
  ASSERT_FALSE(page.resume_token().empty());
  // Changes between the listing and the watch: the listing's token covers them.
  Start(listed.id());
  v1::Briefing later = Create(ada);
  Watch watch(*briefings_, ada, page.resume_token());
  EXPECT_EQ(Describe(watch.Drain()),
            (std::vector<std::string>{absl::StrCat(listed.id(), ":BRIEFING_STATUS_PROCESSING"),
                                      absl::StrCat(later.id(), ":BRIEFING_STATUS_PENDING")}));
  // A filtered listing carries a token too.
  v1::ListBriefingsRequest filtered;
  filtered.set_user_id(ada);
  filtered.set_status(v1::BRIEFING_STATUS_COMPLETED);
  v1::ListBriefingsResponse empty_page;
  ASSERT_TRUE(briefings_->ListBriefings(Context().get(), filtered, &empty_page).ok());
  EXPECT_EQ(empty_page.briefings_size(), 0);
  EXPECT_FALSE(empty_page.resume_token().empty());
}

TEST_F(PushTest, BadRequestsAreRefusedWithTheRightCode) {
  const int64_t ada = MakeUser("ada@example.com");
  const int64_t bob = MakeUser("bob@example.com");
  Create(ada);
  const std::string adas_token = List(ada).resume_token();

  grpc::Status garbage = WatchError(ada, "not-a-token");
  EXPECT_EQ(garbage.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(garbage.error_message(), "resume_token"))
      << garbage.error_message();
  EXPECT_EQ(WatchError(bob, adas_token).error_code(), StatusCode::INVALID_ARGUMENT)
      << "a token is bound to its user";
  v1::ListBriefingsRequest paged;
  paged.set_user_id(ada);
  paged.set_page_size(1);
  Create(ada);
  v1::ListBriefingsResponse first_page;
  ASSERT_TRUE(briefings_->ListBriefings(Context().get(), paged, &first_page).ok());
  ASSERT_FALSE(first_page.next_page_token().empty());
  EXPECT_EQ(WatchError(ada, first_page.next_page_token()).error_code(),
            StatusCode::INVALID_ARGUMENT)
      << "a page token is no resume token";
  EXPECT_EQ(WatchError(0, "").error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(WatchError(-3, "").error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(WatchError(987654, "").error_code(), StatusCode::NOT_FOUND);

  v1::DeleteUserRequest remove;
  remove.set_id(bob);
  v1::User deleted;
  ASSERT_TRUE(users_->DeleteUser(Context().get(), remove, &deleted).ok());
  EXPECT_EQ(WatchError(bob, "").error_code(), StatusCode::NOT_FOUND);

  // A genuine token the database cannot honour: the feed went back (a restore from backup).
  auto connection = db::BlockingConnection::Open(database_->dsn());
  ASSERT_TRUE(connection.ok());
  ASSERT_TRUE((*connection)
                  ->ExecScript(absl::StrCat("UPDATE users SET change_seq = 0 WHERE id = ", ada))
                  .ok());
  EXPECT_EQ(WatchError(ada, adas_token).error_code(), StatusCode::OUT_OF_RANGE);
}

TEST_F(PushTest, WaitAboveFiveMinutesIsRefused) {
  v1::ClaimNextBriefingResponse response;
  EXPECT_EQ(Claim(&response, absl::Minutes(5) + absl::Seconds(1)).error_code(),
            StatusCode::INVALID_ARGUMENT);
  v1::ClaimNextBriefingRequest negative;
  negative.mutable_wait()->set_seconds(-1);
  EXPECT_EQ(briefings_->ClaimNextBriefing(Context().get(), negative, &response).error_code(),
            StatusCode::INVALID_ARGUMENT);
}

// Resident memory of a process, in KiB.
int64_t RssKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (!absl::StartsWith(line, "VmRSS:")) continue;
    int64_t kib = 0;
    std::string digits;
    for (char c : line) {
      if (c >= '0' && c <= '9') digits += c;
    }
    (void)absl::SimpleAtoi(digits, &kib);
    return kib;
  }
  return -1;
}

TEST_F(PushTest, ASlowReaderEndsWithResourceExhaustedAndMemoryStaysBounded) {
  // 60 briefings completed with 512 KiB of content, read and deleted: 180 changes that carry
  // the content, 90 MiB of messages for a watcher, from 30 MiB of requests.
  auto busy_morning = [&](int64_t user) {
    std::vector<int64_t> ids;
    for (int i = 0; i < 60; ++i) ids.push_back(Create(user).id());
    for (int64_t id : ids) Start(id);
    return ids;
  };
  auto finish_morning = [&](const std::vector<int64_t>& ids) {
    for (int64_t id : ids) Complete(id, 512 * 1024);
    for (int64_t id : ids) MarkRead(id);
    for (int64_t id : ids) Delete(id);
  };
  // First without a watcher: the memory that serving the requests takes (and the allocator
  // keeps for reuse) is then in place.
  const int64_t rss_start = RssKib(server_->pid());
  finish_morning(busy_morning(MakeUser("nobody-watches@example.com")));
  const int64_t rss_before = RssKib(server_->pid());

  const int64_t ada = MakeUser("ada@example.com");
  std::vector<int64_t> ids = busy_morning(ada);
  Watch stalled(*briefings_, ada, "", /*read=*/false);
  finish_morning(ids);
  const int64_t rss_after = RssKib(server_->pid());
  std::printf(
      "server RSS: %lld KiB at start, %lld KiB after a morning nobody watched, %lld KiB "
      "after one a stalled reader watched\n",
      static_cast<long long>(rss_start), static_cast<long long>(rss_before),
      static_cast<long long>(rss_after));
#ifndef __SANITIZE_ADDRESS__  // AddressSanitizer's allocator keeps freed memory on purpose
  EXPECT_LT(rss_after - rss_before, 32 * 1024) << "memory stays bounded (90 MiB were due)";
#endif

  stalled.Resume();
  std::vector<v1::WatchBriefingsResponse> got = stalled.Drain();
  std::optional<grpc::Status> ended = stalled.Ended();
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->error_code(), StatusCode::RESOURCE_EXHAUSTED) << ended->error_message();
  EXPECT_LT(got.size(), 3 * ids.size());

  // Resuming from the last message read delivers the rest, paced by the reader.
  ASSERT_FALSE(got.empty()) << "the reader got what fitted before it fell behind";
  const std::string token = got.back().resume_token();
  Watch resumed(*briefings_, ada, token);
  std::vector<v1::WatchBriefingsResponse> rest = resumed.Drain(absl::Seconds(2));
  std::set<std::string> changes;
  for (const auto& message : got) changes.insert(Describe(message.briefing()));
  for (const auto& message : rest) changes.insert(Describe(message.briefing()));
  EXPECT_EQ(changes.size(), 3 * ids.size()) << "every change, across the two streams";
  EXPECT_FALSE(resumed.Ended(absl::Milliseconds(100)).has_value()) << "the resumed stream lives";
}

TEST_F(PushTest, TwoHundredWatchersOnTwentyUsersEachGetOnlyTheirOwn) {
  constexpr int kUsers = 20, kWatchersPerUser = 10, kBriefingsPerUser = 3;
  std::vector<int64_t> users;
  for (int u = 0; u < kUsers; ++u) users.push_back(MakeUser(absl::StrCat("u", u, "@example.com")));
  std::vector<std::unique_ptr<Watch>> watches;
  for (int64_t user : users) {
    for (int w = 0; w < kWatchersPerUser; ++w) {
      watches.push_back(std::make_unique<Watch>(*briefings_, user));
    }
  }
  std::map<int64_t, std::set<int64_t>> created;
  for (int round = 0; round < kBriefingsPerUser; ++round) {
    for (int64_t user : users) created[user].insert(Create(user).id());
  }
  for (size_t i = 0; i < watches.size(); ++i) {
    const int64_t user = users[i / kWatchersPerUser];
    std::set<int64_t> seen;
    for (int k = 0; k < kBriefingsPerUser; ++k) {
      auto message = watches[i]->Next();
      ASSERT_TRUE(message.has_value()) << "watcher " << i;
      EXPECT_EQ(message->briefing().user_id(), user);
      seen.insert(message->briefing().id());
    }
    EXPECT_EQ(seen, created[user]) << "watcher " << i;
    EXPECT_FALSE(watches[i]->Next(absl::Milliseconds(10)).has_value()) << "nothing else";
  }
}

TEST_F(PushTest, CancellingAStreamFreesItsSubscription) {
  server_->Stop(SIGTERM);
  auto server = testing::ServerProcess::Start(database_->dsn(), {"--metrics-listen=127.0.0.1:0"});
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = std::move(*server);
  channel_ = grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials());
  Connect();
  const int port = testing::MetricsPort(server_->output());
  ASSERT_GT(port, 0);
  const int64_t ada = MakeUser("ada@example.com");
  auto open_streams = [&] {
    return testing::MetricValue(testing::HttpGet(port, "/metrics"), {"firstsip_watch_streams "});
  };
  {
    Watch first(*briefings_, ada);
    Watch second(*briefings_, ada, "", true, absl::Milliseconds(600));
    EXPECT_EQ(open_streams(), 2);
    first.Cancel();
    ASSERT_TRUE(first.Ended().has_value());
    std::optional<grpc::Status> expired = second.Ended(absl::Seconds(5));
    ASSERT_TRUE(expired.has_value());
    EXPECT_EQ(expired->error_code(), StatusCode::DEADLINE_EXCEEDED);
  }
  double open = -1;
  for (int i = 0; i < 50 && open != 0; ++i) {
    open = open_streams();
    if (open != 0) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(open, 0) << "a cancelled and an expired stream both let go of their subscription";
  Create(ada);
  // The notification reaches the listener a moment after the write is acknowledged (later still
  // through PgBouncer), so the lag may be recorded after the call returns.
  std::string metrics;
  for (int i = 0; i < 100; ++i) {
    metrics = testing::HttpGet(port, "/metrics");
    if (testing::MetricValue(metrics, {"firstsip_change_notify_lag_seconds_count"}) >= 1) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GE(testing::MetricValue(metrics, {"firstsip_watch_streams_ended_total{", "CANCELLED"}), 1)
      << metrics;
  EXPECT_GE(testing::MetricValue(metrics, {"firstsip_change_notify_lag_seconds_count"}), 1)
      << metrics;
}

TEST_F(PushTest, SigtermEndsStreamsWithUnavailableAndAResumeOnTheNextServerMissesNothing) {
  const int64_t ada = MakeUser("ada@example.com");
  v1::Briefing first = Create(ada);
  Watch watch(*briefings_, ada);
  Start(first.id());
  auto message = watch.Next();
  ASSERT_TRUE(message.has_value());
  const std::string token = message->resume_token();

  const absl::Time before = absl::Now();
  EXPECT_EQ(server_->Stop(SIGTERM), 0);
  std::optional<grpc::Status> ended = watch.Ended(absl::Seconds(1));
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->error_code(), StatusCode::UNAVAILABLE) << ended->error_message();
  EXPECT_LT(absl::Now() - before, absl::Seconds(3)) << "streams do not hold the shutdown up";

  // Changes made while the stream was away, through the next server.
  auto server = testing::ServerProcess::Start(database_->dsn());
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = std::move(*server);
  channel_ = grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials());
  Connect();
  Complete(first.id());
  v1::Briefing second = Create(ada);
  Watch resumed(*briefings_, ada, token);
  EXPECT_EQ(Describe(resumed.Drain()),
            (std::vector<std::string>{absl::StrCat(first.id(), ":BRIEFING_STATUS_COMPLETED"),
                                      absl::StrCat(second.id(), ":BRIEFING_STATUS_PENDING")}));
}

TEST_F(PushTest, AWaitingClaimTakesABriefingCreatedDuringTheWait) {
  const int64_t ada = MakeUser("ada@example.com");
  v1::ClaimNextBriefingResponse response;
  grpc::Status status;
  absl::Time answered;
  std::thread worker([&] {
    status = Claim(&response, absl::Seconds(10));
    answered = absl::Now();
  });
  absl::SleepFor(absl::Milliseconds(400));
  const absl::Time created_at = absl::Now();
  v1::Briefing created = Create(ada);
  worker.join();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.briefing().id(), created.id());
  EXPECT_EQ(response.briefing().status(), v1::BRIEFING_STATUS_PROCESSING);
  std::printf("create to claim: %s\n", absl::FormatDuration(answered - created_at).c_str());
  EXPECT_LT(answered - created_at, absl::Seconds(1));
}

TEST_F(PushTest, AWaitingClaimAnswersEmptyAtTheEndOfTheWaitAndNeverAfterItsDeadline) {
  v1::ClaimNextBriefingResponse response;
  absl::Time start = absl::Now();
  grpc::Status status = Claim(&response, absl::Milliseconds(600));
  absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.has_briefing());
  EXPECT_GE(took, absl::Milliseconds(550));
  EXPECT_LT(took, absl::Milliseconds(1500));

  start = absl::Now();
  status = Claim(&response, absl::Seconds(30), /*deadline=*/absl::Milliseconds(700));
  took = absl::Now() - start;
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.has_briefing());
  EXPECT_LT(took, absl::Milliseconds(700)) << "answered before the deadline";
  EXPECT_GE(took, absl::Milliseconds(500));
}

TEST_F(PushTest, AWaitingClaimTakesOverALeaseThatRunsOutDuringTheWait) {
  const int64_t ada = MakeUser("ada@example.com");
  v1::Briefing briefing = Create(ada);
  v1::ClaimNextBriefingResponse first;
  ASSERT_TRUE(Claim(&first, absl::ZeroDuration(), absl::Seconds(10), absl::Seconds(1)).ok());
  ASSERT_EQ(first.briefing().id(), briefing.id());
  const absl::Time leased = absl::Now();
  v1::ClaimNextBriefingResponse second;
  ASSERT_TRUE(Claim(&second, absl::Seconds(10)).ok());
  const absl::Duration took = absl::Now() - leased;
  EXPECT_EQ(second.briefing().id(), briefing.id()) << "the expired lease is taken over";
  std::printf("lease of 1s taken over after %s\n", absl::FormatDuration(took).c_str());
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_LT(took, absl::Seconds(3));
}

TEST_F(PushTest, ConcurrentWaitersNeverGetTheSameBriefing) {
  const int64_t ada = MakeUser("ada@example.com");
  constexpr int kWaiters = 12, kBriefings = 6;
  std::vector<v1::ClaimNextBriefingResponse> responses(kWaiters);
  std::vector<grpc::Status> statuses(kWaiters);
  std::vector<std::thread> workers;
  for (int i = 0; i < kWaiters; ++i) {
    workers.emplace_back([&, i] { statuses[i] = Claim(&responses[i], absl::Seconds(3)); });
  }
  absl::SleepFor(absl::Milliseconds(400));
  std::set<int64_t> created;
  for (int i = 0; i < kBriefings; ++i) created.insert(Create(ada).id());
  for (auto& worker : workers) worker.join();
  std::multiset<int64_t> claimed;
  for (int i = 0; i < kWaiters; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    if (responses[i].has_briefing()) claimed.insert(responses[i].briefing().id());
  }
  EXPECT_EQ(std::set<int64_t>(claimed.begin(), claimed.end()), created);
  EXPECT_EQ(claimed.size(), created.size()) << "no briefing claimed twice";
}

TEST_F(PushTest, SigtermAnswersWaitingClaimsAtOnce) {
  v1::ClaimNextBriefingResponse response;
  grpc::Status status;
  std::thread worker([&] { status = Claim(&response, absl::Seconds(60), absl::Seconds(90)); });
  absl::SleepFor(absl::Milliseconds(400));
  const absl::Time before = absl::Now();
  EXPECT_EQ(server_->Stop(SIGTERM), 0);
  worker.join();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.has_briefing());
  EXPECT_LT(absl::Now() - before, absl::Seconds(3));
  server_.reset();
}

// A database restart: the stream ends UNAVAILABLE; resuming misses nothing, and the feed is
// live again (the LISTEN connection came back by itself).
TEST(PushDatabaseRestartTest, StreamsEndAndResumeMissesNothingAcrossADatabaseRestart) {
  const std::string script = std::string(FIRSTSIP_SOURCE_DIR) + "/scripts/pg-cluster.sh";
  const std::string dir = "/tmp/firstsip-push-" + std::to_string(getpid());
  ASSERT_EQ(std::system((script + " start " + dir + " >/dev/null").c_str()), 0);
  {
    auto admin = db::BlockingConnection::Open("host=" + dir + " user=postgres dbname=postgres");
    ASSERT_TRUE(admin.ok());
    ASSERT_TRUE((*admin)->ExecScript("CREATE DATABASE push").ok());
  }
  const std::string dsn = "host=" + dir + " user=postgres dbname=push";
  auto server = testing::ServerProcess::Start(dsn);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = grpc::CreateChannel((*server)->target(), grpc::InsecureChannelCredentials());
  auto briefings = v1::BriefingService::NewStub(channel);
  auto users = v1::UserService::NewStub(channel);
  auto context = [] {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    return context;
  };
  v1::CreateUserRequest new_user;
  new_user.mutable_user()->set_email("ada@example.com");
  v1::User ada;
  ASSERT_TRUE(users->CreateUser(context().get(), new_user, &ada).ok());
  v1::CreateBriefingRequest create;
  create.set_user_id(ada.id());
  v1::Briefing first;
  ASSERT_TRUE(briefings->CreateBriefing(context().get(), create, &first).ok());

  std::string token;
  {
    Watch watch(*briefings, ada.id());
    v1::StartBriefingRequest start;
    start.set_id(first.id());
    v1::Briefing started;
    ASSERT_TRUE(briefings->StartBriefing(context().get(), start, &started).ok());
    auto message = watch.Next();
    ASSERT_TRUE(message.has_value());
    token = message->resume_token();
    ASSERT_EQ(std::system((script + " stop " + dir).c_str()), 0);
    std::optional<grpc::Status> ended = watch.Ended(absl::Seconds(15));
    ASSERT_TRUE(ended.has_value());
    EXPECT_EQ(ended->error_code(), StatusCode::UNAVAILABLE) << ended->error_message();
  }
  ASSERT_EQ(std::system((script + " start " + dir + " >/dev/null").c_str()), 0);
  // Changes while the stream was away, once the service reaches the database again.
  v1::Briefing second;
  bool created = false;
  for (int i = 0; i < 100 && !created; ++i) {
    created = briefings->CreateBriefing(context().get(), create, &second).ok();
    if (!created) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(created);
  std::unique_ptr<Watch> resumed;
  for (int i = 0; i < 100; ++i) {
    resumed = std::make_unique<Watch>(*briefings, ada.id(), token);
    if (!resumed->Ended(absl::Milliseconds(50)).has_value()) break;  // the feed is back
    absl::SleepFor(absl::Milliseconds(100));
  }
  auto replayed = resumed->Next();
  ASSERT_TRUE(replayed.has_value());
  EXPECT_EQ(replayed->briefing().id(), second.id());
  // Live again: a new change arrives through the LISTEN connection that came back.
  v1::Briefing third;
  ASSERT_TRUE(briefings->CreateBriefing(context().get(), create, &third).ok());
  auto live = resumed->Next(absl::Seconds(3));
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(live->briefing().id(), third.id());
  resumed.reset();
  EXPECT_EQ((*server)->Stop(SIGTERM), 0);
  std::system((script + " stop " + dir + "; rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace firstsip
