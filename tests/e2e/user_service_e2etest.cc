// UserService through gRPC against the real server and a real PostgreSQL: every behaviour and
// error code the contract lists for it.
#include <atomic>
#include <barrier>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "db/blocking_connection.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "gtest/gtest.h"
#include "support/running_server.h"

namespace firstsip {
namespace {

using grpc::StatusCode;

class UserServiceTest : public testing::RunningServerTest {
 protected:
  void SetUp() override {
    RunningServerTest::SetUp();
    if (HasFatalFailure()) return;
    stub_ = v1::UserService::NewStub(channel_);
  }

  grpc::Status Create(const std::string& email, v1::User* out = nullptr,
                      v1::Role role = v1::ROLE_UNSPECIFIED) {
    v1::CreateUserRequest request;
    request.mutable_user()->set_email(email);
    request.mutable_user()->set_name("Test " + email);
    request.mutable_user()->set_role(role);
    v1::User response;
    grpc::Status status = stub_->CreateUser(Context().get(), request, &response);
    if (out != nullptr) *out = response;
    return status;
  }

  v1::User MustCreate(const std::string& email, v1::Role role = v1::ROLE_UNSPECIFIED) {
    v1::User user;
    grpc::Status status = Create(email, &user, role);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return user;
  }

  grpc::Status Get(int64_t id, bool show_deleted, v1::User* out) {
    v1::GetUserRequest request;
    request.set_id(id);
    request.set_show_deleted(show_deleted);
    return stub_->GetUser(Context().get(), request, out);
  }

  grpc::Status Update(const v1::User& user, std::initializer_list<const char*> paths,
                      v1::User* out) {
    v1::UpdateUserRequest request;
    *request.mutable_user() = user;
    for (const char* path : paths) request.mutable_update_mask()->add_paths(path);
    return stub_->UpdateUser(Context().get(), request, out);
  }

  grpc::Status Delete(int64_t id, v1::User* out = nullptr) {
    v1::DeleteUserRequest request;
    request.set_id(id);
    v1::User response;
    grpc::Status status = stub_->DeleteUser(Context().get(), request, &response);
    if (out) *out = response;
    return status;
  }

  grpc::Status Undelete(int64_t id, v1::User* out = nullptr) {
    v1::UndeleteUserRequest request;
    request.set_id(id);
    v1::User response;
    grpc::Status status = stub_->UndeleteUser(Context().get(), request, &response);
    if (out) *out = response;
    return status;
  }

  grpc::Status List(const v1::ListUsersRequest& request, v1::ListUsersResponse* out) {
    return stub_->ListUsers(Context().get(), request, out);
  }

  std::unique_ptr<v1::UserService::Stub> stub_;
};

TEST_F(UserServiceTest, CreateUserAppliesDefaultsAndReturnsTheStoredUser) {
  v1::User user = MustCreate("ada@example.com");
  EXPECT_GT(user.id(), 0);
  EXPECT_EQ(user.email(), "ada@example.com");
  EXPECT_EQ(user.name(), "Test ada@example.com");
  EXPECT_EQ(user.timezone(), "UTC");
  EXPECT_EQ(user.preferred_briefing_time(), "06:00");
  EXPECT_EQ(user.role(), v1::ROLE_USER);
  EXPECT_TRUE(user.has_create_time());
  EXPECT_TRUE(user.has_update_time());
  EXPECT_FALSE(user.has_delete_time());
  EXPECT_FALSE(user.has_last_login_at());
  EXPECT_FALSE(user.has_last_briefing_at());
  EXPECT_FALSE(user.etag().empty());
  v1::User fetched;
  ASSERT_TRUE(Get(user.id(), false, &fetched).ok());
  EXPECT_EQ(fetched.SerializeAsString(), user.SerializeAsString());
}

TEST_F(UserServiceTest, CreateUserKeepsGivenSettings) {
  v1::CreateUserRequest request;
  request.mutable_user()->set_email("grace@example.com");
  request.mutable_user()->set_timezone("America/New_York");
  request.mutable_user()->set_preferred_briefing_time("05:45");
  request.mutable_user()->set_role(v1::ROLE_ADMIN);
  v1::User user;
  ASSERT_TRUE(stub_->CreateUser(Context().get(), request, &user).ok());
  EXPECT_EQ(user.timezone(), "America/New_York");
  EXPECT_EQ(user.preferred_briefing_time(), "05:45");
  EXPECT_EQ(user.role(), v1::ROLE_ADMIN);
}

TEST_F(UserServiceTest, CreateUserRejectsBadInputNamingTheFieldAndWritesNothing) {
  struct Case {
    const char* why;
    const char* email;
    const char* timezone;
    const char* time;
    int role;
    const char* field;
  } const cases[] = {
      {"no email", "", "", "", 0, "user.email"},
      {"bad email", "not-an-email", "", "", 0, "user.email"},
      {"sql in email", "a'; DROP TABLE users; --@x.com", "", "", 0, "user.email"},
      {"unknown zone", "a@example.com", "Mars/Olympus", "", 0, "user.timezone"},
      {"24:00", "a@example.com", "", "24:00", 0, "user.preferred_briefing_time"},
      {"6:00", "a@example.com", "", "6:00", 0, "user.preferred_briefing_time"},
      {"unknown role", "a@example.com", "", "", 9, "user.role"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.why);
    v1::CreateUserRequest request;
    request.mutable_user()->set_email(c.email);
    request.mutable_user()->set_timezone(c.timezone);
    request.mutable_user()->set_preferred_briefing_time(c.time);
    request.mutable_user()->set_role(static_cast<v1::Role>(c.role));
    v1::User user;
    grpc::Status status = stub_->CreateUser(Context().get(), request, &user);
    EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StartsWith(status.error_message(), c.field)) << status.error_message();
  }
  v1::ListUsersRequest request;
  request.set_show_deleted(true);
  v1::ListUsersResponse response;
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_EQ(response.users_size(), 0);
}

TEST_F(UserServiceTest, CreateUserWithALiveUsersEmailInAnyCaseIsAlreadyExists) {
  MustCreate("Ada@Example.com");
  grpc::Status status = Create("ada@EXAMPLE.COM");
  EXPECT_EQ(status.error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(status.error_message().find("INSERT"), std::string::npos);
}

TEST_F(UserServiceTest, SimultaneousCreatesWithEmailsDifferingOnlyInCaseGiveOneSuccess) {
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE(round);
    std::string email = absl::StrCat("race", round, "@example.com");
    std::string upper = absl::StrCat("RACE", round, "@EXAMPLE.COM");
    std::barrier start(2);
    grpc::Status results[2];
    std::thread a([&] {
      start.arrive_and_wait();
      results[0] = Create(email);
    });
    std::thread b([&] {
      start.arrive_and_wait();
      results[1] = Create(upper);
    });
    a.join();
    b.join();
    int ok = results[0].ok() + results[1].ok();
    int exists = (results[0].error_code() == StatusCode::ALREADY_EXISTS) +
                 (results[1].error_code() == StatusCode::ALREADY_EXISTS);
    EXPECT_EQ(ok, 1);
    EXPECT_EQ(exists, 1);
  }
}

TEST_F(UserServiceTest, GetUserHidesDeletedUsersUnlessAskedAndValidatesTheId) {
  v1::User user = MustCreate("ada@example.com");
  ASSERT_TRUE(Delete(user.id()).ok());
  v1::User fetched;
  EXPECT_EQ(Get(user.id(), false, &fetched).error_code(), StatusCode::NOT_FOUND);
  ASSERT_TRUE(Get(user.id(), true, &fetched).ok());
  EXPECT_TRUE(fetched.has_delete_time());
  EXPECT_EQ(Get(user.id() + 1000, true, &fetched).error_code(), StatusCode::NOT_FOUND);
  grpc::Status zero = Get(0, false, &fetched);
  EXPECT_EQ(zero.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(zero.error_message(), "id:"));
  EXPECT_EQ(Get(-3, false, &fetched).error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(UserServiceTest, GetUserByEmailIsCaseInsensitiveAndFindsLiveUsersOnly) {
  v1::User user = MustCreate("Grace.Hopper@Example.com");
  v1::GetUserByEmailRequest request;
  request.set_email("grace.hopper@EXAMPLE.com");
  v1::User found;
  ASSERT_TRUE(stub_->GetUserByEmail(Context().get(), request, &found).ok());
  EXPECT_EQ(found.id(), user.id());
  ASSERT_TRUE(Delete(user.id()).ok());
  EXPECT_EQ(stub_->GetUserByEmail(Context().get(), request, &found).error_code(),
            StatusCode::NOT_FOUND);
  request.set_email("nobody");
  EXPECT_EQ(stub_->GetUserByEmail(Context().get(), request, &found).error_code(),
            StatusCode::INVALID_ARGUMENT);
}

TEST_F(UserServiceTest, ListUsersPagesThroughEveryUserInIdOrder) {
  std::vector<int64_t> created;
  for (int i = 0; i < 7; ++i)
    created.push_back(MustCreate(absl::StrCat("u", i, "@example.com")).id());
  std::vector<int64_t> seen;
  v1::ListUsersRequest request;
  request.set_page_size(3);
  int pages = 0;
  do {
    v1::ListUsersResponse response;
    ASSERT_TRUE(List(request, &response).ok());
    EXPECT_LE(response.users_size(), 3);
    for (const v1::User& user : response.users()) seen.push_back(user.id());
    request.set_page_token(response.next_page_token());
    ++pages;
  } while (!request.page_token().empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, created);
}

TEST_F(UserServiceTest, ListUsersFiltersByRoleAndDeletion) {
  v1::User admin = MustCreate("admin@example.com", v1::ROLE_ADMIN);
  v1::User user = MustCreate("user@example.com");
  v1::User gone = MustCreate("gone@example.com");
  ASSERT_TRUE(Delete(gone.id()).ok());

  auto ids = [&](v1::ListUsersRequest request) {
    v1::ListUsersResponse response;
    EXPECT_TRUE(List(request, &response).ok());
    std::vector<int64_t> out;
    for (const auto& u : response.users()) out.push_back(u.id());
    return out;
  };
  v1::ListUsersRequest all;
  EXPECT_EQ(ids(all), (std::vector<int64_t>{admin.id(), user.id()}));
  all.set_show_deleted(true);
  EXPECT_EQ(ids(all), (std::vector<int64_t>{admin.id(), user.id(), gone.id()}));
  v1::ListUsersRequest admins;
  admins.set_role(v1::ROLE_ADMIN);
  EXPECT_EQ(ids(admins), (std::vector<int64_t>{admin.id()}));
  v1::ListUsersRequest bad_role;
  bad_role.set_role(static_cast<v1::Role>(42));
  v1::ListUsersResponse response;
  EXPECT_EQ(List(bad_role, &response).error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(UserServiceTest, ListUsersDefaultsToFiftyAndCapsAtOneThousand) {
  auto connection = db::BlockingConnection::Open(database_->dsn());
  ASSERT_TRUE(connection.ok());
  ASSERT_TRUE((*connection)
                  ->ExecScript("INSERT INTO users (email) SELECT 'bulk' || i || '@example.com' "
                               "FROM generate_series(1, 1005) AS i")
                  .ok());
  v1::ListUsersRequest request;
  v1::ListUsersResponse response;
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_EQ(response.users_size(), 50);
  EXPECT_FALSE(response.next_page_token().empty());
  request.set_page_size(5000);
  response.Clear();
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_EQ(response.users_size(), 1000);
  request.set_page_token(response.next_page_token());
  response.Clear();
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_EQ(response.users_size(), 5);
  EXPECT_TRUE(response.next_page_token().empty());
  request.set_page_size(-1);
  EXPECT_EQ(List(request, &response).error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(UserServiceTest, ListUsersRefusesATokenFromAnotherFilterOrAltered) {
  for (int i = 0; i < 3; ++i) MustCreate(absl::StrCat("u", i, "@example.com"));
  v1::ListUsersRequest request;
  request.set_page_size(1);
  v1::ListUsersResponse response;
  ASSERT_TRUE(List(request, &response).ok());
  ASSERT_FALSE(response.next_page_token().empty());
  v1::ListUsersRequest other_filter = request;
  other_filter.set_page_token(response.next_page_token());
  other_filter.set_show_deleted(true);
  grpc::Status status = List(other_filter, &response);
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(status.error_message(), "page_token:"));
  v1::ListUsersRequest tampered = request;
  std::string token = response.next_page_token();
  token[token.size() / 2] = token[token.size() / 2] == 'A' ? 'B' : 'A';
  tampered.set_page_token(token);
  EXPECT_EQ(List(tampered, &response).error_code(), StatusCode::INVALID_ARGUMENT);
  tampered.set_page_token("not a token");
  EXPECT_EQ(List(tampered, &response).error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(UserServiceTest, UpdateUserChangesOnlyMaskedFieldsAndMovesTheEtag) {
  v1::User user = MustCreate("ada@example.com");
  v1::User change;
  change.set_id(user.id());
  change.set_timezone("Europe/London");
  change.set_name("ignored because not in the mask");
  change.set_preferred_briefing_time("07:30");
  v1::User updated;
  ASSERT_TRUE(Update(change, {"timezone", "preferred_briefing_time"}, &updated).ok());
  EXPECT_EQ(updated.timezone(), "Europe/London");
  EXPECT_EQ(updated.preferred_briefing_time(), "07:30");
  EXPECT_EQ(updated.name(), user.name());
  EXPECT_EQ(updated.email(), user.email());
  EXPECT_NE(updated.etag(), user.etag());
  EXPECT_GE(updated.update_time().seconds() * 1'000'000'000 + updated.update_time().nanos(),
            user.update_time().seconds() * 1'000'000'000 + user.update_time().nanos());
  change.set_email("ADA@example.org");
  change.set_role(v1::ROLE_ADMIN);
  ASSERT_TRUE(Update(change, {"email", "role"}, &updated).ok());
  EXPECT_EQ(updated.email(), "ADA@example.org");
  EXPECT_EQ(updated.role(), v1::ROLE_ADMIN);
}

TEST_F(UserServiceTest, UpdateUserWithAStaleEtagIsAbortedAndWithTheCurrentOneSucceeds) {
  v1::User user = MustCreate("ada@example.com");
  v1::User first = user;
  first.set_name("First");
  v1::User after_first;
  ASSERT_TRUE(Update(first, {"name"}, &after_first).ok());
  v1::User stale = user;  // carries the original etag
  stale.set_name("Stale");
  v1::User out;
  grpc::Status status = Update(stale, {"name"}, &out);
  EXPECT_EQ(status.error_code(), StatusCode::ABORTED);
  v1::User current = after_first;
  current.set_name("Current");
  ASSERT_TRUE(Update(current, {"name"}, &out).ok());
  EXPECT_EQ(out.name(), "Current");
  v1::User bad_etag = out;
  bad_etag.set_etag("made-up");
  EXPECT_EQ(Update(bad_etag, {"name"}, &out).error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(UserServiceTest, ConcurrentUpdatesCarryingOneEtagLetExactlyOneWin) {
  v1::User user = MustCreate("ada@example.com");
  constexpr int kWriters = 8;
  std::atomic<int> ok{0};
  std::atomic<int> aborted{0};
  std::barrier start(kWriters);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      v1::User change = user;
      change.set_name(absl::StrCat("writer ", i));
      v1::User out;
      start.arrive_and_wait();
      grpc::Status status = Update(change, {"name"}, &out);
      if (status.ok()) ++ok;
      if (status.error_code() == StatusCode::ABORTED) ++aborted;
    });
  }
  for (auto& writer : writers) writer.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(aborted.load(), kWriters - 1);
}

TEST_F(UserServiceTest, UpdateUserRejectsBadMasksAndValuesAndMissingUsers) {
  v1::User user = MustCreate("ada@example.com");
  MustCreate("taken@example.com");
  v1::User out;
  grpc::Status empty = Update(user, {}, &out);
  EXPECT_EQ(empty.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(empty.error_message(), "update_mask:"));
  for (const char* path : {"id", "etag", "create_time", "delete_time", "last_login_at"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(Update(user, {path}, &out).error_code(), StatusCode::INVALID_ARGUMENT);
  }
  v1::User bad = user;
  bad.set_timezone("Mars/Olympus");
  EXPECT_EQ(Update(bad, {"timezone"}, &out).error_code(), StatusCode::INVALID_ARGUMENT);
  v1::User taken = user;
  taken.set_email("TAKEN@example.com");
  EXPECT_EQ(Update(taken, {"email"}, &out).error_code(), StatusCode::ALREADY_EXISTS);
  v1::User missing = user;
  missing.set_id(user.id() + 1000);
  missing.clear_etag();
  EXPECT_EQ(Update(missing, {"name"}, &out).error_code(), StatusCode::NOT_FOUND);
  missing.set_id(0);
  EXPECT_EQ(Update(missing, {"name"}, &out).error_code(), StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(Delete(user.id()).ok());
  v1::User deleted = user;
  deleted.clear_etag();
  EXPECT_EQ(Update(deleted, {"name"}, &out).error_code(), StatusCode::NOT_FOUND);
}

TEST_F(UserServiceTest, DeleteUserIsSoftAndFreesTheEmail) {
  v1::User user = MustCreate("ada@example.com");
  v1::User deleted;
  ASSERT_TRUE(Delete(user.id(), &deleted).ok());
  EXPECT_TRUE(deleted.has_delete_time());
  EXPECT_EQ(Delete(user.id()).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Delete(user.id() + 1000).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Delete(0).error_code(), StatusCode::INVALID_ARGUMENT);
  auto connection = db::BlockingConnection::Open(database_->dsn());
  ASSERT_TRUE(connection.ok());
  auto rows = (*connection)->Exec("SELECT count(*) FROM users");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows->Int64(0, 0), 1) << "the row is never removed";
  MustCreate("ADA@example.com");  // a live user may now take the email
}

TEST_F(UserServiceTest, UndeleteUserRestoresUnlessTheEmailWasTakenMeanwhile) {
  v1::User user = MustCreate("ada@example.com");
  ASSERT_TRUE(Delete(user.id()).ok());
  v1::User restored;
  ASSERT_TRUE(Undelete(user.id(), &restored).ok());
  EXPECT_FALSE(restored.has_delete_time());
  EXPECT_EQ(Undelete(user.id()).error_code(), StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(Delete(user.id()).ok());
  MustCreate("Ada@Example.com");
  grpc::Status taken = Undelete(user.id());
  EXPECT_EQ(taken.error_code(), StatusCode::ALREADY_EXISTS);
  v1::User still;
  ASSERT_TRUE(Get(user.id(), true, &still).ok());
  EXPECT_TRUE(still.has_delete_time()) << "a refused undelete changes nothing";
  EXPECT_EQ(Undelete(user.id() + 1000).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Undelete(-1).error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(UserServiceTest, StringsArriveIntactIncludingUnicodeAndSqlMetacharacters) {
  v1::CreateUserRequest request;
  request.mutable_user()->set_email("o'brien+tag@example.com");
  request.mutable_user()->set_name("Zoë O'Brien \"ZOB\"; DROP TABLE users; -- 👋 $1 \\x00");
  v1::User user;
  ASSERT_TRUE(stub_->CreateUser(Context().get(), request, &user).ok());
  EXPECT_EQ(user.name(), request.user().name());
  EXPECT_EQ(user.email(), request.user().email());
}

}  // namespace
}  // namespace firstsip
