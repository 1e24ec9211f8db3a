// The server process as operators meet it: reflection, health, configuration errors, the
// migrate subcommands, and shutdown.
#include <signal.h>
#include <stdlib.h>

#include <set>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "db/blocking_connection.h"
#include "firstsip/v1/briefing.grpc.pb.h"
#include "firstsip/v1/identity.grpc.pb.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "migrate/migration_set.h"
#include "support/running_server.h"

namespace firstsip {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

class ServerTest : public testing::RunningServerTest {};

HealthCheckResponse::ServingStatus CheckHealth(grpc::Channel& channel, const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(
      std::shared_ptr<grpc::Channel>(&channel, [](grpc::Channel*) {}));
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Status status = stub->Check(&context, request, &response);
  return status.ok() ? response.status() : HealthCheckResponse::UNKNOWN;
}

bool EventuallyHealth(grpc::Channel& channel, HealthCheckResponse::ServingStatus wanted) {
  for (int i = 0; i < 100; ++i) {
    if (CheckHealth(channel, "") == wanted) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

TEST_F(ServerTest, ReflectionListsTheThreeServices) {
  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(channel_);
  auto context = Context();
  auto stream = stub->ServerReflectionInfo(context.get());
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("*");
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::set<std::string> names;
  for (const auto& service : response.list_services_response().service()) {
    names.insert(service.name());
  }
  EXPECT_TRUE(stream->Finish().ok());
  for (const char* service : {"firstsip.v1.UserService", "firstsip.v1.IdentityService",
                              "firstsip.v1.BriefingService", "grpc.health.v1.Health"}) {
    EXPECT_TRUE(names.count(service)) << service;
  }
}

TEST_F(ServerTest, HealthIsServingForTheServerAndEachServiceWhileTheDatabaseAnswers) {
  EXPECT_TRUE(EventuallyHealth(*channel_, HealthCheckResponse::SERVING));
  for (const char* service :
       {"firstsip.v1.UserService", "firstsip.v1.IdentityService", "firstsip.v1.BriefingService"}) {
    EXPECT_EQ(CheckHealth(*channel_, service), HealthCheckResponse::SERVING) << service;
  }
}

TEST_F(ServerTest, HealthTurnsNotServingWhenTheSchemaIsNoLongerCurrent) {
  ASSERT_TRUE(EventuallyHealth(*channel_, HealthCheckResponse::SERVING));
  auto connection = db::BlockingConnection::Open(database_->dsn());
  ASSERT_TRUE(connection.ok());
  ASSERT_TRUE((*connection)->ExecScript("UPDATE schema_migrations SET dirty = true").ok());
  EXPECT_TRUE(EventuallyHealth(*channel_, HealthCheckResponse::NOT_SERVING));
  ASSERT_TRUE((*connection)->ExecScript("UPDATE schema_migrations SET dirty = false").ok());
  EXPECT_TRUE(EventuallyHealth(*channel_, HealthCheckResponse::SERVING));
}

TEST_F(ServerTest, HealthStaysServingWhileARolloutMigratesAhead) {
  ASSERT_TRUE(EventuallyHealth(*channel_, HealthCheckResponse::SERVING));
  auto connection = db::BlockingConnection::Open(database_->dsn());
  ASSERT_TRUE(connection.ok());
  ASSERT_TRUE((*connection)->ExecScript("UPDATE schema_migrations SET version = version + 1").ok());
  absl::SleepFor(absl::Milliseconds(400));  // several probes
  EXPECT_EQ(CheckHealth(*channel_, ""), HealthCheckResponse::SERVING);
  ASSERT_TRUE((*connection)->ExecScript("UPDATE schema_migrations SET version = 1").ok());
  EXPECT_TRUE(EventuallyHealth(*channel_, HealthCheckResponse::NOT_SERVING))
      << "behind this binary's head is not current";
}

TEST_F(ServerTest, ReflectionDescribesTheHealthService) {
  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(channel_);
  auto context = Context();
  auto stream = stub->ServerReflectionInfo(context.get());
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_file_containing_symbol("grpc.health.v1.Health");
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_TRUE(stream->Finish().ok());
  ASSERT_FALSE(response.has_error_response()) << response.error_response().error_message();
  EXPECT_GT(response.file_descriptor_response().file_descriptor_proto_size(), 0);
}

TEST_F(ServerTest, HealthCheckOfAnUnknownServiceIsNotFoundAndWatchSaysServiceUnknown) {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  HealthCheckRequest request;
  request.set_service("no.such.Service");
  HealthCheckResponse response;
  EXPECT_EQ(stub->Check(Context().get(), request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  auto context = Context();
  auto watch = stub->Watch(context.get(), request);
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVICE_UNKNOWN);
}

TEST_F(ServerTest, HealthWatchFollowsTheStatusAndEndsWithUnavailableAtShutdown) {
  ASSERT_TRUE(EventuallyHealth(*channel_, HealthCheckResponse::SERVING));
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto watch = stub->Watch(&context, HealthCheckRequest());
  HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  auto connection = db::BlockingConnection::Open(database_->dsn());
  ASSERT_TRUE(connection.ok());
  ASSERT_TRUE((*connection)->ExecScript("UPDATE schema_migrations SET dirty = true").ok());
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING) << "a change is pushed";
  ASSERT_TRUE((*connection)->ExecScript("UPDATE schema_migrations SET dirty = false").ok());
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  absl::Time signalled = absl::Now();
  kill(server_->pid(), SIGTERM);
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE(watch->Read(&response));
  grpc::Status ended = watch->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE) << ended.error_message();
  // The open stream must not hold the shutdown until its grace period runs out.
  EXPECT_EQ(server_->Stop(SIGTERM), 0);
  EXPECT_LT(absl::Now() - signalled, absl::Seconds(3)) << server_->output();
}

TEST_F(ServerTest, SigtermLetsInFlightCallsFinishThenExitsPromptly) {
  auto users = v1::UserService::NewStub(channel_);
  v1::CreateUserRequest create;
  create.mutable_user()->set_email("ada@example.com");
  v1::User user;
  ASSERT_TRUE(users->CreateUser(Context().get(), create, &user).ok());
  // Hold the row's lock so the next update is in flight, inside PostgreSQL, at SIGTERM.
  auto blocker = db::BlockingConnection::Open(database_->dsn());
  ASSERT_TRUE(blocker.ok());
  ASSERT_TRUE((*blocker)->ExecScript("BEGIN; SELECT * FROM users FOR UPDATE").ok());
  grpc::Status update_status;
  std::thread update([&] {
    v1::UpdateUserRequest request;
    *request.mutable_user() = user;
    request.mutable_user()->set_name("Changed during shutdown");
    request.mutable_update_mask()->add_paths("name");
    v1::User updated;
    update_status = users->UpdateUser(Context().get(), request, &updated);
  });
  absl::SleepFor(absl::Milliseconds(300));
  absl::Time signalled = absl::Now();
  kill(server_->pid(), SIGTERM);
  ASSERT_TRUE(server_->WaitForOutput("received SIGTERM", absl::Seconds(5)));
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_TRUE((*blocker)->ExecScript("COMMIT").ok());
  update.join();
  EXPECT_TRUE(update_status.ok()) << update_status.error_message();
  // The client channel stays open: the server must not wait for it to hang up.
  EXPECT_EQ(server_->Stop(SIGTERM), 0);
  EXPECT_LT(absl::Now() - signalled, absl::Seconds(3)) << server_->output();
  EXPECT_TRUE(absl::StrContains(server_->output(), "stopped")) << server_->output();
}

TEST_F(ServerTest, ADatabaseOutageFailsCallsFastWithUnavailableAndRecoversWithoutARestart) {
  ASSERT_TRUE(EventuallyHealth(*channel_, HealthCheckResponse::SERVING));
  auto users = v1::UserService::NewStub(channel_);
  auto admin = db::BlockingConnection::Open(database_->admin_dsn());
  ASSERT_TRUE(admin.ok());
  const std::string& name = database_->name();
  // Refuse new connections (superusers included) and cut the server's existing ones.
  ASSERT_TRUE((*admin)->ExecScript("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false").ok());
  ASSERT_TRUE((*admin)
                  ->ExecScript("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                               "datname = '" +
                               name + "'")
                  .ok());
  EXPECT_TRUE(EventuallyHealth(*channel_, HealthCheckResponse::NOT_SERVING));
  EXPECT_EQ(CheckHealth(*channel_, "liveness"), HealthCheckResponse::SERVING)
      << "a restart would not bring the database back: stay alive";
  v1::GetUserRequest get;
  get.set_id(1);
  v1::User user;
  absl::Time start = absl::Now();
  grpc::Status down = users->GetUser(Context(absl::Seconds(20)).get(), get, &user);
  EXPECT_EQ(down.error_code(), grpc::StatusCode::UNAVAILABLE) << down.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2)) << "fails fast, not at the deadline";
  ASSERT_TRUE((*admin)->ExecScript("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true").ok());
  EXPECT_TRUE(EventuallyHealth(*channel_, HealthCheckResponse::SERVING));
  v1::CreateUserRequest create;
  create.mutable_user()->set_email("back@example.com");
  grpc::Status back = grpc::Status::CANCELLED;
  for (int i = 0; i < 50 && !back.ok(); ++i) {
    back = users->CreateUser(Context().get(), create, &user);
    if (!back.ok()) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(back.ok()) << back.error_message();
}

// Starts an UpdateUser that waits on a row lock the test holds, so it is running inside
// PostgreSQL when the caller's deadline passes or the caller cancels.
class BlockedUpdateTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    if (HasFatalFailure()) return;
    users_ = v1::UserService::NewStub(channel_);
    v1::CreateUserRequest create;
    create.mutable_user()->set_email("ada@example.com");
    ASSERT_TRUE(users_->CreateUser(Context().get(), create, &user_).ok());
    auto blocker = db::BlockingConnection::Open(database_->dsn());
    ASSERT_TRUE(blocker.ok());
    blocker_ = std::move(*blocker);
    ASSERT_TRUE(blocker_->ExecScript("BEGIN; SELECT * FROM users FOR UPDATE").ok());
  }

  v1::UpdateUserRequest Rename() const {
    v1::UpdateUserRequest request;
    *request.mutable_user() = user_;
    request.mutable_user()->set_name("should never be written");
    request.mutable_update_mask()->add_paths("name");
    return request;
  }

  // Waits until no statement of this database is still waiting for the lock.
  bool NoStatementLeftWaiting() {
    auto admin = db::BlockingConnection::Open(database_->admin_dsn());
    db::Params name;
    name.Add(database_->name());
    for (int i = 0; i < 50; ++i) {
      auto waiting = (*admin)->Exec(
          "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = "
          "'Lock'",
          name);
      if (waiting.ok() && *waiting->Int64(0, 0) == 0) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  void ExpectNameUnchanged() {
    ASSERT_TRUE(blocker_->ExecScript("COMMIT").ok());
    absl::SleepFor(absl::Milliseconds(100));
    v1::GetUserRequest get;
    get.set_id(user_.id());
    v1::User now;
    ASSERT_TRUE(users_->GetUser(Context().get(), get, &now).ok());
    EXPECT_EQ(now.name(), user_.name()) << "the cancelled update never ran to the end";
  }

  std::unique_ptr<v1::UserService::Stub> users_;
  v1::User user_;
  std::unique_ptr<db::BlockingConnection> blocker_;
};

TEST_F(BlockedUpdateTest, TheCallersDeadlineCancelsTheRunningQuery) {
  v1::User out;
  grpc::Status status = users_->UpdateUser(Context(absl::Milliseconds(300)).get(), Rename(), &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(NoStatementLeftWaiting()) << "the server cancelled the statement too";
  ExpectNameUnchanged();
}

TEST_F(BlockedUpdateTest, ACallerCancellationCancelsTheRunningQuery) {
  grpc::ClientContext context;
  grpc::Status status;
  v1::User out;
  std::thread call([&] { status = users_->UpdateUser(&context, Rename(), &out); });
  absl::SleepFor(absl::Milliseconds(300));
  context.TryCancel();
  call.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(NoStatementLeftWaiting()) << "the server cancelled the statement too";
  ExpectNameUnchanged();
}

TEST_F(ServerTest, TheLogShowsTheDatabaseWithoutItsPassword) {
  EXPECT_TRUE(absl::StrContains(server_->output(), "database: ")) << server_->output();
  // The test DSN has no password; the unit test covers redaction. Here: no raw URL echoes.
  EXPECT_FALSE(absl::StrContains(server_->output(), "password=")) << server_->output();
}

class CommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto database = testing::TestDatabase::Create();
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
  }
  testing::CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), "--database-url=" + database_->dsn());
    return testing::RunServerCommand(args);
  }
  std::unique_ptr<testing::TestDatabase> database_;
};

TEST_F(CommandTest, BadConfigurationStopsWithOneClearLine) {
  struct Case {
    std::vector<std::string> args;
    const char* mentions;
  } const cases[] = {
      {{"--pool-size=0"}, "--pool-size"},
      {{"--listen=nowhere"}, "--listen"},
      {{"--database-url=host='unterminated password=hunter2"}, "--database-url"},
      {{"--migrate-lock-timeout=-1s"}, "--migrate-lock-timeout"},
      {{"--log-level=chatty"}, "--log-level"},
      {{"--no-such-flag=1"}, "no_such_flag"},
      {{"--pool-size=many"}, "pool_size"},
      {{"frobnicate"}, "unknown command"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.mentions);
    testing::CommandResult result = testing::RunServerCommand(c.args);
    EXPECT_NE(result.exit_code, 0);
    EXPECT_LT(result.exit_code, 128) << "no crash: " << result.output;
    EXPECT_TRUE(absl::StrContains(result.output, c.mentions)) << result.output;
    EXPECT_FALSE(absl::StrContains(result.output, "hunter2")) << result.output;
    std::vector<std::string> lines =
        absl::StrSplit(absl::StripTrailingAsciiWhitespace(result.output), '\n');
    EXPECT_LE(lines.size(), 2u) << result.output;
  }
}

TEST_F(CommandTest, EnvironmentVariablesConfigureLikeFlags) {
  testing::CommandResult bad =
      testing::RunServerCommand({"migrate", "version"}, {{"FIRSTSIP_POOL_SIZE", "0"}});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(bad.output, "--pool-size")) << bad.output;
  testing::CommandResult version =
      testing::RunServerCommand({"migrate", "version"}, {{"DATABASE_URL", database_->dsn()}});
  EXPECT_EQ(version.exit_code, 0) << version.output;
  EXPECT_EQ(version.output, "0\n");
}

TEST_F(CommandTest, UnnamedStatementsWithoutADirectDatabaseUrlStopStartUpBeforeMigrating) {
  // --prepared-statements=false means a transaction pooler in between, where the migration
  // lock and LISTEN would fail later and less clearly: refused as a configuration error.
  // Everything else is valid, so without the rule this server would start and serve.
  testing::CommandResult result = testing::RunServerCommand(
      {"--database-url=" + database_->dsn(), "--listen=127.0.0.1:0",
       "--metrics-listen=", "--prepared-statements=false"},
      {{"ENCRYPTION_KEY", testing::kTestEncryptionKey}}, absl::Seconds(20));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(absl::StrContains(result.output, "--prepared-statements")) << result.output;
  EXPECT_TRUE(absl::StrContains(result.output, "--direct-database-url")) << result.output;
  EXPECT_EQ(Run({"migrate", "version"}).output, "0\n") << "refused before migrating";
}

TEST_F(CommandTest, TheReadReplicaSettingsComeFromTheEnvironmentAndAreChecked) {
  testing::CommandResult lag = testing::RunServerCommand(
      {"--database-url=" + database_->dsn(), "--listen=127.0.0.1:0", "--metrics-listen="},
      {{"ENCRYPTION_KEY", testing::kTestEncryptionKey}, {"FIRSTSIP_READ_MAX_LAG", "5ms"}},
      absl::Seconds(20));
  EXPECT_EQ(lag.exit_code, 2) << lag.output;
  EXPECT_TRUE(absl::StrContains(lag.output, "--read-max-lag")) << lag.output;
  testing::CommandResult url = testing::RunServerCommand(
      {"--database-url=" + database_->dsn(), "--listen=127.0.0.1:0", "--metrics-listen="},
      {{"ENCRYPTION_KEY", testing::kTestEncryptionKey},
       {"FIRSTSIP_READ_DATABASE_URL", "host=a,b port=1,2,3 password=hunter2"}},
      absl::Seconds(20));
  EXPECT_EQ(url.exit_code, 2) << url.output;
  EXPECT_TRUE(absl::StrContains(url.output, "--read-database-url")) << url.output;
  EXPECT_FALSE(absl::StrContains(url.output, "hunter2")) << url.output;
}

TEST_F(CommandTest, AnUnreachableDatabaseStopsStartUpWithAClearLine) {
  testing::CommandResult result = testing::RunServerCommand(
      {"--database-url=postgresql://app:hunter2@127.0.0.1:1/firstsip", "--listen=127.0.0.1:0"},
      {{"ENCRYPTION_KEY", testing::kTestEncryptionKey}});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(result.output, "cannot start")) << result.output;
  EXPECT_FALSE(absl::StrContains(result.output, "hunter2")) << result.output;
}

TEST_F(CommandTest, MigrateSubcommandsMoveAndReportTheSchema) {
  testing::CommandResult up = Run({"migrate", "up"});
  ASSERT_EQ(up.exit_code, 0) << up.output;
  EXPECT_TRUE(absl::StrContains(up.output, "applied 000003_create_briefings.up.sql")) << up.output;
  absl::StatusOr<migrate::MigrationSet> embedded = migrate::MigrationSet::Embedded();
  ASSERT_TRUE(embedded.ok()) << embedded.status();
  EXPECT_EQ(Run({"migrate", "version"}).output, absl::StrCat(embedded->head(), "\n"));
  // Down to 000002, however many files there are now.
  const size_t above_two = embedded->migrations().size() - 2;
  testing::CommandResult down = Run({"migrate", "down", absl::StrCat(above_two)});
  ASSERT_EQ(down.exit_code, 0) << down.output;
  EXPECT_EQ(Run({"migrate", "version"}).output, "2\n");
  testing::CommandResult status = Run({"migrate", "status"});
  ASSERT_EQ(status.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(status.output, "applied  000002_create_auth_identities.up.sql"))
      << status.output;
  EXPECT_TRUE(absl::StrContains(status.output, "pending  000003_create_briefings.up.sql"))
      << status.output;
  ASSERT_EQ(Run({"migrate", "goto", "3"}).exit_code, 0);
  EXPECT_EQ(Run({"migrate", "version"}).output, "3\n");
  ASSERT_EQ(Run({"migrate", "force", "2"}).exit_code, 0);
  EXPECT_EQ(Run({"migrate", "version"}).output, "2\n");
  EXPECT_EQ(Run({"migrate", "down"}).exit_code, 2);
  EXPECT_EQ(Run({"migrate", "sideways"}).exit_code, 2);
  EXPECT_EQ(Run({"migrate", "goto", "77"}).exit_code, 1);
}

TEST_F(CommandTest, ADirtySchemaStopsStartUpWithTheRepairCommand) {
  ASSERT_EQ(Run({"migrate", "goto", "2"}).exit_code, 0);
  auto connection = db::BlockingConnection::Open(database_->dsn());
  ASSERT_TRUE(connection.ok());
  ASSERT_TRUE((*connection)
                  ->ExecScript("TRUNCATE schema_migrations; "
                               "INSERT INTO schema_migrations VALUES (3, true)")
                  .ok());
  testing::CommandResult start =
      testing::RunServerCommand({"--database-url=" + database_->dsn(), "--listen=127.0.0.1:0"},
                                {{"ENCRYPTION_KEY", testing::kTestEncryptionKey}});
  EXPECT_EQ(start.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(start.output, "dirty at version 3")) << start.output;
  EXPECT_TRUE(absl::StrContains(start.output, "firstsip-server migrate force 2")) << start.output;
  EXPECT_EQ(Run({"migrate", "version"}).output, "3 (dirty)\n");
}

TEST_F(CommandTest, SeedDevIsIdempotentAndNeverPartOfTheMigrations) {
  testing::CommandResult first = Run({"seed-dev"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_TRUE(absl::StrContains(first.output, "created")) << first.output;
  testing::CommandResult second = Run({"seed-dev"});
  ASSERT_EQ(second.exit_code, 0) << second.output;
  auto connection = db::BlockingConnection::Open(database_->dsn());
  ASSERT_TRUE(connection.ok());
  auto users = (*connection)->Exec("SELECT count(*) FROM users");
  auto briefings = (*connection)->Exec("SELECT count(*) FROM briefings WHERE status = 'completed'");
  EXPECT_EQ(*users->Int64(0, 0), 1);
  EXPECT_EQ(*briefings->Int64(0, 0), 1);
  auto fresh = testing::TestDatabase::Create();
  ASSERT_TRUE(fresh.ok());
  ASSERT_EQ(
      testing::RunServerCommand({"--database-url=" + (*fresh)->dsn(), "migrate", "up"}).exit_code,
      0);
  auto fresh_connection = db::BlockingConnection::Open((*fresh)->dsn());
  auto none = (*fresh_connection)->Exec("SELECT count(*) FROM users");
  EXPECT_EQ(*none->Int64(0, 0), 0) << "migrations carry no seed data";
}

}  // namespace
}  // namespace firstsip
