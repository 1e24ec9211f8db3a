#include "storage/user_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "db/sql_error.h"
#include "storage/rows.h"

namespace firstsip::storage {
namespace {

constexpr db::Query kCreateUser{
    "users_create",
    "INSERT INTO users AS u (email, name, timezone, preferred_briefing_time, role) "
    "VALUES ($1, $2, $3, $4, $5) RETURNING " FIRSTSIP_USER_COLUMNS};

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
// the second branch says why, from the same statement.
constexpr db::Query kUpdateUser{
    "users_update",
    "WITH updated AS ("
    "  UPDATE users SET email = coalesce($3, email), name = coalesce($4, name),"
    "    timezone = coalesce($5, timezone),"
    "    preferred_briefing_time = coalesce($6, preferred_briefing_time),"
    "    role = coalesce($7, role), revision = revision + 1, update_time = now()"
    "  WHERE id = $1 AND delete_time IS NULL AND ($2::int8 IS NULL OR revision = $2)"
    "  RETURNING *) "
    "SELECT 'updated' AS outcome, " FIRSTSIP_USER_COLUMNS
    " FROM updated u "
    "UNION ALL "
    "SELECT 'stale', " FIRSTSIP_USER_COLUMNS
    " FROM users u "
    "WHERE u.id = $1 AND u.delete_time IS NULL AND NOT EXISTS (SELECT 1 FROM updated)"};

constexpr db::Query kDeleteUser{
    "users_delete",
    "UPDATE users u SET delete_time = now(), update_time = now(), revision = revision + 1 "
    "WHERE u.id = $1 AND u.delete_time IS NULL RETURNING " FIRSTSIP_USER_COLUMNS};

constexpr db::Query kUndeleteUser{
    "users_undelete",
    "WITH undeleted AS ("
    "  UPDATE users SET delete_time = NULL, update_time = now(), revision = revision + 1"
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

// Unique-email violations become a message a caller can act on; other errors pass through.
absl::Status Explain(absl::Status status) {
  if (status.code() == absl::StatusCode::kAlreadyExists &&
      db::ConstraintOf(status) == kLiveEmailIndex) {
    return absl::AlreadyExistsError("a live user already has this email (case-insensitively)");
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
      .Add(user.role);
  primary_.Execute(kCreateUser, std::move(params), call,
                   OneUser(absl::InternalError("insert returned no row"), std::move(done)));
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
      .Add(patch.role);
  primary_.Execute(
      kUpdateUser, std::move(params), call,
      [id, done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
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
  primary_.Execute(kUndeleteUser, std::move(params), call,
                   [id, done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
                     if (!result.ok()) return std::move(done)(Explain(std::move(result).status()));
                     if (result->rows() == 0) return std::move(done)(NotFound(id));
                     if (result->Text(0, result->Column("outcome")) == "live") {
                       return std::move(done)(absl::FailedPreconditionError(
                           absl::StrCat("user ", id, " is not deleted")));
                     }
                     std::move(done)(FirstRow(*result, &UserFromRow, NotFound(id)));
                   });
}

}  // namespace firstsip::storage
