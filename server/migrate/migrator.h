// Applies and reverts versioned migrations the way golang-migrate's postgres driver records
// them (schema_migrations(version, dirty), same advisory lock id), so that tool can take over,
// and goes beyond it where its users suffer:
//  - each file runs whole in one transaction with its bookkeeping (no statement splitting),
//    unless its first line is "-- firstsip: no-transaction": then its statements run one by
//    one outside any transaction, between setting the dirty flag and clearing it, as
//    golang-migrate runs every file (a failure half-way leaves the version dirty);
//  - schema_migrations_history keeps every applied file's SHA-256, and a file edited after it
//    was applied stops start-up;
//  - waiting for another replica's migration lock is bounded by a timeout.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
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
  std::optional<absl::Time> applied_at;
  bool edited_since_applied = false;
};

class Migrator {
 public:
  Migrator(db::BlockingConnection& connection, const MigrationSet& migrations,
           absl::Duration lock_timeout);

  // Applies every pending migration in order. FAILED_PRECONDITION on a dirty schema, an
  // edited file or a schema newer than this binary; DEADLINE_EXCEEDED when another process
  // holds the migration lock past the timeout; the failing file's error otherwise (its
  // transaction is rolled back and the schema stays at the version before it).
  absl::Status Up();
  // Reverts the `steps` most recent migrations.
  absl::Status Down(int steps);
  // Migrates up or down to exactly `version` (0: revert everything).
  absl::Status Goto(int64_t version);
  // Records `version` as current and clean without running any SQL: the repair after an
  // interrupted migration. 0 or -1 records "no migration applied".
  absl::Status Force(int64_t version);

  absl::StatusOr<SchemaVersion> Version();
  absl::StatusOr<std::vector<MigrationStatusLine>> Status();

  // OK when the schema is clean, at this binary's head, and no applied file was edited;
  // otherwise FAILED_PRECONDITION with a message that says how to repair.
  absl::Status CheckCurrent();

  // The advisory lock key (golang-migrate's) that serialises migrators on this database.
  absl::StatusOr<std::string> LockId();

 private:
  absl::Status WithLock(const std::function<absl::Status()>& body);
  absl::Status EnsureTables();
  absl::Status RefuseIfDirty();
  absl::Status VerifyHistory();
  absl::Status Apply(const Migration& migration);
  absl::Status Revert(const Migration& migration);
  absl::Status ApplyOutsideTransaction(const Migration& migration);
  absl::Status RevertOutsideTransaction(const Migration& migration);
  // Runs a marked file's statements one by one, each in its own implicit transaction.
  absl::Status RunOutsideTransaction(const std::string& file,
                                     const std::vector<SqlStatement>& statements,
                                     int64_t dirty_version, int64_t repair_version);
  absl::Status SetVersion(int64_t version, bool dirty);
  absl::Status MigrateTo(int64_t target);
  absl::StatusOr<int64_t> HistoryHead();

  db::BlockingConnection& connection_;
  const MigrationSet& migrations_;
  absl::Duration lock_timeout_;
};

}  // namespace firstsip::migrate
