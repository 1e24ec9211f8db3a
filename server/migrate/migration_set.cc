#include "migrate/migration_set.h"

#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace firstsip::migrate {

namespace {

absl::string_view FirstLine(absl::string_view sql) {
  return absl::StripTrailingAsciiWhitespace(sql.substr(0, sql.find('\n')));
}

// A "-- firstsip:" directive anywhere but as the exact first-line marker is a typo that would
// otherwise run the file in a transaction (where CONCURRENTLY fails, or worse, quietly works).
absl::Status CheckDirectives(absl::string_view file_name, absl::string_view sql) {
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(sql, '\n')) {
    ++line_number;
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&text, "--")) continue;
    if (!absl::StartsWithIgnoreCase(absl::StripLeadingAsciiWhitespace(text), "firstsip")) {
      continue;
    }
    if (line_number == 1 && FirstLine(sql) == kNoTransactionMarker) continue;
    return absl::FailedPreconditionError(
        absl::StrCat("migration file ", file_name, " line ", line_number, ": \"", line,
                     "\" is not a directive this binary knows; the only one is \"",
                     kNoTransactionMarker, "\", exactly, as the first line"));
  }
  return absl::OkStatus();
}

}  // namespace

bool HasNoTransactionMarker(absl::string_view sql) {
  return FirstLine(sql) == kNoTransactionMarker;
}

absl::StatusOr<MigrationFileName> ParseMigrationFileName(absl::string_view file_name) {
  absl::string_view rest = file_name;
  auto invalid = [&](absl::string_view rule) {
    return absl::InvalidArgumentError(absl::StrCat("migration file \"", file_name, "\": ", rule,
                                                   " (expected NNNNNN_name.up.sql or "
                                                   "NNNNNN_name.down.sql)"));
  };
  MigrationFileName parsed;
  if (absl::ConsumeSuffix(&rest, ".up.sql")) {
    parsed.up = true;
  } else if (absl::ConsumeSuffix(&rest, ".down.sql")) {
    parsed.up = false;
  } else {
    return invalid("must end in .up.sql or .down.sql");
  }
  size_t underscore = rest.find('_');
  if (underscore == absl::string_view::npos)
    return invalid("needs an underscore after the version");
  absl::string_view digits = rest.substr(0, underscore);
  absl::string_view description = rest.substr(underscore + 1);
  if (digits.empty() || digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit)) {
    return invalid("the version must be 1 to 18 digits");
  }
  if (!absl::SimpleAtoi(digits, &parsed.version) || parsed.version <= 0) {
    return invalid("the version must be positive");
  }
  if (description.empty() || !std::all_of(description.begin(), description.end(), [](char c) {
        return absl::ascii_isalnum(c) || c == '_' || c == '-';
      })) {
    return invalid("the name must be letters, digits, '_' or '-'");
  }
  parsed.description = std::string(description);
  return parsed;
}

absl::StatusOr<MigrationSet> MigrationSet::FromFiles(std::span<const EmbeddedFile> files) {
  std::map<int64_t, Migration> by_version;
  std::map<int64_t, std::string> description_of;
  for (const EmbeddedFile& file : files) {
    absl::StatusOr<MigrationFileName> name = ParseMigrationFileName(file.name);
    if (!name.ok()) return absl::FailedPreconditionError(name.status().message());
    Migration& migration = by_version[name->version];
    migration.version = name->version;
    auto [it, inserted] = description_of.emplace(name->version, name->description);
    if (!inserted && it->second != name->description) {
      return absl::FailedPreconditionError(absl::StrCat("two migrations share version ",
                                                        name->version, ": ", it->second, " and ",
                                                        name->description));
    }
    std::string& slot = name->up ? migration.up_file : migration.down_file;
    if (!slot.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("duplicate migration file ", file.name));
    }
    slot = std::string(file.name);
    (name->up ? migration.up_sql : migration.down_sql) = file.contents;
    if (absl::Status directives = CheckDirectives(file.name, file.contents); !directives.ok()) {
      return directives;
    }
    if (HasNoTransactionMarker(file.contents)) {
      absl::StatusOr<std::vector<SqlStatement>> statements = SplitSqlStatements(file.contents);
      if (!statements.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("migration file ", file.name, ": ", statements.status().message()));
      }
      (name->up ? migration.up_no_transaction : migration.down_no_transaction) = true;
      (name->up ? migration.up_statements : migration.down_statements) = *std::move(statements);
    }
  }
  MigrationSet set;
  for (auto& [version, migration] : by_version) {
    if (migration.up_file.empty() || migration.down_file.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("migration ", version, " needs both an .up.sql and a .down.sql file"));
    }
    migration.up_sha256 = Sha256Hex(migration.up_sql);
    set.migrations_.push_back(std::move(migration));
  }
  return set;
}

absl::StatusOr<MigrationSet> MigrationSet::Embedded() {
  return FromFiles(EmbeddedMigrationFiles());
}

absl::StatusOr<MigrationSet> MigrationSet::FromDirectory(const std::string& directory) {
  std::error_code error;
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    if (entry.is_regular_file() && entry.path().extension() == ".sql") {
      names.push_back(entry.path().filename().string());
    }
  }
  if (error) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the migrations directory ", directory, ": ", error.message()));
  }
  std::sort(names.begin(), names.end());
  auto contents = std::make_shared<std::vector<std::string>>();
  contents->reserve(names.size());
  for (const std::string& name : names) {
    std::ifstream file(std::filesystem::path(directory) / name, std::ios::binary);
    std::ostringstream bytes;
    bytes << file.rdbuf();
    if (!file) {
      return absl::NotFoundError(absl::StrCat("cannot read ", directory, "/", name));
    }
    contents->push_back(bytes.str());
  }
  std::vector<EmbeddedFile> files;
  for (size_t i = 0; i < names.size(); ++i) files.push_back({names[i], (*contents)[i]});
  absl::StatusOr<MigrationSet> set = FromFiles(files);
  if (!set.ok()) return set.status();
  // The names were copied into the set; the contents stay where the views point.
  set->storage_ = std::move(contents);
  return set;
}

const Migration* MigrationSet::Find(int64_t version) const {
  auto it = std::lower_bound(migrations_.begin(), migrations_.end(), version,
                             [](const Migration& m, int64_t v) { return m.version < v; });
  return it != migrations_.end() && it->version == version ? &*it : nullptr;
}

int64_t MigrationSet::Previous(int64_t version) const {
  int64_t previous = 0;
  for (const Migration& migration : migrations_) {
    if (migration.version >= version) break;
    previous = migration.version;
  }
  return previous;
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

}  // namespace firstsip::migrate
