#include "db/dsn.h"

#include <libpq-fe.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"

namespace firstsip::db {
namespace {

struct OptionsFree {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};
using ParsedOptions = std::unique_ptr<PQconninfoOption, OptionsFree>;

ParsedOptions Parse(absl::string_view dsn, std::string* error) {
  std::string copy(dsn);
  char* message = nullptr;
  ParsedOptions options(PQconninfoParse(copy.c_str(), &message));
  if (message != nullptr) {
    if (error != nullptr) *error = message;
    PQfreemem(message);
  }
  return options;
}

// Values in key=value form are quoted when they hold anything but plain characters.
std::string QuoteValue(absl::string_view value) {
  bool plain = !value.empty() && value.find_first_of(" '\\") == absl::string_view::npos;
  if (plain) return std::string(value);
  return absl::StrCat("'", absl::StrReplaceAll(value, {{"\\", "\\\\"}, {"'", "\\'"}}), "'");
}

}  // namespace

std::string DsnCutPassword(absl::string_view dsn) {
  ParsedOptions options = Parse(dsn, nullptr);
  if (!options) return "<unparsable DSN>";
  std::string out;
  for (PQconninfoOption* option = options.get(); option->keyword != nullptr; ++option) {
    if (option->val == nullptr || option->val[0] == '\0') continue;
    absl::string_view keyword = option->keyword;
    absl::string_view value = keyword == "password" ? "***" : option->val;
    absl::StrAppend(&out, out.empty() ? "" : " ", keyword, "=", QuoteValue(value));
  }
  return out;
}

absl::Status ValidateDsn(absl::string_view dsn) {
  std::string error;
  if (!Parse(dsn, &error)) {
    // libpq's message may quote the DSN; keep only its first line's gist without the value.
    return absl::InvalidArgumentError("the database URL is not a valid libpq connection string");
  }
  return absl::OkStatus();
}

}  // namespace firstsip::db
