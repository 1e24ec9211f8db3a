// The versioned migrations known to this binary: golang-migrate's naming
// (NNNNNN_name.up.sql / NNNNNN_name.down.sql), paired and ordered by version.
//
// A file whose first line is exactly kNoTransactionMarker runs outside a transaction, one
// statement at a time (CREATE INDEX CONCURRENTLY, ALTER TYPE ... ADD VALUE): see migrator.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "migrate/embedded_migrations.h"
#include "migrate/sql_splitter.h"

namespace firstsip::migrate {

// The first line that makes a file run outside a transaction.
inline constexpr char kNoTransactionMarker[] = "-- firstsip: no-transaction";

// True when the file's first line is kNoTransactionMarker (trailing blanks and \r allowed).
bool HasNoTransactionMarker(absl::string_view sql);

struct MigrationFileName {
  int64_t version = 0;
  std::string description;  // the part between "NNNNNN_" and ".up.sql"
  bool up = true;
};

// Parses "000001_create_users.up.sql". INVALID_ARGUMENT names the rule a bad name breaks.
absl::StatusOr<MigrationFileName> ParseMigrationFileName(absl::string_view file_name);

struct Migration {
  int64_t version = 0;
  std::string up_file;
  std::string down_file;
  absl::string_view up_sql;
  absl::string_view down_sql;
  std::string up_sha256;  // hex; recorded when applied, compared at every start
  // Files marked kNoTransactionMarker, and their statements (empty for the others).
  bool up_no_transaction = false;
  bool down_no_transaction = false;
  std::vector<SqlStatement> up_statements;
  std::vector<SqlStatement> down_statements;
};

class MigrationSet {
 public:
  // FAILED_PRECONDITION when a file is misnamed, a version repeats, an up file lacks its
  // down file (or the other way round), a "-- firstsip:" line is anything but the exact
  // marker on the first line, or a marked file cannot be split into statements.
  // The set refers to the files' contents: they must outlive it.
  static absl::StatusOr<MigrationSet> FromFiles(std::span<const EmbeddedFile> files);
  // The set compiled into this binary.
  static absl::StatusOr<MigrationSet> Embedded();
  // Every *.sql file in `directory` (other files are ignored), read now and kept by the set:
  // for tests and operators who run a migration set other than the embedded one.
  // NOT_FOUND when the directory cannot be read; otherwise as FromFiles.
  static absl::StatusOr<MigrationSet> FromDirectory(const std::string& directory);

  const std::vector<Migration>& migrations() const { return migrations_; }
  // The highest version, or 0 when there are none.
  int64_t head() const { return migrations_.empty() ? 0 : migrations_.back().version; }
  const Migration* Find(int64_t version) const;
  // The version before `version` (0 when it is the first).
  int64_t Previous(int64_t version) const;

 private:
  std::vector<Migration> migrations_;
  // The contents of files read by FromDirectory, which migrations_ points into.
  std::shared_ptr<const std::vector<std::string>> storage_;
};

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

}  // namespace firstsip::migrate
