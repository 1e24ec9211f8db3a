// IdentityService and token encryption through gRPC, against the real server and PostgreSQL.
#include <signal.h>

#include <atomic>
#include <barrier>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crypto/key_ring.h"
#include "db/blocking_connection.h"
#include "firstsip/v1/identity.grpc.pb.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "gtest/gtest.h"
#include "support/running_server.h"

namespace firstsip {
namespace {

using grpc::StatusCode;

constexpr char kAccessToken[] = "ya29.a0AfH6SMBx-plaintext-access-token-4242";
constexpr char kRefreshToken[] = "1//0gLpQ-plaintext-refresh-token-4242";

std::string KeyIdOf(const char* base64) {
  auto ring = crypto::KeyRing::FromBase64("test", base64, "");
  return crypto::KeyIdHex(ring->active().id());
}

class IdentityServiceTest : public testing::RunningServerTest {
 protected:
  void SetUp() override {
    RunningServerTest::SetUp();
    if (HasFatalFailure()) return;
    Connect();
  }

  void Connect() {
    channel_ = grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials());
    identities_ = v1::IdentityService::NewStub(channel_);
    users_ = v1::UserService::NewStub(channel_);
  }

  // Restarts the server on the same database with other key settings.
  void RestartWith(const testing::EnvironmentOverrides& environment) {
    ASSERT_EQ(server_->Stop(SIGTERM), 0);
    auto server = testing::ServerProcess::Start(database_->dsn(), {}, environment);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    Connect();
  }

  static v1::SignInRequest Request(const std::string& subject, const std::string& email,
                                   const std::string& access = kAccessToken,
                                   const std::string& refresh = kRefreshToken) {
    v1::SignInRequest request;
    request.set_provider("google");
    request.set_provider_user_id(subject);
    request.set_email(email);
    request.set_name("Ada Lovelace");
    request.set_timezone("Europe/London");
    request.mutable_tokens()->set_access_token(access);
    request.mutable_tokens()->set_refresh_token(refresh);
    request.mutable_tokens()->mutable_expiry()->set_seconds(1'900'000'000);
    return request;
  }

  grpc::Status SignIn(const v1::SignInRequest& request, v1::SignInResponse* response) {
    return identities_->SignIn(Context().get(), request, response);
  }

  v1::SignInResponse MustSignIn(const v1::SignInRequest& request) {
    v1::SignInResponse response;
    grpc::Status status = SignIn(request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  grpc::Status GetTokens(int64_t identity_id, v1::OAuthTokens* tokens) {
    v1::GetTokensRequest request;
    request.set_identity_id(identity_id);
    return identities_->GetTokens(Context().get(), request, tokens);
  }

  std::unique_ptr<db::BlockingConnection> Database() {
    auto connection = db::BlockingConnection::Open(database_->dsn());
    EXPECT_TRUE(connection.ok());
    return std::move(*connection);
  }

  int64_t Count(const std::string& sql) {
    auto result = Database()->Exec(sql);
    EXPECT_TRUE(result.ok()) << result.status();
    return *result->Int64(0, 0);
  }

  std::unique_ptr<v1::IdentityService::Stub> identities_;
  std::unique_ptr<v1::UserService::Stub> users_;
};

TEST_F(IdentityServiceTest, FirstSignInCreatesTheUserAndTheIdentity) {
  v1::SignInResponse response = MustSignIn(Request("sub-1", "Ada@Example.com"));
  EXPECT_TRUE(response.user_created());
  EXPECT_TRUE(response.identity_created());
  EXPECT_EQ(response.user().email(), "Ada@Example.com");
  EXPECT_EQ(response.user().name(), "Ada Lovelace");
  EXPECT_EQ(response.user().timezone(), "Europe/London");
  EXPECT_EQ(response.user().preferred_briefing_time(), "06:00");
  EXPECT_EQ(response.user().role(), v1::ROLE_USER);
  EXPECT_TRUE(response.user().has_last_login_at());
  const v1::AuthIdentity& identity = response.identity();
  EXPECT_EQ(identity.user_id(), response.user().id());
  EXPECT_EQ(identity.provider(), "google");
  EXPECT_EQ(identity.provider_user_id(), "sub-1");
  EXPECT_TRUE(identity.has_access_token());
  EXPECT_TRUE(identity.has_refresh_token());
  EXPECT_EQ(identity.token_expiry().seconds(), 1'900'000'000);
  v1::OAuthTokens tokens;
  ASSERT_TRUE(GetTokens(identity.id(), &tokens).ok());
  EXPECT_EQ(tokens.access_token(), kAccessToken);
  EXPECT_EQ(tokens.refresh_token(), kRefreshToken);
  EXPECT_EQ(tokens.expiry().seconds(), 1'900'000'000);
}

TEST_F(IdentityServiceTest, AnInvalidTimeZoneFallsBackToUtc) {
  v1::SignInRequest request = Request("sub-tz", "tz@example.com");
  request.set_timezone("Mars/Olympus");
  EXPECT_EQ(MustSignIn(request).user().timezone(), "UTC");
}

TEST_F(IdentityServiceTest, ASignInThatCreatesTheUserSchedulesItsFirstBriefing) {
  auto next_of = [](const v1::User& user) {
    return absl::FromUnixSeconds(user.next_briefing_time().seconds());
  };
  v1::SignInRequest request = Request("sub-next", "next@example.com");
  request.set_timezone("Asia/Kathmandu");
  const absl::Time before = absl::Now();
  v1::SignInResponse created = MustSignIn(request);
  ASSERT_TRUE(created.user_created());
  ASSERT_TRUE(created.user().has_next_briefing_time());
  const absl::Time first = next_of(created.user());
  EXPECT_GT(first, before);
  EXPECT_LE(first, before + absl::Hours(24));
  EXPECT_EQ(absl::FormatTime("%H:%M:%S", first, absl::FixedTimeZone(5 * 3600 + 45 * 60)),
            "06:00:00")
      << "the default 06:00, in the user's +05:45";
  EXPECT_FALSE(created.user().briefings_paused());
  EXPECT_EQ(next_of(MustSignIn(request).user()), first) << "signing in again keeps it";

  v1::SignInRequest martian = Request("sub-mars", "mars@example.com");
  martian.set_timezone("Mars/Olympus");
  EXPECT_EQ(absl::FormatTime("%H:%M:%S", next_of(MustSignIn(martian).user()), absl::UTCTimeZone()),
            "06:00:00")
      << "a zone it cannot take falls back to UTC's 06:00";
}

TEST_F(IdentityServiceTest, SigningInAgainUpdatesTokensKeepsEmptyOnesAndStampsTheLogin) {
  v1::SignInResponse first = MustSignIn(Request("sub-1", "ada@example.com"));
  v1::SignInRequest again = Request("sub-1", "ada@example.com", "new-access", "");
  again.mutable_tokens()->clear_expiry();
  absl::SleepFor(absl::Milliseconds(5));
  v1::SignInResponse second = MustSignIn(again);
  EXPECT_FALSE(second.user_created());
  EXPECT_FALSE(second.identity_created());
  EXPECT_EQ(second.user().id(), first.user().id());
  EXPECT_EQ(second.identity().id(), first.identity().id());
  EXPECT_GT(second.user().last_login_at().seconds() * 1'000'000'000LL +
                second.user().last_login_at().nanos(),
            first.user().last_login_at().seconds() * 1'000'000'000LL +
                first.user().last_login_at().nanos());
  EXPECT_EQ(second.user().etag(), first.user().etag()) << "a login is not an edit of the user";
  v1::OAuthTokens tokens;
  ASSERT_TRUE(GetTokens(first.identity().id(), &tokens).ok());
  EXPECT_EQ(tokens.access_token(), "new-access");
  EXPECT_EQ(tokens.refresh_token(), kRefreshToken);
  EXPECT_EQ(tokens.expiry().seconds(), 1'900'000'000);
}

TEST_F(IdentityServiceTest, AFirstSignInLinksTheLiveUserWithThatEmail) {
  v1::CreateUserRequest create;
  create.mutable_user()->set_email("grace@example.com");
  v1::User user;
  ASSERT_TRUE(users_->CreateUser(Context().get(), create, &user).ok());
  v1::SignInResponse response = MustSignIn(Request("sub-g", "GRACE@example.com"));
  EXPECT_FALSE(response.user_created());
  EXPECT_TRUE(response.identity_created());
  EXPECT_EQ(response.user().id(), user.id());
  EXPECT_TRUE(response.user().has_last_login_at());
  v1::SignInRequest github = Request("gh-7", "grace@example.com");
  github.set_provider("github");
  EXPECT_EQ(MustSignIn(github).user().id(), user.id()) << "a second provider links too";
}

TEST_F(IdentityServiceTest, SignInToADeletedUsersIdentityIsFailedPrecondition) {
  v1::SignInResponse first = MustSignIn(Request("sub-1", "ada@example.com"));
  v1::DeleteUserRequest remove;
  remove.set_id(first.user().id());
  v1::User deleted;
  ASSERT_TRUE(users_->DeleteUser(Context().get(), remove, &deleted).ok());
  v1::SignInResponse response;
  grpc::Status status = SignIn(Request("sub-1", "ada@example.com", "other"), &response);
  EXPECT_EQ(status.error_code(), StatusCode::FAILED_PRECONDITION);
  v1::OAuthTokens tokens;
  ASSERT_TRUE(GetTokens(first.identity().id(), &tokens).ok());
  EXPECT_EQ(tokens.access_token(), kAccessToken) << "a refused sign-in writes nothing";
}

TEST_F(IdentityServiceTest, SixteenConcurrentFirstSignInsCreateOneUserAndOneIdentity) {
  constexpr int kCallers = 16;
  std::barrier start(kCallers);
  std::vector<v1::SignInResponse> responses(kCallers);
  std::vector<grpc::Status> statuses(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      v1::SignInRequest request =
          Request("sub-race", "race@example.com", absl::StrCat("access-", i), "");
      start.arrive_and_wait();
      statuses[i] = SignIn(request, &responses[i]);
    });
  }
  for (auto& caller : callers) caller.join();
  std::set<int64_t> user_ids, identity_ids;
  int users_created = 0, identities_created = 0;
  for (int i = 0; i < kCallers; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    user_ids.insert(responses[i].user().id());
    identity_ids.insert(responses[i].identity().id());
    users_created += responses[i].user_created();
    identities_created += responses[i].identity_created();
  }
  EXPECT_EQ(user_ids.size(), 1u);
  EXPECT_EQ(identity_ids.size(), 1u);
  EXPECT_EQ(users_created, 1);
  EXPECT_EQ(identities_created, 1);
  EXPECT_EQ(Count("SELECT count(*) FROM users"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM auth_identities"), 1);
}

TEST_F(IdentityServiceTest, SignInRejectsBadInputNamingTheField) {
  struct Case {
    const char* why;
    void (*mutate)(v1::SignInRequest&);
    const char* field;
  } const cases[] = {
      {"no provider", [](v1::SignInRequest& r) { r.clear_provider(); }, "provider"},
      {"uppercase", [](v1::SignInRequest& r) { r.set_provider("Google"); }, "provider"},
      {"space", [](v1::SignInRequest& r) { r.set_provider("goo gle"); }, "provider"},
      {"too long", [](v1::SignInRequest& r) { r.set_provider(std::string(33, 'g')); }, "provider"},
      {"no subject", [](v1::SignInRequest& r) { r.clear_provider_user_id(); }, "provider_user_id"},
      {"bad email", [](v1::SignInRequest& r) { r.set_email("nope"); }, "email"},
      {"huge token",
       [](v1::SignInRequest& r) { r.mutable_tokens()->set_access_token(std::string(20000, 'a')); },
       "tokens.access_token"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.why);
    v1::SignInRequest request = Request("sub-bad", "bad@example.com");
    c.mutate(request);
    v1::SignInResponse response;
    grpc::Status status = SignIn(request, &response);
    EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StartsWith(status.error_message(), c.field)) << status.error_message();
  }
  EXPECT_EQ(Count("SELECT count(*) FROM users"), 0);
}

TEST_F(IdentityServiceTest, GetAndListIdentities) {
  v1::SignInResponse google = MustSignIn(Request("sub-1", "ada@example.com"));
  v1::SignInRequest github_request = Request("gh-1", "ada@example.com");
  github_request.set_provider("github");
  v1::SignInResponse github = MustSignIn(github_request);
  v1::GetIdentityRequest get;
  get.set_id(github.identity().id());
  v1::AuthIdentity identity;
  ASSERT_TRUE(identities_->GetIdentity(Context().get(), get, &identity).ok());
  EXPECT_EQ(identity.provider(), "github");
  get.set_id(github.identity().id() + 100);
  EXPECT_EQ(identities_->GetIdentity(Context().get(), get, &identity).error_code(),
            StatusCode::NOT_FOUND);
  get.set_id(0);
  EXPECT_EQ(identities_->GetIdentity(Context().get(), get, &identity).error_code(),
            StatusCode::INVALID_ARGUMENT);

  v1::ListIdentitiesRequest list;
  list.set_user_id(google.user().id());
  v1::ListIdentitiesResponse listed;
  ASSERT_TRUE(identities_->ListIdentities(Context().get(), list, &listed).ok());
  ASSERT_EQ(listed.identities_size(), 2);
  EXPECT_EQ(listed.identities(0).provider(), "google");
  EXPECT_EQ(listed.identities(1).provider(), "github");

  v1::CreateUserRequest create;
  create.mutable_user()->set_email("lonely@example.com");
  v1::User lonely;
  ASSERT_TRUE(users_->CreateUser(Context().get(), create, &lonely).ok());
  list.set_user_id(lonely.id());
  listed.Clear();
  ASSERT_TRUE(identities_->ListIdentities(Context().get(), list, &listed).ok());
  EXPECT_EQ(listed.identities_size(), 0);
  list.set_user_id(lonely.id() + 100);
  EXPECT_EQ(identities_->ListIdentities(Context().get(), list, &listed).error_code(),
            StatusCode::NOT_FOUND);
}

TEST_F(IdentityServiceTest, UpdateTokensKeepsEmptyFieldsAndGetTokensReturnsPlaintext) {
  v1::SignInResponse signed_in = MustSignIn(Request("sub-1", "ada@example.com"));
  v1::UpdateTokensRequest update;
  update.set_identity_id(signed_in.identity().id());
  update.mutable_tokens()->set_access_token("refreshed-access");
  update.mutable_tokens()->mutable_expiry()->set_seconds(2'000'000'000);
  v1::AuthIdentity updated;
  ASSERT_TRUE(identities_->UpdateTokens(Context().get(), update, &updated).ok());
  EXPECT_EQ(updated.token_expiry().seconds(), 2'000'000'000);
  EXPECT_TRUE(updated.has_refresh_token());
  v1::OAuthTokens tokens;
  ASSERT_TRUE(GetTokens(signed_in.identity().id(), &tokens).ok());
  EXPECT_EQ(tokens.access_token(), "refreshed-access");
  EXPECT_EQ(tokens.refresh_token(), kRefreshToken);
  update.set_identity_id(signed_in.identity().id() + 50);
  EXPECT_EQ(identities_->UpdateTokens(Context().get(), update, &updated).error_code(),
            StatusCode::NOT_FOUND);
  EXPECT_EQ(GetTokens(signed_in.identity().id() + 50, &tokens).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(GetTokens(-1, &tokens).error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(IdentityServiceTest, DeleteIdentityRemovesItsTokensForGood) {
  v1::SignInResponse signed_in = MustSignIn(Request("sub-1", "ada@example.com"));
  v1::DeleteIdentityRequest remove;
  remove.set_id(signed_in.identity().id());
  google::protobuf::Empty empty;
  ASSERT_TRUE(identities_->DeleteIdentity(Context().get(), remove, &empty).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM auth_identities"), 0);
  v1::OAuthTokens tokens;
  EXPECT_EQ(GetTokens(signed_in.identity().id(), &tokens).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(identities_->DeleteIdentity(Context().get(), remove, &empty).error_code(),
            StatusCode::NOT_FOUND);
  v1::SignInResponse again = MustSignIn(Request("sub-1", "ada@example.com"));
  EXPECT_EQ(again.user().id(), signed_in.user().id()) << "signing in again relinks the user";
  EXPECT_TRUE(again.identity_created());
}

TEST_F(IdentityServiceTest, TheRawTableHoldsNeitherTheTokensNorTheirBase64) {
  MustSignIn(Request("sub-1", "ada@example.com"));
  auto rows = Database()->Exec(
      "SELECT row_to_json(t)::text, encode(access_token, 'escape'), "
      "encode(refresh_token, 'escape') FROM auth_identities t");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->rows(), 1);
  std::string raw = absl::StrCat(rows->Text(0, 0), rows->Text(0, 1), rows->Text(0, 2));
  auto sealed = Database()->Exec("SELECT access_token, refresh_token FROM auth_identities");
  for (int column = 0; column < 2; ++column) raw += **sealed->OptionalBytes(0, column);
  for (const char* token : {kAccessToken, kRefreshToken}) {
    EXPECT_FALSE(absl::StrContains(raw, token));
    EXPECT_FALSE(absl::StrContains(raw, absl::Base64Escape(token)));
    EXPECT_FALSE(absl::StrContains(raw, absl::BytesToHexString(token)));
    EXPECT_FALSE(absl::StrContains(raw, std::string(token).substr(5, 16)));
  }
}

TEST_F(IdentityServiceTest, CiphertextMovedToAnotherRowOrColumnFailsToDecrypt) {
  v1::SignInResponse a = MustSignIn(Request("sub-a", "a@example.com"));
  v1::SignInResponse b = MustSignIn(Request("sub-b", "b@example.com"));
  auto db = Database();
  ASSERT_TRUE(
      db->ExecScript(absl::StrCat("UPDATE auth_identities SET access_token = (SELECT access_token "
                                  "FROM auth_identities WHERE id = ",
                                  b.identity().id(), ") WHERE id = ", a.identity().id()))
          .ok());
  v1::OAuthTokens tokens;
  grpc::Status moved = GetTokens(a.identity().id(), &tokens);
  EXPECT_EQ(moved.error_code(), StatusCode::DATA_LOSS) << moved.error_message();
  EXPECT_FALSE(absl::StrContains(moved.error_message(), kAccessToken));
  ASSERT_TRUE(db->ExecScript(absl::StrCat("UPDATE auth_identities SET access_token = "
                                          "refresh_token, refresh_token = access_token WHERE id = ",
                                          b.identity().id()))
                  .ok());
  EXPECT_EQ(GetTokens(b.identity().id(), &tokens).error_code(), StatusCode::DATA_LOSS);
}

TEST_F(IdentityServiceTest, RotationMovesEveryTokenToTheNewKeyThenTheOldKeyCanGo) {
  std::vector<int64_t> identity_ids;
  for (int i = 0; i < 7; ++i) {
    identity_ids.push_back(
        MustSignIn(Request(absl::StrCat("sub-", i), absl::StrCat("u", i, "@example.com")))
            .identity()
            .id());
  }
  // New key active, old key still readable.
  RestartWith({{"ENCRYPTION_KEY", testing::kOtherTestEncryptionKey},
               {"ENCRYPTION_PREVIOUS_KEYS", testing::kTestEncryptionKey}});
  if (HasFatalFailure()) return;
  v1::OAuthTokens tokens;
  ASSERT_TRUE(GetTokens(identity_ids[0], &tokens).ok());
  EXPECT_EQ(tokens.access_token(), kAccessToken);

  testing::CommandResult rotated = testing::RunServerCommand(
      {"--database-url=" + database_->dsn(), "--rotate-batch-size=3", "rotate-keys"},
      {{"ENCRYPTION_KEY", testing::kOtherTestEncryptionKey},
       {"ENCRYPTION_PREVIOUS_KEYS", testing::kTestEncryptionKey}});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.output;
  EXPECT_TRUE(absl::StrContains(rotated.output, "3/7")) << rotated.output;
  EXPECT_TRUE(absl::StrContains(rotated.output, "done: 7 identities")) << rotated.output;
  std::string new_key_id = KeyIdOf(testing::kOtherTestEncryptionKey);
  EXPECT_EQ(Count("SELECT count(*) FROM auth_identities WHERE encode(substring(access_token "
                  "FROM 2 FOR 4), 'hex') = '" +
                  new_key_id +
                  "' AND encode(substring("
                  "refresh_token FROM 2 FOR 4), 'hex') = '" +
                  new_key_id + "'"),
            7);
  testing::CommandResult again =
      testing::RunServerCommand({"--database-url=" + database_->dsn(), "rotate-keys"},
                                {{"ENCRYPTION_KEY", testing::kOtherTestEncryptionKey}});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_TRUE(absl::StrContains(again.output, "done: 0 identities")) << again.output;

  RestartWith({{"ENCRYPTION_KEY", testing::kOtherTestEncryptionKey}});
  if (HasFatalFailure()) return;
  for (int64_t id : identity_ids) {
    ASSERT_TRUE(GetTokens(id, &tokens).ok());
    EXPECT_EQ(tokens.refresh_token(), kRefreshToken);
  }
}

TEST_F(IdentityServiceTest, ATokenUnderAKeyNoLongerConfiguredNamesThatKey) {
  v1::SignInResponse signed_in = MustSignIn(Request("sub-1", "ada@example.com"));
  RestartWith({{"ENCRYPTION_KEY", testing::kOtherTestEncryptionKey}});
  if (HasFatalFailure()) return;
  v1::OAuthTokens tokens;
  grpc::Status status = GetTokens(signed_in.identity().id(), &tokens);
  EXPECT_EQ(status.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(status.error_message(), KeyIdOf(testing::kTestEncryptionKey)))
      << status.error_message();
  testing::CommandResult rotate =
      testing::RunServerCommand({"--database-url=" + database_->dsn(), "rotate-keys"},
                                {{"ENCRYPTION_KEY", testing::kOtherTestEncryptionKey}});
  EXPECT_EQ(rotate.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(rotate.output, KeyIdOf(testing::kTestEncryptionKey)))
      << rotate.output;
}

TEST_F(IdentityServiceTest, NeitherTokensNorKeysAppearInTheServerOutput) {
  v1::SignInResponse signed_in = MustSignIn(Request("sub-1", "ada@example.com"));
  v1::OAuthTokens tokens;
  ASSERT_TRUE(GetTokens(signed_in.identity().id(), &tokens).ok());
  v1::SignInResponse response;
  v1::SignInRequest bad = Request("sub-1", "ada@example.com");
  bad.set_provider("BAD");
  SignIn(bad, &response);
  ASSERT_EQ(server_->Stop(SIGTERM), 0);
  std::string output = server_->output();
  for (const char* secret : {kAccessToken, kRefreshToken, testing::kTestEncryptionKey}) {
    EXPECT_FALSE(absl::StrContains(output, secret)) << output;
  }
}

class KeyConfigurationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto database = testing::TestDatabase::Create();
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
  }
  testing::CommandResult Serve(const testing::EnvironmentOverrides& environment,
                               std::vector<std::string> flags = {}) {
    flags.push_back("--database-url=" + database_->dsn());
    flags.push_back("--listen=127.0.0.1:0");
    return testing::RunServerCommand(flags, environment, absl::Seconds(20));
  }
  std::unique_ptr<testing::TestDatabase> database_;
};

TEST_F(KeyConfigurationTest, AMissingShortOrMalformedKeyStopsStartUpWithOneClearLine) {
  struct Case {
    const char* why;
    testing::EnvironmentOverrides environment;
    const char* mentions;
  } const cases[] = {
      {"missing", {{"ENCRYPTION_KEY", std::nullopt}}, "no encryption key"},
      {"short", {{"ENCRYPTION_KEY", "c2hvcnQta2V5"}}, "decodes to 9 bytes"},
      {"not base64", {{"ENCRYPTION_KEY", "%%%not-base64%%%"}}, "not valid base64"},
      {"bad previous",
       {{"ENCRYPTION_KEY", testing::kTestEncryptionKey}, {"ENCRYPTION_PREVIOUS_KEYS", "abc"}},
       "ENCRYPTION_PREVIOUS_KEYS"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.why);
    testing::CommandResult result = Serve(c.environment);
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_TRUE(absl::StrContains(result.output, c.mentions)) << result.output;
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
  }
}

TEST_F(KeyConfigurationTest, AKeyFileServesLikeTheVariable) {
  std::string path = "/tmp/firstsip-test-key-" + database_->name();
  std::ofstream(path) << testing::kTestEncryptionKey << "\n";
  auto server = testing::ServerProcess::Start(database_->dsn(), {"--encryption-key-file=" + path},
                                              {{"ENCRYPTION_KEY", std::nullopt}});
  std::remove(path.c_str());
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace firstsip
