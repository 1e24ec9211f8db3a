// The `firstsip` command line against a real server: every command group, in tables and in
// --json, and its exit codes.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "firstsip/client/client.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "support/running_server.h"

namespace firstsip {
namespace {

class CliTest : public testing::RunningServerTest {
 protected:
  testing::CommandResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), "--target=" + server_->target());
    return testing::RunCommand(testing::CliBinary(), args);
  }

  // Runs a --json command that must succeed and returns its document as a Struct.
  google::protobuf::Struct Json(std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    testing::CommandResult result = Cli(args);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    google::protobuf::Struct document;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(result.output, &document).ok())
        << result.output;
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1)
        << "one JSON document per call: " << result.output;
    return document;
  }

  static std::string Field(const google::protobuf::Struct& s, const std::string& name) {
    auto it = s.fields().find(name);
    if (it == s.fields().end()) return "";
    return it->second.has_string_value() ? it->second.string_value()
                                         : absl::StrCat(it->second.number_value());
  }
};

TEST_F(CliTest, HealthPrintsServing) {
  testing::CommandResult text = Cli({"health"});
  EXPECT_EQ(text.exit_code, 0) << text.output;
  EXPECT_EQ(text.output, "SERVING\n");
  EXPECT_EQ(Field(Json({"health"}), "status"), "SERVING");
}

TEST_F(CliTest, UsersCommandsInTablesAndJson) {
  testing::CommandResult created =
      Cli({"users", "create", "--email=ada@example.com", "--name=Ada", "--timezone=Europe/London"});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_TRUE(absl::StrContains(created.output, "EMAIL")) << created.output;
  EXPECT_TRUE(absl::StrContains(created.output, "ada@example.com")) << created.output;

  google::protobuf::Struct user = Json({"users", "get-by-email", "ADA@example.com"});
  std::string id = Field(user, "id");  // int64 travels as a JSON string
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(Field(user, "timezone"), "Europe/London");
  EXPECT_EQ(Field(Json({"users", "get", id}), "email"), "ada@example.com");

  testing::CommandResult updated =
      Cli({"users", "update", id, "--briefing-time=07:15", "--etag=" + Field(user, "etag")});
  ASSERT_EQ(updated.exit_code, 0) << updated.output;
  EXPECT_TRUE(absl::StrContains(updated.output, "07:15")) << updated.output;
  testing::CommandResult stale =
      Cli({"users", "update", id, "--name=Stale", "--etag=" + Field(user, "etag")});
  EXPECT_EQ(stale.exit_code, 10 + 10) << stale.output;  // ABORTED
  EXPECT_TRUE(absl::StartsWith(stale.output, "error: ABORTED: ")) << stale.output;

  Cli({"users", "create", "--email=grace@example.com"});
  google::protobuf::Struct page = Json({"users", "list", "--page-size=1"});
  EXPECT_EQ(page.fields().at("users").list_value().values_size(), 1);
  EXPECT_FALSE(Field(page, "next_page_token").empty());
  testing::CommandResult table = Cli({"users", "list"});
  EXPECT_TRUE(absl::StrContains(table.output, "grace@example.com")) << table.output;

  ASSERT_EQ(Cli({"users", "delete", id}).exit_code, 0);
  testing::CommandResult gone = Cli({"users", "get", id});
  EXPECT_EQ(gone.exit_code, 10 + 5) << gone.output;  // NOT_FOUND
  EXPECT_TRUE(absl::StartsWith(gone.output, "error: NOT_FOUND: ")) << gone.output;
  EXPECT_EQ(Cli({"users", "get", id, "--show-deleted"}).exit_code, 0);
  ASSERT_EQ(Cli({"users", "undelete", id}).exit_code, 0);
  testing::CommandResult bad = Cli({"users", "create", "--email=nope"});
  EXPECT_EQ(bad.exit_code, 10 + 3) << bad.output;  // INVALID_ARGUMENT
  EXPECT_TRUE(absl::StrContains(bad.output, "user.email")) << bad.output;
}

TEST_F(CliTest, SignInAndIdentitiesCommands) {
  google::protobuf::Struct signed_in =
      Json({"signin", "--subject=sub-1", "--email=ada@example.com", "--access-token=tok-a",
            "--refresh-token=tok-r", "--expiry=2030-01-01T00:00:00Z"});
  const auto& identity = signed_in.fields().at("identity").struct_value();
  std::string identity_id = Field(identity, "id");
  std::string user_id = Field(identity, "user_id");
  testing::CommandResult text = Cli({"signin", "--subject=sub-1", "--email=ada@example.com"});
  EXPECT_EQ(text.exit_code, 0) << text.output;
  EXPECT_TRUE(absl::StrContains(text.output, "user created: no")) << text.output;

  testing::CommandResult listed = Cli({"identities", "list", user_id});
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_TRUE(absl::StrContains(listed.output, "sub-1")) << listed.output;
  EXPECT_EQ(Field(Json({"identities", "get", identity_id}), "provider"), "google");
  google::protobuf::Struct tokens = Json({"identities", "tokens", identity_id});
  EXPECT_EQ(Field(tokens, "access_token"), "tok-a");
  EXPECT_EQ(Field(tokens, "refresh_token"), "tok-r");
  ASSERT_EQ(Cli({"identities", "delete", identity_id}).exit_code, 0);
  EXPECT_EQ(Cli({"identities", "get", identity_id}).exit_code, 15);
  EXPECT_EQ(Cli({"signin", "--subject=x", "--email=e@example.com", "--expiry=soon"}).exit_code, 2);
}

TEST_F(CliTest, BriefingsCommandsWalkTheLifecycle) {
  google::protobuf::Struct user = Json({"users", "create", "--email=ada@example.com"});
  std::string user_id = Field(user, "id");
  std::string first = Field(Json({"briefings", "create", user_id, "--request-id=r1"}), "id");
  EXPECT_EQ(Field(Json({"briefings", "create", user_id, "--request-id=r1"}), "id"), first);
  std::string second = Field(Json({"briefings", "create", user_id}), "id");

  google::protobuf::Struct claimed = Json({"briefings", "claim", "--lease=1m"});
  EXPECT_EQ(Field(claimed.fields().at("briefing").struct_value(), "id"), first);
  testing::CommandResult completed =
      Cli({"briefings", "complete", first, R"(--content={"news": [{"title": "Hi"}]})"});
  ASSERT_EQ(completed.exit_code, 0) << completed.output;
  EXPECT_TRUE(absl::StrContains(completed.output, "COMPLETED")) << completed.output;
  google::protobuf::Struct fetched = Json({"briefings", "get", first});
  EXPECT_EQ(fetched.fields().at("content").struct_value().fields().count("news"), 1u);
  ASSERT_EQ(Cli({"briefings", "read", first}).exit_code, 0);

  ASSERT_EQ(Cli({"briefings", "start", second}).exit_code, 0);
  testing::CommandResult failed = Cli({"briefings", "fail", second, "--error=no weather"});
  ASSERT_EQ(failed.exit_code, 0) << failed.output;
  EXPECT_TRUE(absl::StrContains(failed.output, "no weather")) << failed.output;
  testing::CommandResult wrong = Cli({"briefings", "start", second});
  EXPECT_EQ(wrong.exit_code, 10 + 9) << wrong.output;  // FAILED_PRECONDITION
  EXPECT_TRUE(absl::StrContains(wrong.output, "BRIEFING_STATUS_FAILED")) << wrong.output;

  testing::CommandResult listed = Cli({"briefings", "list", user_id, "--status=completed"});
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_TRUE(absl::StrContains(listed.output, "COMPLETED")) << listed.output;
  EXPECT_FALSE(absl::StrContains(listed.output, "FAILED")) << listed.output;
  EXPECT_EQ(Cli({"briefings", "claim"}).output, "nothing to do\n");
  ASSERT_EQ(Cli({"briefings", "delete", second}).exit_code, 0);
  EXPECT_EQ(Cli({"briefings", "get", second}).exit_code, 15);
  EXPECT_EQ(Cli({"briefings", "complete", first, "--content=[1,2"}).exit_code, 2);
}

TEST_F(CliTest, UsageErrorsAndHelpAtEveryLevel) {
  EXPECT_EQ(Cli({}).exit_code, 2);
  EXPECT_EQ(Cli({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Cli({"users"}).exit_code, 2);
  EXPECT_EQ(Cli({"users", "fly"}).exit_code, 2);
  EXPECT_EQ(Cli({"users", "get"}).exit_code, 2);
  EXPECT_EQ(Cli({"users", "get", "abc"}).exit_code, 2);
  EXPECT_EQ(Cli({"users", "update", "1"}).exit_code, 2) << "nothing to change";
  for (std::vector<std::string> help : {std::vector<std::string>{"--help"},
                                        {"users", "--help"},
                                        {"users", "get", "--help"},
                                        {"briefings", "--help"},
                                        {"identities", "--help"},
                                        {"signin", "--help"},
                                        {"health", "--help"}}) {
    testing::CommandResult result = Cli(help);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_TRUE(absl::StrContains(result.output, "usage: firstsip")) << result.output;
  }
}

TEST_F(CliTest, AnUnreachableServerIsUnavailable) {
  testing::CommandResult result = testing::RunCommand(
      testing::CliBinary(), {"--target=127.0.0.1:1", "--timeout=2s", "users", "get", "1"});
  EXPECT_EQ(result.exit_code, 10 + 14) << result.output;  // UNAVAILABLE
  EXPECT_TRUE(absl::StartsWith(result.output, "error: UNAVAILABLE: ")) << result.output;
}

}  // namespace
}  // namespace firstsip

namespace firstsip {
namespace {

class ClientLibraryTest : public testing::RunningServerTest {};

TEST_F(ClientLibraryTest, TypedCallsReturnValuesAndStatuses) {
  client::ClientOptions options;
  options.target = server_->target();
  auto client = client::Client::Create(options);
  ASSERT_TRUE(client.ok());
  auto healthy = (*client)->Healthy();
  ASSERT_TRUE(healthy.ok()) << healthy.status();
  v1::User input;
  input.set_email("ada@example.com");
  auto user = (*client)->CreateUser(input);
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ((*client)->GetUser(user->id())->email(), "ada@example.com");
  EXPECT_EQ((*client)->GetUser(user->id() + 1).status().code(), absl::StatusCode::kNotFound);
  auto briefing = (*client)->CreateBriefing(user->id(), "k1");
  ASSERT_TRUE(briefing.ok());
  auto claimed = (*client)->ClaimNextBriefing(absl::Minutes(1));
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  EXPECT_EQ((**claimed).id(), briefing->id());
  auto nothing = (*client)->ClaimNextBriefing();
  ASSERT_TRUE(nothing.ok());
  EXPECT_FALSE(nothing->has_value());
  EXPECT_TRUE((*client)->DeleteBriefing(briefing->id()).ok());
  client::CallOptions hurried;
  hurried.timeout = absl::Seconds(-1);  // already past
  auto short_deadline = (*client)->ListUsers(v1::ListUsersRequest(), hurried);
  EXPECT_EQ(short_deadline.status().code(), absl::StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace firstsip
