// The client's BriefingWatch against a scripted in-process BriefingService (no database): it
// resumes from the last token it delivered on UNAVAILABLE and RESOURCE_EXHAUSTED only, backs off
// between attempts, can be cancelled from another thread, and has no deadline unless given one.
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "firstsip/client/client.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace firstsip::client {
namespace {

// What the fake does with one WatchBriefings call.
struct Attempt {
  bool headers = true;              // send the headers first (the subscription is live)
  std::vector<std::string> tokens;  // one change per token
  bool hold = false;                // then stay open until cancelled...
  grpc::Status end;                 // ... or end with this
};

Attempt Ends(grpc::StatusCode code, std::vector<std::string> tokens = {}) {
  Attempt attempt;
  attempt.tokens = std::move(tokens);
  attempt.end = grpc::Status(code, absl::StrCat("scripted ", code));
  return attempt;
}

Attempt Holds(std::vector<std::string> tokens = {}) {
  Attempt attempt;
  attempt.tokens = std::move(tokens);
  attempt.hold = true;
  return attempt;
}

// Plays one Attempt per call, in order; calls past the script hold.
class ScriptedBriefings final : public v1::BriefingService::Service {
 public:
  explicit ScriptedBriefings(std::vector<Attempt> script) : script_(std::move(script)) {}

  grpc::Status WatchBriefings(grpc::ServerContext* context,
                              const v1::WatchBriefingsRequest* request,
                              grpc::ServerWriter<v1::WatchBriefingsResponse>* writer) override {
    Attempt attempt = Holds();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tokens_.push_back(request->resume_token());
      if (next_ < script_.size()) attempt = script_[next_++];
    }
    if (attempt.headers) writer->SendInitialMetadata();
    for (const std::string& token : attempt.tokens) {
      v1::WatchBriefingsResponse change;
      change.mutable_briefing()->set_user_id(request->user_id());
      change.set_resume_token(token);
      if (!writer->Write(change)) return grpc::Status::CANCELLED;
    }
    if (!attempt.hold) return attempt.end;
    while (!context->IsCancelled()) absl::SleepFor(absl::Milliseconds(2));
    return grpc::Status::CANCELLED;
  }

  // The resume_token of each call so far.
  std::vector<std::string> tokens() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return tokens_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Attempt> script_;
  size_t next_ = 0;
  std::vector<std::string> tokens_;
};

// Waits up to `timeout` for `condition`.
bool Eventually(const std::function<bool()>& condition, absl::Duration timeout = absl::Seconds(5)) {
  const absl::Time give_up = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

class BriefingWatchTest : public ::testing::Test {
 protected:
  void Serve(std::vector<Attempt> script) {
    TearDown();
    server_.reset();
    fake_ = std::make_unique<ScriptedBriefings>(std::move(script));
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(fake_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    target_ = absl::StrCat("127.0.0.1:", port);
    ClientOptions options;
    options.target = target_;
    auto client = Client::Create(options);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
  }

  // Quick, jitter-free resumes, each recorded.
  WatchOptions Recorded() {
    WatchOptions options;
    options.backoff.initial = absl::Milliseconds(1);
    options.backoff.max = absl::Milliseconds(50);
    options.backoff.jitter = 0;
    options.on_resume = [this](const absl::Status& ended, absl::Duration delay) {
      std::lock_guard<std::mutex> lock(mutex_);
      resumed_after_.push_back(ended.code());
      delays_.push_back(delay);
    };
    options.on_live = [this] { ++lives_; };
    return options;
  }
  std::vector<absl::StatusCode> resumed_after() {
    std::lock_guard<std::mutex> lock(mutex_);
    return resumed_after_;
  }
  std::vector<absl::Duration> delays() {
    std::lock_guard<std::mutex> lock(mutex_);
    return delays_;
  }

  std::unique_ptr<ScriptedBriefings> fake_;
  std::unique_ptr<grpc::Server> server_;
  std::string target_;
  std::unique_ptr<Client> client_;
  std::mutex mutex_;
  std::vector<absl::StatusCode> resumed_after_;
  std::vector<absl::Duration> delays_;
  std::atomic<int> lives_ = 0;
};

TEST_F(BriefingWatchTest, ResumesFromTheLastDeliveredTokenOnUnavailableAndResourceExhausted) {
  Serve({Ends(grpc::StatusCode::UNAVAILABLE, {"t1", "t2"}),
         Ends(grpc::StatusCode::RESOURCE_EXHAUSTED, {"t3"}),
         Ends(grpc::StatusCode::NOT_FOUND, {"t4"})});
  auto watch = client_->WatchBriefings(7, "t0", Recorded());
  EXPECT_EQ(watch->resume_token(), "t0");
  std::vector<std::string> got;
  absl::StatusOr<v1::WatchBriefingsResponse> change;
  for (change = watch->Next(); change.ok(); change = watch->Next()) {
    EXPECT_EQ(change->briefing().user_id(), 7);
    got.push_back(change->resume_token());
    EXPECT_EQ(watch->resume_token(), change->resume_token()) << "the token of what was delivered";
  }
  EXPECT_EQ(got, (std::vector<std::string>{"t1", "t2", "t3", "t4"}));
  EXPECT_EQ(change.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fake_->tokens(), (std::vector<std::string>{"t0", "t2", "t3"}));
  EXPECT_EQ(resumed_after(), (std::vector<absl::StatusCode>{absl::StatusCode::kUnavailable,
                                                            absl::StatusCode::kResourceExhausted}));
  EXPECT_EQ(watch->Next().status().code(), absl::StatusCode::kNotFound) << "ended for good";
  EXPECT_EQ(watch->resume_token(), "t4");
}

TEST_F(BriefingWatchTest, OtherCodesEndTheWatchWithoutAResume) {
  for (grpc::StatusCode code :
       {grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::NOT_FOUND,
        grpc::StatusCode::OUT_OF_RANGE, grpc::StatusCode::PERMISSION_DENIED,
        grpc::StatusCode::UNAUTHENTICATED, grpc::StatusCode::FAILED_PRECONDITION,
        grpc::StatusCode::INTERNAL, grpc::StatusCode::DEADLINE_EXCEEDED}) {
    SCOPED_TRACE(code);
    Serve({Ends(code, {"t1"})});
    auto watch = client_->WatchBriefings(7, "", Recorded());
    ASSERT_TRUE(watch->Next().ok());
    absl::Status ended = watch->Next().status();
    EXPECT_EQ(static_cast<int>(ended.code()), static_cast<int>(code));
    EXPECT_EQ(ended.message(), absl::StrCat("scripted ", code)) << "the server's own message";
    EXPECT_EQ(fake_->tokens().size(), 1u);
    EXPECT_EQ(watch->resume_token(), "t1");
  }
  EXPECT_TRUE(resumed_after().empty());
}

TEST(WatchResumesAfterTest, OnlyUnavailableAndResourceExhausted) {
  for (int code = 0; code <= 16; ++code) {
    SCOPED_TRACE(code);
    auto c = static_cast<absl::StatusCode>(code);
    EXPECT_EQ(WatchResumesAfter(c),
              c == absl::StatusCode::kUnavailable || c == absl::StatusCode::kResourceExhausted);
  }
}

TEST_F(BriefingWatchTest, TheBackoffGrowsWhileStreamsFailAndStartsOverAfterADelivery) {
  using grpc::StatusCode;
  Serve({Ends(StatusCode::UNAVAILABLE), Ends(StatusCode::UNAVAILABLE),
         Ends(StatusCode::UNAVAILABLE), Ends(StatusCode::UNAVAILABLE, {"t1"}),
         Ends(StatusCode::UNAVAILABLE), Holds()});
  auto watch = client_->WatchBriefings(7, "", Recorded());
  auto first = watch->Next();
  ASSERT_TRUE(first.ok()) << first.status();
  std::thread canceller([&] {
    EXPECT_TRUE(Eventually([&] { return fake_->tokens().size() == 6; }));
    watch->Cancel();
  });
  EXPECT_EQ(watch->Next().status().code(), absl::StatusCode::kCancelled);
  canceller.join();
  EXPECT_EQ(delays(), (std::vector<absl::Duration>{absl::Milliseconds(1), absl::Milliseconds(2),
                                                   absl::Milliseconds(4), absl::Milliseconds(1),
                                                   absl::Milliseconds(2)}));
  EXPECT_EQ(fake_->tokens(), (std::vector<std::string>{"", "", "", "", "t1", "t1"}));
}

TEST_F(BriefingWatchTest, OnLiveIsCalledForEachStreamWhoseHeadersArrive) {
  Attempt refused = Ends(grpc::StatusCode::UNAVAILABLE);
  refused.headers = false;  // trailers only: the stream never was live
  Serve({Ends(grpc::StatusCode::UNAVAILABLE), refused, Holds({"t1"})});
  auto watch = client_->WatchBriefings(7, "", Recorded());
  ASSERT_TRUE(watch->Next().ok());
  EXPECT_EQ(lives_, 2);
  EXPECT_EQ(resumed_after().size(), 2u);
}

TEST_F(BriefingWatchTest, CancelFromAnotherThreadEndsABlockedNext) {
  Serve({Holds({"t1"})});
  auto watch = client_->WatchBriefings(7, "", Recorded());
  ASSERT_TRUE(watch->Next().ok());
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(100));
    watch->Cancel();
  });
  const absl::Time start = absl::Now();
  EXPECT_EQ(watch->Next().status().code(), absl::StatusCode::kCancelled);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  canceller.join();
  EXPECT_EQ(watch->Next().status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(watch->resume_token(), "t1");
  EXPECT_TRUE(resumed_after().empty());
}

TEST_F(BriefingWatchTest, CancelWakesAWatchThatIsBackingOff) {
  Serve({Ends(grpc::StatusCode::UNAVAILABLE), Ends(grpc::StatusCode::UNAVAILABLE)});
  WatchOptions options = Recorded();
  options.backoff.initial = absl::Seconds(30);
  options.backoff.max = absl::Seconds(30);
  auto watch = client_->WatchBriefings(7, "", options);
  std::thread canceller([&] {
    EXPECT_TRUE(Eventually([&] { return resumed_after().size() == 1; }));
    watch->Cancel();
  });
  const absl::Time start = absl::Now();
  EXPECT_EQ(watch->Next().status().code(), absl::StatusCode::kCancelled);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  canceller.join();
  EXPECT_EQ(fake_->tokens().size(), 1u);
}

TEST_F(BriefingWatchTest, AWatchHasNoDeadlineUnlessGivenOneAndThenItBoundsTheWholeWatch) {
  Serve({Ends(grpc::StatusCode::UNAVAILABLE), Holds({"t1"}), Holds({"t2"})});
  CallOptions call;
  call.timeout = absl::Milliseconds(400);
  auto bounded = client_->WatchBriefings(7, "", Recorded(), call);
  absl::Time start = absl::Now();
  ASSERT_TRUE(bounded->Next().ok());
  EXPECT_EQ(bounded->Next().status().code(), absl::StatusCode::kDeadlineExceeded);
  absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(350));
  EXPECT_LT(took, absl::Seconds(3));
  EXPECT_EQ(resumed_after().size(), 1u) << "a deadline is not resumed from";

  // ClientOptions::timeout, the unary calls' deadline, does not cut a watch short.
  ClientOptions hurried_options;
  hurried_options.target = target_;
  hurried_options.timeout = absl::Milliseconds(100);
  auto hurried = Client::Create(hurried_options);
  ASSERT_TRUE(hurried.ok());
  auto unbounded = (*hurried)->WatchBriefings(7, "", Recorded());
  start = absl::Now();
  ASSERT_TRUE(unbounded->Next().ok());
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(600));
    unbounded->Cancel();
  });
  EXPECT_EQ(unbounded->Next().status().code(), absl::StatusCode::kCancelled);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(550));
  canceller.join();
}

TEST_F(BriefingWatchTest, DestroyingAWatchLetsGoOfItsStreamPromptly) {
  Serve({Holds({"t1", "t2", "t3"}), Holds()});
  const absl::Time start = absl::Now();
  {
    auto watch = client_->WatchBriefings(7, "", Recorded());
    ASSERT_TRUE(watch->Next().ok());  // t2 is read or on its way, and never delivered
  }
  { auto never_started = client_->WatchBriefings(7, "", Recorded()); }
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

std::set<std::string> RetriedMethods(const std::string& config) {
  google::protobuf::Struct parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(config, &parsed).ok()) << config;
  std::set<std::string> methods;
  for (const auto& method_config : parsed.fields().at("methodConfig").list_value().values()) {
    for (const auto& name :
         method_config.struct_value().fields().at("name").list_value().values()) {
      const auto& n = name.struct_value().fields();
      methods.insert(n.at("service").string_value() + "/" + n.at("method").string_value());
    }
  }
  return methods;
}

TEST(RetryServiceConfigTest, NeverRetriesWatchesOrWaitingClaims) {
  std::set<std::string> methods = RetriedMethods(RetryServiceConfig(5));
  EXPECT_FALSE(methods.count("firstsip.v1.BriefingService/WatchBriefings"));
  EXPECT_FALSE(methods.count("firstsip.v1.BriefingService/ClaimNextBriefing"));
  EXPECT_TRUE(methods.count("firstsip.v1.BriefingService/ListBriefings")) << "the config parsed";
}

}  // namespace
}  // namespace firstsip::client
