#include "migrate/migrator.h"

#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "db/sql_error.h"

namespace firstsip::migrate {
namespace {

// golang-migrate's database/util.go: advisoryLockIDSalt.
constexpr uint32_t kAdvisoryLockSalt = 1486364155;
constexpr char kMigrationsTable[] = "schema_migrations";
// lock_not_available: what a statement gets when lock_timeout runs out.
constexpr char kLockNotAvailable[] = "55P03";

constexpr char kCreateTables[] = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (version bigint NOT NULL PRIMARY KEY,
                                              dirty boolean NOT NULL);
CREATE TABLE IF NOT EXISTS schema_migrations_history (
  version bigint PRIMARY KEY,
  file text NOT NULL,
  sha256 text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS schema_migrations_dirty_note (
  version bigint NOT NULL,
  row_xmin text NOT NULL,
  repair_version bigint NOT NULL,
  kept_partially boolean NOT NULL
);
COMMENT ON TABLE schema_migrations_dirty_note IS
  'firstsip-server: written with each dirty schema_migrations row it sets (matched by xmin), '
  'saying which version to force; a dirty row without a matching note was set by another tool';
)sql";

constexpr char kRecordHistory[] =
    "INSERT INTO schema_migrations_history (version, file, sha256) VALUES ($1, $2, $3) "
    "ON CONFLICT (version) DO UPDATE SET file = EXCLUDED.file, sha256 = EXCLUDED.sha256, "
    "applied_at = now()";
constexpr char kInvalidIndexes[] =
    "SELECT i.indexrelid::regclass::text, i.indrelid::regclass::text FROM pg_index i "
    "WHERE NOT i.indisvalid ORDER BY 1";
// Who blocks the migration's session: enough to find them, nothing of what they run.
constexpr char kBlockers[] =
    "SELECT format('pid %s (application_name \"%s\", %s, transaction started %s, query "
    "started %s)', pid, application_name, coalesce(state, '?'), "
    "coalesce(to_char(xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS UTC'), 'never'), "
    "coalesce(to_char(query_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS UTC'), 'never')) "
    "FROM pg_stat_activity WHERE pid = ANY (pg_blocking_pids($1::int)) ORDER BY pid";
constexpr char kAdvisoryHolder[] =
    "SELECT format('pid %s (application_name \"%s\", query started %s)', a.pid, "
    "a.application_name, coalesce(to_char(a.query_start AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD HH24:MI:SS UTC'), 'never')) FROM pg_locks l JOIN pg_stat_activity a "
    "USING (pid) WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND "
    "l.objsubid = 1 AND l.objid::text::bigint = $1::bigint AND l.database = (SELECT oid FROM "
    "pg_database WHERE datname = current_database())";

// Whether this session holds the advisory lock it was just granted.
constexpr char kLockIsOurs[] =
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
    "pid = pg_backend_pid() AND classid = 0 AND objsubid = 1 AND "
    "objid::text::bigint = $1::bigint)";

std::string RepairHint(int64_t version) {
  return absl::StrCat("firstsip-server migrate force ", version);
}

std::string FileLabel(int64_t version, const MigrationSet& set) {
  const Migration* migration = set.Find(version);
  return migration ? migration->up_file : absl::StrCat("version ", version);
}

bool ContainsIgnoreCase(absl::string_view haystack, absl::string_view needle) {
  return absl::StrContains(absl::AsciiStrToLower(haystack), absl::AsciiStrToLower(needle));
}

std::string Milliseconds(absl::Duration duration) {
  return absl::StrCat(absl::ToInt64Milliseconds(duration), "ms");
}

// Polls, on a second session, who blocks the migration's session while one attempt runs, and
// keeps the last non-empty answer: once the attempt has failed nobody blocks it any more.
class BlockerWatch {
 public:
  BlockerWatch(db::BlockingConnection* observer, int blocked_pid) {
    if (observer == nullptr || blocked_pid == 0) return;
    thread_ = std::thread([this, observer, blocked_pid] {
      db::Params params;
      params.Add(static_cast<int64_t>(blocked_pid));
      while (!stop_.load()) {
        absl::StatusOr<db::Result> rows = observer->Exec(kBlockers, params);
        if (rows.ok() && rows->rows() > 0) {
          std::vector<std::string> found;
          for (int i = 0; i < rows->rows(); ++i) found.emplace_back(rows->Text(i, 0));
          std::lock_guard<std::mutex> lock(mutex_);
          blockers_ = absl::StrJoin(found, "; ");
        }
        for (int i = 0; i < 5 && !stop_.load(); ++i) absl::SleepFor(absl::Milliseconds(20));
      }
    });
  }
  ~BlockerWatch() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  std::string blockers() {
    std::lock_guard<std::mutex> lock(mutex_);
    return blockers_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::string blockers_;
  std::thread thread_;
};

}  // namespace

std::string GolangMigrateLockId(absl::string_view database_name,
                                const std::vector<std::string>& additional_names) {
  std::vector<absl::string_view> parts(additional_names.begin(), additional_names.end());
  parts.push_back(database_name);
  std::string key = absl::StrJoin(parts, absl::string_view("\0", 1));
  uint32_t sum = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(key.data()), static_cast<uInt>(key.size())));
  return std::to_string(static_cast<uint32_t>(sum * kAdvisoryLockSalt));
}

Migrator::Migrator(db::BlockingConnection& connection, const MigrationSet& migrations,
                   MigratorOptions options)
    : connection_(connection), migrations_(migrations), options_(std::move(options)) {}

Migrator::Migrator(db::BlockingConnection& connection, const MigrationSet& migrations,
                   absl::Duration lock_wait)
    : Migrator(connection, migrations, [lock_wait] {
        MigratorOptions options;
        options.lock_wait = lock_wait;
        return options;
      }()) {}

Migrator::~Migrator() = default;

absl::StatusOr<std::vector<std::string>> Migrator::LockIds() {
  FIRSTSIP_ASSIGN_OR_RETURN(db::Result names,
                            connection_.Exec("SELECT current_database(), current_schema()"));
  std::string database(names.Text(0, 0));
  std::vector<std::string> scope = {std::string(names.Text(0, 1)), kMigrationsTable};
  std::vector<std::string> ids = {GolangMigrateLockId(database, scope),
                                  GolangMigrateLockId(absl::StrCat("/", database), scope)};
  // One fixed order for every firstsip process, so two of them never deadlock.
  std::sort(ids.begin(), ids.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

absl::Status Migrator::WithLock(const std::function<absl::Status()>& body) {
  FIRSTSIP_ASSIGN_OR_RETURN(std::vector<std::string> lock_ids, LockIds());
  std::vector<std::string> held;
  auto release = [&] {
    for (auto it = held.rbegin(); it != held.rend(); ++it) {
      db::Params params;
      params.Add(*it);
      (void)connection_.Exec("SELECT pg_advisory_unlock($1::bigint)", params);
    }
  };
  absl::Time give_up = absl::Now() + options_.lock_wait;
  bool announced = false;
  for (const std::string& lock_id : lock_ids) {
    db::Params params;
    params.Add(lock_id);
    while (true) {
      absl::StatusOr<db::Result> got =
          connection_.Exec("SELECT pg_try_advisory_lock($1::bigint)", params);
      if (!got.ok()) {
        release();
        return got.status();
      }
      absl::StatusOr<bool> locked = got->Bool(0, 0);
      if (locked.ok() && *locked) break;
      if (absl::Now() >= give_up) {
        std::string holder = "unknown";
        if (absl::StatusOr<db::Result> who = connection_.Exec(kAdvisoryHolder, params);
            who.ok() && who->rows() > 0) {
          holder = std::string(who->Text(0, 0));
        }
        release();
        return absl::DeadlineExceededError(absl::StrCat(
            "another migrator held the migration lock (pg advisory lock ", lock_id, ", held by ",
            holder, ") for over ", absl::FormatDuration(options_.lock_wait),
            "; raise --migrate-lock-timeout or find the stuck migrator (golang-migrate takes "
            "the same lock)"));
      }
      if (!announced) {
        LogInfo("waiting for the migration lock held by another process");
        announced = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    held.push_back(lock_id);
    // A transaction pooler hands each statement to any server connection, so the lock may sit
    // on a session that is not ours and will serve someone else next: refuse to go on.
    absl::StatusOr<db::Result> ours = connection_.Exec(kLockIsOurs, params);
    if (ours.ok() && ours->rows() == 1 && ours->Bool(0, 0).ok() && !*ours->Bool(0, 0)) {
      release();
      // The unlock went through the pooler too and may have missed the session holding the
      // lock; name it, since it blocks every later migration until it goes.
      std::string left;
      if (absl::StatusOr<db::Result> who = connection_.Exec(kAdvisoryHolder, params);
          who.ok() && who->rows() > 0) {
        left = absl::StrCat(
            ". The lock is still held by ", who->Text(0, 0),
            ", a pooled server connection: it is freed when the pooler closes that connection "
            "(PgBouncer: RECONNECT in its admin console, or server_idle_timeout) or by "
            "pg_terminate_backend on that pid");
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "the migration lock did not stay with this session: a transaction pooler (PgBouncer "
          "in transaction mode?) is between the service and PostgreSQL; run migrations with "
          "--direct-database-url (or DATABASE_URL) pointing at PostgreSQL itself",
          left));
    }
  }
  absl::Status outcome = body();
  // The locks also go with the session; unlocking explicitly frees them for a waiting replica
  // while this process goes on to serve.
  release();
  return outcome;
}

absl::Status Migrator::EnsureTables() { return connection_.ExecScript(kCreateTables); }

absl::StatusOr<bool> Migrator::TableExists(const char* table) {
  db::Params params;
  params.Add(table);
  FIRSTSIP_ASSIGN_OR_RETURN(db::Result exists,
                            connection_.Exec("SELECT to_regclass($1) IS NOT NULL", params));
  return exists.Bool(0, 0);
}

absl::StatusOr<SchemaVersion> Migrator::Version() {
  FIRSTSIP_ASSIGN_OR_RETURN(bool has_table, TableExists(kMigrationsTable));
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

absl::StatusOr<std::optional<Migrator::DirtyNote>> Migrator::ReadDirtyNote() {
  FIRSTSIP_ASSIGN_OR_RETURN(bool has_notes, TableExists("schema_migrations_dirty_note"));
  if (!has_notes) return std::optional<DirtyNote>();
  // The note counts only for the very row it was written with: golang-migrate rewriting the
  // row (another failure, a force) gives it another xmin.
  FIRSTSIP_ASSIGN_OR_RETURN(
      db::Result row,
      connection_.Exec("SELECT n.repair_version, n.kept_partially FROM schema_migrations s "
                       "JOIN schema_migrations_dirty_note n ON n.version = s.version AND "
                       "n.row_xmin = s.xmin::text WHERE s.dirty LIMIT 1"));
  if (row.rows() == 0) return std::optional<DirtyNote>();
  DirtyNote note;
  FIRSTSIP_ASSIGN_OR_RETURN(note.repair_version, row.Int64(0, 0));
  FIRSTSIP_ASSIGN_OR_RETURN(note.kept_partially, row.Bool(0, 1));
  return std::optional<DirtyNote>(note);
}

absl::Status Migrator::CheckClean() {
  FIRSTSIP_ASSIGN_OR_RETURN(SchemaVersion current, Version());
  if (!current.dirty) return absl::OkStatus();
  std::string file = FileLabel(current.version, migrations_);
  FIRSTSIP_ASSIGN_OR_RETURN(std::optional<DirtyNote> note, ReadDirtyNote());
  if (!note.has_value()) {
    // Not our state: golang-migrate (or a hand) set it, and its files run statement by
    // statement, so nothing says what was kept. golang-migrate's rule: the version before.
    int64_t before = migrations_.Previous(current.version);
    return absl::FailedPreconditionError(absl::StrCat(
        "the database schema is dirty at version ", current.version,
        ", and this service did not record that state (golang-migrate or a manual change set "
        "it), so nothing tells how much of ",
        file,
        " was applied. Compare the schema with that file and undo or finish its statements by "
        "hand, then repair with `",
        RepairHint(before), "` (the version before it) and start again."));
  }
  if (note->kept_partially) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the database schema is dirty at version ", current.version, ": ", file,
        " runs outside a transaction and was interrupted or failed, so some of its statements "
        "may have been kept. Check the schema (`firstsip-server migrate status` lists invalid "
        "indexes; drop them with DROP INDEX CONCURRENTLY), then repair with `",
        RepairHint(note->repair_version),
        "` and start again: the file's statements are re-runnable."));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "the database schema is dirty at version ", current.version,
      ": a migration was interrupted. It ran in one transaction, so none of it was kept, and "
      "the schema is at version ",
      note->repair_version, ". Check the schema, then repair with `",
      RepairHint(note->repair_version), "` and start again."));
}

absl::Status Migrator::VerifyHistory(int64_t current_version) {
  FIRSTSIP_ASSIGN_OR_RETURN(bool has_history, TableExists("schema_migrations_history"));
  if (!has_history) return absl::OkStatus();  // golang-migrate built it: nothing to compare
  db::Params params;
  params.Add(current_version);
  // Rows above the current version are files golang-migrate reverted: no longer applied.
  FIRSTSIP_ASSIGN_OR_RETURN(db::Result rows,
                            connection_.Exec("SELECT version, file, sha256 FROM "
                                             "schema_migrations_history WHERE version <= $1 "
                                             "ORDER BY version",
                                             params));
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

absl::Status Migrator::FollowSchemaMigrations(int64_t current_version) {
  db::Params above;
  above.Add(current_version);
  FIRSTSIP_ASSIGN_OR_RETURN(
      db::Result forgotten,
      connection_.Exec("DELETE FROM schema_migrations_history WHERE version > $1", above));
  if (forgotten.affected_rows() > 0) {
    LogInfo(absl::StrCat("history: forgot ", forgotten.affected_rows(), " file(s) above version ",
                         current_version, ", which another tool reverted"));
  }
  // A schema migrated by golang-migrate has no history rows: adopt the applied files.
  for (const Migration& migration : migrations_.migrations()) {
    if (migration.version > current_version) break;
    db::Params record;
    record.Add(migration.version).Add(migration.up_file).Add(migration.up_sha256);
    FIRSTSIP_RETURN_IF_ERROR(connection_
                                 .Exec("INSERT INTO schema_migrations_history (version, file, "
                                       "sha256) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                                       record)
                                 .status());
  }
  return absl::OkStatus();
}

absl::Status Migrator::SetVersion(int64_t version, bool dirty, std::optional<DirtyNote> note) {
  db::Params params;
  params.Add(version <= 0 ? int64_t{-1} : version).Add(dirty);
  absl::Status outcome = connection_.ExecScript(
      "BEGIN; TRUNCATE schema_migrations; "
      "DELETE FROM schema_migrations_dirty_note");
  // golang-migrate keeps the table empty for "no version" unless that state is dirty.
  if (outcome.ok() && (version > 0 || dirty)) {
    outcome =
        connection_.Exec("INSERT INTO schema_migrations (version, dirty) VALUES ($1, $2)", params)
            .status();
  }
  if (outcome.ok() && dirty && note.has_value()) {
    db::Params noted;
    noted.Add(note->repair_version).Add(note->kept_partially);
    outcome = connection_
                  .Exec(
                      "INSERT INTO schema_migrations_dirty_note SELECT version, xmin::text, "
                      "$1, $2 FROM schema_migrations",
                      noted)
                  .status();
  }
  if (outcome.ok()) return connection_.ExecScript("COMMIT");
  (void)connection_.ExecScript("ROLLBACK");
  return outcome;
}

std::string Migrator::LockTimeoutSetting() const {
  return Milliseconds(options_.statement_lock_timeout);
}

absl::Status Migrator::RetryingLockTimeouts(const std::string& what,
                                            const std::function<absl::Status()>& attempt,
                                            const std::function<void()>& cleanup) {
  if (backend_pid_ == 0) {
    if (absl::StatusOr<db::Result> pid = connection_.Exec("SELECT pg_backend_pid()"); pid.ok()) {
      backend_pid_ = static_cast<int>(pid->Int64(0, 0).value_or(0));
    }
  }
  if (observer_ == nullptr && !options_.observer_dsn.empty()) {
    auto observer = db::BlockingConnection::Open(options_.observer_dsn);
    if (observer.ok()) observer_ = std::move(*observer);
  }
  absl::Time start = absl::Now();
  absl::Duration backoff = absl::Milliseconds(250);
  std::string blockers;
  for (int tries = 1;; ++tries) {
    absl::Status outcome;
    {
      BlockerWatch watch(observer_.get(), backend_pid_);
      outcome = attempt();
      watch.Stop();
      if (std::string seen = watch.blockers(); !seen.empty()) blockers = seen;
    }
    if (outcome.ok() || db::SqlStateOf(outcome) != kLockNotAvailable) return outcome;
    if (cleanup) cleanup();
    absl::Duration waited = absl::Now() - start;
    if (waited + backoff >= options_.statement_max_wait) {
      return absl::DeadlineExceededError(absl::StrCat(
          what, " could not get its locks within --migrate-statement-lock-timeout (",
          LockTimeoutSetting(), ") in ", tries, " tries over ",
          absl::FormatDuration(absl::Trunc(waited, absl::Milliseconds(100))),
          " (--migrate-statement-max-wait ", absl::FormatDuration(options_.statement_max_wait),
          "); blocked by ", blockers.empty() ? "a session that could not be identified" : blockers,
          ". Let that session finish (or end it), then run the migration again"));
    }
    LogWarning(absl::StrCat(what, ": lock timeout after ", LockTimeoutSetting(), " (blocked by ",
                            blockers.empty() ? "?" : blockers, "); retrying in ",
                            absl::FormatDuration(backoff)));
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

absl::Status Migrator::Apply(const Migration& migration) {
  if (migration.up_no_transaction) return ApplyOutsideTransaction(migration);
  int64_t previous = migrations_.Previous(migration.version);
  FIRSTSIP_RETURN_IF_ERROR(
      SetVersion(migration.version, /*dirty=*/true, DirtyNote{previous, false}));
  db::Params record;
  record.Add(migration.version).Add(migration.up_file).Add(migration.up_sha256);
  db::Params clean;
  clean.Add(migration.version);
  absl::Status outcome = RetryingLockTimeouts(migration.up_file, [&]() -> absl::Status {
    absl::Status step = connection_.ExecScript(
        absl::StrCat("BEGIN; SET LOCAL lock_timeout = '", LockTimeoutSetting(), "'"));
    if (step.ok()) step = connection_.ExecScript(migration.up_sql);
    if (step.ok()) step = connection_.Exec(kRecordHistory, record).status();
    if (step.ok()) {
      step = connection_.ExecScript(
          "TRUNCATE schema_migrations; DELETE FROM schema_migrations_dirty_note");
    }
    if (step.ok()) {
      step = connection_
                 .Exec("INSERT INTO schema_migrations (version, dirty) VALUES ($1, false)", clean)
                 .status();
    }
    if (step.ok()) step = connection_.ExecScript("COMMIT");
    if (!step.ok()) (void)connection_.ExecScript("ROLLBACK");
    return step;
  });
  if (!outcome.ok()) {
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

absl::Status Migrator::Revert(const Migration& migration) {
  if (migration.down_no_transaction) return RevertOutsideTransaction(migration);
  int64_t previous = migrations_.Previous(migration.version);
  FIRSTSIP_RETURN_IF_ERROR(
      SetVersion(previous, /*dirty=*/true, DirtyNote{migration.version, false}));
  db::Params version;
  version.Add(migration.version);
  db::Params clean;
  clean.Add(previous);
  absl::Status outcome = RetryingLockTimeouts(migration.down_file, [&]() -> absl::Status {
    absl::Status step = connection_.ExecScript(
        absl::StrCat("BEGIN; SET LOCAL lock_timeout = '", LockTimeoutSetting(), "'"));
    if (step.ok()) step = connection_.ExecScript(migration.down_sql);
    if (step.ok()) {
      step = connection_.Exec("DELETE FROM schema_migrations_history WHERE version = $1", version)
                 .status();
    }
    if (step.ok()) {
      step = connection_.ExecScript(
          "TRUNCATE schema_migrations; DELETE FROM schema_migrations_dirty_note");
    }
    if (step.ok() && previous > 0) {
      step = connection_
                 .Exec("INSERT INTO schema_migrations (version, dirty) VALUES ($1, false)", clean)
                 .status();
    }
    if (step.ok()) step = connection_.ExecScript("COMMIT");
    if (!step.ok()) (void)connection_.ExecScript("ROLLBACK");
    return step;
  });
  if (!outcome.ok()) {
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

absl::Status Migrator::RunOutsideTransaction(const std::string& file,
                                             const std::vector<SqlStatement>& statements,
                                             int64_t dirty_version, int64_t repair_version) {
  FIRSTSIP_RETURN_IF_ERROR(
      connection_.ExecScript(absl::StrCat("SET lock_timeout = '", LockTimeoutSetting(), "'")));
  absl::Status outcome;
  size_t failed_at = 0;
  for (size_t i = 0; i < statements.size() && outcome.ok(); ++i) {
    const SqlStatement& statement = statements[i];
    failed_at = i;
    // A CREATE INDEX CONCURRENTLY that times out after its first phase leaves an invalid
    // index, which IF NOT EXISTS would then skip: drop the ones this statement left.
    std::set<std::string> invalid_before;
    auto list_invalid = [&]() {
      std::set<std::string> names;
      if (auto rows = connection_.Exec(kInvalidIndexes); rows.ok()) {
        for (int r = 0; r < rows->rows(); ++r) names.emplace(rows->Text(r, 0));
      }
      return names;
    };
    bool concurrently = ContainsIgnoreCase(statement.text, "concurrently");
    if (concurrently) invalid_before = list_invalid();
    outcome = RetryingLockTimeouts(
        absl::StrCat(file, " statement ", i + 1, " (line ", statement.line, ")"),
        [&] { return connection_.ExecScript(statement.text); },
        [&] {
          if (!concurrently) return;
          for (const std::string& name : list_invalid()) {
            // Only an index this statement names: never another session's build in progress.
            absl::string_view bare = name;
            if (size_t dot = bare.rfind('.'); dot != absl::string_view::npos) {
              bare.remove_prefix(dot + 1);
            }
            bare = absl::StripSuffix(absl::StripPrefix(bare, "\""), "\"");
            if (invalid_before.count(name) || !ContainsIgnoreCase(statement.text, bare)) {
              continue;
            }
            LogWarning(absl::StrCat("dropping ", name, ", left invalid by the timed-out try"));
            (void)connection_.ExecScript(absl::StrCat("DROP INDEX CONCURRENTLY IF EXISTS ", name));
          }
        });
  }
  (void)connection_.ExecScript("RESET lock_timeout");
  if (outcome.ok()) return outcome;
  std::string invalid;
  if (absl::StatusOr<std::vector<InvalidIndex>> left = InvalidIndexes();
      left.ok() && !left->empty()) {
    std::vector<std::string> names;
    for (const InvalidIndex& index : *left) names.push_back(index.index);
    invalid = absl::StrCat(" Invalid indexes now in the database: ", absl::StrJoin(names, ", "),
                           " (drop each with DROP INDEX CONCURRENTLY IF EXISTS before running "
                           "again, or IF NOT EXISTS will skip it).");
  }
  return absl::Status(
      outcome.code(),
      absl::StrCat(file, " failed at statement ", failed_at + 1, " of ", statements.size(),
                   " (line ", statements[failed_at].line, "): ", outcome.message(),
                   ". The file runs outside a transaction, so the statements before it were kept "
                   "and the schema is dirty at version ",
                   dirty_version, ".", invalid, " Repair: fix the cause, then `",
                   RepairHint(repair_version),
                   "` and run the migration again: its statements are written to be "
                   "re-runnable (IF NOT EXISTS / IF EXISTS)."));
}

// golang-migrate's order for every file: the dirty flag first, then the statements, then the
// clean version; a failure leaves the flag set.
absl::Status Migrator::ApplyOutsideTransaction(const Migration& migration) {
  int64_t previous = migrations_.Previous(migration.version);
  FIRSTSIP_RETURN_IF_ERROR(
      SetVersion(migration.version, /*dirty=*/true, DirtyNote{previous, true}));
  FIRSTSIP_RETURN_IF_ERROR(RunOutsideTransaction(migration.up_file, migration.up_statements,
                                                 migration.version, previous));
  db::Params record;
  record.Add(migration.version).Add(migration.up_file).Add(migration.up_sha256);
  FIRSTSIP_RETURN_IF_ERROR(connection_.Exec(kRecordHistory, record).status());
  FIRSTSIP_RETURN_IF_ERROR(SetVersion(migration.version, /*dirty=*/false));
  LogInfo(absl::StrCat("applied ", migration.up_file, " (outside a transaction)"));
  return absl::OkStatus();
}

absl::Status Migrator::RevertOutsideTransaction(const Migration& migration) {
  int64_t previous = migrations_.Previous(migration.version);
  // A half-reverted file is repaired by declaring it still applied and reverting again.
  FIRSTSIP_RETURN_IF_ERROR(
      SetVersion(previous, /*dirty=*/true, DirtyNote{migration.version, true}));
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

absl::Status Migrator::MigrateTo(int64_t target) {
  FIRSTSIP_RETURN_IF_ERROR(EnsureTables());
  FIRSTSIP_RETURN_IF_ERROR(CheckClean());
  FIRSTSIP_ASSIGN_OR_RETURN(SchemaVersion current, Version());
  if (current.version > 0 && migrations_.Find(current.version) == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the database is at version ", current.version, ", which this binary does not contain"));
  }
  FIRSTSIP_RETURN_IF_ERROR(VerifyHistory(current.version));
  FIRSTSIP_RETURN_IF_ERROR(FollowSchemaMigrations(current.version));
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
  FIRSTSIP_ASSIGN_OR_RETURN(bool history_exists, TableExists("schema_migrations_history"));
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
    line.no_transaction = migration.up_no_transaction;
    line.dirty = current.dirty && migration.version == current.version;
    line.applied = migration.version <= current.version && !line.dirty;
    // History rows above the version are files another tool reverted: not applied.
    if (auto it = history.find(migration.version);
        it != history.end() && migration.version <= current.version) {
      line.applied_at = absl::FromUnixMicros(it->second.second);
      line.edited_since_applied = it->second.first != migration.up_sha256;
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

absl::StatusOr<std::vector<InvalidIndex>> Migrator::InvalidIndexes() {
  FIRSTSIP_ASSIGN_OR_RETURN(db::Result rows, connection_.Exec(kInvalidIndexes));
  std::vector<InvalidIndex> invalid;
  for (int i = 0; i < rows.rows(); ++i) {
    invalid.push_back({std::string(rows.Text(i, 0)), std::string(rows.Text(i, 1))});
  }
  return invalid;
}

absl::Status Migrator::CheckCurrent() {
  FIRSTSIP_RETURN_IF_ERROR(CheckClean());
  FIRSTSIP_ASSIGN_OR_RETURN(SchemaVersion current, Version());
  FIRSTSIP_RETURN_IF_ERROR(VerifyHistory(current.version));
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
