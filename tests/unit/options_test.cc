// Start-up rules of the options that reach beyond one database server.
//
// Behind a transaction pooler: --prepared-statements=false is for PgBouncer in transaction mode,
// where migrations' session-level advisory lock and the change feed's LISTEN do not work, so it
// needs --direct-database-url to reach PostgreSQL itself. Refused at start-up rather than found
// out at the first migration or lost wake-up.
//
// Read replicas: a read URL libpq can parse, whose hosts and ports pair up, and a sane lag.
#include "app/options.h"

#include <initializer_list>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
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

TEST(ValidateOptions, AReadDatabaseUrlOfOneOrSeveralStandbysIsAccepted) {
  Options options;
  options.read_database_url = "postgresql://app@db2:5432,db3:5432/firstsip";
  EXPECT_TRUE(ValidateOptions(options).ok());
  options.read_database_url = "host=db2 port=5432 dbname=firstsip";
  EXPECT_TRUE(ValidateOptions(options).ok());
}

TEST(ValidateOptions, AReadDatabaseUrlWhoseHostsAndPortsDoNotPairUpIsRefusedWithoutEchoingIt) {
  Options options;
  options.read_database_url = "host=a,b,c port=1,2 password=hunter2";
  absl::Status refused = ValidateOptions(options);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_TRUE(absl::StartsWith(refused.message(), "--read-database-url: ")) << refused;
  EXPECT_FALSE(absl::StrContains(refused.message(), "hunter2")) << refused;
  options.read_database_url = "host='unterminated password=hunter2";
  refused = ValidateOptions(options);
  EXPECT_TRUE(absl::StartsWith(refused.message(), "--read-database-url: ")) << refused;
  EXPECT_FALSE(absl::StrContains(refused.message(), "hunter2")) << refused;
}

// Each of `bad` set in `field` is refused, naming `flag`; each of `good` is accepted.
void ExpectDurationRange(absl::Duration Options::*field, absl::string_view flag,
                         std::initializer_list<absl::Duration> bad,
                         std::initializer_list<absl::Duration> good) {
  Options options;
  for (absl::Duration value : bad) {
    options.*field = value;
    absl::Status refused = ValidateOptions(options);
    EXPECT_TRUE(absl::StartsWith(refused.message(), absl::StrCat("--", flag, ": ")))
        << value << " " << refused;
  }
  for (absl::Duration value : good) {
    options.*field = value;
    EXPECT_TRUE(ValidateOptions(options).ok()) << value;
  }
}

TEST(ValidateOptions, ReadMaxLagIsBetweenTenMillisecondsAndAnHour) {
  EXPECT_EQ(Options().read_max_lag, absl::Seconds(1)) << "the contract's default";
  ExpectDurationRange(&Options::read_max_lag, "read-max-lag",
                      {absl::ZeroDuration(), absl::Milliseconds(9), -absl::Seconds(1),
                       absl::Hours(1) + absl::Seconds(1)},
                      {absl::Milliseconds(10), absl::Seconds(1), absl::Hours(1)});
}

TEST(ValidateOptions, KeepaliveIsBetweenASecondAndTwoHoursAndItsTimeoutAtMostTwentySeconds) {
  Options options;
  EXPECT_EQ(options.keepalive, absl::Seconds(60));
  EXPECT_EQ(KeepaliveTimeout(options), absl::Seconds(20));
  ExpectDurationRange(&Options::keepalive, "keepalive",
                      {absl::ZeroDuration(), absl::Milliseconds(999), -absl::Seconds(1),
                       absl::Hours(2) + absl::Seconds(1)},
                      {absl::Seconds(1), absl::Seconds(60), absl::Hours(2)});
  options.keepalive = absl::Seconds(2);
  EXPECT_EQ(KeepaliveTimeout(options), absl::Seconds(2)) << "never longer than the interval";
}

TEST(ValidateOptions, RefreshIntervalIsBetweenASecondAndAnHour) {
  EXPECT_EQ(Options().refresh_interval, absl::Seconds(10));
  ExpectDurationRange(
      &Options::refresh_interval, "refresh-interval",
      {absl::ZeroDuration(), absl::Milliseconds(999), absl::Hours(1) + absl::Seconds(1)},
      {absl::Seconds(1), absl::Seconds(10), absl::Hours(1)});
}

TEST(ValidateOptions, APolicyNeedsClientCertificatesAndSaysSo) {
  Options options;
  options.authz_policy = "/etc/firstsip/authz/policy.json";
  options.tls_cert = "server.pem";
  options.tls_key = "server.key";
  absl::Status refused = ValidateOptions(options);
  EXPECT_TRUE(absl::StartsWith(refused.message(), "--authz-policy: ")) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "--tls-client-ca")) << refused;
  options.tls_client_ca = "ca.pem";
  EXPECT_TRUE(ValidateOptions(options).ok());
}

TEST(ValidateOptions, LifecycleSettingsHaveTheirRanges) {
  Options defaults;
  EXPECT_EQ(defaults.erase_deleted_after, absl::Hours(720)) << "the contract's default";
  EXPECT_EQ(defaults.briefing_retention, absl::ZeroDuration()) << "kept forever by default";
  ExpectDurationRange(&Options::erase_deleted_after, "erase-deleted-after", {-absl::Seconds(1)},
                      {absl::ZeroDuration(), absl::Seconds(1), absl::Hours(720)});
  ExpectDurationRange(&Options::briefing_retention, "briefing-retention",
                      {-absl::Hours(1), absl::Minutes(59)},
                      {absl::ZeroDuration(), absl::Hours(1), absl::Hours(2160)});
  ExpectDurationRange(&Options::lifecycle_interval, "lifecycle-interval",
                      {absl::ZeroDuration(), absl::Milliseconds(99), absl::Hours(25)},
                      {absl::Milliseconds(100), absl::Minutes(1), absl::Hours(24)});
  for (int bytes : {0, 4095, (4 << 20) + 1}) {
    Options options;
    options.export_message_bytes = bytes;
    absl::Status status = ValidateOptions(options);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bytes;
    EXPECT_NE(status.message().find("--export-message-bytes"), absl::string_view::npos);
  }
  for (int bytes : {4096, 1 << 20, 4 << 20}) {
    Options options;
    options.export_message_bytes = bytes;
    EXPECT_TRUE(ValidateOptions(options).ok()) << bytes;
  }
}

TEST(ValidateOptions, SchedulingIsOnByDefaultAndItsLatenessBetweenAMinuteAndAWeek) {
  Options options;
  EXPECT_TRUE(options.schedule_briefings) << "every replica schedules unless told not to";
  EXPECT_EQ(options.schedule_max_lateness, absl::Hours(6)) << "the contract's default";
  ExpectDurationRange(&Options::schedule_max_lateness, "schedule-max-lateness",
                      {absl::ZeroDuration(), absl::Seconds(59), -absl::Hours(1),
                       absl::Hours(24 * 7) + absl::Seconds(1)},
                      {absl::Minutes(1), absl::Hours(6), absl::Hours(24 * 7)});
  options.schedule_briefings = false;
  options.schedule_max_lateness = absl::ZeroDuration();
  EXPECT_FALSE(ValidateOptions(options).ok()) << "checked even while scheduling is off";
}

}  // namespace
}  // namespace firstsip::app
