#include "storage/lifecycle_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "storage/rows.h"

namespace firstsip::storage {
namespace {

// firstsip_erase_user (migration 000008): the user's row locked first, then its rows without
// waiting; see the function's comment for why.
constexpr db::Query kEraseUser{
    "lifecycle_erase_user",
    "SELECT outcome, erase_time_us, notice FROM firstsip_erase_user($1, $2)"};

constexpr db::Query kEraseDeletedUsers{"lifecycle_erase_deleted_users",
                                       "SELECT user_id, notice FROM firstsip_erase_deleted_users("
                                       "now() - " FIRSTSIP_MICROS_INTERVAL("$1") ", $2)"};

constexpr db::Query kRemoveOldBriefings{
    "lifecycle_remove_old_briefings",
    "SELECT removed_briefings, removed_changes FROM firstsip_remove_old_briefings("
    "now() - " FIRSTSIP_MICROS_INTERVAL("$1") ", $2)"};

// One statement, so one snapshot, for the whole export: the user's row (part 0), its
// identities (part 1) and its briefings, live and soft-deleted (part 2, through
// briefings_user_id_idx). The parts share one column list (each fills its own columns, the rest are
// NULL), named as storage/rows.h maps them; sort_key orders rows within a part. Never the
// tokens, only whether each is stored.
// The user's columns between id and create_time_us.
#define FIRSTSIP_NO_USER_COLUMNS \
  "NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::int8, NULL::int8, NULL::int8"
// The user's last two columns (next_briefing_time_us, briefings_paused).
#define FIRSTSIP_NO_SCHEDULE_COLUMNS "NULL::int8, NULL::bool"
#define FIRSTSIP_NO_IDENTITY_COLUMNS                                                  \
  "NULL::int8 AS identity_id, NULL::int8 AS identity_user_id, NULL::text AS "         \
  "identity_provider, NULL::text AS identity_provider_user_id, NULL::int8 AS "        \
  "identity_token_expiry_us, NULL::bool AS identity_has_access_token, NULL::bool AS " \
  "identity_has_refresh_token, NULL::int8 AS identity_create_time_us, NULL::int8 AS " \
  "identity_update_time_us"
#define FIRSTSIP_EXPORT_BRIEFINGS                                                      \
  "SELECT 2, b.id, NULL, b.id, " FIRSTSIP_NO_USER_COLUMNS                              \
  ", "                                                                                 \
  "(extract(epoch FROM b.create_time) * 1000000)::int8, "                              \
  "(extract(epoch FROM b.update_time) * 1000000)::int8, "                              \
  "(extract(epoch FROM b.delete_time) * 1000000)::int8, " FIRSTSIP_NO_SCHEDULE_COLUMNS \
  ", " FIRSTSIP_NO_IDENTITY_COLUMNS                                                    \
  ", "                                                                                 \
  "b.user_id, b.status, b.content, b.error_message, "                                  \
  "(extract(epoch FROM b.read_at) * 1000000)::int8 "                                   \
  "FROM briefings b WHERE b.user_id = $1"
constexpr db::Query kExportUser{
    "lifecycle_export_user",
    "SELECT 0 AS part, u.id AS sort_key, (extract(epoch FROM now()) * 1000000)::int8 AS "
    "snapshot_us, " FIRSTSIP_USER_COLUMNS ", " FIRSTSIP_NO_IDENTITY_COLUMNS
    ", "
    "NULL::int8 AS user_id, NULL::text AS status, NULL::jsonb AS content, "
    "NULL::text AS error_message, NULL::int8 AS read_at_us "
    "FROM users u WHERE u.id = $1 "
    "UNION ALL "
    "SELECT 1, i.id, NULL, NULL, " FIRSTSIP_NO_USER_COLUMNS
    ", NULL, NULL, NULL, " FIRSTSIP_NO_SCHEDULE_COLUMNS ", " FIRSTSIP_IDENTITY_COLUMNS
    ", NULL, NULL, NULL, NULL, NULL "
    "FROM auth_identities i WHERE i.user_id = $1 "
    "UNION ALL " FIRSTSIP_EXPORT_BRIEFINGS};

absl::Status UserNotFound(int64_t id) {
  return absl::NotFoundError(absl::StrCat("user ", id, " not found"));
}

}  // namespace

absl::StatusOr<std::vector<v1::Briefing>> BriefingsAt(const UserExport& data, size_t first,
                                                      size_t count) {
  first = std::min(first, data.briefing_rows.size());
  count = std::min(count, data.briefing_rows.size() - first);
  return BriefingsFromRows(data.rows,
                           absl::MakeConstSpan(data.briefing_rows).subspan(first, count));
}

void LifecycleStore::Erase(int64_t id, int64_t revision, const db::CallOptions& call,
                           Done<bool> done) {
  db::Params params;
  params.Add(id).Add(revision);
  primary_.Execute(
      kEraseUser, std::move(params), call,
      [this, id, done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
        if (!result.ok()) return std::move(done)(result.status());
        if (result->rows() != 1) {
          return std::move(done)(absl::InternalError("erase returned no outcome"));
        }
        absl::string_view outcome = result->Text(0, 0);
        if (outcome == "missing") return std::move(done)(UserNotFound(id));
        if (outcome == "erased_before") {
          absl::StatusOr<int64_t> micros = result->Int64(0, 1);
          return std::move(done)(absl::NotFoundError(absl::StrCat(
              "user ", id, " was erased",
              micros.ok() ? absl::StrCat(" at ", absl::FormatTime(absl::RFC3339_sec,
                                                                  absl::FromUnixMicros(*micros),
                                                                  absl::UTCTimeZone()))
                          : "")));
        }
        if (outcome == "stale") {
          return std::move(done)(absl::AbortedError(
              "etag: the user changed since this etag was issued; read it again and retry"));
        }
        AnnounceAll(*result, 2);
        std::move(done)(true);
      });
}

void LifecycleStore::EraseDeleted(absl::Time deleted_before, int limit, const db::CallOptions& call,
                                  Done<int> done) {
  db::Params params;
  params.Add(absl::ToInt64Microseconds(absl::Now() - deleted_before)).Add(limit);
  primary_.Execute(kEraseDeletedUsers, std::move(params), call,
                   [this, done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
                     if (!result.ok()) return std::move(done)(result.status());
                     AnnounceAll(*result, 1);
                     std::move(done)(result->rows());
                   });
}

void LifecycleStore::Export(int64_t id, const db::CallOptions& call, Done<UserExport> done) {
  db::Params params;
  params.Add(id);
  primary_.Execute(kExportUser, std::move(params), call,
                   [id, done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
                     if (!result.ok()) return std::move(done)(result.status());
                     // Rows by part, each part by its key: a UNION ALL promises no order, and
                     // sorting rows that carry content in PostgreSQL could spill to disk.
                     struct Key {
                       int64_t part;
                       int64_t sort_key;
                       int row;
                     };
                     std::vector<Key> keys;
                     keys.reserve(static_cast<size_t>(result->rows()));
                     for (int row = 0; row < result->rows(); ++row) {
                       absl::StatusOr<int64_t> part = result->Int64(row, 0);
                       absl::StatusOr<int64_t> sort_key = result->Int64(row, 1);
                       if (!part.ok()) return std::move(done)(part.status());
                       if (!sort_key.ok()) return std::move(done)(sort_key.status());
                       keys.push_back(Key{*part, *sort_key, row});
                     }
                     std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
                       return a.part != b.part ? a.part < b.part : a.sort_key < b.sort_key;
                     });
                     if (keys.empty() || keys.front().part != 0)
                       return std::move(done)(UserNotFound(id));
                     std::vector<int> identity_rows;
                     UserExport data;
                     for (const Key& key : keys) {
                       if (key.part == 1) identity_rows.push_back(key.row);
                       if (key.part == 2) data.briefing_rows.push_back(key.row);
                     }
                     const int user_row = keys.front().row;
                     absl::StatusOr<std::vector<v1::User>> users =
                         UsersFromRows(*result, absl::MakeConstSpan(&user_row, 1));
                     if (!users.ok()) return std::move(done)(users.status());
                     absl::StatusOr<std::vector<v1::AuthIdentity>> identities =
                         IdentitiesFromRows(*result, identity_rows);
                     if (!identities.ok()) return std::move(done)(identities.status());
                     absl::StatusOr<int64_t> snapshot_us = result->Int64(user_row, 2);
                     if (!snapshot_us.ok()) return std::move(done)(snapshot_us.status());
                     data.user = std::move(users->front());
                     data.identities = *std::move(identities);
                     data.snapshot_time = absl::FromUnixMicros(*snapshot_us);
                     data.rows = *std::move(result);
                     std::move(done)(std::move(data));
                   });
}

void LifecycleStore::RemoveOldBriefings(absl::Time created_before, int limit,
                                        const db::CallOptions& call, Done<RemovedBriefings> done) {
  db::Params params;
  params.Add(absl::ToInt64Microseconds(absl::Now() - created_before)).Add(limit);
  primary_.Execute(kRemoveOldBriefings, std::move(params), call,
                   [done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
                     if (!result.ok()) return std::move(done)(result.status());
                     RemovedBriefings removed;
                     if (result->rows() == 1) {
                       absl::StatusOr<int64_t> briefings = result->Int64(0, 0);
                       absl::StatusOr<int64_t> changes = result->Int64(0, 1);
                       if (!briefings.ok()) return std::move(done)(briefings.status());
                       if (!changes.ok()) return std::move(done)(changes.status());
                       removed.briefings = *briefings;
                       removed.changes = *changes;
                     }
                     std::move(done)(removed);
                   });
}

void LifecycleStore::AnnounceAll(const db::Result& result, int column) const {
  if (!announce_) return;
  for (int row = 0; row < result.rows(); ++row) {
    if (!result.IsNull(row, column)) announce_(std::string(result.Text(row, column)));
  }
}

}  // namespace firstsip::storage
