// Storage for briefings: every status transition is one conditional UPDATE … RETURNING (never
// read-then-write), and the worker queue claims with FOR UPDATE SKIP LOCKED.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "db/call_options.h"
#include "db/pool.h"
#include "firstsip/v1/briefing.pb.h"
#include "storage/done.h"
#include "storage/rows.h"

namespace firstsip::storage {

// The two statements whose plans matter most at scale, public so a test can EXPLAIN them.
namespace queries {

// The user row anchors the answer: no row means no such live user; a row with NULL briefing
// columns means an empty page. The lateral subquery walks briefings_user_list_idx.
inline constexpr db::Query kListBriefings{
    "briefings_list",
    "SELECT " FIRSTSIP_BRIEFING_COLUMNS
    " FROM users u LEFT JOIN LATERAL ("
    "  SELECT * FROM briefings x WHERE x.user_id = u.id AND x.delete_time IS NULL AND x.id < $2"
    "    AND ($3::text IS NULL OR x.status = $3) AND (NOT $4 OR x.read_at IS NULL)"
    "  ORDER BY x.id DESC LIMIT $5) b ON true "
    "WHERE u.id = $1 AND u.delete_time IS NULL ORDER BY b.id DESC"};

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
    "), next AS ("
    "  SELECT x.id FROM briefings x JOIN candidates c ON c.id = x.id"
    "  WHERE x.delete_time IS NULL AND (x.status = 'pending'"
    "    OR (x.status = 'processing' AND x.lease_expire_time < now()))"
    "  ORDER BY x.id LIMIT 1 FOR UPDATE OF x SKIP LOCKED"
    ") "
    "UPDATE briefings b SET status = 'processing', update_time = now(),"
    "  lease_expire_time = now() + " FIRSTSIP_MICROS_INTERVAL("$1") " "
    "FROM next WHERE b.id = next.id RETURNING " FIRSTSIP_BRIEFING_COLUMNS};

// No ON CONFLICT: a concurrent create with the same request_id makes this statement fail on
// the unique index, and the retry finds the winner's row as `existing`.
inline constexpr db::Query kCreateBriefing{
    "briefings_create",
    "WITH owner AS (SELECT id FROM users WHERE id = $1 AND delete_time IS NULL), "
    "existing AS (SELECT * FROM briefings WHERE $2::text IS NOT NULL AND user_id = $1 "
    "  AND request_id = $2 AND EXISTS (SELECT 1 FROM owner)), "
    "inserted AS (INSERT INTO briefings (user_id, request_id) SELECT id, $2 FROM owner "
    "  WHERE NOT EXISTS (SELECT 1 FROM existing) RETURNING *) "
    "SELECT " FIRSTSIP_BRIEFING_COLUMNS
    " FROM inserted b "
    "UNION ALL SELECT " FIRSTSIP_BRIEFING_COLUMNS " FROM existing b"};

}  // namespace queries

struct BriefingListQuery {
  int64_t user_id = 0;
  std::optional<int64_t> before_id;  // keyset cursor: ids below it (newest first)
  int limit = 50;
  std::optional<std::string> status;  // stored form; unset: every status
  bool unread_only = false;
};

class BriefingStore {
 public:
  explicit BriefingStore(db::Pool& pool) : pool_(pool) {}

  // PENDING. NOT_FOUND for a missing or deleted user. With a request_id, a repeat returns the
  // briefing the first call created.
  void Create(int64_t user_id, const std::optional<std::string>& request_id,
              const db::CallOptions& call, Done<v1::Briefing> done);
  void Get(int64_t id, const db::CallOptions& call, Done<v1::Briefing> done);
  // Newest first; NOT_FOUND when the user is missing or deleted.
  void List(const BriefingListQuery& query, const db::CallOptions& call,
            Done<std::vector<v1::Briefing>> done);
  // Transitions: NOT_FOUND when missing or deleted, FAILED_PRECONDITION naming the current
  // status when the briefing is not in the status the transition starts from.
  void Start(int64_t id, const db::CallOptions& call, Done<v1::Briefing> done);
  // Stores the content as jsonb, the one place it lives (`content_json` from
  // logic::ContentToJson); the briefing comes back read from that column.
  void Complete(int64_t id, const std::string& content_json, const db::CallOptions& call,
                Done<v1::Briefing> done);
  void Fail(int64_t id, const std::string& error_message, const db::CallOptions& call,
            Done<v1::Briefing> done);
  void MarkRead(int64_t id, const db::CallOptions& call, Done<v1::Briefing> done);
  void Delete(int64_t id, const db::CallOptions& call, Done<bool> done);
  // The oldest claimable briefing, now PROCESSING under a lease; nullopt when there is none.
  void ClaimNext(absl::Duration lease, const db::CallOptions& call,
                 Done<std::optional<v1::Briefing>> done);

 private:
  void RunCreate(db::Params params, const db::CallOptions& call, int attempt,
                 Done<v1::Briefing> done);
  void Transition(const db::Query& query, int64_t id, db::Params params, const char* rpc,
                  v1::BriefingStatus from, const db::CallOptions& call, Done<v1::Briefing> done);

  db::Pool& pool_;
};

}  // namespace firstsip::storage
