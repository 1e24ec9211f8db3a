// Hostile input, table-driven over the RPCs: each answers INVALID_ARGUMENT naming the field
// (or the documented code), never crashes, and writes nothing.
#include <future>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "db/blocking_connection.h"
#include "firstsip/v1/briefing.grpc.pb.h"
#include "firstsip/v1/identity.grpc.pb.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "support/running_server.h"

namespace firstsip {
namespace {

using grpc::StatusCode;

const std::string kHuge(1 << 20, 'x');
const std::string kNul("ab\0cd", 5);
const std::string kSql = "'; DROP TABLE users; --";

struct Expectation {
  std::string what;
  grpc::Status status;
  StatusCode code;
  std::string field;  // the message must start with it ("" = any message)
};

class HostileInputTest : public testing::RunningServerTest {
 protected:
  void SetUp() override {
    RunningServerTest::SetUp();
    if (HasFatalFailure()) return;
    users_ = v1::UserService::NewStub(channel_);
    identities_ = v1::IdentityService::NewStub(channel_);
    briefings_ = v1::BriefingService::NewStub(channel_);
    v1::CreateUserRequest create;
    create.mutable_user()->set_email("ada@example.com");
    ASSERT_TRUE(users_->CreateUser(Context().get(), create, &user_).ok());
  }

  int64_t Rows(const char* table) {
    auto connection = db::BlockingConnection::Open(database_->dsn());
    auto count = (*connection)->Exec(absl::StrCat("SELECT count(*) FROM ", table));
    return *count->Int64(0, 0);
  }

  void ExpectAll(const std::vector<Expectation>& cases) {
    for (const Expectation& c : cases) {
      SCOPED_TRACE(c.what);
      EXPECT_EQ(c.status.error_code(), c.code) << c.status.error_message();
      if (!c.field.empty()) {
        EXPECT_TRUE(absl::StartsWith(c.status.error_message(), c.field + ":"))
            << c.status.error_message();
      }
    }
  }

  // Calls `method` ("/package.Service/Method") with `bytes` as the request, as they are.
  grpc::Status CallWithBytes(const std::string& method, const std::string& bytes) {
    grpc::GenericStub stub(channel_);
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    std::promise<grpc::Status> done;
    auto context = Context();
    stub.UnaryCall(context.get(), method, grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status status) { done.set_value(std::move(status)); });
    return done.get_future().get();
  }

  std::unique_ptr<v1::UserService::Stub> users_;
  std::unique_ptr<v1::IdentityService::Stub> identities_;
  std::unique_ptr<v1::BriefingService::Stub> briefings_;
  v1::User user_;
};

TEST_F(HostileInputTest, UserServiceRefusesHostileInputAndWritesNothing) {
  auto create = [&](const std::string& email, const std::string& name, const std::string& zone,
                    const std::string& time, int role) {
    v1::CreateUserRequest request;
    request.mutable_user()->set_email(email);
    request.mutable_user()->set_name(name);
    request.mutable_user()->set_timezone(zone);
    request.mutable_user()->set_preferred_briefing_time(time);
    request.mutable_user()->set_role(static_cast<v1::Role>(role));
    v1::User out;
    return users_->CreateUser(Context().get(), request, &out);
  };
  auto get = [&](int64_t id) {
    v1::GetUserRequest request;
    request.set_id(id);
    v1::User out;
    return users_->GetUser(Context().get(), request, &out);
  };
  auto list = [&](int32_t size, const std::string& token, int role) {
    v1::ListUsersRequest request;
    request.set_page_size(size);
    request.set_page_token(token);
    request.set_role(static_cast<v1::Role>(role));
    v1::ListUsersResponse out;
    return users_->ListUsers(Context().get(), request, &out);
  };
  auto update = [&](const std::string& path, const std::string& value) {
    v1::UpdateUserRequest request;
    *request.mutable_user() = user_;
    request.mutable_user()->set_name(value);
    request.mutable_user()->set_email(value);
    request.mutable_user()->set_timezone(value);
    request.mutable_user()->set_preferred_briefing_time(value);
    request.mutable_update_mask()->add_paths(path);
    v1::User out;
    return users_->UpdateUser(Context().get(), request, &out);
  };
  const std::string ok = "b@example.com";
  ExpectAll({
      {"empty email", create("", "", "", "", 0), StatusCode::INVALID_ARGUMENT, "user.email"},
      {"1 MB email", create(kHuge, "", "", "", 0), StatusCode::INVALID_ARGUMENT, "user.email"},
      {"NUL in email", create(kNul + "@x.com", "", "", "", 0), StatusCode::INVALID_ARGUMENT,
       "user.email"},
      {"SQL email", create(kSql, "", "", "", 0), StatusCode::INVALID_ARGUMENT, "user.email"},
      {"1 MB name", create(ok, kHuge, "", "", 0), StatusCode::INVALID_ARGUMENT, "user.name"},
      {"NUL in name", create(ok, kNul, "", "", 0), StatusCode::INVALID_ARGUMENT, "user.name"},
      {"Mars", create(ok, "", "Mars/Olympus", "", 0), StatusCode::INVALID_ARGUMENT,
       "user.timezone"},
      {"SQL zone", create(ok, "", kSql, "", 0), StatusCode::INVALID_ARGUMENT, "user.timezone"},
      {"24:00", create(ok, "", "", "24:00", 0), StatusCode::INVALID_ARGUMENT,
       "user.preferred_briefing_time"},
      {"6:00", create(ok, "", "", "6:00", 0), StatusCode::INVALID_ARGUMENT,
       "user.preferred_briefing_time"},
      {"role 99", create(ok, "", "", "", 99), StatusCode::INVALID_ARGUMENT, "user.role"},
      {"role -1", create(ok, "", "", "", -1), StatusCode::INVALID_ARGUMENT, "user.role"},
      {"id 0", get(0), StatusCode::INVALID_ARGUMENT, "id"},
      {"id -1", get(-1), StatusCode::INVALID_ARGUMENT, "id"},
      {"id max", get(INT64_MAX), StatusCode::NOT_FOUND, ""},
      {"page size -5", list(-5, "", 0), StatusCode::INVALID_ARGUMENT, "page_size"},
      {"garbage token", list(0, "!!!!", 0), StatusCode::INVALID_ARGUMENT, "page_token"},
      {"1 MB token", list(0, kHuge, 0), StatusCode::INVALID_ARGUMENT, "page_token"},
      {"SQL token", list(0, kSql, 0), StatusCode::INVALID_ARGUMENT, "page_token"},
      {"list role 7", list(0, "", 7), StatusCode::INVALID_ARGUMENT, "role"},
      {"update NUL name", update("name", kNul), StatusCode::INVALID_ARGUMENT, "user.name"},
      {"update SQL email", update("email", kSql), StatusCode::INVALID_ARGUMENT, "user.email"},
      {"update Mars", update("timezone", "Mars/Olympus"), StatusCode::INVALID_ARGUMENT,
       "user.timezone"},
      {"update 1 MB path", update(kHuge, "x"), StatusCode::INVALID_ARGUMENT, "update_mask"},
      {"update SQL path", update(kSql, "x"), StatusCode::INVALID_ARGUMENT, "update_mask"},
  });
  EXPECT_EQ(Rows("users"), 1) << "no partial write";
  v1::GetUserRequest again;
  again.set_id(user_.id());
  v1::User unchanged;
  ASSERT_TRUE(users_->GetUser(Context().get(), again, &unchanged).ok());
  EXPECT_EQ(unchanged.etag(), user_.etag());
}

TEST_F(HostileInputTest, IdentityServiceRefusesHostileInputAndWritesNothing) {
  auto sign_in = [&](const std::string& provider, const std::string& subject,
                     const std::string& email, const std::string& token) {
    v1::SignInRequest request;
    request.set_provider(provider);
    request.set_provider_user_id(subject);
    request.set_email(email);
    request.mutable_tokens()->set_access_token(token);
    v1::SignInResponse out;
    return identities_->SignIn(Context().get(), request, &out);
  };
  auto tokens = [&](int64_t id) {
    v1::GetTokensRequest request;
    request.set_identity_id(id);
    v1::OAuthTokens out;
    return identities_->GetTokens(Context().get(), request, &out);
  };
  ExpectAll({
      {"empty provider", sign_in("", "s", "a@b.co", ""), StatusCode::INVALID_ARGUMENT, "provider"},
      {"SQL provider", sign_in(kSql, "s", "a@b.co", ""), StatusCode::INVALID_ARGUMENT, "provider"},
      {"NUL provider", sign_in(kNul, "s", "a@b.co", ""), StatusCode::INVALID_ARGUMENT, "provider"},
      {"1 MB subject", sign_in("google", kHuge, "a@b.co", ""), StatusCode::INVALID_ARGUMENT,
       "provider_user_id"},
      {"NUL subject", sign_in("google", kNul, "a@b.co", ""), StatusCode::INVALID_ARGUMENT,
       "provider_user_id"},
      {"SQL email", sign_in("google", "s", kSql, ""), StatusCode::INVALID_ARGUMENT, "email"},
      {"1 MB token", sign_in("google", "s", "a@b.co", kHuge), StatusCode::INVALID_ARGUMENT,
       "tokens.access_token"},
      {"tokens of id 0", tokens(0), StatusCode::INVALID_ARGUMENT, "identity_id"},
      {"tokens of id -9", tokens(-9), StatusCode::INVALID_ARGUMENT, "identity_id"},
  });
  EXPECT_EQ(Rows("auth_identities"), 0);
  EXPECT_EQ(Rows("users"), 1);
}

TEST_F(HostileInputTest, BriefingServiceRefusesHostileInputAndWritesNothing) {
  auto create = [&](int64_t user, const std::string& request_id) {
    v1::CreateBriefingRequest request;
    request.set_user_id(user);
    request.set_request_id(request_id);
    v1::Briefing out;
    return briefings_->CreateBriefing(Context().get(), request, &out);
  };
  auto list = [&](int status, const std::string& token) {
    v1::ListBriefingsRequest request;
    request.set_user_id(user_.id());
    request.set_status(static_cast<v1::BriefingStatus>(status));
    request.set_page_token(token);
    v1::ListBriefingsResponse out;
    return briefings_->ListBriefings(Context().get(), request, &out);
  };
  auto fail = [&](const std::string& message) {
    v1::FailBriefingRequest request;
    request.set_id(1);
    request.set_error_message(message);
    v1::Briefing out;
    return briefings_->FailBriefing(Context().get(), request, &out);
  };
  auto complete_deep = [&](int depth) {
    v1::CompleteBriefingRequest request;
    request.set_id(1);
    google::protobuf::Struct* level = request.mutable_content();
    for (int i = 0; i < depth; ++i) {
      level = (*level->mutable_fields())["d"].mutable_struct_value();
    }
    v1::Briefing out;
    return briefings_->CompleteBriefing(Context().get(), request, &out);
  };
  ExpectAll({
      {"user 0", create(0, ""), StatusCode::INVALID_ARGUMENT, "user_id"},
      {"user -1", create(-1, ""), StatusCode::INVALID_ARGUMENT, "user_id"},
      {"1 MB request id", create(user_.id(), kHuge), StatusCode::INVALID_ARGUMENT, "request_id"},
      {"NUL request id", create(user_.id(), kNul), StatusCode::INVALID_ARGUMENT, "request_id"},
      {"status 42", list(42, ""), StatusCode::INVALID_ARGUMENT, "status"},
      {"tampered token", list(0, "AQAAAAAAAAABxxxxxxxxxxxx"), StatusCode::INVALID_ARGUMENT,
       "page_token"},
      {"1 MB error message", fail(kHuge), StatusCode::INVALID_ARGUMENT, "error_message"},
      {"NUL error message", fail(kNul), StatusCode::INVALID_ARGUMENT, "error_message"},
      {"content 30 deep", complete_deep(30), StatusCode::INVALID_ARGUMENT, "content"},
      // Past protobuf's recursion limit: refused while parsing, still naming the field.
      {"content 1,000 deep", complete_deep(1000), StatusCode::INVALID_ARGUMENT, "content"},
  });
  EXPECT_EQ(Rows("briefings"), 0);
}

TEST_F(HostileInputTest, EveryRpcThatTakesAnIdRefusesZeroAndNegativeIdsNamingTheField) {
  for (int64_t id : {int64_t{0}, int64_t{-1}, INT64_MIN}) {
    SCOPED_TRACE(id);
    v1::User user;
    v1::AuthIdentity identity;
    v1::OAuthTokens tokens;
    v1::Briefing briefing;
    google::protobuf::Empty empty;
    v1::ListIdentitiesResponse identities;
    v1::ListBriefingsResponse page;
    v1::DeleteUserRequest delete_user;
    delete_user.set_id(id);
    v1::UndeleteUserRequest undelete_user;
    undelete_user.set_id(id);
    v1::UpdateUserRequest update_user;
    update_user.mutable_user()->set_id(id);
    update_user.mutable_update_mask()->add_paths("name");
    v1::GetIdentityRequest get_identity;
    get_identity.set_id(id);
    v1::ListIdentitiesRequest list_identities;
    list_identities.set_user_id(id);
    v1::UpdateTokensRequest update_tokens;
    update_tokens.set_identity_id(id);
    v1::DeleteIdentityRequest delete_identity;
    delete_identity.set_id(id);
    v1::GetBriefingRequest get_briefing;
    get_briefing.set_id(id);
    v1::ListBriefingsRequest list_briefings;
    list_briefings.set_user_id(id);
    v1::StartBriefingRequest start;
    start.set_id(id);
    v1::CompleteBriefingRequest complete;
    complete.set_id(id);
    v1::MarkBriefingReadRequest read;
    read.set_id(id);
    v1::DeleteBriefingRequest delete_briefing;
    delete_briefing.set_id(id);
    ExpectAll({
        {"DeleteUser", users_->DeleteUser(Context().get(), delete_user, &user),
         StatusCode::INVALID_ARGUMENT, "id"},
        {"UndeleteUser", users_->UndeleteUser(Context().get(), undelete_user, &user),
         StatusCode::INVALID_ARGUMENT, "id"},
        {"UpdateUser", users_->UpdateUser(Context().get(), update_user, &user),
         StatusCode::INVALID_ARGUMENT, "user.id"},
        {"GetIdentity", identities_->GetIdentity(Context().get(), get_identity, &identity),
         StatusCode::INVALID_ARGUMENT, "id"},
        {"ListIdentities",
         identities_->ListIdentities(Context().get(), list_identities, &identities),
         StatusCode::INVALID_ARGUMENT, "user_id"},
        {"UpdateTokens", identities_->UpdateTokens(Context().get(), update_tokens, &identity),
         StatusCode::INVALID_ARGUMENT, "identity_id"},
        {"DeleteIdentity", identities_->DeleteIdentity(Context().get(), delete_identity, &empty),
         StatusCode::INVALID_ARGUMENT, "id"},
        {"GetBriefing", briefings_->GetBriefing(Context().get(), get_briefing, &briefing),
         StatusCode::INVALID_ARGUMENT, "id"},
        {"ListBriefings", briefings_->ListBriefings(Context().get(), list_briefings, &page),
         StatusCode::INVALID_ARGUMENT, "user_id"},
        {"StartBriefing", briefings_->StartBriefing(Context().get(), start, &briefing),
         StatusCode::INVALID_ARGUMENT, "id"},
        {"CompleteBriefing", briefings_->CompleteBriefing(Context().get(), complete, &briefing),
         StatusCode::INVALID_ARGUMENT, "id"},
        {"MarkBriefingRead", briefings_->MarkBriefingRead(Context().get(), read, &briefing),
         StatusCode::INVALID_ARGUMENT, "id"},
        {"DeleteBriefing", briefings_->DeleteBriefing(Context().get(), delete_briefing, &empty),
         StatusCode::INVALID_ARGUMENT, "id"},
    });
  }
}

TEST_F(HostileInputTest, OtherFieldsOfTheRemainingRpcsRefuseHostileValues) {
  v1::GetUserByEmailRequest by_email;
  by_email.set_email(kSql);
  v1::User user;
  v1::UpdateTokensRequest update_tokens;
  update_tokens.set_identity_id(1);
  update_tokens.mutable_tokens()->set_refresh_token(kHuge);
  v1::AuthIdentity identity;
  v1::UpdateTokensRequest bad_expiry;
  bad_expiry.set_identity_id(1);
  bad_expiry.mutable_tokens()->mutable_expiry()->set_seconds(INT64_MAX);
  v1::ClaimNextBriefingRequest claim;
  claim.mutable_lease()->set_seconds(-30);
  v1::ClaimNextBriefingResponse claimed;
  v1::ClaimNextBriefingRequest too_long;
  too_long.mutable_lease()->set_seconds(7 * 24 * 3600);
  ExpectAll({
      {"email SQL", users_->GetUserByEmail(Context().get(), by_email, &user),
       StatusCode::INVALID_ARGUMENT, "email"},
      {"1 MB refresh token", identities_->UpdateTokens(Context().get(), update_tokens, &identity),
       StatusCode::INVALID_ARGUMENT, "tokens.refresh_token"},
      {"expiry out of range", identities_->UpdateTokens(Context().get(), bad_expiry, &identity),
       StatusCode::INVALID_ARGUMENT, "tokens.expiry"},
      {"negative lease", briefings_->ClaimNextBriefing(Context().get(), claim, &claimed),
       StatusCode::INVALID_ARGUMENT, "lease"},
      {"week-long lease", briefings_->ClaimNextBriefing(Context().get(), too_long, &claimed),
       StatusCode::INVALID_ARGUMENT, "lease"},
  });
}

TEST_F(HostileInputTest, SqlMetacharactersInFreeTextFieldsArriveIntactAndHarmless) {
  // Fields that take free text accept the string and store it verbatim: parameters, not SQL.
  const std::string sql = kSql + " \\'\" $1 ;";
  v1::SignInRequest sign_in;
  sign_in.set_provider("google");
  sign_in.set_provider_user_id(sql);
  sign_in.set_email("sql@example.com");
  sign_in.set_name(sql);
  sign_in.mutable_tokens()->set_access_token(sql);
  sign_in.mutable_tokens()->set_refresh_token(sql);
  v1::SignInResponse signed_in;
  ASSERT_TRUE(identities_->SignIn(Context().get(), sign_in, &signed_in).ok());
  EXPECT_EQ(signed_in.identity().provider_user_id(), sql);
  EXPECT_EQ(signed_in.user().name(), sql);
  v1::GetTokensRequest get_tokens;
  get_tokens.set_identity_id(signed_in.identity().id());
  v1::OAuthTokens tokens;
  ASSERT_TRUE(identities_->GetTokens(Context().get(), get_tokens, &tokens).ok());
  EXPECT_EQ(tokens.access_token(), sql);
  EXPECT_EQ(tokens.refresh_token(), sql);

  v1::CreateBriefingRequest create;
  create.set_user_id(user_.id());
  create.set_request_id(sql);
  v1::Briefing first;
  v1::Briefing again;
  ASSERT_TRUE(briefings_->CreateBriefing(Context().get(), create, &first).ok());
  ASSERT_TRUE(briefings_->CreateBriefing(Context().get(), create, &again).ok());
  EXPECT_EQ(again.id(), first.id());  // the same request id, found again verbatim
  v1::StartBriefingRequest start;
  start.set_id(first.id());
  v1::Briefing running;
  ASSERT_TRUE(briefings_->StartBriefing(Context().get(), start, &running).ok());
  v1::FailBriefingRequest fail;
  fail.set_id(first.id());
  fail.set_error_message(sql);
  v1::Briefing failed;
  ASSERT_TRUE(briefings_->FailBriefing(Context().get(), fail, &failed).ok());
  EXPECT_EQ(failed.error_message(), sql);

  EXPECT_EQ(Rows("users"), 2);  // the fixture's user and the one signed in
  EXPECT_EQ(Rows("auth_identities"), 1);
  EXPECT_EQ(Rows("briefings"), 1);
}

// Every method of our three services, as the descriptors (the contract) list them.
std::vector<const google::protobuf::MethodDescriptor*> AllMethods() {
  std::vector<const google::protobuf::MethodDescriptor*> methods;
  for (const char* name :
       {v1::UserService::service_full_name(), v1::IdentityService::service_full_name(),
        v1::BriefingService::service_full_name()}) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    for (int m = 0; m < service->method_count(); ++m) methods.push_back(service->method(m));
  }
  return methods;
}

std::string PathOf(const google::protobuf::MethodDescriptor& method) {
  return absl::StrCat("/", method.service()->full_name(), "/", method.name());
}

// The singular string fields of `type` and of the firstsip messages inside it, as field paths.
void CollectStringFields(const google::protobuf::Descriptor& type, const std::string& prefix,
                         std::vector<std::vector<const google::protobuf::FieldDescriptor*>>& out,
                         std::vector<const google::protobuf::FieldDescriptor*> chain = {}) {
  for (int f = 0; f < type.field_count(); ++f) {
    const google::protobuf::FieldDescriptor* field = type.field(f);
    if (field->is_repeated()) continue;
    chain.push_back(field);
    if (field->type() == google::protobuf::FieldDescriptor::TYPE_STRING) out.push_back(chain);
    if (field->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE &&
        field->message_type()->file()->package() == prefix) {
      CollectStringFields(*field->message_type(), prefix, out, chain);
    }
    chain.pop_back();
  }
}

TEST_F(HostileInputTest, EveryRpcRefusesBytesThatAreNotAMessage) {
  int methods = 0;
  for (const google::protobuf::MethodDescriptor* method : AllMethods()) {
    SCOPED_TRACE(method->full_name());
    grpc::Status status = CallWithBytes(PathOf(*method), "\xff\xff\xff\xff\xff");
    EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_EQ(status.error_message(), "request: is not a well-formed protobuf message");
    ++methods;
  }
  EXPECT_EQ(methods, 25);  // 9 user + 6 identity + 10 briefing methods
  EXPECT_EQ(Rows("users"), 1);
}

TEST_F(HostileInputTest, EveryStringOfEveryRpcRefusesInvalidUtf8NamingTheField) {
  // Protobuf serializes whatever bytes a string holds; a valid placeholder is swapped for the
  // same number of invalid bytes after serializing, so every length prefix stays right.
  const std::string placeholder = "PLACEHOLDER";
  const std::string invalid(placeholder.size(), '\xff');
  int fields = 0;
  for (const google::protobuf::MethodDescriptor* method : AllMethods()) {
    std::vector<std::vector<const google::protobuf::FieldDescriptor*>> paths;
    CollectStringFields(*method->input_type(), "firstsip.v1", paths);
    for (const auto& path : paths) {
      std::unique_ptr<google::protobuf::Message> request(
          google::protobuf::MessageFactory::generated_factory()
              ->GetPrototype(method->input_type())
              ->New());
      google::protobuf::Message* message = request.get();
      std::string name;
      for (const google::protobuf::FieldDescriptor* field : path) {
        name = name.empty() ? field->name() : absl::StrCat(name, ".", field->name());
        if (field->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
          message->GetReflection()->SetString(message, field, placeholder);
        } else {
          message = message->GetReflection()->MutableMessage(message, field);
        }
      }
      SCOPED_TRACE(absl::StrCat(method->full_name(), " ", name));
      grpc::Status status = CallWithBytes(
          PathOf(*method),
          absl::StrReplaceAll(request->SerializeAsString(), {{placeholder, invalid}}));
      EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
      EXPECT_EQ(status.error_message(), name + ": is not valid UTF-8");
      ++fields;
    }
  }
  EXPECT_GE(fields, 24);
  EXPECT_EQ(Rows("users"), 1);
  EXPECT_EQ(Rows("auth_identities"), 0);
  EXPECT_EQ(Rows("briefings"), 0);
  // Protobuf's own complaint reaches the log in our format, not as a bare stderr line.
  EXPECT_TRUE(server_->WaitForOutput("\"library\":\"protobuf\"", absl::Seconds(5)));
  EXPECT_FALSE(absl::StrContains(server_->output(), "[libprotobuf"));
}

}  // namespace
}  // namespace firstsip
