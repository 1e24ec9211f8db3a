// The one place result rows become protos. Each query that returns a resource selects that
// resource's column list below (timestamps as epoch microseconds: exact and independent of
// the session's TimeZone), and the matching function maps the rows.
#pragma once

#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "db/result.h"
#include "firstsip/v1/briefing.pb.h"
#include "firstsip/v1/identity.pb.h"
#include "firstsip/v1/user.pb.h"

// users.next_briefing_time as the API shows it: unset while the user is paused or deleted (a
// replica of the previous release deletes without clearing it), and for a user the scheduler
// found unschedulable ('infinity': a time zone the database does not know, see
// storage/schedule_store.h).
#define FIRSTSIP_USER_NEXT_BRIEFING_COLUMN                                                       \
  "CASE WHEN u.delete_time IS NULL AND NOT u.briefings_paused "                                  \
  "AND isfinite(u.next_briefing_time) THEN (extract(epoch FROM u.next_briefing_time) * 1000000)" \
  "::int8 END AS next_briefing_time_us"

// Columns of a users row aliased `u`.
#define FIRSTSIP_USER_COLUMNS                                                          \
  "u.id, u.email, u.name, u.timezone, u.preferred_briefing_time, u.role, u.revision, " \
  "(extract(epoch FROM u.last_login_at) * 1000000)::int8 AS last_login_at_us, "        \
  "(extract(epoch FROM u.last_briefing_at) * 1000000)::int8 AS last_briefing_at_us, "  \
  "(extract(epoch FROM u.create_time) * 1000000)::int8 AS create_time_us, "            \
  "(extract(epoch FROM u.update_time) * 1000000)::int8 AS update_time_us, "            \
  "(extract(epoch FROM u.delete_time) * 1000000)::int8 AS "                            \
  "delete_time_us, " FIRSTSIP_USER_NEXT_BRIEFING_COLUMN ", u.briefings_paused"

// Columns of an auth_identities row aliased `i`, prefixed so they can sit beside a user's.
// Never the tokens: only whether each is present.
#define FIRSTSIP_IDENTITY_COLUMNS                                                         \
  "i.id AS identity_id, i.user_id AS identity_user_id, i.provider AS identity_provider, " \
  "i.provider_user_id AS identity_provider_user_id, "                                     \
  "(extract(epoch FROM i.token_expiry) * 1000000)::int8 AS identity_token_expiry_us, "    \
  "i.access_token IS NOT NULL AS identity_has_access_token, "                             \
  "i.refresh_token IS NOT NULL AS identity_has_refresh_token, "                           \
  "(extract(epoch FROM i.create_time) * 1000000)::int8 AS identity_create_time_us, "      \
  "(extract(epoch FROM i.update_time) * 1000000)::int8 AS identity_update_time_us"

// Columns of a briefings row aliased `b`. Content comes from the jsonb column only, as its JSON
// text, so what an operator writes there by hand is what the service serves.
//
// The content_proto column (migration 000004) is neither read nor written any more, and no
// statement of this release names it. It stays in the schema for now: during a rolling update
// the pods of the previous release still select and write it, and dropping it under them would
// fail every briefing statement they run. Those pods read the jsonb column wherever content_proto
// is NULL, which it is in every row this release completes, so they serve our writes correctly
// (only rows completed before this release still carry the bytes, which those pods keep
// preferring until they are replaced). Follow-up (expand/contract): drop the column in a
// migration of a later release, once no pod of a release that names it can still be running.
#define FIRSTSIP_BRIEFING_COLUMNS                                           \
  "b.id, b.user_id, b.status, b.content, b.error_message, "                 \
  "(extract(epoch FROM b.read_at) * 1000000)::int8 AS read_at_us, "         \
  "(extract(epoch FROM b.create_time) * 1000000)::int8 AS create_time_us, " \
  "(extract(epoch FROM b.update_time) * 1000000)::int8 AS update_time_us, " \
  "(extract(epoch FROM b.delete_time) * 1000000)::int8 AS delete_time_us"

// Durations and instants travel as integer microseconds (exact, no time-zone parsing).
#define FIRSTSIP_MICROS_INTERVAL(param) "(" param "::int8 * interval '1 microsecond')"
#define FIRSTSIP_MICROS_TO_TIMESTAMPTZ(param) \
  "(timestamptz 'epoch' + " param "::int8 * interval '1 microsecond')"

namespace firstsip::storage {

// One row; INTERNAL when a column does not hold what it should.
absl::StatusOr<v1::User> UserFromRow(const db::Result& result, int row);
absl::StatusOr<v1::AuthIdentity> IdentityFromRow(const db::Result& result, int row);
absl::StatusOr<v1::Briefing> BriefingFromRow(const db::Result& result, int row);

// The given rows, in the order given, mapped by `map` (one of the functions above).
template <typename T>
absl::StatusOr<std::vector<T>> SomeRows(const db::Result& result, absl::Span<const int> rows,
                                        absl::StatusOr<T> (*map)(const db::Result&, int)) {
  std::vector<T> mapped;
  mapped.reserve(rows.size());
  for (int row : rows) {
    absl::StatusOr<T> one = map(result, row);
    if (!one.ok()) return one.status();
    mapped.push_back(*std::move(one));
  }
  return mapped;
}

// Every row, mapped by `map` (one of the functions above).
template <typename T>
absl::StatusOr<std::vector<T>> EveryRow(const db::Result& result,
                                        absl::StatusOr<T> (*map)(const db::Result&, int)) {
  std::vector<T> mapped;
  mapped.reserve(static_cast<size_t>(result.rows()));
  for (int row = 0; row < result.rows(); ++row) {
    absl::StatusOr<T> one = map(result, row);
    if (!one.ok()) return one.status();
    mapped.push_back(*std::move(one));
  }
  return mapped;
}

absl::StatusOr<std::vector<v1::User>> UsersFromResult(const db::Result& result);
absl::StatusOr<std::vector<v1::AuthIdentity>> IdentitiesFromResult(const db::Result& result);
absl::StatusOr<std::vector<v1::Briefing>> BriefingsFromResult(const db::Result& result);
// The same for the given rows only, in the order given: for a statement whose rows are of
// several kinds (storage/lifecycle_store.cc's export).
absl::StatusOr<std::vector<v1::User>> UsersFromRows(const db::Result& result,
                                                    absl::Span<const int> rows);
absl::StatusOr<std::vector<v1::AuthIdentity>> IdentitiesFromRows(const db::Result& result,
                                                                 absl::Span<const int> rows);
absl::StatusOr<std::vector<v1::Briefing>> BriefingsFromRows(const db::Result& result,
                                                            absl::Span<const int> rows);

// The first row, mapped by `map` (one of the functions above); `if_none` when there is none.
template <typename T>
absl::StatusOr<T> FirstRow(const db::Result& result,
                           absl::StatusOr<T> (*map)(const db::Result&, int), absl::Status if_none) {
  if (result.rows() == 0) return if_none;
  return map(result, 0);
}

// A lookup's row (db::Executor::Find), mapped by `map`; `if_none` when the key had none.
template <typename T>
absl::StatusOr<T> FoundRow(const absl::StatusOr<db::LookupRow>& found,
                           absl::StatusOr<T> (*map)(const db::Result&, int), absl::Status if_none) {
  if (!found.ok()) return found.status();
  if (!found->found()) return if_none;
  return map(*found->result, found->index);
}

}  // namespace firstsip::storage
