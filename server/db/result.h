// The rows of one completed statement: owns a PGresult and reads its cells in text format.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace firstsip::db {

class Result {
 public:
  Result() = default;
  explicit Result(PGresult* result) : result_(result) {}

  int rows() const { return result_ ? PQntuples(result_.get()) : 0; }
  // Rows touched by INSERT/UPDATE/DELETE without RETURNING.
  int64_t affected_rows() const;

  // Index of the named column, or -1.
  int Column(absl::string_view name) const;

  bool IsNull(int row, int column) const;
  absl::string_view Text(int row, int column) const;
  // These return INTERNAL when the cell does not hold the expected type; NULL reads as nullopt.
  absl::StatusOr<int64_t> Int64(int row, int column) const;
  absl::StatusOr<bool> Bool(int row, int column) const;
  absl::StatusOr<std::optional<int64_t>> OptionalInt64(int row, int column) const;
  // A bytea cell (hex output format); NULL reads as nullopt.
  absl::StatusOr<std::optional<std::string>> OptionalBytes(int row, int column) const;

 private:
  struct Clear {
    void operator()(PGresult* result) const { PQclear(result); }
  };
  std::unique_ptr<PGresult, Clear> result_;
};

// One caller's row of a statement that may have served several callers (a merged Lookup): the
// statement's rows, shared, and which of them is this caller's.
struct LookupRow {
  std::shared_ptr<const Result> result;
  int index = -1;  // -1: no row has the caller's key

  bool found() const { return index >= 0; }
};

}  // namespace firstsip::db
