// Least privilege with the real TLS stack: certificates made here with openssl (a CA, the
// server, three callers with SPIFFE URI SANs, one certificate from another CA), the example
// policy of deploy/k8s, every RPC called by every caller; the policy and the server's
// certificate replaced on disk while calls go on; the audit lines of GetTokens.
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "firstsip/v1/briefing.grpc.pb.h"
#include "firstsip/v1/identity.grpc.pb.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "support/metrics_scrape.h"
#include "support/server_process.h"
#include "support/test_certificates.h"
#include "support/test_database.h"

namespace firstsip {
namespace {

using grpc::StatusCode;
using testing::MetricsPort;
using testing::MetricValue;

constexpr char kWeb[] = "spiffe://firstsip.example/ns/firstsip/sa/web-backend";
constexpr char kWorker[] = "spiffe://firstsip.example/ns/firstsip/sa/briefing-worker";
constexpr char kOperator[] = "spiffe://firstsip.example/operators/ada";
constexpr char kAccessToken[] = "ya29.authz-e2e-access-token";
constexpr char kRefreshToken[] = "1//authz-e2e-refresh-token";
constexpr char kReflection[] = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";

std::string SourceFile(const std::string& path) {
  std::ifstream in(std::string(FIRSTSIP_SOURCE_DIR) + "/" + path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Replaces `path` in one rename, as the kubelet updates a mounted ConfigMap or Secret.
void ReplaceFile(const std::string& path, const std::string& contents) {
  std::string temporary = path + ".tmp";
  std::ofstream(temporary, std::ios::trunc) << contents;
  ASSERT_EQ(std::rename(temporary.c_str(), path.c_str()), 0) << path;
}

std::unique_ptr<grpc::ClientContext> Context(const std::string& request_id = "") {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (!request_id.empty()) context->AddMetadata("x-request-id", request_id);
  return context;
}

// Calls `path` with an empty request, raw: unary, or a server stream whose first message (or
// end) is waited for. A stream that sends a message counts as OK and is cancelled.
grpc::Status CallRaw(const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
                     bool streaming) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue queue;
  auto context = Context();
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  void* tag = nullptr;
  bool ok = false;
  auto next = [&] {
    EXPECT_TRUE(queue.Next(&tag, &ok));
    return ok;
  };
  if (!streaming) {
    auto call = stub.PrepareUnaryCall(context.get(), path, request, &queue);
    call->StartCall();
    call->Finish(&response, &status, &queue);
    next();
  } else {
    auto call = stub.PrepareCall(context.get(), path, &queue);
    call->StartCall(&queue);
    if (next()) {
      call->WriteLast(request, grpc::WriteOptions(), &queue);
      if (next()) {
        call->Read(&response, &queue);
        if (next()) context->TryCancel();
      }
    }
    call->Finish(&status, &queue);
    next();
    if (status.error_code() == StatusCode::CANCELLED) status = grpc::Status::OK;
  }
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
  return status;
}

// The reflection stream, as grpcurl opens it: list the services.
grpc::Status CallReflection(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::reflection::v1::ServerReflection::NewStub(channel);
  auto context = Context();
  auto stream = stub->ServerReflectionInfo(context.get());
  grpc::reflection::v1::ServerReflectionRequest request;
  request.set_list_services("");
  stream->Write(request);
  stream->WritesDone();
  grpc::reflection::v1::ServerReflectionResponse response;
  while (stream->Read(&response)) {
  }
  return stream->Finish();
}

class AuthzTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto certificates = testing::TestCertificates::Create();
    ASSERT_TRUE(certificates.ok()) << certificates.status();
    certificates_ = certificates->release();
    ASSERT_TRUE(certificates_->IssueClient("web", kWeb).ok());
    ASSERT_TRUE(certificates_->IssueClient("worker", kWorker).ok());
    ASSERT_TRUE(certificates_->IssueClient("operator", kOperator).ok());
    // The web backend's identity, signed by a CA the server does not trust.
    ASSERT_TRUE(certificates_->IssueClient("impostor", kWeb, "other-ca").ok());
  }
  static void TearDownTestSuite() {
    delete certificates_;
    certificates_ = nullptr;
  }

  void SetUp() override {
    auto database = testing::TestDatabase::Create();
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    policy_ = certificates_->Path(absl::StrCat("policy-", getpid(), ".json"));
    ReplaceFile(policy_, SourceFile("deploy/k8s/authz-policy.json"));
  }

  // The server with mutual TLS, the example policy, and everything re-read every second.
  void StartServer(const std::string& cert = "server.pem", const std::string& key = "server.key") {
    auto server = testing::ServerProcess::Start(
        database_->dsn(),
        {"--tls-cert=" + certificates_->Path(cert), "--tls-key=" + certificates_->Path(key),
         "--tls-client-ca=" + certificates_->Path("ca.pem"), "--authz-policy=" + policy_,
         "--refresh-interval=1s", "--metrics-listen=127.0.0.1:0"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& caller) {
    return testing::SeparateChannel(server_->target(), certificates_->ClientCredentials(caller));
  }

  double Metric(const std::vector<std::string>& parts) {
    int port = MetricsPort(server_->output());
    EXPECT_GT(port, 0) << server_->output();
    return MetricValue(testing::HttpGet(port, "/metrics"), parts);
  }

  static testing::TestCertificates* certificates_;
  std::unique_ptr<testing::TestDatabase> database_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::string policy_;
};

testing::TestCertificates* AuthzTest::certificates_ = nullptr;

// Every method the server serves, with the callers the example policy lets call it.
std::map<std::string, std::set<std::string>> ExpectedAccess() {
  const std::set<std::string> everyone = {"web", "worker", "operator"};
  std::map<std::string, std::set<std::string>> access = {
      {"/firstsip.v1.UserService/CreateUser", {"web"}},
      {"/firstsip.v1.UserService/GetUser", {"web", "worker", "operator"}},
      {"/firstsip.v1.UserService/GetUserByEmail", {"web", "operator"}},
      {"/firstsip.v1.UserService/ListUsers", {"web", "operator"}},
      {"/firstsip.v1.UserService/UpdateUser", {"web"}},
      {"/firstsip.v1.UserService/DeleteUser", {"web"}},
      {"/firstsip.v1.UserService/UndeleteUser", {"web"}},
      {"/firstsip.v1.UserService/EraseUser", {"web"}},
      {"/firstsip.v1.UserService/ExportUser", {"web", "operator"}},
      {"/firstsip.v1.IdentityService/SignIn", {"web"}},
      {"/firstsip.v1.IdentityService/GetIdentity", {"web", "operator"}},
      {"/firstsip.v1.IdentityService/ListIdentities", {"web", "worker", "operator"}},
      {"/firstsip.v1.IdentityService/UpdateTokens", {"web"}},
      {"/firstsip.v1.IdentityService/GetTokens", {"web", "worker"}},
      {"/firstsip.v1.IdentityService/DeleteIdentity", {"web"}},
      {"/firstsip.v1.BriefingService/CreateBriefing", {"web"}},
      {"/firstsip.v1.BriefingService/GetBriefing", {"web", "operator"}},
      {"/firstsip.v1.BriefingService/ListBriefings", {"web", "operator"}},
      {"/firstsip.v1.BriefingService/StartBriefing", {"web", "worker"}},
      {"/firstsip.v1.BriefingService/ClaimNextBriefing", {"web", "worker"}},
      {"/firstsip.v1.BriefingService/CompleteBriefing", {"web", "worker"}},
      {"/firstsip.v1.BriefingService/FailBriefing", {"web", "worker"}},
      {"/firstsip.v1.BriefingService/MarkBriefingRead", {"web"}},
      {"/firstsip.v1.BriefingService/DeleteBriefing", {"web"}},
      {"/firstsip.v1.BriefingService/WatchBriefings", {"web", "operator"}},
      {"/grpc.health.v1.Health/Check", everyone},
      {"/grpc.health.v1.Health/Watch", everyone},
  };
  return access;
}

TEST_F(AuthzTest, EachCallerCallsExactlyWhatTheExamplePolicyGivesIt) {
  StartServer();
  EXPECT_TRUE(
      absl::StrContains(server_->output(), R"(authorization policy \"firstsip-data-service\")"))
      << server_->output();
  std::map<std::string, std::set<std::string>> access = ExpectedAccess();
  // The table covers every method of every service the server registers.
  for (const char* service : {"firstsip.v1.UserService", "firstsip.v1.IdentityService",
                              "firstsip.v1.BriefingService", "grpc.health.v1.Health"}) {
    const google::protobuf::ServiceDescriptor* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
    ASSERT_NE(descriptor, nullptr) << service;
    for (int i = 0; i < descriptor->method_count(); ++i) {
      std::string path = absl::StrCat("/", service, "/", descriptor->method(i)->name());
      EXPECT_TRUE(access.count(path)) << path << " has no row in the table";
    }
  }
  std::map<std::string, std::string> principals = {
      {"web", kWeb}, {"worker", kWorker}, {"operator", kOperator}};
  for (const auto& [caller, principal] : principals) {
    std::shared_ptr<grpc::Channel> channel = Channel(caller);
    for (const auto& [path, allowed] : access) {
      SCOPED_TRACE(absl::StrCat(caller, " calls ", path));
      const google::protobuf::MethodDescriptor* method =
          google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
              absl::StrReplaceAll(path.substr(1), {{"/", "."}}));
      ASSERT_NE(method, nullptr);
      grpc::Status status = CallRaw(channel, path, method->server_streaming());
      if (allowed.count(caller)) {
        // OK, or the service's own answer to an empty request (INVALID_ARGUMENT, NOT_FOUND).
        EXPECT_NE(status.error_code(), StatusCode::PERMISSION_DENIED) << status.error_message();
        EXPECT_NE(status.error_code(), StatusCode::UNAVAILABLE) << status.error_message();
        EXPECT_NE(status.error_code(), StatusCode::UNIMPLEMENTED) << status.error_message();
      } else {
        EXPECT_EQ(status.error_code(), StatusCode::PERMISSION_DENIED) << status.error_message();
        EXPECT_EQ(status.error_message(), absl::StrCat(principal, " may not call ", path));
      }
    }
    // Reflection (grpcurl list and describe) passes the policy too: operators only.
    grpc::Status reflection = CallReflection(channel);
    EXPECT_EQ(reflection.error_code() == StatusCode::PERMISSION_DENIED, caller != "operator")
        << caller << ": " << reflection.error_message();
  }
  // A certificate from another CA is refused at the handshake, whatever identity it claims.
  grpc::Status impostor = CallRaw(Channel("impostor"), "/grpc.health.v1.Health/Check", false);
  EXPECT_EQ(impostor.error_code(), StatusCode::UNAVAILABLE) << impostor.error_message();
  // Plaintext never reaches the policy either.
  grpc::Status plaintext =
      CallRaw(grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials()),
              "/grpc.health.v1.Health/Check", false);
  EXPECT_EQ(plaintext.error_code(), StatusCode::UNAVAILABLE) << plaintext.error_message();

  // Denials are counted by method; logged once a minute per caller and method.
  std::shared_ptr<grpc::Channel> operator_channel = Channel("operator");
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(CallRaw(operator_channel, "/firstsip.v1.UserService/DeleteUser", false).error_code(),
              StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(
      Metric({"firstsip_rpc_denied_total{", "method=\"/firstsip.v1.UserService/DeleteUser\""}),
      4);  // the worker's once, the operator's three times
  EXPECT_EQ(Metric({"firstsip_rpc_denied_total{", "method=\"" + std::string(kReflection) + "\""}),
            2);  // web and worker
  ASSERT_EQ(server_->Stop(SIGTERM), 0);
  int denied_lines = 0;
  for (absl::string_view line : absl::StrSplit(server_->output(), '\n')) {
    if (absl::StrContains(line, "call denied by the authorization policy") &&
        absl::StrContains(line, kOperator) &&
        absl::StrContains(line, "/firstsip.v1.UserService/DeleteUser")) {
      ++denied_lines;
      EXPECT_TRUE(absl::StrContains(line, "\"rule\":\"no allow rule matched\"")) << line;
    }
  }
  EXPECT_EQ(denied_lines, 1) << server_->output();
}

// The server's JSON log lines whose message is "audit".
std::vector<google::protobuf::Struct> AuditLines(const std::string& output) {
  std::vector<google::protobuf::Struct> lines;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (!absl::StartsWith(line, "{") || !absl::StrContains(line, "\"message\":\"audit\"")) continue;
    google::protobuf::Struct entry;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(line), &entry).ok())
        << line;
    lines.push_back(std::move(entry));
  }
  return lines;
}

TEST_F(AuthzTest, EveryTokenReadAllowedOrDeniedLeavesOneAuditLineAndNoToken) {
  StartServer();
  auto web = v1::IdentityService::NewStub(Channel("web"));
  v1::SignInRequest sign_in;
  sign_in.set_provider("google");
  sign_in.set_provider_user_id("sub-audit");
  sign_in.set_email("audit@example.com");
  sign_in.mutable_tokens()->set_access_token(kAccessToken);
  sign_in.mutable_tokens()->set_refresh_token(kRefreshToken);
  v1::SignInResponse signed_in;
  ASSERT_TRUE(web->SignIn(Context().get(), sign_in, &signed_in).ok());
  const std::string identity = absl::StrCat(signed_in.identity().id());
  const std::string user = absl::StrCat(signed_in.user().id());
  v1::GetTokensRequest request;
  request.set_identity_id(signed_in.identity().id());
  v1::OAuthTokens tokens;
  ASSERT_TRUE(web->GetTokens(Context("req-web").get(), request, &tokens).ok());
  EXPECT_EQ(tokens.access_token(), kAccessToken);
  auto worker = v1::IdentityService::NewStub(Channel("worker"));
  ASSERT_TRUE(worker->GetTokens(Context().get(), request, &tokens).ok());
  auto operator_stub = v1::IdentityService::NewStub(Channel("operator"));
  grpc::Status denied = operator_stub->GetTokens(Context("req-operator").get(), request, &tokens);
  EXPECT_EQ(denied.error_code(), StatusCode::PERMISSION_DENIED);
  request.set_identity_id(signed_in.identity().id() + 1000);
  EXPECT_EQ(web->GetTokens(Context().get(), request, &tokens).error_code(), StatusCode::NOT_FOUND);
  ASSERT_EQ(server_->Stop(SIGTERM), 0);
  std::string output = server_->output();

  std::vector<google::protobuf::Struct> audits = AuditLines(output);
  ASSERT_EQ(audits.size(), 4u) << output;
  auto field = [](const google::protobuf::Struct& line, const std::string& name) {
    auto found = line.fields().find(name);
    return found == line.fields().end() ? std::string("<absent>") : found->second.string_value();
  };
  struct Expected {
    std::string principal, identity_id, user_id, outcome, code, request_id;
  };
  const Expected expected[] = {
      {kWeb, identity, user, "ok", "OK", "req-web"},
      {kWorker, identity, user, "ok", "OK", ""},
      {kOperator, identity, "<absent>", "denied", "PERMISSION_DENIED", "req-operator"},
      {kWeb, absl::StrCat(signed_in.identity().id() + 1000), "<absent>", "failed", "NOT_FOUND", ""},
  };
  // A line is written when its call ends on the server, so lines of calls in quick succession
  // may come in either order: each expected line is looked for by its caller and code.
  for (const Expected& want : expected) {
    SCOPED_TRACE(want.principal + " " + want.code);
    int found = 0;
    for (const google::protobuf::Struct& line : audits) {
      if (field(line, "principal") != want.principal || field(line, "code") != want.code) continue;
      ++found;
      EXPECT_EQ(field(line, "level"), "audit");
      EXPECT_EQ(field(line, "method"), "/firstsip.v1.IdentityService/GetTokens");
      EXPECT_EQ(field(line, "identity_id"), want.identity_id);
      EXPECT_EQ(field(line, "user_id"), want.user_id);
      EXPECT_EQ(field(line, "outcome"), want.outcome);
      EXPECT_EQ(field(line, "request_id"), want.request_id);
    }
    EXPECT_EQ(found, 1) << output;
  }
  for (const char* secret : {kAccessToken, kRefreshToken, testing::kTestEncryptionKey}) {
    EXPECT_FALSE(absl::StrContains(output, secret)) << secret << " leaked:\n" << output;
  }
}

TEST_F(AuthzTest, ARewrittenPolicyAppliesWithinTheIntervalAndABrokenOneKeepsTheLast) {
  StartServer();
  auto worker = v1::UserService::NewStub(Channel("worker"));
  auto web = v1::UserService::NewStub(Channel("web"));
  v1::GetUserRequest get;
  get.set_id(1);
  v1::User user;
  auto worker_code = [&] { return worker->GetUser(Context().get(), get, &user).error_code(); };
  EXPECT_EQ(worker_code(), StatusCode::NOT_FOUND);  // allowed: the user does not exist

  // The workers lose GetUser while they keep calling.
  std::string policy = SourceFile("deploy/k8s/authz-policy.json");
  std::string rewritten =
      absl::StrReplaceAll(policy, {{"          \"/firstsip.v1.UserService/GetUser\",\n          "
                                    "\"/firstsip.v1.IdentityService/ListIdentities\",",
                                    "          \"/firstsip.v1.IdentityService/ListIdentities\","}});
  ASSERT_NE(rewritten, policy);
  absl::Time rewritten_at = absl::Now();
  ReplaceFile(policy_, absl::StrReplaceAll(rewritten, {{"firstsip-data-service", "second"}}));
  StatusCode code = StatusCode::NOT_FOUND;
  while (code == StatusCode::NOT_FOUND && absl::Now() - rewritten_at < absl::Seconds(10)) {
    code = worker_code();
    absl::SleepFor(absl::Milliseconds(20));
  }
  absl::Duration took = absl::Now() - rewritten_at;
  EXPECT_EQ(code, StatusCode::PERMISSION_DENIED);
  EXPECT_LT(took, absl::Seconds(3)) << "the interval is 1s";
  std::printf("the rewritten policy applied %s after the rename (--refresh-interval=1s)\n",
              absl::FormatDuration(took).c_str());
  EXPECT_TRUE(server_->WaitForOutput("reloaded policy \\\"second\\\"", absl::Seconds(1)))
      << server_->output();

  // Cut to half: refused, logged, counted; the rewritten policy stays in force.
  ASSERT_EQ(truncate(policy_.c_str(), static_cast<off_t>(rewritten.size() / 2)), 0);
  EXPECT_TRUE(
      server_->WaitForOutput("not reloaded, the previous policy stays in force", absl::Seconds(5)))
      << server_->output();
  absl::SleepFor(absl::Milliseconds(1500));  // another re-read: the same bad bytes, no new line
  EXPECT_EQ(worker_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(web->GetUser(Context().get(), get, &user).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Metric({"firstsip_authz_policy_reloads_total{", "result=\"refused\""}), 1);
  EXPECT_EQ(Metric({"firstsip_authz_policy_reloads_total{", "result=\"loaded\""}), 1);
  ASSERT_EQ(server_->Stop(SIGTERM), 0);
  EXPECT_TRUE(absl::StrContains(server_->output(), "the policy is not valid JSON"))
      << server_->output();
}

TEST_F(AuthzTest, ARenewedCertificateServesNewConnectionsWhileAnOpenStreamGoesOn) {
  // The server reads its own copies, replaced the way a Secret mount is.
  ReplaceFile(certificates_->Path("serving.pem"), certificates_->Read("server.pem"));
  ReplaceFile(certificates_->Path("serving.key"), certificates_->Read("server.key"));
  StartServer("serving.pem", "serving.key");
  const std::string old_serial = testing::SerialOf(certificates_->Read("server.pem"));
  auto serial_seen_by_a_new_connection = [&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    auto stub = grpc::health::v1::Health::NewStub(Channel("web"));
    grpc::Status status = stub->Check(&context, request, &response);
    if (!status.ok()) return absl::StrCat("error: ", status.error_message());
    std::vector<grpc::string_ref> pem = context.auth_context()->FindPropertyValues("x509_pem_cert");
    return pem.empty() ? std::string("no certificate")
                       : testing::SerialOf(std::string(pem[0].data(), pem[0].size()));
  };
  ASSERT_EQ(serial_seen_by_a_new_connection(), old_serial);

  // A stream opened on the first certificate.
  auto web_channel = Channel("web");
  auto users = v1::UserService::NewStub(web_channel);
  v1::CreateUserRequest create;
  create.mutable_user()->set_email("rotation@example.com");
  v1::User user;
  ASSERT_TRUE(users->CreateUser(Context().get(), create, &user).ok());
  grpc::ClientContext watch_context;
  v1::WatchBriefingsRequest watch;
  watch.set_user_id(user.id());
  auto briefings = v1::BriefingService::NewStub(web_channel);
  auto stream = briefings->WatchBriefings(&watch_context, watch);
  stream->WaitForInitialMetadata();  // the stream is live
  std::vector<grpc::string_ref> stream_pem =
      watch_context.auth_context()->FindPropertyValues("x509_pem_cert");
  ASSERT_FALSE(stream_pem.empty());
  EXPECT_EQ(testing::SerialOf(std::string(stream_pem[0].data(), stream_pem[0].size())), old_serial);

  // Half a renewal: the new certificate without its key. Refused; the old pair stays served.
  ASSERT_TRUE(certificates_->IssueServer("renewed").ok());
  const std::string new_serial = testing::SerialOf(certificates_->Read("renewed.pem"));
  ASSERT_NE(new_serial, old_serial);
  ReplaceFile(certificates_->Path("serving.pem"), certificates_->Read("renewed.pem"));
  EXPECT_TRUE(server_->WaitForOutput("does not match the certificate", absl::Seconds(5)))
      << server_->output();
  absl::SleepFor(absl::Milliseconds(1200));  // gRPC's own re-read would have happened by now
  EXPECT_EQ(serial_seen_by_a_new_connection(), old_serial);
  EXPECT_EQ(Metric({"firstsip_tls_reloads_total{", "result=\"refused\""}), 1);

  // The key arrives: new connections get the renewed certificate within the interval.
  absl::Time renewed_at = absl::Now();
  ReplaceFile(certificates_->Path("serving.key"), certificates_->Read("renewed.key"));
  std::string seen;
  while ((seen = serial_seen_by_a_new_connection()) != new_serial &&
         absl::Now() - renewed_at < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  absl::Duration took = absl::Now() - renewed_at;
  EXPECT_EQ(seen, new_serial);
  EXPECT_LT(took, absl::Seconds(4)) << "--refresh-interval=1s, and gRPC's watcher takes 1s";
  std::printf("new connections got the renewed certificate %s after its key was written\n",
              absl::FormatDuration(took).c_str());
  EXPECT_EQ(Metric({"firstsip_tls_reloads_total{", "result=\"loaded\""}), 1);

  // The stream opened before goes on receiving, on its old connection.
  auto new_briefings = v1::BriefingService::NewStub(Channel("web"));
  v1::CreateBriefingRequest brief;
  brief.set_user_id(user.id());
  v1::Briefing created;
  ASSERT_TRUE(new_briefings->CreateBriefing(Context().get(), brief, &created).ok());
  v1::WatchBriefingsResponse change;
  ASSERT_TRUE(stream->Read(&change)) << stream->Finish().error_message();
  EXPECT_EQ(change.briefing().id(), created.id());
  watch_context.TryCancel();
  stream->Finish();
  ASSERT_EQ(server_->Stop(SIGTERM), 0);
}

TEST_F(AuthzTest, StartUpRefusesAPolicyWithoutClientCertificatesOrThatDoesNotParse) {
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "--database-url=" + database_->dsn());
    return testing::RunServerCommand(args, {{"ENCRYPTION_KEY", testing::kTestEncryptionKey}});
  };
  std::vector<std::string> tls = {"--tls-cert=" + certificates_->Path("server.pem"),
                                  "--tls-key=" + certificates_->Path("server.key")};
  std::vector<std::string> no_ca = tls;
  no_ca.push_back("--authz-policy=" + policy_);
  testing::CommandResult without_ca = run(no_ca);
  EXPECT_EQ(without_ca.exit_code, 2) << without_ca.output;
  EXPECT_TRUE(absl::StrContains(without_ca.output, "--tls-client-ca")) << without_ca.output;

  ReplaceFile(policy_, R"({"name": "p", "allow_rules": [{"source": {}}]})");
  std::vector<std::string> bad = tls;
  bad.push_back("--tls-client-ca=" + certificates_->Path("ca.pem"));
  bad.push_back("--authz-policy=" + policy_);
  testing::CommandResult bad_policy = run(bad);
  EXPECT_EQ(bad_policy.exit_code, 2) << bad_policy.output;
  EXPECT_TRUE(absl::StrContains(bad_policy.output, "allow_rules[0]: \"name\" is missing"))
      << bad_policy.output;

  ASSERT_TRUE(certificates_->IssueServer("other-server").ok());
  testing::CommandResult mismatch = run({"--tls-cert=" + certificates_->Path("server.pem"),
                                         "--tls-key=" + certificates_->Path("other-server.key")});
  EXPECT_EQ(mismatch.exit_code, 2) << mismatch.output;
  EXPECT_TRUE(absl::StrContains(mismatch.output, "--tls-key: does not match the certificate"))
      << mismatch.output;
}

}  // namespace
}  // namespace firstsip
