// The personal-data lifecycle through the real server: EraseUser (every call naming an erased
// user is NOT_FOUND afterwards, its watches end, its account signs up again; erasure racing a
// sign-in, a create and a watch ends in one of the orders), the erase job on two servers at
// once, ExportUser (order, bounded messages, the CLI's JSON round-trips) and briefing retention
// (a page token issued before a removal still works after it).
#include <signal.h>

#include <atomic>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "db/blocking_connection.h"
#include "firstsip/client/client.h"
#include "firstsip/v1/briefing.grpc.pb.h"
#include "firstsip/v1/identity.grpc.pb.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "support/metrics_scrape.h"
#include "support/migrated_database.h"
#include "support/running_server.h"

namespace firstsip {
namespace {

using grpc::StatusCode;

class LifecycleTest : public testing::RunningServerTest {
 protected:
  std::vector<std::string> ServerFlags() const override {
    return {"--lifecycle-interval=200ms", "--briefing-retention=2160h",
            "--export-message-bytes=16384", "--metrics-listen=127.0.0.1:0"};
  }

  void SetUp() override {
    RunningServerTest::SetUp();
    if (HasFatalFailure()) return;
    users_ = v1::UserService::NewStub(channel_);
    identities_ = v1::IdentityService::NewStub(channel_);
    briefings_ = v1::BriefingService::NewStub(channel_);
    auto sql = db::BlockingConnection::Open(database_->dsn());
    ASSERT_TRUE(sql.ok());
    sql_ = std::move(*sql);
  }

  v1::SignInResponse SignIn(const std::string& subject, const std::string& email) {
    v1::SignInRequest request;
    request.set_provider("google");
    request.set_provider_user_id(subject);
    request.set_email(email);
    request.set_name("Ada Lovelace");
    request.mutable_tokens()->set_access_token("ya29.access-" + subject);
    request.mutable_tokens()->set_refresh_token("1//refresh-" + subject);
    v1::SignInResponse response;
    grpc::Status status = identities_->SignIn(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  grpc::Status Erase(int64_t id, const std::string& etag) {
    v1::EraseUserRequest request;
    request.set_id(id);
    request.set_etag(etag);
    google::protobuf::Empty empty;
    return users_->EraseUser(Context().get(), request, &empty);
  }

  v1::User GetUser(int64_t id) {
    v1::GetUserRequest request;
    request.set_id(id);
    request.set_show_deleted(true);
    v1::User user;
    EXPECT_TRUE(users_->GetUser(Context().get(), request, &user).ok());
    return user;
  }

  int64_t Count(const std::string& query) {
    absl::StatusOr<db::Result> result = sql_->Exec(query);
    EXPECT_TRUE(result.ok()) << result.status() << "\n" << query;
    return result.ok() ? *result->Int64(0, 0) : -1;
  }

  // Every message of ExportUser's stream, and how it ended.
  grpc::Status Export(int64_t id, std::vector<v1::ExportUserResponse>* messages) {
    v1::ExportUserRequest request;
    request.set_id(id);
    auto context = Context(absl::Seconds(30));
    auto reader = users_->ExportUser(context.get(), request);
    v1::ExportUserResponse message;
    while (reader->Read(&message)) messages->push_back(message);
    return reader->Finish();
  }

  std::unique_ptr<v1::UserService::Stub> users_;
  std::unique_ptr<v1::IdentityService::Stub> identities_;
  std::unique_ptr<v1::BriefingService::Stub> briefings_;
  std::unique_ptr<db::BlockingConnection> sql_;
};

// Reads one WatchBriefings stream to its end on a thread of its own.
class EndOfWatch {
 public:
  EndOfWatch(v1::BriefingService::Stub& stub, int64_t user_id) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    v1::WatchBriefingsRequest request;
    request.set_user_id(user_id);
    reader_ = stub.WatchBriefings(&context_, request);
    reader_->WaitForInitialMetadata();
    ended_ = std::async(std::launch::async, [this] {
      v1::WatchBriefingsResponse message;
      while (reader_->Read(&message)) {
      }
      return reader_->Finish();
    });
  }
  ~EndOfWatch() {
    context_.TryCancel();
    if (ended_.valid()) ended_.wait();
  }
  // How the stream ended, within `timeout`; nullopt while it is still open.
  std::optional<grpc::Status> Ended(absl::Duration timeout) {
    if (status_.has_value()) return status_;
    if (ended_.wait_for(absl::ToChronoNanoseconds(timeout)) != std::future_status::ready) {
      return std::nullopt;
    }
    status_ = ended_.get();
    return status_;
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::WatchBriefingsResponse>> reader_;
  std::future<grpc::Status> ended_;
  std::optional<grpc::Status> status_;
};

TEST_F(LifecycleTest, AfterEraseEveryCallNamingTheUserIsNotFoundAndTheAccountSignsUpAgain) {
  v1::SignInResponse ada = SignIn("ada-sub", "ada@example.com");
  const int64_t id = ada.user().id();
  v1::CreateBriefingRequest create;
  create.set_user_id(id);
  v1::Briefing briefing;
  ASSERT_TRUE(briefings_->CreateBriefing(Context().get(), create, &briefing).ok());
  EndOfWatch watch(*briefings_, id);

  // The etag is required, and must be current.
  EXPECT_EQ(Erase(id, "").error_code(), StatusCode::INVALID_ARGUMENT);
  v1::User current = GetUser(id);
  EXPECT_EQ(Erase(id, "not an etag").error_code(), StatusCode::INVALID_ARGUMENT);
  v1::DeleteUserRequest soft;
  soft.set_id(id);
  v1::User deleted;
  ASSERT_TRUE(users_->DeleteUser(Context().get(), soft, &deleted).ok());
  EXPECT_EQ(Erase(id, current.etag()).error_code(), StatusCode::ABORTED)
      << "the soft delete changed the user";
  grpc::Status erased = Erase(id, deleted.etag());
  ASSERT_TRUE(erased.ok()) << erased.error_message();

  std::optional<grpc::Status> ended = watch.Ended(absl::Seconds(10));
  ASSERT_TRUE(ended.has_value()) << "the user's open watch must end";
  EXPECT_EQ(ended->error_code(), StatusCode::NOT_FOUND) << ended->error_message();

  // Every call naming the user, or its identity or briefing.
  auto expect_not_found = [](const grpc::Status& status, const char* call) {
    EXPECT_EQ(status.error_code(), StatusCode::NOT_FOUND) << call << ": " << status.error_message();
  };
  v1::User user;
  v1::GetUserRequest get;
  get.set_id(id);
  get.set_show_deleted(true);
  expect_not_found(users_->GetUser(Context().get(), get, &user), "GetUser(show_deleted)");
  v1::ListUsersRequest list_users;
  list_users.set_show_deleted(true);
  v1::ListUsersResponse listed_users;
  ASSERT_TRUE(users_->ListUsers(Context().get(), list_users, &listed_users).ok());
  EXPECT_EQ(listed_users.users_size(), 0);
  v1::UpdateUserRequest update;
  update.mutable_user()->set_id(id);
  update.mutable_user()->set_name("x");
  update.mutable_update_mask()->add_paths("name");
  expect_not_found(users_->UpdateUser(Context().get(), update, &user), "UpdateUser");
  expect_not_found(users_->DeleteUser(Context().get(), soft, &user), "DeleteUser");
  v1::UndeleteUserRequest undelete;
  undelete.set_id(id);
  expect_not_found(users_->UndeleteUser(Context().get(), undelete, &user), "UndeleteUser");
  grpc::Status again = Erase(id, deleted.etag());
  expect_not_found(again, "EraseUser");
  EXPECT_TRUE(absl::StrContains(again.error_message(), "was erased at")) << again.error_message();
  std::vector<v1::ExportUserResponse> exported;
  expect_not_found(Export(id, &exported), "ExportUser");
  v1::GetUserByEmailRequest by_email;
  by_email.set_email("ada@example.com");
  expect_not_found(users_->GetUserByEmail(Context().get(), by_email, &user), "GetUserByEmail");
  v1::GetIdentityRequest get_identity;
  get_identity.set_id(ada.identity().id());
  v1::AuthIdentity identity;
  expect_not_found(identities_->GetIdentity(Context().get(), get_identity, &identity),
                   "GetIdentity");
  v1::GetTokensRequest tokens;
  tokens.set_identity_id(ada.identity().id());
  v1::OAuthTokens plaintext;
  expect_not_found(identities_->GetTokens(Context().get(), tokens, &plaintext), "GetTokens");
  v1::ListIdentitiesRequest list_identities;
  list_identities.set_user_id(id);
  v1::ListIdentitiesResponse listed_identities;
  expect_not_found(
      identities_->ListIdentities(Context().get(), list_identities, &listed_identities),
      "ListIdentities");
  v1::GetBriefingRequest get_briefing;
  get_briefing.set_id(briefing.id());
  expect_not_found(briefings_->GetBriefing(Context().get(), get_briefing, &briefing),
                   "GetBriefing");
  v1::ListBriefingsRequest list_briefings;
  list_briefings.set_user_id(id);
  v1::ListBriefingsResponse listed;
  expect_not_found(briefings_->ListBriefings(Context().get(), list_briefings, &listed),
                   "ListBriefings");
  expect_not_found(briefings_->CreateBriefing(Context().get(), create, &briefing),
                   "CreateBriefing");
  {
    grpc::ClientContext context;
    v1::WatchBriefingsRequest request;
    request.set_user_id(id);
    auto reader = briefings_->WatchBriefings(&context, request);
    v1::WatchBriefingsResponse message;
    while (reader->Read(&message)) {
    }
    expect_not_found(reader->Finish(), "WatchBriefings");
  }

  // The same Google account and email sign up again: a new user, a new id.
  v1::SignInResponse again_ada = SignIn("ada-sub", "ada@example.com");
  EXPECT_TRUE(again_ada.user_created());
  EXPECT_TRUE(again_ada.identity_created());
  EXPECT_NE(again_ada.user().id(), id);
  EXPECT_GT(again_ada.user().id(), id) << "ids are never reused";
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM erased_users WHERE id = ", id)), 1);
}

TEST_F(LifecycleTest, EraseRacingSignInCreateBriefingAndAWatchEndsInOneOfTheOrders) {
  int signed_in_before = 0, signed_in_after = 0;
  for (int round = 0; round < 12; ++round) {
    SCOPED_TRACE(round);
    const std::string subject = absl::StrCat("race-sub-", round);
    const std::string email = absl::StrCat("race", round, "@example.com");
    v1::SignInResponse first = SignIn(subject, email);
    const int64_t id = first.user().id();
    const std::string etag = GetUser(id).etag();
    EndOfWatch watch(*briefings_, id);

    std::atomic<bool> go{false};
    auto wait_for_go = [&go] {
      while (!go.load()) std::this_thread::yield();
    };
    std::future<grpc::Status> erase = std::async(std::launch::async, [&] {
      wait_for_go();
      return Erase(id, etag);
    });
    std::future<v1::SignInResponse> sign_in = std::async(std::launch::async, [&] {
      wait_for_go();
      return SignIn(subject, email);
    });
    std::future<grpc::Status> create = std::async(std::launch::async, [&] {
      wait_for_go();
      v1::CreateBriefingRequest request;
      request.set_user_id(id);
      v1::Briefing briefing;
      return briefings_->CreateBriefing(Context().get(), request, &briefing);
    });
    go.store(true);
    grpc::Status erased = erase.get();
    EXPECT_TRUE(erased.ok()) << erased.error_message();
    v1::SignInResponse second = sign_in.get();
    grpc::Status created = create.get();
    EXPECT_TRUE(created.ok() || created.error_code() == StatusCode::NOT_FOUND)
        << created.error_message();

    if (second.user().id() == id) {
      ++signed_in_before;  // signed in to the old user, which was then erased with its identity
      EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM auth_identities WHERE "
                                   "provider_user_id = '",
                                   subject, "'")),
                0);
    } else {
      ++signed_in_after;  // a new user with the account linked afresh
      EXPECT_TRUE(second.user_created());
      EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM auth_identities WHERE "
                                   "provider_user_id = '",
                                   subject, "' AND user_id = ", second.user().id())),
                1);
    }
    // Never half-erased: nothing anywhere points at an erased user, and its row is gone.
    EXPECT_EQ(Count("SELECT (SELECT count(*) FROM users u JOIN erased_users e USING (id)) + "
                    "(SELECT count(*) FROM auth_identities i JOIN erased_users e "
                    "  ON e.id = i.user_id) + "
                    "(SELECT count(*) FROM briefings b JOIN erased_users e ON e.id = b.user_id) + "
                    "(SELECT count(*) FROM briefing_changes c JOIN erased_users e "
                    "  ON e.id = c.user_id)"),
              0);
    std::optional<grpc::Status> ended = watch.Ended(absl::Seconds(10));
    ASSERT_TRUE(ended.has_value());
    EXPECT_EQ(ended->error_code(), StatusCode::NOT_FOUND) << ended->error_message();
  }
  std::printf("erase vs sign-in: sign-in first %d times, erase first %d times\n", signed_in_before,
              signed_in_after);
}

TEST_F(LifecycleTest,
       ExportOfAThousandBriefingsComesInOrderInBoundedMessagesAndTheCliJsonRoundTrips) {
  v1::SignInResponse ada = SignIn("export-sub", "ada@example.com");
  const int64_t id = ada.user().id();
  ASSERT_TRUE(
      sql_->ExecScript(
              absl::StrCat("INSERT INTO briefings (user_id, status, content, error_message, "
                           "  read_at, delete_time) "
                           "SELECT ",
                           id,
                           ", CASE WHEN g % 5 = 0 THEN 'failed' ELSE 'completed' END, "
                           "  CASE WHEN g % 5 = 0 THEN NULL ELSE jsonb_build_object('news', "
                           "    repeat('headline ', 20 + g % 40), 'n', g, 'weather', "
                           "    jsonb_build_object('high', 21.5, 'sunny', g % 2 = 0)) END, "
                           "  CASE WHEN g % 5 = 0 THEN 'worker gave up' ELSE '' END, "
                           "  CASE WHEN g % 3 = 0 THEN now() END, "
                           "  CASE WHEN g % 97 = 0 THEN now() END "
                           "FROM generate_series(1, 1000) g"))
          .ok());
  std::vector<v1::ExportUserResponse> messages;
  grpc::Status status = Export(id, &messages);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_GT(messages.size(), 10u) << "16 KiB messages cannot hold ~300 KiB";
  v1::ExportUserResponse whole;
  for (size_t i = 0; i < messages.size(); ++i) {
    EXPECT_LE(messages[i].ByteSizeLong(), 16384u) << "message " << i;
    EXPECT_EQ(messages[i].has_user(), i == 0);
    if (i > 0) {
      EXPECT_GT(messages[i].briefings_size(), 0);
    }
    whole.MergeFrom(messages[i]);
  }
  EXPECT_EQ(whole.user().id(), id);
  EXPECT_EQ(whole.user().email(), "ada@example.com");
  EXPECT_TRUE(whole.has_snapshot_time());
  ASSERT_EQ(whole.identities_size(), 1);
  EXPECT_EQ(whole.identities(0).provider_user_id(), "export-sub");
  EXPECT_TRUE(whole.identities(0).has_access_token());
  EXPECT_TRUE(whole.identities(0).has_refresh_token());
  ASSERT_EQ(whole.briefings_size(), 1000) << "soft-deleted briefings included";
  int deleted = 0;
  for (int i = 0; i < whole.briefings_size(); ++i) {
    if (i > 0) {
      EXPECT_LT(whole.briefings(i - 1).id(), whole.briefings(i).id()) << "oldest first";
    }
    deleted += whole.briefings(i).has_delete_time() ? 1 : 0;
  }
  EXPECT_EQ(deleted, 10);
  EXPECT_EQ(whole.briefings(0).content().fields().at("n").number_value(), 1);
  EXPECT_EQ(whole.briefings(4).error_message(), "worker gave up");

  // The command line: one JSON document that parses back into the very same export.
  testing::CommandResult cli = testing::RunCommand(
      testing::CliBinary(),
      {"--target=" + server_->target(), "--timeout=30s", "users", "export", absl::StrCat(id)});
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_FALSE(absl::StrContains(cli.output, "ya29.access")) << "never the tokens";
  EXPECT_FALSE(absl::StrContains(cli.output, "refresh-export-sub")) << "never the tokens";
  v1::ExportUserResponse parsed;
  auto parsing = google::protobuf::util::JsonStringToMessage(
      std::string(absl::StripAsciiWhitespace(cli.output)), &parsed);
  ASSERT_TRUE(parsing.ok()) << parsing.ToString();
  std::string difference;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&difference);
  whole.clear_snapshot_time();  // a second export has a snapshot of its own
  parsed.clear_snapshot_time();
  EXPECT_TRUE(differencer.Compare(whole, parsed)) << difference;
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(parsed, &json).ok());
  v1::ExportUserResponse reparsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &reparsed).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, reparsed));
}

TEST_F(LifecycleTest, RetentionRemovesOldBriefingsAndAPageTokenIssuedBeforeStillWorks) {
  v1::SignInResponse ada = SignIn("retention-sub", "ada@example.com");
  const int64_t id = ada.user().id();
  std::vector<int64_t> ids;
  for (int i = 0; i < 30; ++i) {
    v1::CreateBriefingRequest create;
    create.set_user_id(id);
    v1::Briefing briefing;
    ASSERT_TRUE(briefings_->CreateBriefing(Context().get(), create, &briefing).ok());
    ids.push_back(briefing.id());
  }
  v1::ListBriefingsRequest list;
  list.set_user_id(id);
  list.set_page_size(10);
  v1::ListBriefingsResponse first_page;
  ASSERT_TRUE(briefings_->ListBriefings(Context().get(), list, &first_page).ok());
  ASSERT_FALSE(first_page.next_page_token().empty());
  // The 15 oldest pass the 90-day horizon (and one stays a minute inside it).
  ASSERT_TRUE(
      sql_->ExecScript(absl::StrCat("UPDATE briefings SET create_time = now() - interval '91 days' "
                                    "WHERE user_id = ",
                                    id, " AND id <= ", ids[14],
                                    ";"
                                    "UPDATE briefings SET create_time = now() - interval '89 days' "
                                    "WHERE id = ",
                                    ids[15]))
          .ok());
  for (absl::Time until = absl::Now() + absl::Seconds(15);
       Count(absl::StrCat("SELECT count(*) FROM briefings WHERE user_id = ", id)) > 15 &&
       absl::Now() < until;) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM briefings WHERE user_id = ", id, " AND id > ",
                               ids[14])),
            15);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM briefings WHERE user_id = ", id)), 15);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM briefing_changes WHERE user_id = ", id,
                               " AND briefing_id <= ", ids[14])),
            0);
  list.set_page_token(first_page.next_page_token());
  v1::ListBriefingsResponse second_page;
  grpc::Status listed = briefings_->ListBriefings(Context().get(), list, &second_page);
  ASSERT_TRUE(listed.ok()) << listed.error_message();
  ASSERT_EQ(second_page.briefings_size(), 5) << "ids[19] down to ids[15]; the rest are gone";
  EXPECT_EQ(second_page.briefings(0).id(), ids[19]);
  EXPECT_EQ(second_page.briefings(4).id(), ids[15]);
  EXPECT_TRUE(second_page.next_page_token().empty());
  const int metrics = testing::MetricsPort(server_->output());
  ASSERT_GT(metrics, 0);
  EXPECT_EQ(testing::MetricValue(testing::HttpGet(metrics, "/metrics"),
                                 {"firstsip_lifecycle_removed_total", "what=\"briefings\""}),
            15);
}

// Two replicas erase 10,000 users deleted past --erase-deleted-after between them, each once;
// a user deleted inside the window can still be undeleted and is kept.
TEST(LifecycleJobTest, TwoServersEraseTenThousandDeletedUsersEachOnce) {
  auto database = testing::MigratedDatabase::Create();
  ASSERT_TRUE(database.ok()) << database.status();
  const std::string dsn = database->database->dsn();
  db::BlockingConnection& sql = *database->connection;
  ASSERT_TRUE(sql.ExecScript("INSERT INTO users (email, delete_time) SELECT 'gone' || g || "
                             "'@example.com', now() - interval '31 days' - g * interval '1 second' "
                             "FROM generate_series(1, 10000) g;"
                             "INSERT INTO briefings (user_id) SELECT id FROM users;"
                             "INSERT INTO auth_identities (user_id, provider, provider_user_id) "
                             "  SELECT id, 'google', 'sub-' || id FROM users;"
                             "INSERT INTO users (email, delete_time) VALUES "
                             "  ('kept@example.com', now() - interval '29 days');"
                             "INSERT INTO users (email) VALUES ('live@example.com');")
                  .ok());
  const std::vector<std::string> flags = {"--lifecycle-interval=200ms",
                                          "--metrics-listen=127.0.0.1:0"};
  auto first = testing::ServerProcess::Start(dsn, flags);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = testing::ServerProcess::Start(dsn, flags);
  ASSERT_TRUE(second.ok()) << second.status();
  const absl::Time started = absl::Now();
  auto remaining = [&] {
    auto result = sql.Exec("SELECT count(*) FROM users WHERE delete_time IS NOT NULL");
    return result.ok() ? *result->Int64(0, 0) : -1;
  };
  while (remaining() > 1 && absl::Now() - started < absl::Seconds(60)) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::printf("two servers erased 10000 users within %s\n",
              absl::FormatDuration(absl::Now() - started).c_str());
  EXPECT_EQ(remaining(), 1) << "only the one deleted inside the window";

  // Each erased once: the two servers' counts add up to exactly the tombstones.
  double erased = 0;
  for (auto* server : {first->get(), second->get()}) {
    const int port = testing::MetricsPort(server->output());
    ASSERT_GT(port, 0);
    double mine = testing::MetricValue(testing::HttpGet(port, "/metrics"),
                                       {"firstsip_lifecycle_removed_total", "what=\"users\""});
    std::printf("a server erased %.0f\n", mine);
    erased += std::max(mine, 0.0);
  }
  EXPECT_EQ(erased, 10000);
  auto tombstones = sql.Exec("SELECT count(*) FROM erased_users");
  ASSERT_TRUE(tombstones.ok());
  EXPECT_EQ(*tombstones->Int64(0, 0), 10000);
  auto orphans =
      sql.Exec("SELECT (SELECT count(*) FROM briefings) + (SELECT count(*) FROM auth_identities)");
  EXPECT_EQ(*orphans->Int64(0, 0), 0);

  // Inside the window, undelete still works, and the user stays.
  auto channel = grpc::CreateChannel((*first)->target(), grpc::InsecureChannelCredentials());
  auto users = v1::UserService::NewStub(channel);
  auto kept_id = sql.Exec("SELECT id FROM users WHERE email = 'kept@example.com'");
  ASSERT_TRUE(kept_id.ok());
  ASSERT_EQ(kept_id->rows(), 1);
  v1::UndeleteUserRequest undelete;
  undelete.set_id(*kept_id->Int64(0, 0));
  v1::User kept;
  grpc::ClientContext context;
  ASSERT_TRUE(users->UndeleteUser(&context, undelete, &kept).ok());
  absl::SleepFor(absl::Milliseconds(600));  // a few more rounds of the job
  auto live = sql.Exec("SELECT count(*) FROM users WHERE delete_time IS NULL");
  EXPECT_EQ(*live->Int64(0, 0), 2);
  EXPECT_EQ((*first)->Stop(SIGTERM), 0);
  EXPECT_EQ((*second)->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace firstsip
