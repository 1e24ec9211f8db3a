// Storage for briefings: every status transition is one conditional UPDATE … RETURNING (never
// read-then-write), and the worker queue claims with FOR UPDATE SKIP LOCKED.
//
// Every statement that changes a briefing also feeds WatchBriefings (migration 000005): it
// bumps the owner's users.change_seq, logs the briefing's new state in briefing_changes under
// the new value and queues a NOTIFY, all in the same statement. Locks are always taken briefing
// first, then user (a create has no briefing to lock), so two changes never wait on each other in a
// cycle.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "db/call_options.h"
#include "db/executor.h"
#include "firstsip/v1/briefing.pb.h"
#include "storage/done.h"
#include "storage/rows.h"

// The channel every change to a briefing is announced on (push/change_feed.h reads it).
#define FIRSTSIP_CHANGES_CHANNEL "firstsip_briefing_changes"

// The change feed's part of a statement that changes a briefing. `target` (columns id, user_id)
// holds the briefing about to change, already locked, or no row when nothing will change.
// `bump` then bumps the owner's change_seq (plus `user_set`, more assignments to the user, and
// `where`, more conditions on it) and returns briefing_id, user_id, the new change_seq and the
// notice to announce once the change is committed, "<user_id> <change_seq> <sent_us> <kind>"
// (push/change_feed.h). The statement changes the briefing only when `bump` has a row, then
// logs the new state with FIRSTSIP_LOG_CHANGE, and returns the notice (FIRSTSIP_NOTICE).
//
// Why the statement does not NOTIFY itself: PostgreSQL serializes the commits of every
// transaction that notified (PreCommit_Notify holds one cluster-wide lock through the commit),
// which halved CreateBriefing's throughput. The service announces after the commit instead,
// many notices in one short transaction (push/change_announcer.h).
#define FIRSTSIP_BUMP_CHANGE_SEQ(user_set, where, kind)                                     \
  "bump AS (UPDATE users u SET change_seq = u.change_seq + 1" user_set                      \
  " FROM target t "                                                                         \
  "WHERE u.id = t.user_id" where                                                            \
  " RETURNING t.id AS briefing_id, u.id AS user_id, u.change_seq, " FIRSTSIP_CHANGE_NOTICE( \
      "u.id", "u.change_seq", kind) " AS notice)"

// The notice text of a change: "<user_id> <change_seq> <sent_us> <kind>".
#define FIRSTSIP_CHANGE_NOTICE(user_id, change_seq, kind) \
  user_id " || ' ' || " change_seq                        \
          " || ' ' "                                      \
          "|| (extract(epoch FROM clock_timestamp()) * 1000000)::int8 || ' ' || " kind

// The notice of the statement's change (NULL when it changed nothing), as column "notice".
#define FIRSTSIP_NOTICE "(SELECT notice FROM bump) AS notice"

// Logs the briefing rows of CTE `changed` (RETURNING b.*) as changed under bump.change_seq.
#define FIRSTSIP_LOG_CHANGE(changed)                                                       \
  "logged AS (INSERT INTO briefing_changes (user_id, change_seq, briefing_id, status, "    \
  "read_at, update_time, delete_time) SELECT c.user_id, bump.change_seq, c.id, c.status, " \
  "c.read_at, c.update_time, c.delete_time FROM " changed                                  \
  " c JOIN bump ON bump.user_id = c.user_id)"

// Notification kinds: 'p', a briefing became claimable (created); 'l <expiry>', a lease was
// taken that runs out at <expiry> (microseconds since the epoch); 'x', any other change.
#define FIRSTSIP_LEASED_KIND(lease_micros_param) \
  "'l ' || ((extract(epoch FROM now()) * 1000000)::int8 + " lease_micros_param "::int8)"

namespace firstsip::storage {

// The two statements whose plans matter most at scale, public so a test can EXPLAIN them.
namespace queries {

// The user row anchors the answer: no row means no such live user; a row with NULL briefing
// columns means an empty page. The lateral subquery walks briefings_user_list_idx. The user's
// change_seq, read in the same snapshot, is where a watch resumes to miss nothing after it.
inline constexpr db::Query kListBriefings{
    "briefings_list",
    "SELECT " FIRSTSIP_BRIEFING_COLUMNS
    ", u.change_seq AS user_change_seq FROM users u LEFT JOIN LATERAL ("
    "  SELECT * FROM briefings x WHERE x.user_id = u.id AND x.delete_time IS NULL AND x.id < $2"
    "    AND ($3::text IS NULL OR x.status = $3) AND (NOT $4 OR x.read_at IS NULL)"
    "  ORDER BY x.id DESC LIMIT $5) b ON true "
    "WHERE u.id = $1 AND u.delete_time IS NULL ORDER BY b.id DESC",
    db::Access::kRead};

// Candidates come from the two partial indexes (pending by id, expired leases by expiry),
// then the oldest one nobody else holds is locked and taken. SKIP LOCKED lets concurrent
// workers pass each other instead of queueing on the same row; the WHERE is re-checked after
// locking, so a briefing another worker just claimed is never taken twice.
inline constexpr db::Query kClaimNextBriefing{
    "briefings_claim_next",
    "WITH candidates AS ("
    "  (SELECT id FROM briefings WHERE status = 'pending' AND delete_time IS NULL"
    "   ORDER BY id LIMIT 64)"
    "  UNION ALL"
    "  (SELECT id FROM briefings WHERE status = 'processing' AND delete_time IS NULL"
    "   AND lease_expire_time < now() ORDER BY lease_expire_time LIMIT 64)"
    "), target AS ("
    "  SELECT x.id, x.user_id FROM briefings x JOIN candidates c ON c.id = x.id"
    "  WHERE x.delete_time IS NULL AND (x.status = 'pending'"
    "    OR (x.status = 'processing' AND x.lease_expire_time < now()))"
    "  ORDER BY x.id LIMIT 1 FOR UPDATE OF x SKIP LOCKED"
    "), " FIRSTSIP_BUMP_CHANGE_SEQ("", "", FIRSTSIP_LEASED_KIND("$1")) ", "
    "changed AS (UPDATE briefings b SET status = 'processing', update_time = now(),"
    "  lease_expire_time = now() + " FIRSTSIP_MICROS_INTERVAL("$1") " "
    "  FROM bump WHERE b.id = bump.briefing_id RETURNING b.*), " FIRSTSIP_LOG_CHANGE("changed") " "
    "SELECT " FIRSTSIP_BRIEFING_COLUMNS ", " FIRSTSIP_NOTICE " FROM changed b"};

// No ON CONFLICT: a concurrent create with the same request_id makes this statement fail on
// the unique index (its change_seq bump is rolled back with it), and the retry finds the
// winner's row as `existing`. A create answered from `existing` changes nothing, so it bumps
// and notifies nothing.
inline constexpr db::Query kCreateBriefing{
    "briefings_create",
    "WITH owner AS (SELECT id FROM users WHERE id = $1 AND delete_time IS NULL), "
    "existing AS (SELECT * FROM briefings WHERE $2::text IS NOT NULL AND user_id = $1 "
    "  AND request_id = $2 AND EXISTS (SELECT 1 FROM owner)), "
    "target AS (SELECT NULL::int8 AS id, id AS user_id FROM owner "
    "  WHERE NOT EXISTS (SELECT 1 FROM existing)), " FIRSTSIP_BUMP_CHANGE_SEQ(
        "", " AND u.delete_time IS NULL", "'p'") ", "
    "inserted AS (INSERT INTO briefings (user_id, request_id) "
    "  SELECT user_id, $2 FROM bump RETURNING *), " FIRSTSIP_LOG_CHANGE("inserted") " "
    "SELECT " FIRSTSIP_BRIEFING_COLUMNS ", " FIRSTSIP_NOTICE
    " FROM inserted b "
    "UNION ALL SELECT " FIRSTSIP_BRIEFING_COLUMNS ", NULL FROM existing b"};

}  // namespace queries

struct BriefingListQuery {
  int64_t user_id = 0;
  std::optional<int64_t> before_id;  // keyset cursor: ids below it (newest first)
  int limit = 50;
  std::optional<std::string> status;  // stored form; unset: every status
  bool unread_only = false;
};

// A page of a listing and where the user's change feed stood in the snapshot it was read from.
struct BriefingPage {
  std::vector<v1::Briefing> briefings;
  int64_t change_seq = 0;
};

// Hands the notice of a committed change on, to be announced (push/change_announcer.h). Called
// on the pool's thread; must not block.
using AnnounceChange = std::function<void(std::string notice)>;

class BriefingStore {
 public:
  // `announce` (may be empty: nobody watches) hears of every change once it is committed.
  // `reads` serves the reads a slightly stale answer may serve (db/read_pool.h: standbys within
  // --read-max-lag, else the primary); everything else runs on `primary`.
  BriefingStore(db::Executor& primary, db::Executor& reads, AnnounceChange announce = nullptr)
      : primary_(primary), reads_(reads), announce_(std::move(announce)) {}
  explicit BriefingStore(db::Executor& primary, AnnounceChange announce = nullptr)
      : BriefingStore(primary, primary, std::move(announce)) {}

  // PENDING. NOT_FOUND for a missing or deleted user. With a request_id, a repeat returns the
  // briefing the first call created.
  void Create(int64_t user_id, const std::optional<std::string>& request_id,
              const db::CallOptions& call, Done<v1::Briefing> done);
  void Get(int64_t id, const db::CallOptions& call, Done<v1::Briefing> done);
  // Newest first; NOT_FOUND when the user is missing or deleted.
  void List(const BriefingListQuery& query, const db::CallOptions& call, Done<BriefingPage> done);
  // Transitions: NOT_FOUND when missing or deleted, FAILED_PRECONDITION naming the current
  // status when the briefing is not in the status the transition starts from.
  void Start(int64_t id, const db::CallOptions& call, Done<v1::Briefing> done);
  // Stores the content as jsonb, the one place it lives (`content_json` from
  // logic::ContentToJson); the briefing comes back read from that column.
  void Complete(int64_t id, const std::string& content_json, const db::CallOptions& call,
                Done<v1::Briefing> done);
  void Fail(int64_t id, const std::string& error_message, const db::CallOptions& call,
            Done<v1::Briefing> done);
  // A briefing already read is answered as it is, with its first read_at, and not changed.
  void MarkRead(int64_t id, const db::CallOptions& call, Done<v1::Briefing> done);
  void Delete(int64_t id, const db::CallOptions& call, Done<bool> done);
  // The oldest claimable briefing, now PROCESSING under a lease; nullopt when there is none.
  void ClaimNext(absl::Duration lease, const db::CallOptions& call,
                 Done<std::optional<v1::Briefing>> done);

 private:
  void RunCreate(db::Params params, const db::CallOptions& call, int attempt,
                 Done<v1::Briefing> done);
  // `unchanged_ok`: finding the briefing in `from` without changing it is an answer, not an
  // error (MarkRead of a briefing already read).
  void Transition(const db::Query& query, int64_t id, db::Params params, const char* rpc,
                  v1::BriefingStatus from, bool unchanged_ok, const db::CallOptions& call,
                  Done<v1::Briefing> done);

  // Announces the change in row 0 of `result`, if the statement made one.
  void AnnounceFrom(const db::Result& result) const;

  db::Executor& primary_;
  db::Executor& reads_;
  const AnnounceChange announce_;
};

}  // namespace firstsip::storage
