// The versioned migrations known to this binary: golang-migrate's naming
// (NNNNNN_name.up.sql / NNNNNN_name.down.sql), paired and ordered by version.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "migrate/embedded_migrations.h"

namespace firstsip::migrate {

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
};

class MigrationSet {
 public:
  // FAILED_PRECONDITION when a file is misnamed, a version repeats, or an up file lacks its
  // down file (or the other way round).
  static absl::StatusOr<MigrationSet> FromFiles(std::span<const EmbeddedFile> files);
  // The set compiled into this binary.
  static absl::StatusOr<MigrationSet> Embedded();

  const std::vector<Migration>& migrations() const { return migrations_; }
  // The highest version, or 0 when there are none.
  int64_t head() const { return migrations_.empty() ? 0 : migrations_.back().version; }
  const Migration* Find(int64_t version) const;
  // The version before `version` (0 when it is the first).
  int64_t Previous(int64_t version) const;

 private:
  std::vector<Migration> migrations_;
};

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

}  // namespace firstsip::migrate
