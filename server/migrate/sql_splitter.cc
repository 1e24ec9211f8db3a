#include "migrate/sql_splitter.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace firstsip::migrate {
namespace {

bool IsIdentifierStart(char c) {
  return absl::ascii_isalpha(c) || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool IsIdentifierChar(char c) { return IsIdentifierStart(c) || absl::ascii_isdigit(c) || c == '$'; }

}  // namespace

absl::StatusOr<std::vector<SqlStatement>> SplitSqlStatements(absl::string_view sql) {
  std::vector<SqlStatement> statements;
  size_t start = 0;       // where the current piece begins
  bool has_code = false;  // the current piece holds something besides comments and blanks
  int first_line = 0;     // line of its first token
  int line = 1;
  std::string previous_word;  // the last keyword-like word at the top level (lowercase)
  auto unterminated = [&](absl::string_view what, int at_line) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", at_line, ": ", what, " is never closed"));
  };
  auto finish_piece = [&](size_t end) {
    if (has_code) {
      statements.push_back(
          {std::string(absl::StripAsciiWhitespace(sql.substr(start, end - start))), first_line});
    }
    start = end + 1;
    has_code = false;
    previous_word.clear();
  };
  auto mark_code = [&] {
    if (!has_code) first_line = line;
    has_code = true;
  };

  size_t i = 0;
  const size_t n = sql.size();
  while (i < n) {
    char c = sql[i];
    char next = i + 1 < n ? sql[i + 1] : '\0';
    if (c == '\n') {
      ++line;
      ++i;
    } else if (c == '-' && next == '-') {
      while (i < n && sql[i] != '\n') ++i;
    } else if (c == '/' && next == '*') {
      int opened_at = line;
      int depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] == '\n') ++line;
        if (sql[i] == '/' && i + 1 < n && sql[i + 1] == '*') {
          ++depth;
          i += 2;
        } else if (sql[i] == '*' && i + 1 < n && sql[i + 1] == '/') {
          --depth;
          i += 2;
        } else {
          ++i;
        }
      }
      if (depth > 0) return unterminated("a /* comment", opened_at);
    } else if (c == '\'' || c == '"') {
      mark_code();
      // E'...' strings take backslash escapes; the E must stand alone, not end a word.
      bool backslashes = c == '\'' && i > 0 && (sql[i - 1] == 'e' || sql[i - 1] == 'E') &&
                         (i < 2 || !IsIdentifierChar(sql[i - 2]));
      int opened_at = line;
      ++i;
      bool closed = false;
      while (i < n) {
        char d = sql[i];
        if (d == '\n') ++line;
        if (backslashes && d == '\\') {
          if (i + 1 < n && sql[i + 1] == '\n') ++line;
          i += 2;
          continue;
        }
        if (d == c) {
          if (i + 1 < n && sql[i + 1] == c) {  // '' or "" stands for one quote
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        ++i;
      }
      if (!closed) {
        return unterminated(c == '"' ? "a \"quoted identifier" : "a 'string", opened_at);
      }
      previous_word.clear();
    } else if (c == '$' && (i == 0 || !IsIdentifierChar(sql[i - 1])) &&
               (next == '$' || IsIdentifierStart(next))) {
      // Maybe a dollar quote: $$ or $tag$ (a tag is an identifier without '$').
      size_t tag_end = i + 1;
      while (tag_end < n && sql[tag_end] != '$' && IsIdentifierChar(sql[tag_end])) ++tag_end;
      if (tag_end >= n || sql[tag_end] != '$') {
        mark_code();
        ++i;
        continue;
      }
      mark_code();
      absl::string_view tag = sql.substr(i, tag_end - i + 1);
      int opened_at = line;
      size_t body = tag_end + 1;
      size_t close = sql.find(tag, body);
      if (close == absl::string_view::npos)
        return unterminated(absl::StrCat("dollar quote ", tag), opened_at);
      for (size_t k = i; k < close; ++k) {
        if (sql[k] == '\n') ++line;
      }
      i = close + tag.size();
      previous_word.clear();
    } else if (c == ';') {
      finish_piece(i);
      ++i;
    } else if (IsIdentifierStart(c)) {
      mark_code();
      size_t end = i;
      while (end < n && IsIdentifierChar(sql[end])) ++end;
      std::string word = absl::AsciiStrToLower(sql.substr(i, end - i));
      if (previous_word == "begin" && word == "atomic") {
        return absl::InvalidArgumentError(absl::StrCat(
            "line ", line,
            ": a SQL-standard function body (BEGIN ATOMIC ... END) cannot be split into "
            "statements; put the function in a file that runs in a transaction, or write its "
            "body as a $$ string"));
      }
      previous_word = std::move(word);
      i = end;
    } else {
      if (!absl::ascii_isspace(static_cast<unsigned char>(c))) {
        mark_code();
        previous_word.clear();
      }
      ++i;
    }
  }
  finish_piece(n);
  return statements;
}

}  // namespace firstsip::migrate
