// The statements a merged lookup (db::Lookup) is sent as. A lookup's SQL takes $1, the array of
// keys; sent with the array as one parameter, PostgreSQL would plan it anew on every execution:
// a custom plan knows the array's length and always looks cheaper than the generic plan, which
// assumes ten elements, so the plan cache never settles on the generic one. (Planning was 35% of
// a backend's CPU under GetUser load, docs/BENCHMARKS.md.) So the array is written out as
// ARRAY[$1, ..., $n] with n the next power of two at or above the number of keys (the last key
// repeated to fill it): each n is a statement of its own, whose custom and generic plans are the
// same, and PostgreSQL keeps the generic one after its fifth run.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "db/params.h"
#include "db/query.h"

namespace firstsip::db {

class LookupStatements {
 public:
  // The statement for `lookup` (a Lookup as a Query: its name and SQL) and `keys` (distinct, at
  // least one), with its parameters. The Query stays valid as long as this object.
  std::pair<Query, Params> For(const Query& lookup, const std::vector<absl::string_view>& keys);

  // The smallest power of two at or above `count` (at least 1).
  static size_t Slots(size_t count);

 private:
  struct Owned {
    std::string name;
    std::string sql;
  };
  absl::flat_hash_map<std::string, std::unique_ptr<Owned>> statements_;
};

// `sql` with every $1 (not $10, $11, ...) written as ARRAY[$1, ..., $slots].
std::string WithKeySlots(absl::string_view sql, size_t slots);

}  // namespace firstsip::db
