// The `firstsip` command line against a real server: every command group, in tables and in
// --json, and its exit codes; `briefings watch` and `briefings claim --wait`.
#include <signal.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
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

  // Starts the command line with `args`, to run until signalled (briefings watch).
  std::unique_ptr<testing::ServerProcess> CliInBackground(std::vector<std::string> args) {
    args.insert(args.begin(), "--target=" + server_->target());
    return testing::ServerProcess::LaunchCommand(testing::CliBinary(), args);
  }

  // The lines of `output` that start with `prefix`.
  static std::vector<std::string> Lines(const std::string& output, const std::string& prefix) {
    std::vector<std::string> lines;
    for (absl::string_view line : absl::StrSplit(output, '\n')) {
      if (absl::StartsWith(line, prefix)) lines.emplace_back(line);
    }
    return lines;
  }

  // Waits until `process` printed `count` lines that start with `prefix`.
  static std::vector<std::string> WaitForLines(const testing::ServerProcess& process,
                                               const std::string& prefix, size_t count) {
    std::vector<std::string> lines;
    for (int i = 0; i < 1000; ++i) {
      lines = Lines(process.output(), prefix);
      if (lines.size() >= count) break;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return lines;
  }

  static std::string Field(const google::protobuf::Struct& s, const std::string& name) {
    auto it = s.fields().find(name);
    if (it == s.fields().end()) return "";
    return it->second.has_string_value() ? it->second.string_value()
                                         : absl::StrCat(it->second.number_value());
  }
};

TEST_F(CliTest, UsersShowTheNextBriefingAndPauseAndResumeIt) {
  google::protobuf::Struct user = Json({"users", "create", "--email=ada@example.com",
                                        "--timezone=Asia/Kolkata", "--briefing-time=07:30"});
  const std::string id = Field(user, "id");
  const std::string next = Field(user, "next_briefing_time");
  EXPECT_TRUE(absl::EndsWith(next, ":00:00Z") || absl::EndsWith(next, ":30:00Z")) << next;
  EXPECT_EQ(Field(user, "briefings_paused"), "") << "false is left out of JSON";
  testing::CommandResult table = Cli({"users", "get", id});
  EXPECT_TRUE(absl::StrContains(table.output, "NEXT BRIEFING")) << table.output;
  EXPECT_TRUE(absl::StrContains(table.output, next)) << table.output;

  testing::CommandResult paused = Cli({"users", "update", id, "--paused=true"});
  ASSERT_EQ(paused.exit_code, 0) << paused.output;
  EXPECT_FALSE(absl::StrContains(paused.output, next)) << "no next briefing while paused";
  google::protobuf::Struct shown = Json({"users", "get", id});
  EXPECT_TRUE(shown.fields().at("briefings_paused").bool_value());
  EXPECT_EQ(Field(shown, "next_briefing_time"), "");
  EXPECT_EQ(Field(shown, "preferred_briefing_time"), "07:30") << "only the masked field changed";

  ASSERT_EQ(Cli({"users", "update", id, "--paused=false"}).exit_code, 0);
  EXPECT_EQ(Field(Json({"users", "get", id}), "next_briefing_time"), next)
      << "resumed: the next 07:30 from now";
  google::protobuf::Struct quiet =
      Json({"users", "create", "--email=quiet@example.com", "--paused=true"});
  EXPECT_TRUE(quiet.fields().at("briefings_paused").bool_value());
  EXPECT_EQ(Field(quiet, "next_briefing_time"), "");
}

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

TEST_F(CliTest, BriefingsWatchPrintsALinePerChangeAndStopsCleanlyOnSigint) {
  std::string user_id = Field(Json({"users", "create", "--email=ada@example.com"}), "id");
  auto watch = CliInBackground({"briefings", "watch", "--user=" + user_id});
  ASSERT_TRUE(
      watch->WaitForOutput("watch: watching the briefings of user " + user_id, absl::Seconds(10)))
      << watch->output();
  std::string id = Field(Json({"briefings", "create", user_id}), "id");
  ASSERT_EQ(Cli({"briefings", "start", id}).exit_code, 0);
  ASSERT_EQ(Cli({"briefings", "complete", id, R"(--content={"news": []})"}).exit_code, 0);
  ASSERT_EQ(Cli({"briefings", "read", id}).exit_code, 0);
  ASSERT_EQ(Cli({"briefings", "delete", id}).exit_code, 0);
  std::vector<std::string> lines = WaitForLines(*watch, "briefing=", 5);
  ASSERT_EQ(lines.size(), 5u) << watch->output();
  const std::string b = "briefing=" + id;
  EXPECT_TRUE(absl::StartsWith(lines[0], b + " status=PENDING read=no deleted=no updated=20"))
      << lines[0];
  EXPECT_TRUE(absl::StartsWith(lines[1], b + " status=PROCESSING read=no")) << lines[1];
  EXPECT_TRUE(absl::StartsWith(lines[2], b + " status=COMPLETED read=no")) << lines[2];
  EXPECT_TRUE(absl::StartsWith(lines[3], b + " status=COMPLETED read=yes deleted=no")) << lines[3];
  EXPECT_TRUE(absl::StartsWith(lines[4], b + " status=COMPLETED read=yes deleted=yes")) << lines[4];
  for (const std::string& line : lines) {
    std::vector<std::string> words = absl::StrSplit(line, ' ');
    ASSERT_EQ(words.size(), 6u) << line;
    EXPECT_TRUE(absl::StartsWith(words[5], "resume=") && words[5].size() > 7) << line;
  }
  EXPECT_EQ(watch->Stop(SIGINT), 0) << watch->output();
  EXPECT_TRUE(absl::EndsWith(watch->output(), "\n")) << "nothing partial: " << watch->output();
  EXPECT_EQ(Lines(watch->output(), "error").size(), 0u) << watch->output();
}

TEST_F(CliTest, BriefingsWatchJsonLinesParseAndResumeReplays) {
  std::string user_id = Field(Json({"users", "create", "--email=ada@example.com"}), "id");
  std::string id = Field(Json({"briefings", "create", user_id}), "id");
  // List-then-watch: the listing's token covers what changes after it.
  std::string token = Field(Json({"briefings", "list", user_id}), "resume_token");
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(Cli({"briefings", "start", id}).exit_code, 0);
  ASSERT_EQ(Cli({"briefings", "fail", id, "--error=no weather"}).exit_code, 0);

  auto watch =
      CliInBackground({"--json", "briefings", "watch", "--user=" + user_id, "--resume=" + token});
  std::vector<std::string> lines = WaitForLines(*watch, "{", 2);
  ASSERT_EQ(lines.size(), 2u) << watch->output();
  std::vector<google::protobuf::Struct> changes(2);
  for (size_t i = 0; i < lines.size(); ++i) {
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(lines[i], &changes[i]).ok())
        << lines[i];
  }
  const auto& first = changes[0].fields().at("briefing").struct_value();
  EXPECT_EQ(Field(first, "id"), id);
  EXPECT_EQ(Field(first, "status"), "BRIEFING_STATUS_PROCESSING");
  EXPECT_EQ(Field(changes[1].fields().at("briefing").struct_value(), "status"),
            "BRIEFING_STATUS_FAILED");
  EXPECT_EQ(Field(changes[1].fields().at("briefing").struct_value(), "error_message"),
            "no weather");
  EXPECT_EQ(watch->Stop(SIGTERM), 0) << watch->output();

  // Resuming from the first line's token replays what came after it, and nothing before.
  auto resumed = CliInBackground({"--json", "briefings", "watch", "--user=" + user_id,
                                  "--resume=" + Field(changes[0], "resume_token")});
  ASSERT_EQ(WaitForLines(*resumed, "{", 1).size(), 1u) << resumed->output();
  absl::SleepFor(absl::Milliseconds(300));  // anything more would show now
  EXPECT_EQ(resumed->Stop(SIGINT), 0);
  lines = Lines(resumed->output(), "{");
  ASSERT_EQ(lines.size(), 1u) << resumed->output();
  google::protobuf::Struct replayed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(lines[0], &replayed).ok()) << lines[0];
  EXPECT_EQ(Field(replayed, "resume_token"), Field(changes[1], "resume_token"));
}

TEST_F(CliTest, BriefingsWatchResumesAcrossAServerRestartAndSaysSoOnStderr) {
  std::string user_id = Field(Json({"users", "create", "--email=ada@example.com"}), "id");
  auto watch = CliInBackground({"briefings", "watch", "--user=" + user_id});
  ASSERT_TRUE(watch->WaitForOutput("watch: watching", absl::Seconds(10))) << watch->output();
  const int port = server_->port();
  ASSERT_EQ(server_->Stop(SIGTERM), 0);
  ASSERT_TRUE(watch->WaitForOutput("watch: stream ended (UNAVAILABLE", absl::Seconds(5)))
      << watch->output();
  auto next =
      testing::ServerProcess::Start(database_->dsn(), {absl::StrCat("--listen=127.0.0.1:", port)});
  ASSERT_TRUE(next.ok()) << next.status();
  server_ = std::move(*next);
  ASSERT_TRUE(watch->WaitForOutput("watch: resumed", absl::Seconds(20))) << watch->output();
  std::string id = Field(Json({"briefings", "create", user_id}), "id");
  ASSERT_EQ(WaitForLines(*watch, "briefing=" + id, 1).size(), 1u) << watch->output();
  EXPECT_EQ(watch->Stop(SIGINT), 0) << watch->output();
}

TEST_F(CliTest, BriefingsWatchFailuresExitWithTheError) {
  testing::CommandResult unknown = Cli({"briefings", "watch", "--user=987654"});
  EXPECT_EQ(unknown.exit_code, 10 + 5) << unknown.output;  // NOT_FOUND
  EXPECT_TRUE(absl::StrContains(unknown.output, "error: NOT_FOUND: ")) << unknown.output;
  std::string user_id = Field(Json({"users", "create", "--email=ada@example.com"}), "id");
  testing::CommandResult garbage =
      Cli({"briefings", "watch", "--user=" + user_id, "--resume=not-a-token"});
  EXPECT_EQ(garbage.exit_code, 10 + 3) << garbage.output;  // INVALID_ARGUMENT
  EXPECT_TRUE(absl::StrContains(garbage.output, "error: INVALID_ARGUMENT: ")) << garbage.output;
  EXPECT_EQ(Cli({"briefings", "watch"}).exit_code, 2) << "--user is required";
}

TEST_F(CliTest, BriefingsClaimWaitGetsABriefingCreatedDuringTheWait) {
  std::string user_id = Field(Json({"users", "create", "--email=ada@example.com"}), "id");
  testing::CommandResult claimed;
  absl::Time answered;
  // --timeout=2s: the wait is added to it, so the 30 s wait is not cut short at 2 s.
  std::thread worker([&] {
    claimed = Cli({"--json", "--timeout=2s", "briefings", "claim", "--wait=30s", "--lease=2m"});
    answered = absl::Now();
  });
  absl::SleepFor(absl::Milliseconds(2500));
  const absl::Time created_at = absl::Now();
  std::string id = Field(Json({"briefings", "create", user_id}), "id");
  worker.join();
  ASSERT_EQ(claimed.exit_code, 0) << claimed.output;
  google::protobuf::Struct response;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(claimed.output, &response).ok())
      << claimed.output;
  EXPECT_EQ(Field(response.fields().at("briefing").struct_value(), "id"), id);
  EXPECT_LT(answered - created_at, absl::Seconds(2));

  const absl::Time start = absl::Now();
  testing::CommandResult idle = Cli({"briefings", "claim", "--wait=1s"});
  EXPECT_EQ(idle.output, "nothing to do\n");
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(900));
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
                                        {"briefings", "watch", "--help"},
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
