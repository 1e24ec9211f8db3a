// What operators see: Prometheus metrics scraped over HTTP, and JSON logs that carry the call,
// its code, its duration and the caller's x-request-id, and never a secret.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "firstsip/v1/identity.grpc.pb.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "migrate/migration_set.h"
#include "support/metrics_scrape.h"
#include "support/running_server.h"

namespace firstsip {
namespace {

using testing::HttpGet;
using testing::MetricsPort;
using testing::MetricValue;

constexpr char kPassword[] = "s3cret-db-pass";
constexpr char kAccessToken[] = "ya29.observability-access-token";

class ObservabilityTest : public testing::RunningServerTest {
 protected:
  void SetUp() override {
    auto database = testing::TestDatabase::Create();
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    // Trust authentication ignores the password, so it can be a known string to look for.
    auto server = testing::ServerProcess::Start(database_->dsn() + " password=" + kPassword,
                                                {"--metrics-listen=127.0.0.1:0"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    channel_ = grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials());
  }
};

TEST_F(ObservabilityTest, MetricsCountCallsByCodeAndShowThePoolAndSchema) {
  auto users = v1::UserService::NewStub(channel_);
  v1::CreateUserRequest create;
  create.mutable_user()->set_email("ada@example.com");
  v1::User user;
  ASSERT_TRUE(users->CreateUser(Context().get(), create, &user).ok());
  v1::GetUserRequest get;
  get.set_id(user.id() + 100);
  for (int i = 0; i < 3; ++i) users->GetUser(Context().get(), get, &user);
  int port = MetricsPort(server_->output());
  ASSERT_GT(port, 0) << server_->output();
  absl::SleepFor(absl::Milliseconds(300));  // a health probe samples the pool and the schema
  std::string body = HttpGet(port, "/metrics");
  EXPECT_EQ(MetricValue(body, {"firstsip_grpc_requests_total{", "method=\"CreateUser\"",
                               "code=\"OK\"", "service=\"firstsip.v1.UserService\""}),
            1)
      << body;
  EXPECT_EQ(MetricValue(body, {"firstsip_grpc_requests_total{", "method=\"GetUser\"",
                               "code=\"NOT_FOUND\""}),
            3)
      << body;
  EXPECT_EQ(
      MetricValue(body, {"firstsip_grpc_request_duration_seconds_count{", "method=\"GetUser\""}), 3)
      << body;
  EXPECT_TRUE(absl::StrContains(body, "firstsip_grpc_request_duration_seconds_bucket{")) << body;
  EXPECT_GE(MetricValue(body, {"firstsip_db_connections{", "state=\"idle\""}), 1) << body;
  EXPECT_GE(MetricValue(body, {"firstsip_db_connections{", "state=\"in_use\""}), 0) << body;
  EXPECT_EQ(MetricValue(body, {"firstsip_db_waiting_requests"}), 0) << body;
  EXPECT_EQ(MetricValue(body, {"firstsip_schema_version"}),
            static_cast<double>(migrate::MigrationSet::Embedded()->head()))
      << body;
  EXPECT_GE(MetricValue(body, {"firstsip_db_errors_total"}), 0) << body;
}

TEST_F(ObservabilityTest, LogsAreOneJsonObjectPerLineWithTheCallAndNeverASecret) {
  auto identities = v1::IdentityService::NewStub(channel_);
  v1::SignInRequest sign_in;
  sign_in.set_provider("google");
  sign_in.set_provider_user_id("sub-1");
  sign_in.set_email("ada@example.com");
  sign_in.mutable_tokens()->set_access_token(kAccessToken);
  v1::SignInResponse signed_in;
  auto context = Context();
  context->AddMetadata("x-request-id", "req-4242");
  ASSERT_TRUE(identities->SignIn(context.get(), sign_in, &signed_in).ok());
  v1::GetTokensRequest tokens_request;
  tokens_request.set_identity_id(signed_in.identity().id());
  v1::OAuthTokens tokens;
  ASSERT_TRUE(identities->GetTokens(Context().get(), tokens_request, &tokens).ok());
  ASSERT_EQ(server_->Stop(SIGTERM), 0);
  std::string output = server_->output();

  bool found_call = false;
  int json_lines = 0;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (line.empty() || line[0] != '{') continue;
    ++json_lines;
    google::protobuf::Struct entry;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(line), &entry).ok())
        << line;
    const auto& fields = entry.fields();
    EXPECT_TRUE(fields.count("time") && fields.count("level") && fields.count("message")) << line;
    if (fields.count("method") &&
        fields.at("method").string_value() == "/firstsip.v1.IdentityService/SignIn") {
      found_call = true;
      EXPECT_EQ(fields.at("code").string_value(), "OK");
      EXPECT_EQ(fields.at("request_id").string_value(), "req-4242");
      EXPECT_TRUE(fields.at("duration_ms").has_number_value()) << line;
    }
  }
  EXPECT_GT(json_lines, 3);
  EXPECT_TRUE(found_call) << output;
  for (const char* secret : {kPassword, kAccessToken, testing::kTestEncryptionKey}) {
    EXPECT_FALSE(absl::StrContains(output, secret)) << secret << " leaked:\n" << output;
  }
  EXPECT_TRUE(absl::StrContains(output, "password=***")) << output;
}

TEST(LogFormatTest, TextFormatIsForPeople) {
  auto database = testing::TestDatabase::Create();
  ASSERT_TRUE(database.ok());
  auto server = testing::ServerProcess::Start((*database)->dsn(), {"--log-format=text"});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_EQ((*server)->Stop(SIGTERM), 0);
  std::string output = (*server)->output();
  EXPECT_TRUE(absl::StrContains(output, " info serving on 127.0.0.1:")) << output;
  EXPECT_FALSE(absl::StrContains(output, "{\"time\"")) << output;
}

TEST(MetricsPortTest, APortInUseStopsStartUpNamingTheFlagAndHowToTurnMetricsOff) {
  // Hold a port, the way another process would.
  int holder = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(holder, 1), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(holder, reinterpret_cast<sockaddr*>(&address), &length), 0);
  std::string taken = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));

  auto database = testing::TestDatabase::Create();
  ASSERT_TRUE(database.ok()) << database.status();
  testing::CommandResult result =
      testing::RunServerCommand({"--database-url=" + (*database)->dsn(), "--listen=127.0.0.1:0",
                                 "--metrics-listen=" + taken, "serve"},
                                {{"ENCRYPTION_KEY", std::string(testing::kTestEncryptionKey)}});
  close(holder);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(absl::StrContains(result.output, "cannot serve metrics on " + taken))
      << result.output;
  EXPECT_TRUE(absl::StrContains(result.output, "--metrics-listen")) << result.output;
  EXPECT_TRUE(absl::StrContains(result.output, "turn metrics off")) << result.output;
}

}  // namespace
}  // namespace firstsip
