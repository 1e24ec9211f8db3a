// A caller's request as the pool carries it: a statement with its parameters, or one key of a
// Lookup; the caller's deadline, cancellation and callback; and how often it has been sent.
#pragma once

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "db/call_options.h"
#include "db/executor.h"
#include "db/params.h"
#include "db/query.h"
#include "db/result.h"

namespace firstsip::db {

struct Request {
  static Request ForStatement(const Query& query, Params params, const CallOptions& call,
                              ResultCallback done) {
    Request request;
    request.query = query;
    request.params = std::move(params);
    request.call = call;
    request.done = std::move(done);
    return request;
  }
  static Request ForLookup(const Lookup& lookup, std::string key, const CallOptions& call,
                           RowCallback done) {
    Request request;
    request.query = Query{lookup.name, lookup.sql, Access::kRead};
    request.key = std::move(key);
    request.lookup = true;
    request.call = call;
    request.row_done = std::move(done);
    return request;
  }

  // A lookup's query is its name and SQL (Access::kRead); its parameter is made from the keys.
  Query query;
  Params params;    // statements only
  std::string key;  // lookups only
  bool lookup = false;
  // A lookup whose merged statement failed goes again in a statement of its own, so that a key
  // the database refuses fails its own caller only.
  bool alone = false;
  CallOptions call;
  ResultCallback done;   // statements
  RowCallback row_done;  // lookups
  int attempts = 0;

  bool answered() const { return !done && !row_done; }
  bool expired(absl::Time now) const { return call.deadline <= now; }
  bool cancelled() const { return call.cancellation && call.cancellation->cancelled(); }

  // Answers with `status` unless already answered.
  void Fail(absl::Status status) {
    if (done) {
      std::move(done)(std::move(status));
      done = nullptr;
    } else if (row_done) {
      std::move(row_done)(std::move(status));
      row_done = nullptr;
    }
  }
  // A statement's answer, unless already answered.
  void Answer(absl::StatusOr<Result> outcome) {
    if (!done) return;
    std::move(done)(std::move(outcome));
    done = nullptr;
  }
  // A lookup's answer, unless already answered.
  void AnswerRow(LookupRow row) {
    if (!row_done) return;
    std::move(row_done)(std::move(row));
    row_done = nullptr;
  }
};

}  // namespace firstsip::db
