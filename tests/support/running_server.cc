#include "support/running_server.h"

#include <signal.h>

#include "absl/time/clock.h"

namespace firstsip::testing {

void RunningServerTest::SetUp() {
  auto database = TestDatabase::Create();
  ASSERT_TRUE(database.ok()) << database.status();
  database_ = std::move(*database);
  auto server = ServerProcess::Start(database_->dsn(), ServerFlags(), ServerEnvironment());
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = std::move(*server);
  channel_ = grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials());
  ASSERT_TRUE(channel_->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(10))));
}

void RunningServerTest::TearDown() {
  if (server_ != nullptr) {
    int code = server_->Stop(SIGTERM);
    EXPECT_EQ(code, 0) << "the server should exit cleanly on SIGTERM:\n" << server_->output();
    if (HasFailure()) std::fprintf(stderr, "server output:\n%s\n", server_->output().c_str());
  }
  server_.reset();
  database_.reset();
}

std::unique_ptr<grpc::ClientContext> RunningServerTest::Context(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

}  // namespace firstsip::testing
