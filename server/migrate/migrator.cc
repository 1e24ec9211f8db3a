#include "migrate/migrator.h"

#include <zlib.h>

#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace firstsip::migrate {
namespace {

// golang-migrate's postgres driver: crc32(schema \0 table \0 database) * salt, as uint32.
constexpr uint32_t kAdvisoryLockSalt = 1486364155;
constexpr char kMigrationsTable[] = "schema_migrations";

constexpr char kCreateTables[] = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (version bigint NOT NULL PRIMARY KEY,
                                              dirty boolean NOT NULL);
CREATE TABLE IF NOT EXISTS schema_migrations_history (
  version bigint PRIMARY KEY,
  file text NOT NULL,
  sha256 text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
)sql";

std::string RepairHint(int64_t version) {
  return absl::StrCat("firstsip-server migrate force ", version);
}

std::string FileLabel(int64_t version, const MigrationSet& set) {
  const Migration* migration = set.Find(version);
  return migration ? migration->up_file : absl::StrCat("version ", version);
}

}  // namespace

Migrator::Migrator(db::BlockingConnection& connection, const MigrationSet& migrations,
                   absl::Duration lock_timeout)
    : connection_(connection), migrations_(migrations), lock_timeout_(lock_timeout) {}

absl::StatusOr<std::string> Migrator::LockId() {
  FIRSTSIP_ASSIGN_OR_RETURN(db::Result names,
                            connection_.Exec("SELECT current_database(), current_schema()"));
  std::string key = absl::StrCat(names.Text(0, 1), absl::string_view("\0", 1), kMigrationsTable,
                                 absl::string_view("\0", 1), names.Text(0, 0));
  uint32_t sum = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(key.data()), static_cast<uInt>(key.size())));
  return std::to_string(static_cast<uint32_t>(sum * kAdvisoryLockSalt));
}

absl::Status Migrator::WithLock(const std::function<absl::Status()>& body) {
  FIRSTSIP_ASSIGN_OR_RETURN(std::string lock_id, LockId());
  db::Params params;
  params.Add(lock_id);
  absl::Time give_up = absl::Now() + lock_timeout_;
  bool announced = false;
  while (true) {
    FIRSTSIP_ASSIGN_OR_RETURN(db::Result got,
                              connection_.Exec("SELECT pg_try_advisory_lock($1::bigint)", params));
    FIRSTSIP_ASSIGN_OR_RETURN(bool locked, got.Bool(0, 0));
    if (locked) break;
    if (absl::Now() >= give_up) {
      return absl::DeadlineExceededError(
          absl::StrCat("another process held the migration lock (pg advisory lock ", lock_id,
                       ") for over ", absl::FormatDuration(lock_timeout_),
                       "; raise --migrate-lock-timeout or find the stuck migrator in pg_locks"));
    }
    if (!announced) {
      LogInfo("waiting for the migration lock held by another process");
      announced = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  absl::Status outcome = body();
  // The lock also goes with the session; unlocking explicitly frees it for a waiting replica
  // while this process goes on to serve.
  (void)connection_.Exec("SELECT pg_advisory_unlock($1::bigint)", params);
  return outcome;
}

absl::Status Migrator::EnsureTables() { return connection_.ExecScript(kCreateTables); }

absl::StatusOr<SchemaVersion> Migrator::Version() {
  FIRSTSIP_ASSIGN_OR_RETURN(
      db::Result exists, connection_.Exec("SELECT to_regclass('schema_migrations') IS NOT NULL"));
  FIRSTSIP_ASSIGN_OR_RETURN(bool has_table, exists.Bool(0, 0));
  SchemaVersion current;
  if (!has_table) return current;
  FIRSTSIP_ASSIGN_OR_RETURN(
      db::Result row, connection_.Exec("SELECT version, dirty FROM schema_migrations LIMIT 1"));
  if (row.rows() == 0) return current;
  FIRSTSIP_ASSIGN_OR_RETURN(int64_t version, row.Int64(0, 0));
  FIRSTSIP_ASSIGN_OR_RETURN(current.dirty, row.Bool(0, 1));
  current.version = version < 0 ? 0 : version;
  return current;
}

absl::StatusOr<int64_t> Migrator::HistoryHead() {
  FIRSTSIP_ASSIGN_OR_RETURN(db::Result row,
                            connection_.Exec("SELECT coalesce(max(version), 0) FROM "
                                             "schema_migrations_history"));
  return row.Int64(0, 0);
}

absl::Status Migrator::RefuseIfDirty() {
  FIRSTSIP_ASSIGN_OR_RETURN(SchemaVersion current, Version());
  if (!current.dirty) return absl::OkStatus();
  int64_t real = 0;
  if (absl::StatusOr<int64_t> head = HistoryHead(); head.ok()) real = *head;
  const Migration* interrupted = migrations_.Find(current.version);
  if (interrupted != nullptr && interrupted->up_no_transaction) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the database schema is dirty at version ", current.version, ": ", interrupted->up_file,
        " runs outside a transaction and was interrupted or failed, so some of its statements "
        "may have been kept. Check the schema (`firstsip-server migrate status` lists invalid "
        "indexes; drop them with DROP INDEX CONCURRENTLY), then repair with `",
        RepairHint(migrations_.Previous(current.version)),
        "` and start again: the file's statements are re-runnable."));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "the database schema is dirty at version ", current.version,
      ": a migration was interrupted. Each migration runs in one transaction, so none of it "
      "was kept, and schema_migrations_history says the schema is at version ",
      real, ". Check the schema, then repair with `", RepairHint(real), "` and start again."));
}

absl::Status Migrator::VerifyHistory() {
  FIRSTSIP_ASSIGN_OR_RETURN(db::Result rows,
                            connection_.Exec("SELECT version, file, sha256 FROM "
                                             "schema_migrations_history ORDER BY version"));
  for (int i = 0; i < rows.rows(); ++i) {
    FIRSTSIP_ASSIGN_OR_RETURN(int64_t version, rows.Int64(i, 0));
    const Migration* known = migrations_.Find(version);
    if (known == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the database has migration ", rows.Text(i, 1),
          " applied, which this binary does not contain: it was migrated by a newer build. "
          "Deploy that build, or migrate down with it first."));
    }
    if (rows.Text(i, 2) != known->up_sha256) {
      return absl::FailedPreconditionError(absl::StrCat(
          "migration file ", known->up_file, " was edited after it was applied (sha256 ",
          rows.Text(i, 2).substr(0, 12), "… in the database, ", known->up_sha256.substr(0, 12),
          "… in this binary). Restore the original file and put the change in a new "
          "migration."));
    }
  }
  return absl::OkStatus();
}

absl::Status Migrator::SetVersion(int64_t version, bool dirty) {
  db::Params params;
  params.Add(version <= 0 ? int64_t{-1} : version).Add(dirty);
  FIRSTSIP_RETURN_IF_ERROR(connection_.ExecScript("BEGIN; TRUNCATE schema_migrations"));
  // golang-migrate keeps the table empty for "no version" unless that state is dirty.
  if (version > 0 || dirty) {
    absl::StatusOr<db::Result> inserted =
        connection_.Exec("INSERT INTO schema_migrations (version, dirty) VALUES ($1, $2)", params);
    if (!inserted.ok()) {
      (void)connection_.ExecScript("ROLLBACK");
      return inserted.status();
    }
  }
  return connection_.ExecScript("COMMIT");
}

absl::Status Migrator::RunOutsideTransaction(const std::string& file,
                                             const std::vector<SqlStatement>& statements,
                                             int64_t dirty_version, int64_t repair_version) {
  for (size_t i = 0; i < statements.size(); ++i) {
    const SqlStatement& statement = statements[i];
    absl::Status outcome = connection_.ExecScript(statement.text);
    if (!outcome.ok()) {
      return absl::Status(
          outcome.code(),
          absl::StrCat(file, " failed at statement ", i + 1, " of ", statements.size(), " (line ",
                       statement.line, "): ", outcome.message(),
                       ". The file runs outside a transaction, so the statements before it "
                       "were kept and the schema is dirty at version ",
                       dirty_version,
                       ". Repair: see `firstsip-server migrate status` (an "
                       "invalid index left by CREATE INDEX CONCURRENTLY must be dropped with "
                       "DROP INDEX CONCURRENTLY), fix the cause, then `",
                       RepairHint(repair_version),
                       "` and run the migration again: its statements are written to be "
                       "re-runnable (IF NOT EXISTS / IF EXISTS)."));
    }
  }
  return absl::OkStatus();
}

absl::Status Migrator::Apply(const Migration& migration) {
  if (migration.up_no_transaction) return ApplyOutsideTransaction(migration);
  int64_t previous = migrations_.Previous(migration.version);
  FIRSTSIP_RETURN_IF_ERROR(SetVersion(migration.version, /*dirty=*/true));
  db::Params record;
  record.Add(migration.version).Add(migration.up_file).Add(migration.up_sha256);
  absl::Status outcome = connection_.ExecScript("BEGIN");
  if (outcome.ok()) outcome = connection_.ExecScript(migration.up_sql);
  if (outcome.ok()) {
    outcome = connection_
                  .Exec(
                      "INSERT INTO schema_migrations_history (version, file, sha256) "
                      "VALUES ($1, $2, $3) ON CONFLICT (version) DO UPDATE SET "
                      "file = EXCLUDED.file, sha256 = EXCLUDED.sha256, applied_at = now()",
                      record)
                  .status();
  }
  if (outcome.ok()) {
    db::Params clean;
    clean.Add(migration.version);
    outcome = connection_.ExecScript("TRUNCATE schema_migrations");
    if (outcome.ok()) {
      outcome =
          connection_
              .Exec("INSERT INTO schema_migrations (version, dirty) VALUES ($1, false)", clean)
              .status();
    }
  }
  if (outcome.ok()) outcome = connection_.ExecScript("COMMIT");
  if (!outcome.ok()) {
    (void)connection_.ExecScript("ROLLBACK");
    // The transaction took the whole file back, so the schema really is at `previous`.
    if (absl::Status restored = SetVersion(previous, false); !restored.ok()) return restored;
    return absl::Status(outcome.code(), absl::StrCat(migration.up_file,
                                                     " failed and was rolled back; the schema "
                                                     "stays at version ",
                                                     previous, ": ", outcome.message()));
  }
  LogInfo(absl::StrCat("applied ", migration.up_file));
  return absl::OkStatus();
}

// golang-migrate's order for a file it cannot wrap in a transaction: the dirty flag first,
// then the statements, then the clean version; a failure leaves the flag set.
absl::Status Migrator::ApplyOutsideTransaction(const Migration& migration) {
  int64_t previous = migrations_.Previous(migration.version);
  FIRSTSIP_RETURN_IF_ERROR(SetVersion(migration.version, /*dirty=*/true));
  FIRSTSIP_RETURN_IF_ERROR(RunOutsideTransaction(migration.up_file, migration.up_statements,
                                                 migration.version, previous));
  db::Params record;
  record.Add(migration.version).Add(migration.up_file).Add(migration.up_sha256);
  absl::Status outcome = connection_.ExecScript("BEGIN");
  if (outcome.ok()) {
    outcome = connection_
                  .Exec(
                      "INSERT INTO schema_migrations_history (version, file, sha256) "
                      "VALUES ($1, $2, $3) ON CONFLICT (version) DO UPDATE SET "
                      "file = EXCLUDED.file, sha256 = EXCLUDED.sha256, applied_at = now()",
                      record)
                  .status();
  }
  if (outcome.ok()) outcome = connection_.ExecScript("COMMIT");
  if (!outcome.ok()) {
    (void)connection_.ExecScript("ROLLBACK");
    return outcome;
  }
  FIRSTSIP_RETURN_IF_ERROR(SetVersion(migration.version, /*dirty=*/false));
  LogInfo(absl::StrCat("applied ", migration.up_file, " (outside a transaction)"));
  return absl::OkStatus();
}

absl::Status Migrator::RevertOutsideTransaction(const Migration& migration) {
  int64_t previous = migrations_.Previous(migration.version);
  FIRSTSIP_RETURN_IF_ERROR(SetVersion(previous, /*dirty=*/true));
  // A half-reverted file is repaired by declaring it still applied and reverting again.
  FIRSTSIP_RETURN_IF_ERROR(RunOutsideTransaction(migration.down_file, migration.down_statements,
                                                 previous, migration.version));
  db::Params version;
  version.Add(migration.version);
  FIRSTSIP_RETURN_IF_ERROR(
      connection_.Exec("DELETE FROM schema_migrations_history WHERE version = $1", version)
          .status());
  FIRSTSIP_RETURN_IF_ERROR(SetVersion(previous, /*dirty=*/false));
  LogInfo(absl::StrCat("reverted ", migration.down_file, " (outside a transaction)"));
  return absl::OkStatus();
}

absl::Status Migrator::Revert(const Migration& migration) {
  if (migration.down_no_transaction) return RevertOutsideTransaction(migration);
  int64_t previous = migrations_.Previous(migration.version);
  FIRSTSIP_RETURN_IF_ERROR(SetVersion(previous, /*dirty=*/true));
  db::Params version;
  version.Add(migration.version);
  absl::Status outcome = connection_.ExecScript("BEGIN");
  if (outcome.ok()) outcome = connection_.ExecScript(migration.down_sql);
  if (outcome.ok()) {
    outcome = connection_.Exec("DELETE FROM schema_migrations_history WHERE version = $1", version)
                  .status();
  }
  if (outcome.ok()) outcome = connection_.ExecScript("TRUNCATE schema_migrations");
  if (outcome.ok() && previous > 0) {
    db::Params clean;
    clean.Add(previous);
    outcome =
        connection_.Exec("INSERT INTO schema_migrations (version, dirty) VALUES ($1, false)", clean)
            .status();
  }
  if (outcome.ok()) outcome = connection_.ExecScript("COMMIT");
  if (!outcome.ok()) {
    (void)connection_.ExecScript("ROLLBACK");
    if (absl::Status restored = SetVersion(migration.version, false); !restored.ok()) {
      return restored;
    }
    return absl::Status(outcome.code(), absl::StrCat(migration.down_file,
                                                     " failed and was rolled back; the "
                                                     "schema stays at version ",
                                                     migration.version, ": ", outcome.message()));
  }
  LogInfo(absl::StrCat("reverted ", migration.down_file));
  return absl::OkStatus();
}

absl::Status Migrator::MigrateTo(int64_t target) {
  FIRSTSIP_RETURN_IF_ERROR(EnsureTables());
  FIRSTSIP_RETURN_IF_ERROR(RefuseIfDirty());
  FIRSTSIP_RETURN_IF_ERROR(VerifyHistory());
  FIRSTSIP_ASSIGN_OR_RETURN(SchemaVersion current, Version());
  if (current.version > 0 && migrations_.Find(current.version) == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the database is at version ", current.version, ", which this binary does not contain"));
  }
  // A schema migrated by golang-migrate itself has no history rows: adopt the applied files.
  for (const Migration& migration : migrations_.migrations()) {
    if (migration.version > current.version) break;
    db::Params record;
    record.Add(migration.version).Add(migration.up_file).Add(migration.up_sha256);
    FIRSTSIP_RETURN_IF_ERROR(connection_
                                 .Exec("INSERT INTO schema_migrations_history (version, file, "
                                       "sha256) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                                       record)
                                 .status());
  }
  for (const Migration& migration : migrations_.migrations()) {
    if (migration.version > current.version && migration.version <= target) {
      FIRSTSIP_RETURN_IF_ERROR(Apply(migration));
    }
  }
  const auto& all = migrations_.migrations();
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (it->version <= current.version && it->version > target) {
      FIRSTSIP_RETURN_IF_ERROR(Revert(*it));
    }
  }
  return absl::OkStatus();
}

absl::Status Migrator::Up() {
  return WithLock([this] { return MigrateTo(migrations_.head()); });
}

absl::Status Migrator::Down(int steps) {
  if (steps <= 0) return absl::InvalidArgumentError("down needs a positive number of steps");
  return WithLock([this, steps]() -> absl::Status {
    FIRSTSIP_RETURN_IF_ERROR(EnsureTables());
    FIRSTSIP_ASSIGN_OR_RETURN(SchemaVersion current, Version());
    int64_t target = current.version;
    for (int i = 0; i < steps && target > 0; ++i) target = migrations_.Previous(target);
    return MigrateTo(target);
  });
}

absl::Status Migrator::Goto(int64_t version) {
  if (version != 0 && migrations_.Find(version) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("no migration has version ", version, " (see `migrate status`)"));
  }
  return WithLock([this, version] { return MigrateTo(version); });
}

absl::Status Migrator::Force(int64_t version) {
  if (version < -1 || (version > 0 && migrations_.Find(version) == nullptr)) {
    return absl::InvalidArgumentError(
        absl::StrCat("no migration has version ", version, " (see `migrate status`)"));
  }
  return WithLock([this, version]() -> absl::Status {
    FIRSTSIP_RETURN_IF_ERROR(EnsureTables());
    FIRSTSIP_RETURN_IF_ERROR(SetVersion(version, /*dirty=*/false));
    // The history follows what force declares: files above it are not applied.
    db::Params above;
    above.Add(version);
    FIRSTSIP_RETURN_IF_ERROR(
        connection_.Exec("DELETE FROM schema_migrations_history WHERE version > $1", above)
            .status());
    LogInfo(absl::StrCat("forced version ", version < 0 ? 0 : version));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<MigrationStatusLine>> Migrator::Status() {
  FIRSTSIP_ASSIGN_OR_RETURN(SchemaVersion current, Version());
  std::map<int64_t, std::pair<std::string, int64_t>> history;  // version -> (sha, applied µs)
  FIRSTSIP_ASSIGN_OR_RETURN(
      db::Result has_history,
      connection_.Exec("SELECT to_regclass('schema_migrations_history') IS NOT NULL"));
  FIRSTSIP_ASSIGN_OR_RETURN(bool history_exists, has_history.Bool(0, 0));
  if (history_exists) {
    FIRSTSIP_ASSIGN_OR_RETURN(
        db::Result rows,
        connection_.Exec("SELECT version, sha256, (extract(epoch FROM applied_at) * 1000000)::int8 "
                         "FROM schema_migrations_history"));
    for (int i = 0; i < rows.rows(); ++i) {
      FIRSTSIP_ASSIGN_OR_RETURN(int64_t version, rows.Int64(i, 0));
      FIRSTSIP_ASSIGN_OR_RETURN(int64_t applied, rows.Int64(i, 2));
      history[version] = {std::string(rows.Text(i, 1)), applied};
    }
  }
  std::vector<MigrationStatusLine> lines;
  for (const Migration& migration : migrations_.migrations()) {
    MigrationStatusLine line;
    line.version = migration.version;
    line.file = migration.up_file;
    line.applied = migration.version <= current.version;
    if (auto it = history.find(migration.version); it != history.end()) {
      line.applied_at = absl::FromUnixMicros(it->second.second);
      line.edited_since_applied = it->second.first != migration.up_sha256;
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

absl::Status Migrator::CheckCurrent() {
  FIRSTSIP_RETURN_IF_ERROR(RefuseIfDirty());
  FIRSTSIP_RETURN_IF_ERROR(VerifyHistory());
  FIRSTSIP_ASSIGN_OR_RETURN(SchemaVersion current, Version());
  if (current.version > migrations_.head()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the database schema is at version ", current.version,
                     ", beyond this binary's ", migrations_.head(),
                     ": it was migrated by a newer build. Deploy that build, or migrate "
                     "down with it first."));
  }
  if (current.version != migrations_.head()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the database schema is at version ", current.version, " but this binary needs ",
        migrations_.head(), " (", FileLabel(migrations_.head(), migrations_),
        "); run `firstsip-server migrate up`, or start with --migrate=true"));
  }
  return absl::OkStatus();
}

}  // namespace firstsip::migrate
