// libFuzzer: migration file-name parsing never crashes, and what it accepts round-trips.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "migrate/migration_set.h"

namespace firstsip::migrate {
// The parser under test needs no embedded files.
std::span<const EmbeddedFile> EmbeddedMigrationFiles() { return {}; }
}  // namespace firstsip::migrate

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string name(reinterpret_cast<const char*>(data), size);
  auto parsed = firstsip::migrate::ParseMigrationFileName(name);
  if (!parsed.ok()) return 0;
  if (parsed->version <= 0 || parsed->description.empty()) __builtin_trap();
  // Re-parsing the canonical form gives the same answer.
  std::string canonical =
      absl::StrCat(parsed->version, "_", parsed->description, parsed->up ? ".up.sql" : ".down.sql");
  auto again = firstsip::migrate::ParseMigrationFileName(canonical);
  if (!again.ok() || again->version != parsed->version || again->up != parsed->up) {
    __builtin_trap();
  }
  return 0;
}
