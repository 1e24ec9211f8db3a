// The start-up rules for running behind a transaction pooler: --prepared-statements=false is
// for PgBouncer in transaction mode, where migrations' session-level advisory lock and the
// change feed's LISTEN do not work, so it needs --direct-database-url to reach PostgreSQL
// itself. Refused at start-up rather than found out at the first migration or lost wake-up.
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "app/options.h"
#include "gtest/gtest.h"

namespace firstsip::app {
namespace {

TEST(ValidateOptions, TheDefaultsAreValid) { EXPECT_TRUE(ValidateOptions(Options()).ok()); }

TEST(ValidateOptions, UnnamedStatementsWithoutADirectDatabaseUrlAreRefusedNamingTheWayOut) {
  Options options;
  options.database_url = "postgresql://app:hunter2@pgbouncer:6432/firstsip";
  options.prepared_statements = false;
  absl::Status refused = ValidateOptions(options);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_TRUE(absl::StartsWith(refused.message(), "--prepared-statements: ")) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "--direct-database-url")) << refused;
  EXPECT_FALSE(absl::StrContains(refused.message(), "hunter2")) << refused;
}

TEST(ValidateOptions, UnnamedStatementsWithADirectDatabaseUrlAreAccepted) {
  Options options;
  options.database_url = "postgresql://app@pgbouncer:6432/firstsip";
  options.direct_database_url = "postgresql://app@postgres:5432/firstsip";
  options.prepared_statements = false;
  EXPECT_TRUE(ValidateOptions(options).ok());
}

TEST(ValidateOptions, ADirectDatabaseUrlAloneIsAcceptedWithPreparedStatements) {
  // Prepared statements with a direct URL: a pooler that keeps sessions, or none at all.
  Options options;
  options.direct_database_url = "postgresql://app@postgres:5432/firstsip";
  EXPECT_TRUE(ValidateOptions(options).ok());
}

TEST(ValidateOptions, AnUnparsableDirectDatabaseUrlIsRefusedWithoutEchoingIt) {
  // The rule above must not be met by any string: the URL has to be one libpq can use.
  Options options;
  options.direct_database_url = "host='unterminated password=hunter2";
  options.prepared_statements = false;
  absl::Status refused = ValidateOptions(options);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_TRUE(absl::StartsWith(refused.message(), "--direct-database-url: ")) << refused;
  EXPECT_FALSE(absl::StrContains(refused.message(), "hunter2")) << refused;
}

TEST(DirectDatabaseUrl, FallsBackToTheDatabaseUrl) {
  Options options;
  options.database_url = "postgresql://app@postgres:5432/firstsip";
  EXPECT_EQ(DirectDatabaseUrl(options), options.database_url);
  options.direct_database_url = "postgresql://app@primary:5432/firstsip";
  EXPECT_EQ(DirectDatabaseUrl(options), options.direct_database_url);
}

}  // namespace
}  // namespace firstsip::app
