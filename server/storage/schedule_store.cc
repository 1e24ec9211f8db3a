#include "storage/schedule_store.h"

#include <utility>

#include "absl/strings/str_split.h"
#include "storage/briefing_time_sql.h"
#include "storage/rows.h"

namespace firstsip::storage {
namespace {

// The backfill, for users of the previous release (and any a replica of it still creates
// during a rolling update): through the index's NULL entries, SKIP LOCKED so replicas filling
// at once share the work.
constexpr db::Query kScheduleFill{
    "schedule_fill",
    "WITH picked AS MATERIALIZED ("
    "  SELECT u.id FROM users u WHERE u.next_briefing_time IS NULL AND u.delete_time IS NULL"
    "  AND NOT u.briefings_paused LIMIT $1 FOR UPDATE SKIP LOCKED"
    "), filled AS ("
    "  UPDATE users u SET next_briefing_time = " FIRSTSIP_NEXT_BRIEFING_TIME(
        "u.timezone", "u.preferred_briefing_time", "now()") " FROM picked p WHERE u.id = p.id"
    "  RETURNING u.id) "
    "SELECT count(*) FROM filled"};

// Zone names the database knows are its tz database's files and its abbreviations (what
// `AT TIME ZONE` accepts besides POSIX rule strings, which the service never stores). Both
// catalogues are read once for the statement; it runs only after a batch failed.
constexpr db::Query kScheduleQuarantine{
    "schedule_quarantine",
    "UPDATE users u SET next_briefing_time = 'infinity' "
    "WHERE u.delete_time IS NULL AND NOT u.briefings_paused"
    "  AND (u.next_briefing_time IS NULL OR u.next_briefing_time <= now())"
    "  AND lower(u.timezone) NOT IN (SELECT lower(name) FROM pg_timezone_names)"
    "  AND lower(u.timezone) NOT IN (SELECT lower(abbrev) FROM pg_timezone_abbrevs) "
    "RETURNING u.id, u.timezone"};

std::optional<absl::Duration> OptionalMicros(const db::Result& result, const char* column,
                                             absl::Status* error) {
  absl::StatusOr<std::optional<int64_t>> micros = result.OptionalInt64(0, result.Column(column));
  if (!micros.ok()) {
    *error = micros.status();
    return std::nullopt;
  }
  if (!micros->has_value()) return std::nullopt;
  return absl::Microseconds(**micros);
}

}  // namespace

void ScheduleStore::RunDue(int limit, absl::Duration max_lateness, const db::CallOptions& call,
                           Done<ScheduleBatch> done) {
  db::Params params;
  params.Add(limit).Add(absl::ToInt64Microseconds(max_lateness));
  primary_.Execute(
      queries::kScheduleDue, std::move(params), call,
      [this, done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
        if (!result.ok()) return std::move(done)(result.status());
        if (result->rows() != 1) {
          return std::move(done)(absl::InternalError("schedule_due returned no summary"));
        }
        const int notices = result->Column("notices");
        if (announce_ && !result->IsNull(0, notices)) {
          for (absl::string_view notice : absl::StrSplit(result->Text(0, notices), '\n')) {
            announce_(std::string(notice));
          }
        }
        ScheduleBatch batch;
        absl::Status error;
        int* counts[] = {&batch.claimed, &batch.created, &batch.existed, &batch.missed};
        const char* names[] = {"claimed", "created", "existed", "missed"};
        for (int i = 0; i < 4; ++i) {
          absl::StatusOr<int64_t> count = result->Int64(0, result->Column(names[i]));
          if (!count.ok()) return std::move(done)(count.status());
          *counts[i] = static_cast<int>(*count);
        }
        batch.next_due_in = OptionalMicros(*result, "next_due_in_us", &error);
        batch.lag = OptionalMicros(*result, "lag_us", &error).value_or(absl::ZeroDuration());
        absl::StatusOr<bool> unfilled = result->Bool(0, result->Column("unfilled"));
        if (!unfilled.ok()) error = unfilled.status();
        if (!error.ok()) return std::move(done)(error);
        batch.unfilled = *unfilled;
        std::move(done)(batch);
      });
}

void ScheduleStore::Fill(int limit, const db::CallOptions& call, Done<int> done) {
  db::Params params;
  params.Add(limit);
  primary_.Execute(kScheduleFill, std::move(params), call,
                   [done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
                     if (!result.ok()) return std::move(done)(result.status());
                     absl::StatusOr<int64_t> filled = result->Int64(0, 0);
                     if (!filled.ok()) return std::move(done)(filled.status());
                     std::move(done)(static_cast<int>(*filled));
                   });
}

void ScheduleStore::Quarantine(const db::CallOptions& call,
                               Done<std::vector<UnschedulableUser>> done) {
  primary_.Execute(kScheduleQuarantine, db::Params(), call,
                   [done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
                     if (!result.ok()) return std::move(done)(result.status());
                     std::vector<UnschedulableUser> users;
                     for (int row = 0; row < result->rows(); ++row) {
                       absl::StatusOr<int64_t> id = result->Int64(row, 0);
                       if (!id.ok()) return std::move(done)(id.status());
                       users.push_back({*id, std::string(result->Text(row, 1))});
                     }
                     std::move(done)(std::move(users));
                   });
}

}  // namespace firstsip::storage
