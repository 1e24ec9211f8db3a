// What storage runs its statements on: the primary's pool (db/pool.h), or the read replicas
// with the primary behind them (db/read_pool.h). Storage says which it needs; where a
// statement then runs, and with which others it travels, is this layer's business.
#pragma once

#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "db/call_options.h"
#include "db/params.h"
#include "db/query.h"
#include "db/result.h"

namespace firstsip::db {

using ResultCallback = absl::AnyInvocable<void(absl::StatusOr<Result>) &&>;
using RowCallback = absl::AnyInvocable<void(absl::StatusOr<LookupRow>) &&>;

class Executor {
 public:
  virtual ~Executor() = default;

  // Runs `query` with `params` and calls `done` exactly once, on a database thread, which
  // `done` must not block. The statuses are Pool::Execute's.
  virtual void Execute(const Query& query, Params params, const CallOptions& call,
                       ResultCallback done) = 0;

  // Runs `lookup` for `key` (its text form: "42", or an email as the caller gave it), possibly
  // in one statement with other callers' keys, and calls `done` exactly once, on a database
  // thread, with this key's row (found() false when there is none) or with Execute's statuses.
  virtual void Find(const Lookup& lookup, std::string key, const CallOptions& call,
                    RowCallback done) = 0;
};

}  // namespace firstsip::db
