// HTTP/2 keepalive on quiet watch streams, through a TCP proxy that stops carrying bytes
// without closing anything (a lost node, a partition): the server frees the stream of a
// watcher that vanished (--keepalive), and our client notices a server that vanished, however
// long the stream was quiet before. gRPC's client on its own pings twice on a connection it
// sends no data on and then stops; and a server with gRPC's default ping policy answers a
// client pinging every 10 s with GOAWAY "too_many_pings", after which the open stream stays
// on a connection nobody pings. Either way the vanished server would go unnoticed.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "firstsip/client/client.h"
#include "firstsip/v1/briefing.grpc.pb.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "gtest/gtest.h"
#include "support/metrics_scrape.h"
#include "support/running_server.h"
#include "support/tcp_proxy.h"

namespace firstsip {
namespace {

bool Eventually(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return true;
}

class KeepaliveTest : public testing::RunningServerTest {
 protected:
  int64_t MakeUser() {
    v1::CreateUserRequest request;
    request.mutable_user()->set_email("ada@example.com");
    v1::User user;
    grpc::Status status =
        v1::UserService::NewStub(channel_)->CreateUser(Context().get(), request, &user);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return user.id();
  }
};

class ServerKeepaliveTest : public KeepaliveTest {
 protected:
  std::vector<std::string> ServerFlags() const override {
    return {"--keepalive=2s", "--metrics-listen=127.0.0.1:0"};
  }
};

TEST_F(ServerKeepaliveTest, AWatcherThatVanishesAfterALongQuietSpellIsDisconnected) {
  const int metrics = testing::MetricsPort(server_->output());
  ASSERT_GT(metrics, 0);
  auto open_streams = [&] {
    return testing::MetricValue(testing::HttpGet(metrics, "/metrics"), {"firstsip_watch_streams "});
  };
  const int64_t ada = MakeUser();
  auto proxy = testing::TcpProxy::Start(server_->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  // A watcher that never pings: only the server's keepalive can find out that it is gone.
  auto via_proxy = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*proxy)->port()),
                                       grpc::InsecureChannelCredentials());
  auto stub = v1::BriefingService::NewStub(via_proxy);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  v1::WatchBriefingsRequest request;
  request.set_user_id(ada);
  auto reader = stub->WatchBriefings(&context, request);
  reader->WaitForInitialMetadata();
  // A watcher waits in Read(), which is also what lets gRPC's client read (and answer) pings.
  std::thread read([&] {
    v1::WatchBriefingsResponse message;
    while (reader->Read(&message)) {
    }
    reader->Finish();
  });
  EXPECT_EQ(open_streams(), 1);

  // Quiet for three keepalive intervals: each ping is answered, the stream stays.
  absl::SleepFor(absl::Seconds(7));
  ASSERT_EQ(open_streams(), 1) << "a quiet watcher that answers pings keeps its stream";

  (*proxy)->Freeze();
  const absl::Time frozen = absl::Now();
  // The next ping within 2 s, its timeout 2 s later.
  EXPECT_TRUE(Eventually([&] { return open_streams() == 0; }, absl::Seconds(15)))
      << "the vanished watcher's stream is freed";
  EXPECT_LT(absl::Now() - frozen, absl::Seconds(8));

  context.TryCancel();
  proxy->reset();  // closes the watcher's socket, so its call ends
  read.join();
}

class ClientKeepaliveTest : public KeepaliveTest {
 protected:
  // The server's own pings would reset the client's; keep them out of the test's window.
  std::vector<std::string> ServerFlags() const override { return {"--keepalive=2h"}; }
};

TEST_F(ClientKeepaliveTest, AWatchNoticesAServerThatVanishedAfterALongQuietSpell) {
  const int64_t ada = MakeUser();
  auto proxy = testing::TcpProxy::Start(server_->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  client::ClientOptions options;
  options.target = absl::StrCat("127.0.0.1:", (*proxy)->port());
  options.keepalive = client::kMinKeepalive;
  auto made = client::Client::Create(options);
  ASSERT_TRUE(made.ok()) << made.status();

  std::mutex mutex;
  std::condition_variable changed;
  int lives = 0;
  std::vector<std::pair<absl::Status, absl::Time>> resumes;
  client::WatchOptions watch_options;
  watch_options.on_live = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    ++lives;
    changed.notify_all();
  };
  watch_options.on_resume = [&](const absl::Status& ended, absl::Duration) {
    std::lock_guard<std::mutex> lock(mutex);
    resumes.emplace_back(ended, absl::Now());
    changed.notify_all();
  };
  std::unique_ptr<client::BriefingWatch> watch =
      (*made)->WatchBriefings(ada, "", std::move(watch_options));
  std::thread next([&] {
    while (watch->Next().ok()) {
    }
  });
  {
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(20), [&] { return lives == 1; }));
  }

  // Four pings 10 s apart on a quiet stream: a server with gRPC's default policy (one ping per
  // 5 minutes without data, two strikes) sends GOAWAY by the fourth.
  absl::SleepFor(absl::Seconds(45));
  {
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_TRUE(resumes.empty()) << "the stream ended: " << resumes.front().first;
  }

  (*proxy)->Freeze();
  const absl::Time frozen = absl::Now();
  // The next ping within 10 s, its timeout 10 s later.
  {
    std::unique_lock<std::mutex> lock(mutex);
    EXPECT_TRUE(changed.wait_for(lock, std::chrono::seconds(40), [&] { return !resumes.empty(); }))
        << "the watch noticed that the server is gone";
    if (!resumes.empty()) {
      EXPECT_EQ(resumes.front().first.code(), absl::StatusCode::kUnavailable)
          << resumes.front().first;
      EXPECT_LT(resumes.front().second - frozen, absl::Seconds(25));
    }
  }
  watch->Cancel();
  proxy->reset();
  next.join();
}

}  // namespace
}  // namespace firstsip
