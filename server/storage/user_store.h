// Storage for users: the named SQL statements, run through the asynchronous pool, and the one
// mapping from a users row to v1::User. Every call returns at once and reports through `done`
// on the pool's thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "db/call_options.h"
#include "db/executor.h"
#include "firstsip/v1/user.pb.h"
#include "logic/user_rules.h"
#include "storage/briefing_due.h"
#include "storage/done.h"
#include "storage/rows.h"

namespace firstsip::storage {

// Statements the benchmark also hands to pgbench, so both measure the very same SQL.
namespace queries {

// Users by id, for GetUser: the calls that meet in a batch share one statement (db::Lookup).
// Soft-deleted users come too; the caller decides by show_deleted.
inline constexpr db::Lookup kFindUsers{
    "users_find", "SELECT " FIRSTSIP_USER_COLUMNS " FROM users u WHERE u.id = ANY($1::int8[])"};

}  // namespace queries

struct UserListQuery {
  int64_t after_id = 0;
  int limit = 50;
  bool show_deleted = false;
  std::optional<std::string> role;  // stored form; unset lists every role
};

class UserStore {
 public:
  // `reads` serves the reads a slightly stale answer may serve (db/read_pool.h: standbys within
  // --read-max-lag, else the primary); everything else runs on `primary`. `due` (may be empty)
  // hears each next_briefing_time a successful Create, Update or Undelete set.
  UserStore(db::Executor& primary, db::Executor& reads, BriefingDue due = nullptr)
      : primary_(primary), reads_(reads), due_(std::move(due)) {}
  explicit UserStore(db::Executor& primary) : UserStore(primary, primary) {}

  // Each write that leaves the user live and unpaused computes next_briefing_time in the same
  // statement (storage/briefing_time_sql.h); INVALID_ARGUMENT naming user.timezone when the
  // database does not know the zone (its time zone data is older than the service's).
  //
  // ALREADY_EXISTS when a live user has the email (case-insensitively).
  void Create(const logic::NewUser& user, const db::CallOptions& call, Done<v1::User> done);
  // NOT_FOUND when absent, or soft-deleted and !show_deleted.
  void Get(int64_t id, bool show_deleted, const db::CallOptions& call, Done<v1::User> done);
  // Live users only; NOT_FOUND otherwise.
  void GetByEmail(const std::string& email, const db::CallOptions& call, Done<v1::User> done);
  // Up to query.limit users with id > query.after_id, in id order.
  void List(const UserListQuery& query, const db::CallOptions& call,
            Done<std::vector<v1::User>> done);
  // NOT_FOUND for a missing or deleted user; ABORTED when expected_revision is stale;
  // ALREADY_EXISTS when the new email is taken. Atomic: one statement.
  void Update(int64_t id, const logic::UserPatch& patch, const db::CallOptions& call,
              Done<v1::User> done);
  // Soft delete; NOT_FOUND when missing or already deleted.
  void Delete(int64_t id, const db::CallOptions& call, Done<v1::User> done);
  // NOT_FOUND when missing; FAILED_PRECONDITION when not deleted; ALREADY_EXISTS when a live
  // user has taken the email meanwhile (the unique index decides, so no race can slip by).
  void Undelete(int64_t id, const db::CallOptions& call, Done<v1::User> done);

 private:
  db::Executor& primary_;
  db::Executor& reads_;
  const BriefingDue due_;
};

}  // namespace firstsip::storage
