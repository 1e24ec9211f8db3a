// Storage for the scheduler (schedule/briefing_scheduler.h): due users turned into briefings a
// batch at a time, each batch one statement; the backfill of next_briefing_time; and the
// quarantine of users whose time zone the database does not know.
//
// A batch claims the live, unpaused users whose next_briefing_time has passed, oldest first,
// with FOR UPDATE SKIP LOCKED through users_next_briefing_idx (migration 000007), so replicas
// running batches at once each take other users and never wait for one another. For each user,
// in the same statement:
//  - due within the lateness: a PENDING briefing with request_id = the local day of the due
//    time ("2026-12-07"), unless the user already has a briefing with that request_id (exactly
//    CreateBriefing's idempotency, and its unique index stays the last line of defence); the
//    briefing goes through the change feed as CreateBriefing's does (users.change_seq bumped,
//    a briefing_changes row, the notice handed to `announce`); next_briefing_time moves to the
//    next day's occurrence;
//  - due longer ago than the lateness: nothing is created (a miss) and next_briefing_time moves
//    to the first occurrence after now minus the lateness (so a day still within it is caught
//    up by the next batch).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "db/call_options.h"
#include "db/executor.h"
#include "storage/briefing_store.h"
#include "storage/briefing_time_sql.h"
#include "storage/done.h"
#include "storage/rows.h"

namespace firstsip::storage {

// Public so a test can EXPLAIN it.
namespace queries {

// One batch (see the header). Each CTE is MATERIALIZED so that the time arithmetic runs once
// per user, not once per place that uses its result. The UPDATE of users is the only one of
// each row in the statement: it moves next_briefing_time and, for a user who gets a briefing,
// bumps change_seq (which also holds the user's row lock until commit, as every briefing write
// does). After it, where the remaining users stand: the earliest next_briefing_time apart from
// the ones just handled (whose new values count instead), read through the same index, and
// whether any live, unpaused user still lacks one.
inline constexpr db::Query kScheduleDue{
    "schedule_due",
    "WITH due AS MATERIALIZED ("
    "  SELECT u.id, u.timezone, u.preferred_briefing_time, u.next_briefing_time AS due_time"
    "  FROM users u"
    "  WHERE u.next_briefing_time <= now() AND u.delete_time IS NULL AND NOT u.briefings_paused"
    "  ORDER BY u.next_briefing_time LIMIT $1 FOR UPDATE SKIP LOCKED"
    "), dated AS MATERIALIZED ("
    "  SELECT d.id, d.timezone, d.preferred_briefing_time, d.due_time,"
    "    d.due_time >= now() - " FIRSTSIP_MICROS_INTERVAL("$2") " AS on_time, "
    FIRSTSIP_BRIEFING_DAY("d.timezone", "d.preferred_briefing_time", "d.due_time") " AS day"
    "  FROM due d"
    "), decided AS MATERIALIZED ("
    "  SELECT x.id, x.due_time, x.on_time, x.request_id,"
    "    x.on_time AND NOT EXISTS (SELECT 1 FROM briefings b"
    "      WHERE b.user_id = x.id AND b.request_id = x.request_id) AS creates,"
    "    CASE WHEN x.on_time THEN " FIRSTSIP_BRIEFING_OCCURRENCE(
        "x.timezone", "x.day + 1", "x.preferred_briefing_time") " ELSE " FIRSTSIP_NEXT_BRIEFING_TIME(
        "x.timezone", "x.preferred_briefing_time",
        "now() - " FIRSTSIP_MICROS_INTERVAL("$2")) " END AS next_time"
    "  FROM (SELECT dated.*, to_char(dated.day, 'YYYY-MM-DD') AS request_id FROM dated) x"
    "), bump AS ("
    "  UPDATE users u SET change_seq = u.change_seq + CASE WHEN d.creates THEN 1 ELSE 0 END,"
    "    next_briefing_time = d.next_time"
    "  FROM decided d WHERE u.id = d.id"
    "  RETURNING u.id AS user_id, u.change_seq, d.creates, d.on_time, d.request_id, d.due_time,"
    "    d.next_time, CASE WHEN d.creates THEN " FIRSTSIP_CHANGE_NOTICE(
        "u.id", "u.change_seq", "'p'") " END AS notice"
    "), inserted AS ("
    "  INSERT INTO briefings (user_id, request_id) SELECT user_id, request_id FROM bump"
    "  WHERE creates RETURNING *"
    "), " FIRSTSIP_LOG_CHANGE("inserted") ", "
    "others AS (SELECT min(u.next_briefing_time) AS earliest FROM users u"
    "  WHERE u.delete_time IS NULL AND NOT u.briefings_paused"
    "  AND u.next_briefing_time < 'infinity' AND u.id NOT IN (SELECT id FROM due)) "
    "SELECT count(*) AS claimed, count(*) FILTER (WHERE creates) AS created,"
    "  count(*) FILTER (WHERE on_time AND NOT creates) AS existed,"
    "  count(*) FILTER (WHERE NOT on_time) AS missed,"
    "  string_agg(notice, E'\\n') AS notices,"
    "  (extract(epoch FROM least(min(next_time), (SELECT earliest FROM others)) - now())"
    "    * 1000000)::int8 AS next_due_in_us,"
    "  (extract(epoch FROM greatest(now() - (SELECT earliest FROM others), interval '0'))"
    "    * 1000000)::int8 AS lag_us,"
    "  EXISTS (SELECT 1 FROM users u WHERE u.next_briefing_time IS NULL"
    "    AND u.delete_time IS NULL AND NOT u.briefings_paused) AS unfilled "
    "FROM bump"};

}  // namespace queries

// What one batch did, and what it saw of the users it did not handle.
struct ScheduleBatch {
  int claimed = 0;  // due users handled
  int created = 0;  // briefings created
  int existed = 0;  // due users whose briefing for that day already existed
  int missed = 0;   // due users past the lateness: no briefing
  // How long after the statement's start the earliest next_briefing_time of a live, unpaused
  // user is (negative: overdue; users other replicas hold count too); nullopt when none has one.
  std::optional<absl::Duration> next_due_in;
  // How long ago the oldest due time the batch left unhandled passed (zero when none did).
  absl::Duration lag = absl::ZeroDuration();
  // Live, unpaused users have no next_briefing_time yet (Fill them).
  bool unfilled = false;
};

// A user marked unschedulable: its time zone, which the database does not know.
struct UnschedulableUser {
  int64_t id = 0;
  std::string timezone;
};

class ScheduleStore {
 public:
  // `announce` (may be empty) hears the notice of each briefing a batch creates, once committed.
  explicit ScheduleStore(db::Executor& primary, AnnounceChange announce = nullptr)
      : primary_(primary), announce_(std::move(announce)) {}

  // One batch of at most `limit` due users (see above). Fails with INVALID_ARGUMENT and
  // SQLSTATE 22023 when a claimed user's time zone is unknown to the database (the whole batch
  // is rolled back: Quarantine, then run it again).
  void RunDue(int limit, absl::Duration max_lateness, const db::CallOptions& call,
              Done<ScheduleBatch> done);

  // Computes next_briefing_time (the next occurrence from now) for up to `limit` live, unpaused
  // users that have none; how many it filled. Same failure as RunDue.
  void Fill(int limit, const db::CallOptions& call, Done<int> done);

  // Marks the live, unpaused users that are due or unfilled and whose time zone the database
  // does not know as unschedulable (next_briefing_time 'infinity': never due, shown unset), so
  // they cannot fail every batch; returns them. Such a user is scheduled again once UpdateUser
  // sets a zone the database knows.
  void Quarantine(const db::CallOptions& call, Done<std::vector<UnschedulableUser>> done);

 private:
  db::Executor& primary_;
  const AnnounceChange announce_;
};

}  // namespace firstsip::storage
