#include "storage/user_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "db/sql_error.h"
#include "storage/briefing_time_sql.h"
#include "storage/rows.h"

namespace firstsip::storage {
namespace {

// A new user's first briefing is the next occurrence of its time from now (none while paused).
// The explicit ::text keeps $3 and $4 text although the time arithmetic casts them.
constexpr db::Query kCreateUser{
    "users_create",
    "INSERT INTO users AS u (email, name, timezone, preferred_briefing_time, role, "
    "briefings_paused, next_briefing_time) "
    "VALUES ($1, $2, $3::text, $4::text, $5, $6::bool, CASE WHEN $6::bool THEN NULL "
    "ELSE " FIRSTSIP_NEXT_BRIEFING_TIME("$3::text", "$4::text",
                                        "now()") " END) RETURNING " FIRSTSIP_USER_COLUMNS};

// Live users by email, compared as the unique index compares them (lower()); each row carries
// the email it was asked for, as the caller wrote it.
constexpr db::Lookup kFindUsersByEmail{
    "users_find_by_email",
    "SELECT k.email, " FIRSTSIP_USER_COLUMNS
    " FROM unnest($1::text[]) AS k(email) "
    "JOIN users u ON lower(u.email) = lower(k.email) AND u.delete_time IS NULL"};

constexpr db::Query kListUsers{
    "users_list",
    "SELECT " FIRSTSIP_USER_COLUMNS
    " FROM users u "
    "WHERE u.id > $1 AND ($2 OR u.delete_time IS NULL) AND ($3::text IS NULL OR u.role = $3) "
    "ORDER BY u.id LIMIT $4",
    db::Access::kRead};

// One statement: the UPDATE re-checks the revision on the latest row version (READ COMMITTED
// re-evaluates its WHERE after waiting for a concurrent writer), and when nothing was updated
// the second branch says why, from the same statement. The next briefing is computed afresh
// (from now) when the time zone or the time changes, on resuming, and when it was never
// computed (a user of the previous release's); pausing clears it; otherwise it stays.
constexpr db::Query kUpdateUser{
    "users_update",
    "WITH updated AS ("
    "  UPDATE users SET email = coalesce($3, email), name = coalesce($4, name),"
    "    timezone = coalesce($5::text, timezone),"
    "    preferred_briefing_time = coalesce($6::text, preferred_briefing_time),"
    "    role = coalesce($7, role), briefings_paused = coalesce($8::bool, briefings_paused),"
    "    next_briefing_time = CASE WHEN coalesce($8::bool, briefings_paused) THEN NULL"
    "      WHEN briefings_paused OR next_briefing_time IS NULL"
    "        OR coalesce($5::text, timezone) <> timezone"
    "        OR coalesce($6::text, preferred_briefing_time) <> preferred_briefing_time"
    "      THEN " FIRSTSIP_NEXT_BRIEFING_TIME("coalesce($5::text, timezone)",
                                             "coalesce($6::text, preferred_briefing_time)",
                                             "now()") " ELSE next_briefing_time END,"
    "    revision = revision + 1, update_time = now()"
    "  WHERE id = $1 AND delete_time IS NULL AND ($2::int8 IS NULL OR revision = $2)"
    "  RETURNING *) "
    "SELECT 'updated' AS outcome, " FIRSTSIP_USER_COLUMNS
    " FROM updated u "
    "UNION ALL "
    "SELECT 'stale', " FIRSTSIP_USER_COLUMNS
    " FROM users u "
    "WHERE u.id = $1 AND u.delete_time IS NULL AND NOT EXISTS (SELECT 1 FROM updated)"};

// A deleted user has no next briefing; undeleting schedules the next one from now.
constexpr db::Query kDeleteUser{
    "users_delete",
    "UPDATE users u SET delete_time = now(), update_time = now(), revision = revision + 1, "
    "next_briefing_time = NULL "
    "WHERE u.id = $1 AND u.delete_time IS NULL RETURNING " FIRSTSIP_USER_COLUMNS};

constexpr db::Query kUndeleteUser{
    "users_undelete",
    "WITH undeleted AS ("
    "  UPDATE users SET delete_time = NULL, update_time = now(), revision = revision + 1,"
    "    next_briefing_time = CASE WHEN briefings_paused THEN NULL ELSE " FIRSTSIP_NEXT_BRIEFING_TIME(
        "timezone", "preferred_briefing_time", "now()") " END"
    "  WHERE id = $1 AND delete_time IS NOT NULL RETURNING *) "
    "SELECT 'undeleted' AS outcome, " FIRSTSIP_USER_COLUMNS
    " FROM undeleted u "
    "UNION ALL "
    "SELECT 'live', " FIRSTSIP_USER_COLUMNS
    " FROM users u "
    "WHERE u.id = $1 AND NOT EXISTS (SELECT 1 FROM undeleted)"};

constexpr char kLiveEmailIndex[] = "users_live_email_key";

absl::Status NotFound(int64_t id) {
  return absl::NotFoundError(absl::StrCat("user ", id, " not found"));
}

// Unique-email violations and time zones the database does not know become messages a caller
// can act on; other errors pass through.
absl::Status Explain(absl::Status status) {
  if (status.code() == absl::StatusCode::kAlreadyExists &&
      db::ConstraintOf(status) == kLiveEmailIndex) {
    return absl::AlreadyExistsError("a live user already has this email (case-insensitively)");
  }
  // 22023 invalid_parameter_value: of what these statements compute, only the time arithmetic
  // raises it ("time zone ... not recognized").
  if (db::SqlStateOf(status) == "22023") {
    return absl::InvalidArgumentError(
        "user.timezone: the database does not know this time zone (its time zone data is older "
        "than the service's); choose another name for the same zone, or update the database "
        "server's tzdata");
  }
  return status;
}

// A callback for statements that return at most one user; no row means `if_none`.
db::ResultCallback OneUser(absl::Status if_none, Done<v1::User> done) {
  return [if_none = std::move(if_none),
          done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
    if (!result.ok()) return std::move(done)(Explain(std::move(result).status()));
    std::move(done)(FirstRow(*result, &UserFromRow, if_none));
  };
}

}  // namespace

void UserStore::Create(const logic::NewUser& user, const db::CallOptions& call,
                       Done<v1::User> done) {
  db::Params params;
  params.Add(user.email)
      .Add(user.name)
      .Add(user.timezone)
      .Add(user.preferred_briefing_time)
      .Add(user.role)
      .Add(user.briefings_paused);
  primary_.Execute(
      kCreateUser, std::move(params), call,
      OneUser(absl::InternalError("insert returned no row"), TellingDue(due_, std::move(done))));
}

void UserStore::Get(int64_t id, bool show_deleted, const db::CallOptions& call,
                    Done<v1::User> done) {
  reads_.Find(
      queries::kFindUsers, absl::StrCat(id), call,
      [id, show_deleted, done = std::move(done)](absl::StatusOr<db::LookupRow> found) mutable {
        absl::StatusOr<v1::User> user = FoundRow(found, &UserFromRow, NotFound(id));
        if (user.ok() && user->has_delete_time() && !show_deleted) user = NotFound(id);
        std::move(done)(std::move(user));
      });
}

void UserStore::GetByEmail(const std::string& email, const db::CallOptions& call,
                           Done<v1::User> done) {
  reads_.Find(kFindUsersByEmail, email, call,
              [done = std::move(done)](absl::StatusOr<db::LookupRow> found) mutable {
                std::move(done)(FoundRow(found, &UserFromRow,
                                         absl::NotFoundError("no live user has this email")));
              });
}

void UserStore::List(const UserListQuery& query, const db::CallOptions& call,
                     Done<std::vector<v1::User>> done) {
  db::Params params;
  params.Add(query.after_id).Add(query.show_deleted).Add(query.role).Add(query.limit);
  reads_.Execute(kListUsers, std::move(params), call,
                 [done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
                   if (!result.ok()) return std::move(done)(std::move(result).status());
                   std::move(done)(UsersFromResult(*result));
                 });
}

void UserStore::Update(int64_t id, const logic::UserPatch& patch, const db::CallOptions& call,
                       Done<v1::User> done) {
  db::Params params;
  params.Add(id)
      .Add(patch.expected_revision)
      .Add(patch.email)
      .Add(patch.name)
      .Add(patch.timezone)
      .Add(patch.preferred_briefing_time)
      .Add(patch.role)
      .Add(patch.briefings_paused);
  primary_.Execute(
      kUpdateUser, std::move(params), call,
      [id, done = TellingDue(due_, std::move(done))](absl::StatusOr<db::Result> result) mutable {
        if (!result.ok()) return std::move(done)(Explain(std::move(result).status()));
        if (result->rows() == 0) return std::move(done)(NotFound(id));
        if (result->Text(0, result->Column("outcome")) == "stale") {
          return std::move(done)(absl::AbortedError(
              "user.etag: the user changed since this etag was issued; read it again and retry"));
        }
        std::move(done)(FirstRow(*result, &UserFromRow, NotFound(id)));
      });
}

void UserStore::Delete(int64_t id, const db::CallOptions& call, Done<v1::User> done) {
  db::Params params;
  params.Add(id);
  primary_.Execute(kDeleteUser, std::move(params), call, OneUser(NotFound(id), std::move(done)));
}

void UserStore::Undelete(int64_t id, const db::CallOptions& call, Done<v1::User> done) {
  db::Params params;
  params.Add(id);
  primary_.Execute(
      kUndeleteUser, std::move(params), call,
      [id, done = TellingDue(due_, std::move(done))](absl::StatusOr<db::Result> result) mutable {
        if (!result.ok()) return std::move(done)(Explain(std::move(result).status()));
        if (result->rows() == 0) return std::move(done)(NotFound(id));
        if (result->Text(0, result->Column("outcome")) == "live") {
          return std::move(done)(
              absl::FailedPreconditionError(absl::StrCat("user ", id, " is not deleted")));
        }
        std::move(done)(FirstRow(*result, &UserFromRow, NotFound(id)));
      });
}

}  // namespace firstsip::storage
