// Named SQL statements. Every statement the service sends is one of these constants, defined
// beside the code that runs it; the name is the prepared-statement name, the log field and the
// metric label.
#pragma once

#include "absl/strings/string_view.h"

namespace firstsip::db {

// What a statement may share its Sync (its implicit transaction) with.
enum class Access {
  // Changes something, or must commit alone: sent as [Execute Sync], its own transaction.
  kWrite,
  // One read-only statement: the pool may send it with other reads under one Sync. Their shared
  // implicit transaction changes nothing for a read (each statement takes its own snapshot in
  // READ COMMITTED), and a read that fails there is sent again, alone, so it fails no other.
  kRead,
};

struct Query {
  // Unique across the process, [a-z0-9_]+; used as the prepared statement's name.
  absl::string_view name;
  absl::string_view sql;
  Access access = Access::kWrite;
};

// A point read by key: the lookups of one kind that meet in a batch become one statement over
// the array of their keys, and each caller gets its own row back by key (db/pool.h).
//
// `sql` takes $1, the array of keys (cast it: `$1::int8[]`, `$1::text[]`), and returns at most
// one row per key, whose first column is that key exactly as it was sent (`WHERE id =
// ANY($1::int8[])` with `id` first, or `unnest($1::text[]) AS k(key)` joined, for keys that the
// database would compare differently, such as case-insensitive emails). The pool writes $1 out
// as ARRAY[$1, ..., $n] (db/lookup_statements.h). It is read-only: lookups share their Sync with
// other reads.
struct Lookup {
  absl::string_view name;
  absl::string_view sql;
};

}  // namespace firstsip::db
