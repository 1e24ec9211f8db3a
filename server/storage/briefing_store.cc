#include "storage/briefing_store.h"

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "db/sql_error.h"
#include "logic/briefing_rules.h"
#include "storage/rows.h"

namespace firstsip::storage {
namespace {

constexpr int kCreateAttempts = 3;

// A status transition as one statement. `target` locks the briefing only when it is live and
// in the starting status (FOR UPDATE re-checks the WHERE on the newest row version, so
// concurrent transitions cannot both win); then the owner's change_seq is bumped and the
// briefing updated. When nothing changed, the second branch reports the current row so the
// caller can name its status.
#define FIRSTSIP_TRANSITION(set, from, user_set, kind) \
  "WITH target AS (SELECT id, user_id FROM briefings WHERE id = $1 AND delete_time IS NULL " \
  "AND " from " FOR UPDATE), " FIRSTSIP_BUMP_CHANGE_SEQ(user_set, "", kind) ", "             \
  "changed AS (UPDATE briefings b SET " set                                                  \
  ", update_time = now() FROM bump WHERE b.id = $1 RETURNING b.*), "                         \
  FIRSTSIP_LOG_CHANGE("changed") " "                                                         \
  "SELECT 'changed' AS outcome, " FIRSTSIP_BRIEFING_COLUMNS ", " FIRSTSIP_NOTICE             \
  " FROM changed b "                                                                         \
  "UNION ALL "                                                                               \
  "SELECT 'unchanged', " FIRSTSIP_BRIEFING_COLUMNS ", NULL"                                  \
  " FROM briefings b "                                                                       \
  "WHERE b.id = $1 AND b.delete_time IS NULL AND NOT EXISTS (SELECT 1 FROM changed)"

constexpr db::Query kStartBriefing{
    "briefings_start",
    FIRSTSIP_TRANSITION(
        "status = 'processing', lease_expire_time = now() + " FIRSTSIP_MICROS_INTERVAL("$2"),
        "status = 'pending'", "", FIRSTSIP_LEASED_KIND("$2"))};

// The user's last_briefing_at moves in the same statement, hence the same transaction. Content
// goes to the jsonb column only; content_proto is left as it is (NULL: a briefing is completed
// once) and is not named, so dropping it later cannot break this statement (see rows.h).
constexpr db::Query kCompleteBriefing{
    "briefings_complete",
    FIRSTSIP_TRANSITION("status = 'completed', content = $2::jsonb, lease_expire_time = NULL",
                        "status = 'processing'", ", last_briefing_at = now()", "'x'")};

constexpr db::Query kFailBriefing{
    "briefings_fail",
    FIRSTSIP_TRANSITION("status = 'failed', error_message = $2, lease_expire_time = NULL",
                        "status = 'processing'", "", "'x'")};

// read_at is set once: a briefing already read is not changed (and nothing is announced).
constexpr db::Query kMarkBriefingRead{
    "briefings_mark_read",
    FIRSTSIP_TRANSITION("read_at = now()", "status = 'completed' AND read_at IS NULL", "", "'x'")};

constexpr db::Lookup kFindBriefings{
    "briefings_find", "SELECT " FIRSTSIP_BRIEFING_COLUMNS
                      " FROM briefings b WHERE b.id = ANY($1::int8[]) AND b.delete_time IS NULL"};

constexpr db::Query kDeleteBriefing{
    "briefings_delete",
    "WITH target AS (SELECT id, user_id FROM briefings WHERE id = $1 AND delete_time IS NULL "
    "FOR UPDATE), " FIRSTSIP_BUMP_CHANGE_SEQ("", "", "'x'") ", "
    "changed AS (UPDATE briefings b SET delete_time = now(), update_time = now() "
    "FROM bump WHERE b.id = $1 RETURNING b.*), " FIRSTSIP_LOG_CHANGE("changed") " "
    "SELECT " FIRSTSIP_NOTICE " FROM changed"};

absl::Status BriefingNotFound(int64_t id) {
  return absl::NotFoundError(absl::StrCat("briefing ", id, " not found"));
}

}  // namespace

void BriefingStore::Create(int64_t user_id, const std::optional<std::string>& request_id,
                           const db::CallOptions& call, Done<v1::Briefing> done) {
  db::Params params;
  params.Add(user_id).Add(request_id);
  RunCreate(std::move(params), call, 1, std::move(done));
}

void BriefingStore::RunCreate(db::Params params, const db::CallOptions& call, int attempt,
                              Done<v1::Briefing> done) {
  db::Params retry = params;
  primary_.Execute(queries::kCreateBriefing, std::move(params), call,
                   [this, retry = std::move(retry), call, attempt,
                    done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
                     if (!result.ok()) {
                       if (db::ConstraintOf(result.status()) == "briefings_user_request_id_key" &&
                           attempt < kCreateAttempts) {
                         return RunCreate(std::move(retry), call, attempt + 1, std::move(done));
                       }
                       return std::move(done)(result.status());
                     }
                     AnnounceFrom(*result);
                     std::move(done)(FirstRow(*result, &BriefingFromRow,
                                              absl::NotFoundError("user not found (or deleted)")));
                   });
}

void BriefingStore::Get(int64_t id, const db::CallOptions& call, Done<v1::Briefing> done) {
  reads_.Find(kFindBriefings, absl::StrCat(id), call,
              [id, done = std::move(done)](absl::StatusOr<db::LookupRow> found) mutable {
                std::move(done)(FoundRow(found, &BriefingFromRow, BriefingNotFound(id)));
              });
}

void BriefingStore::List(const BriefingListQuery& query, const db::CallOptions& call,
                         Done<BriefingPage> done) {
  db::Params params;
  params.Add(query.user_id)
      .Add(query.before_id.value_or(std::numeric_limits<int64_t>::max()))
      .Add(query.status)
      .Add(query.unread_only)
      .Add(query.limit);
  reads_.Execute(
      queries::kListBriefings, std::move(params), call,
      [user_id = query.user_id, done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
        if (!result.ok()) return std::move(done)(result.status());
        if (result->rows() == 0) {
          return std::move(done)(absl::NotFoundError(absl::StrCat("user ", user_id, " not found")));
        }
        BriefingPage page;
        absl::StatusOr<int64_t> change_seq = result->Int64(0, result->Column("user_change_seq"));
        if (!change_seq.ok()) return std::move(done)(change_seq.status());
        page.change_seq = *change_seq;
        if (!result->IsNull(0, result->Column("id"))) {
          absl::StatusOr<std::vector<v1::Briefing>> briefings = BriefingsFromResult(*result);
          if (!briefings.ok()) return std::move(done)(briefings.status());
          page.briefings = *std::move(briefings);
        }
        std::move(done)(std::move(page));
      });
}

void BriefingStore::Transition(const db::Query& query, int64_t id, db::Params params,
                               const char* rpc, v1::BriefingStatus from, bool unchanged_ok,
                               const db::CallOptions& call, Done<v1::Briefing> done) {
  primary_.Execute(
      query, std::move(params), call,
      [this, id, rpc, from, unchanged_ok,
       done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
        if (!result.ok()) return std::move(done)(result.status());
        AnnounceFrom(*result);
        absl::StatusOr<v1::Briefing> briefing =
            FirstRow(*result, &BriefingFromRow, BriefingNotFound(id));
        if (!briefing.ok()) return std::move(done)(briefing.status());
        const bool changed = result->Text(0, result->Column("outcome")) == "changed";
        if (!changed && !(unchanged_ok && briefing->status() == from)) {
          return std::move(done)(absl::FailedPreconditionError(absl::StrCat(
              "briefing ", briefing->id(), " is ", logic::StatusName(briefing->status()), "; ", rpc,
              " needs ", logic::StatusName(from))));
        }
        std::move(done)(std::move(briefing));
      });
}

void BriefingStore::Start(int64_t id, const db::CallOptions& call, Done<v1::Briefing> done) {
  db::Params params;
  params.Add(id).Add(absl::ToInt64Microseconds(logic::kDefaultLease));
  Transition(kStartBriefing, id, std::move(params), "StartBriefing", v1::BRIEFING_STATUS_PENDING,
             false, call, std::move(done));
}

void BriefingStore::Complete(int64_t id, const std::string& content_json,
                             const db::CallOptions& call, Done<v1::Briefing> done) {
  db::Params params;
  params.Add(id).Add(content_json);
  Transition(kCompleteBriefing, id, std::move(params), "CompleteBriefing",
             v1::BRIEFING_STATUS_PROCESSING, false, call, std::move(done));
}

void BriefingStore::Fail(int64_t id, const std::string& error_message, const db::CallOptions& call,
                         Done<v1::Briefing> done) {
  db::Params params;
  params.Add(id).Add(error_message);
  Transition(kFailBriefing, id, std::move(params), "FailBriefing", v1::BRIEFING_STATUS_PROCESSING,
             false, call, std::move(done));
}

void BriefingStore::MarkRead(int64_t id, const db::CallOptions& call, Done<v1::Briefing> done) {
  db::Params params;
  params.Add(id);
  Transition(kMarkBriefingRead, id, std::move(params), "MarkBriefingRead",
             v1::BRIEFING_STATUS_COMPLETED, true, call, std::move(done));
}

void BriefingStore::Delete(int64_t id, const db::CallOptions& call, Done<bool> done) {
  db::Params params;
  params.Add(id);
  primary_.Execute(kDeleteBriefing, std::move(params), call,
                   [this, id, done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
                     if (!result.ok()) return std::move(done)(result.status());
                     if (result->rows() == 0) return std::move(done)(BriefingNotFound(id));
                     AnnounceFrom(*result);
                     std::move(done)(true);
                   });
}

void BriefingStore::ClaimNext(absl::Duration lease, const db::CallOptions& call,
                              Done<std::optional<v1::Briefing>> done) {
  db::Params params;
  params.Add(absl::ToInt64Microseconds(lease));
  primary_.Execute(queries::kClaimNextBriefing, std::move(params), call,
                   [this, done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
                     if (!result.ok()) return std::move(done)(result.status());
                     AnnounceFrom(*result);
                     absl::StatusOr<std::vector<v1::Briefing>> briefings =
                         BriefingsFromResult(*result);
                     if (!briefings.ok()) return std::move(done)(briefings.status());
                     if (briefings->empty()) return std::move(done)(std::optional<v1::Briefing>());
                     std::move(done)(std::optional<v1::Briefing>(std::move(briefings->front())));
                   });
}

void BriefingStore::AnnounceFrom(const db::Result& result) const {
  if (!announce_ || result.rows() == 0) return;
  const int column = result.Column("notice");
  if (column < 0 || result.IsNull(0, column)) return;
  announce_(std::string(result.Text(0, column)));
}

}  // namespace firstsip::storage
