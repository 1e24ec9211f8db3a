// Splits a migration file into the statements PostgreSQL's own parser would see, for files that
// run outside a transaction: there each statement must be sent on its own, because a simple
// query holding several statements runs them in one implicit transaction, where
// CREATE INDEX CONCURRENTLY and friends are refused.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace firstsip::migrate {

struct SqlStatement {
  std::string text;  // without the terminating ';', trimmed; comments inside are kept
  int line = 0;      // 1-based line of the file where the statement's first token is
};

// Splits at the semicolons that end statements, and only those: not inside '...' and E'...'
// strings, "quoted identifiers", $tag$ dollar quotes $tag$, -- line comments or nested
// /* block comments */. Pieces holding only comments and blanks are dropped.
// INVALID_ARGUMENT for an unterminated string, identifier, dollar quote or comment, and for a
// SQL-standard function body (BEGIN ATOMIC ... END), whose inner semicolons only the server's
// grammar can tell apart: such a function belongs in a transactional file.
absl::StatusOr<std::vector<SqlStatement>> SplitSqlStatements(absl::string_view sql);

}  // namespace firstsip::migrate
