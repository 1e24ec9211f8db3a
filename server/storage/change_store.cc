#include "storage/change_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/briefing_store.h"
#include "storage/rows.h"

namespace firstsip::storage {
namespace {

// Where a user's feed stands, and whether a resume token's change is still logged (retention
// deletes oldest first, so every later one is too) (retention deletes oldest first, so every
// later one is too). A token at 0 names the start of a feed, which nothing deletes.
constexpr db::Query kPosition{
    "changes_position",
    "SELECT u.change_seq, $2::int8 = 0 OR EXISTS (SELECT 1 FROM briefing_changes c "
    "  WHERE c.user_id = u.id AND c.change_seq = $2) AS kept "
    "FROM users u WHERE u.id = $1 AND u.delete_time IS NULL",
    db::Access::kRead};

// Walks the primary key (user_id, change_seq). A change shows the briefing's content only from
// completion on, and its error message only when it failed: both are written once.
constexpr db::Query kChangesAfter{
    "changes_after",
    "SELECT b.id, b.user_id, c.status, "
    "  CASE WHEN c.status = 'completed' THEN b.content END AS content, "
    "  CASE WHEN c.status = 'failed' THEN b.error_message ELSE '' END AS error_message, "
    "  (extract(epoch FROM c.read_at) * 1000000)::int8 AS read_at_us, "
    "  (extract(epoch FROM b.create_time) * 1000000)::int8 AS create_time_us, "
    "  (extract(epoch FROM c.update_time) * 1000000)::int8 AS update_time_us, "
    "  (extract(epoch FROM c.delete_time) * 1000000)::int8 AS delete_time_us, c.change_seq "
    "FROM briefing_changes c JOIN briefings b ON b.id = c.briefing_id "
    "WHERE c.user_id = $1 AND c.change_seq > $2 ORDER BY c.change_seq LIMIT $3",
    db::Access::kRead};

// Oldest first through the BRIN index on change_time; one replica at a time (the lock is the
// transaction's, so it goes with the statement).
constexpr db::Query kPrune{
    "changes_prune",
    "WITH turn AS (SELECT pg_try_advisory_xact_lock(hashtext('firstsip.briefing_changes.prune')) "
    "  AS mine), "
    "doomed AS (SELECT user_id, change_seq FROM briefing_changes "
    "  WHERE change_time < now() - " FIRSTSIP_MICROS_INTERVAL("$1") " AND (SELECT mine FROM turn) "
    "  LIMIT $2) "
    "DELETE FROM briefing_changes c USING doomed d "
    "WHERE c.user_id = d.user_id AND c.change_seq = d.change_seq"};

constexpr db::Query kAnnounce{"changes_announce",
                              "SELECT count(pg_notify('" FIRSTSIP_CHANGES_CHANNEL
                              "', n)) "
                              "FROM unnest(string_to_array($1, E'\\n')) AS n"};

// Through the BRIN index on change_time.
constexpr db::Query kRecentlyChanged{
    "changes_recent",
    "SELECT user_id, max(change_seq) FROM briefing_changes "
    "WHERE change_time > now() - " FIRSTSIP_MICROS_INTERVAL("$1") " GROUP BY user_id",
    db::Access::kRead};

// Through the BRIN index on erase_time (migration 000008).
constexpr db::Query kRecentlyErased{
    "changes_recently_erased",
    "SELECT id FROM erased_users WHERE erase_time > now() - " FIRSTSIP_MICROS_INTERVAL("$1")};

// Walks briefings_lease_idx.
constexpr db::Query kNextLeaseExpiry{
    "changes_next_lease_expiry",
    "SELECT (extract(epoch FROM min(lease_expire_time)) * 1000000)::int8 AS expiry_us "
    "FROM briefings WHERE status = 'processing' AND delete_time IS NULL",
    db::Access::kRead};

}  // namespace

void ChangeStore::Position(int64_t user_id, std::optional<int64_t> resume_from,
                           const db::CallOptions& call, Done<int64_t> done) {
  db::Params params;
  params.Add(user_id).Add(resume_from.value_or(0));
  primary_.Execute(
      kPosition, std::move(params), call,
      [user_id, resume_from, done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
        if (!result.ok()) return std::move(done)(result.status());
        if (result->rows() == 0) {
          return std::move(done)(absl::NotFoundError(absl::StrCat("user ", user_id, " not found")));
        }
        absl::StatusOr<int64_t> current = result->Int64(0, 0);
        absl::StatusOr<bool> kept = result->Bool(0, 1);
        if (!current.ok()) return std::move(done)(current.status());
        if (!kept.ok()) return std::move(done)(kept.status());
        if (resume_from.has_value() && *resume_from > *current) {
          return std::move(done)(absl::OutOfRangeError(
              "resume_token: the token is ahead of the database (was it restored from a "
              "backup?); list afresh with ListBriefings and watch from its resume_token"));
        }
        if (resume_from.has_value() && !*kept) {
          return std::move(done)(absl::OutOfRangeError(
              "resume_token: the changes after this token are past the retention of the change "
              "feed; list afresh with ListBriefings and watch from its resume_token"));
        }
        std::move(done)(*current);
      });
}

void ChangeStore::ChangesAfter(int64_t user_id, int64_t after, int limit,
                               const db::CallOptions& call,
                               Done<std::vector<BriefingChange>> done) {
  db::Params params;
  params.Add(user_id).Add(after).Add(limit);
  primary_.Execute(
      kChangesAfter, std::move(params), call,
      [done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
        if (!result.ok()) return std::move(done)(result.status());
        absl::StatusOr<std::vector<v1::Briefing>> briefings = BriefingsFromResult(*result);
        if (!briefings.ok()) return std::move(done)(briefings.status());
        const int seq_column = result->Column("change_seq");
        std::vector<BriefingChange> changes(briefings->size());
        for (size_t row = 0; row < changes.size(); ++row) {
          absl::StatusOr<int64_t> seq = result->Int64(static_cast<int>(row), seq_column);
          if (!seq.ok()) return std::move(done)(seq.status());
          changes[row].briefing = std::move((*briefings)[row]);
          changes[row].change_seq = *seq;
        }
        std::move(done)(std::move(changes));
      });
}

void ChangeStore::Prune(absl::Duration retention, int batch, const db::CallOptions& call,
                        Done<int> done) {
  db::Params params;
  params.Add(absl::ToInt64Microseconds(retention)).Add(batch);
  primary_.Execute(kPrune, std::move(params), call,
                   [done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
                     if (!result.ok()) return std::move(done)(result.status());
                     std::move(done)(static_cast<int>(result->affected_rows()));
                   });
}

void ChangeStore::Announce(const std::vector<std::string>& notices, const db::CallOptions& call,
                           Done<bool> done) {
  db::Params params;
  params.Add(absl::StrJoin(notices, "\n"));
  primary_.Execute(kAnnounce, std::move(params), call,
                   [done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
                     if (!result.ok()) return std::move(done)(result.status());
                     std::move(done)(true);
                   });
}

void ChangeStore::RecentlyChanged(absl::Duration window, const db::CallOptions& call,
                                  Done<std::vector<std::pair<int64_t, int64_t>>> done) {
  db::Params params;
  params.Add(absl::ToInt64Microseconds(window));
  primary_.Execute(kRecentlyChanged, std::move(params), call,
                   [done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
                     if (!result.ok()) return std::move(done)(result.status());
                     std::vector<std::pair<int64_t, int64_t>> users;
                     users.reserve(result->rows());
                     for (int row = 0; row < result->rows(); ++row) {
                       absl::StatusOr<int64_t> user = result->Int64(row, 0);
                       absl::StatusOr<int64_t> seq = result->Int64(row, 1);
                       if (!user.ok() || !seq.ok()) {
                         return std::move(done)(user.ok() ? seq.status() : user.status());
                       }
                       users.emplace_back(*user, *seq);
                     }
                     std::move(done)(std::move(users));
                   });
}

void ChangeStore::RecentlyErased(absl::Duration window, const db::CallOptions& call,
                                 Done<std::vector<int64_t>> done) {
  db::Params params;
  params.Add(absl::ToInt64Microseconds(window));
  primary_.Execute(kRecentlyErased, std::move(params), call,
                   [done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
                     if (!result.ok()) return std::move(done)(result.status());
                     std::vector<int64_t> users;
                     users.reserve(result->rows());
                     for (int row = 0; row < result->rows(); ++row) {
                       absl::StatusOr<int64_t> user = result->Int64(row, 0);
                       if (!user.ok()) return std::move(done)(user.status());
                       users.push_back(*user);
                     }
                     std::move(done)(std::move(users));
                   });
}

void ChangeStore::NextLeaseExpiry(const db::CallOptions& call,
                                  Done<std::optional<absl::Time>> done) {
  primary_.Execute(kNextLeaseExpiry, db::Params(), call,
                   [done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
                     if (!result.ok()) return std::move(done)(result.status());
                     absl::StatusOr<std::optional<int64_t>> micros = result->OptionalInt64(0, 0);
                     if (!micros.ok()) return std::move(done)(micros.status());
                     if (!micros->has_value()) return std::move(done)(std::optional<absl::Time>());
                     std::move(done)(std::optional<absl::Time>(absl::FromUnixMicros(**micros)));
                   });
}

}  // namespace firstsip::storage
