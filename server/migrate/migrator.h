// Applies and reverts versioned migrations the way golang-migrate's postgres driver records
// them (schema_migrations(version, dirty), the same advisory locks), so that tool can run
// beside this one or take over, and goes beyond it where its users suffer:
//  - each file runs whole in one transaction with its bookkeeping (no statement splitting),
//    unless its first line is "-- firstsip: no-transaction": then its statements run one by
//    one outside any transaction, between setting the dirty flag and clearing it, as
//    golang-migrate runs every file (a failure half-way leaves the version dirty);
//  - every migration statement runs under a short lock_timeout and is retried with backoff,
//    so a statement queued behind another session's lock holds up the service's own queries
//    for at most that timeout; the last error names the blocking session;
//  - schema_migrations_history keeps every applied file's SHA-256, and a file edited after it
//    was applied stops start-up; the history follows schema_migrations when golang-migrate
//    moved it;
//  - a dirty state this process wrote carries a note of the version the schema is really at;
//    one it did not write (golang-migrate's) gets golang-migrate's own repair rule;
//  - waiting for another migrator's lock is bounded by a timeout.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "db/blocking_connection.h"
#include "migrate/migration_set.h"

namespace firstsip::migrate {

struct SchemaVersion {
  int64_t version = 0;  // 0: no migration applied
  bool dirty = false;
};

struct MigrationStatusLine {
  int64_t version = 0;
  std::string file;
  bool applied = false;
  bool dirty = false;  // the version schema_migrations marks dirty
  bool no_transaction = false;
  std::optional<absl::Time> applied_at;
  bool edited_since_applied = false;
};

// An index PostgreSQL will not use: what a failed (or still running) CREATE INDEX
// CONCURRENTLY leaves behind.
struct InvalidIndex {
  std::string index;  // schema-qualified where needed, quoted as SQL needs it
  std::string table;
};

struct MigratorOptions {
  // Longest wait for another migrator's advisory locks (--migrate-lock-timeout).
  absl::Duration lock_wait = absl::Minutes(2);
  // lock_timeout of every migration statement (--migrate-statement-lock-timeout).
  absl::Duration statement_lock_timeout = absl::Seconds(2);
  // Longest a statement keeps retrying after lock timeouts (--migrate-statement-max-wait).
  absl::Duration statement_max_wait = absl::Minutes(1);
  // A DSN for a second session that names whoever blocks a migration statement; empty: the
  // error cannot name them.
  std::string observer_dsn;
};

// golang-migrate's database.GenerateAdvisoryLockId(database_name, additional_names...):
// crc32 (IEEE) of additional_names and database_name joined by NUL, times 1486364155, as a
// uint32 in decimal. Its postgres driver passes (schema, table) as the additional names.
std::string GolangMigrateLockId(absl::string_view database_name,
                                const std::vector<std::string>& additional_names);

class Migrator {
 public:
  Migrator(db::BlockingConnection& connection, const MigrationSet& migrations,
           MigratorOptions options);
  Migrator(db::BlockingConnection& connection, const MigrationSet& migrations,
           absl::Duration lock_wait);
  ~Migrator();

  // Applies every pending migration in order. FAILED_PRECONDITION on a dirty schema, an
  // edited file or a schema newer than this binary; DEADLINE_EXCEEDED when another process
  // holds a migration lock past the timeout, or a statement could not get its table locks
  // within the retries; the failing file's error otherwise (a transactional file is rolled
  // back and the schema stays at the version before it; a no-transaction file leaves the
  // version dirty, with the repair in the message).
  absl::Status Up();
  // Reverts the `steps` most recent migrations.
  absl::Status Down(int steps);
  // Migrates up or down to exactly `version` (0: revert everything).
  absl::Status Goto(int64_t version);
  // Records `version` as current and clean without running any SQL: the repair after an
  // interrupted migration. 0 or -1 records "no migration applied".
  absl::Status Force(int64_t version);

  absl::StatusOr<SchemaVersion> Version();
  // One line per known migration; read-only (works with or without the history table).
  absl::StatusOr<std::vector<MigrationStatusLine>> Status();
  absl::StatusOr<std::vector<InvalidIndex>> InvalidIndexes();

  // OK when the schema is not dirty; otherwise FAILED_PRECONDITION explaining what happened
  // and the repair command.
  absl::Status CheckClean();
  // OK when the schema is clean, at this binary's head, and no applied file was edited;
  // otherwise FAILED_PRECONDITION with a message that says how to repair. Read-only: a
  // database without schema_migrations_history (built by golang-migrate) passes.
  absl::Status CheckCurrent();

  // The advisory lock keys that serialise migrators on this database, in the order they are
  // taken: golang-migrate's as a library (over current_database()) and as its CLI opened
  // from a URL (over the URL's path, "/" + the database name).
  absl::StatusOr<std::vector<std::string>> LockIds();

 private:
  struct DirtyNote {
    int64_t repair_version = 0;   // the version to force before running again
    bool kept_partially = false;  // statements of the file may have been kept
  };

  absl::Status WithLock(const std::function<absl::Status()>& body);
  absl::Status EnsureTables();
  absl::Status VerifyHistory(int64_t current_version);
  absl::Status FollowSchemaMigrations(int64_t current_version);
  absl::Status Apply(const Migration& migration);
  absl::Status Revert(const Migration& migration);
  absl::Status ApplyOutsideTransaction(const Migration& migration);
  absl::Status RevertOutsideTransaction(const Migration& migration);
  // Runs a marked file's statements one by one, each in its own implicit transaction.
  absl::Status RunOutsideTransaction(const std::string& file,
                                     const std::vector<SqlStatement>& statements,
                                     int64_t dirty_version, int64_t repair_version);
  // Runs `attempt` until it succeeds, fails other than by a lock timeout, or the statement
  // retry budget is spent. `cleanup` runs after each lock timeout.
  absl::Status RetryingLockTimeouts(const std::string& what,
                                    const std::function<absl::Status()>& attempt,
                                    const std::function<void()>& cleanup = nullptr);
  // Sets schema_migrations; a dirty state gets `note` (tied to the row it wrote).
  absl::Status SetVersion(int64_t version, bool dirty, std::optional<DirtyNote> note = {});
  absl::StatusOr<std::optional<DirtyNote>> ReadDirtyNote();
  absl::Status MigrateTo(int64_t target);
  absl::StatusOr<bool> TableExists(const char* table);
  std::string LockTimeoutSetting() const;

  db::BlockingConnection& connection_;
  const MigrationSet& migrations_;
  MigratorOptions options_;
  std::unique_ptr<db::BlockingConnection> observer_;  // opened at the first statement
  int backend_pid_ = 0;
};

}  // namespace firstsip::migrate
