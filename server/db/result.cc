#include "db/result.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace firstsip::db {

int64_t Result::affected_rows() const {
  if (!result_) return 0;
  int64_t count = 0;
  return absl::SimpleAtoi(PQcmdTuples(result_.get()), &count) ? count : 0;
}

int Result::Column(absl::string_view name) const {
  if (!result_) return -1;
  // Our column names are lowercase identifiers, which PQfnumber matches as given; it wants a
  // NUL-terminated name, so copy into a small buffer rather than allocating.
  char buffer[64];
  if (name.size() >= sizeof(buffer)) return -1;
  name.copy(buffer, name.size());
  buffer[name.size()] = '\0';
  return PQfnumber(result_.get(), buffer);
}

bool Result::IsNull(int row, int column) const {
  return PQgetisnull(result_.get(), row, column) != 0;
}

absl::string_view Result::Text(int row, int column) const {
  return absl::string_view(PQgetvalue(result_.get(), row, column),
                           PQgetlength(result_.get(), row, column));
}

absl::StatusOr<int64_t> Result::Int64(int row, int column) const {
  if (column < 0 || IsNull(row, column)) {
    return absl::InternalError(absl::StrCat("expected an integer in column ", column));
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(Text(row, column), &value)) {
    return absl::InternalError(absl::StrCat("column ", column, " is not an integer"));
  }
  return value;
}

absl::StatusOr<bool> Result::Bool(int row, int column) const {
  if (column < 0 || IsNull(row, column)) {
    return absl::InternalError(absl::StrCat("expected a boolean in column ", column));
  }
  absl::string_view text = Text(row, column);
  if (text == "t") return true;
  if (text == "f") return false;
  return absl::InternalError(absl::StrCat("column ", column, " is not a boolean"));
}

absl::StatusOr<std::optional<int64_t>> Result::OptionalInt64(int row, int column) const {
  if (column < 0) return absl::InternalError("missing column");
  if (IsNull(row, column)) return std::optional<int64_t>();
  auto value = Int64(row, column);
  if (!value.ok()) return value.status();
  return std::optional<int64_t>(*value);
}

absl::StatusOr<std::optional<std::string>> Result::OptionalBytes(int row, int column) const {
  if (column < 0) return absl::InternalError("missing column");
  if (IsNull(row, column)) return std::optional<std::string>();
  absl::string_view text = Text(row, column);
  if (!absl::ConsumePrefix(&text, "\\x") || text.size() % 2 != 0) {
    return absl::InternalError(absl::StrCat("column ", column, " is not bytea in hex form"));
  }
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string bytes;
  bytes.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    int high = nibble(text[i]);
    int low = nibble(text[i + 1]);
    if (high < 0 || low < 0) return absl::InternalError("bad hex digit in bytea");
    bytes.push_back(static_cast<char>(high << 4 | low));
  }
  return std::optional<std::string>(std::move(bytes));
}

}  // namespace firstsip::db
