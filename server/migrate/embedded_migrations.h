// The migration files compiled into the binary (generated from migrations/*.sql at build time).
#pragma once

#include <span>

#include "absl/strings/string_view.h"

namespace firstsip::migrate {

struct EmbeddedFile {
  absl::string_view name;      // e.g. "000001_create_users.up.sql"
  absl::string_view contents;  // the file's bytes, unchanged
};

// Every file in migrations/ ending in .sql, sorted by name.
std::span<const EmbeddedFile> EmbeddedMigrationFiles();

}  // namespace firstsip::migrate
