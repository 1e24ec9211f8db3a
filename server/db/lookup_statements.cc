#include "db/lookup_statements.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace firstsip::db {

size_t LookupStatements::Slots(size_t count) {
  size_t slots = 1;
  while (slots < count) slots *= 2;
  return slots;
}

std::string WithKeySlots(absl::string_view sql, size_t slots) {
  std::string array = "ARRAY[";
  for (size_t i = 1; i <= slots; ++i) absl::StrAppend(&array, i == 1 ? "" : ",", "$", i);
  array.push_back(']');
  std::string out;
  for (size_t at = 0; at < sql.size();) {
    size_t found = sql.find("$1", at);
    if (found == absl::string_view::npos) {
      absl::StrAppend(&out, sql.substr(at));
      break;
    }
    absl::StrAppend(&out, sql.substr(at, found - at));
    size_t after = found + 2;
    if (after < sql.size() && absl::ascii_isdigit(sql[after])) {
      absl::StrAppend(&out, sql.substr(found, 2));  // $10, $11, ...: not ours
    } else {
      absl::StrAppend(&out, array);
    }
    at = after;
  }
  return out;
}

std::pair<Query, Params> LookupStatements::For(const Query& lookup,
                                               const std::vector<absl::string_view>& keys) {
  const size_t slots = Slots(keys.size());
  std::string name = absl::StrCat(lookup.name, "_", slots);
  std::unique_ptr<Owned>& owned = statements_[name];
  if (owned == nullptr) {
    owned = std::make_unique<Owned>(Owned{name, WithKeySlots(lookup.sql, slots)});
  }
  Params params;
  for (absl::string_view key : keys) params.Add(key);
  for (size_t i = keys.size(); i < slots; ++i) params.Add(keys.back());
  return {Query{owned->name, owned->sql, Access::kRead}, std::move(params)};
}

}  // namespace firstsip::db
