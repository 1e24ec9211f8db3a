#include "app/migrate_command.h"

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "db/blocking_connection.h"
#include "migrate/migrator.h"

namespace firstsip::app {
namespace {

constexpr char kUsage[] =
    "usage: firstsip-server migrate up | down N | goto V | force V | version | status";

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "migrate: %s\n", std::string(status.message()).c_str());
  return 1;
}

int PrintStatus(migrate::Migrator& migrator) {
  absl::StatusOr<migrate::SchemaVersion> version = migrator.Version();
  if (!version.ok()) return Fail(version.status());
  auto lines = migrator.Status();
  if (!lines.ok()) return Fail(lines.status());
  if (version->dirty) {
    std::printf("schema version %lld DIRTY: %s\n", static_cast<long long>(version->version),
                std::string(migrator.CheckClean().message()).c_str());
  } else {
    std::printf("schema version %lld\n", static_cast<long long>(version->version));
  }
  for (const auto& line : *lines) {
    std::string when = line.applied_at ? absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", *line.applied_at,
                                                          absl::UTCTimeZone())
                                       : "";
    const char* state = line.dirty ? "DIRTY" : line.applied ? "applied" : "pending";
    std::printf("%-8s %-45s %s%s%s\n", state, line.file.c_str(), when.c_str(),
                line.no_transaction ? "  (no transaction)" : "",
                line.edited_since_applied ? "  EDITED SINCE APPLIED" : "");
  }
  auto invalid = migrator.InvalidIndexes();
  if (!invalid.ok()) return Fail(invalid.status());
  for (const auto& index : *invalid) {
    std::printf(
        "INVALID index %s on %s: a CREATE INDEX CONCURRENTLY failed (or is still running); "
        "PostgreSQL keeps updating it but never uses it. Drop it with DROP INDEX CONCURRENTLY "
        "IF EXISTS %s, then run the migration again\n",
        index.index.c_str(), index.table.c_str(), index.index.c_str());
  }
  return 0;
}

}  // namespace

absl::StatusOr<migrate::MigrationSet> LoadMigrations(const Options& options) {
  if (options.migrations_dir.empty()) return migrate::MigrationSet::Embedded();
  return migrate::MigrationSet::FromDirectory(options.migrations_dir);
}

migrate::MigratorOptions MigratorOptionsFrom(const Options& options) {
  migrate::MigratorOptions migrator;
  migrator.lock_wait = options.migrate_lock_timeout;
  migrator.statement_lock_timeout = options.migrate_statement_lock_timeout;
  migrator.statement_max_wait = options.migrate_statement_max_wait;
  migrator.observer_dsn = DirectDatabaseUrl(options);
  return migrator;
}

int RunMigrateCommand(const std::vector<std::string>& args, const Options& options) {
  if (args.empty()) {
    std::fprintf(stderr, "%s\n", kUsage);
    return 2;
  }
  const std::string& verb = args[0];
  bool needs_number = verb == "down" || verb == "goto" || verb == "force";
  int64_t number = 0;
  if (needs_number && (args.size() != 2 || !absl::SimpleAtoi(args[1], &number))) {
    std::fprintf(stderr, "migrate %s needs a number\n%s\n", verb.c_str(), kUsage);
    return 2;
  }
  if (!needs_number && args.size() != 1) {
    std::fprintf(stderr, "%s\n", kUsage);
    return 2;
  }
  absl::StatusOr<migrate::MigrationSet> set = LoadMigrations(options);
  if (!set.ok()) return Fail(set.status());
  auto connection = db::BlockingConnection::Open(DirectDatabaseUrl(options));
  if (!connection.ok()) return Fail(connection.status());
  migrate::Migrator migrator(**connection, *set, MigratorOptionsFrom(options));

  absl::Status outcome;
  if (verb == "up") {
    outcome = migrator.Up();
  } else if (verb == "down") {
    if (number > 1'000'000) number = 1'000'000;
    outcome = migrator.Down(static_cast<int>(number));
  } else if (verb == "goto") {
    outcome = migrator.Goto(number);
  } else if (verb == "force") {
    outcome = migrator.Force(number);
  } else if (verb == "version") {
    absl::StatusOr<migrate::SchemaVersion> version = migrator.Version();
    if (!version.ok()) return Fail(version.status());
    std::printf("%lld%s\n", static_cast<long long>(version->version),
                version->dirty ? " (dirty)" : "");
    return 0;
  } else if (verb == "status") {
    return PrintStatus(migrator);
  } else {
    std::fprintf(stderr, "unknown migrate command \"%s\"\n%s\n", verb.c_str(), kUsage);
    return 2;
  }
  if (!outcome.ok()) return Fail(outcome);
  absl::StatusOr<migrate::SchemaVersion> version = migrator.Version();
  if (version.ok()) {
    std::fprintf(stderr, "schema at version %lld\n", static_cast<long long>(version->version));
  }
  return 0;
}

bool PrepareSchema(const Options& options, bool migrate) {
  absl::StatusOr<migrate::MigrationSet> set = LoadMigrations(options);
  absl::Status outcome = set.status();
  if (outcome.ok()) {
    auto connection = db::BlockingConnection::Open(DirectDatabaseUrl(options));
    outcome = connection.status();
    if (outcome.ok()) {
      migrate::Migrator migrator(**connection, *set, MigratorOptionsFrom(options));
      if (migrate) outcome = migrator.Up();
      if (outcome.ok()) outcome = migrator.CheckCurrent();
    }
  }
  if (!outcome.ok()) {
    std::fprintf(stderr, "firstsip-server: cannot start: %s\n",
                 std::string(outcome.message()).c_str());
    return false;
  }
  return true;
}

}  // namespace firstsip::app
