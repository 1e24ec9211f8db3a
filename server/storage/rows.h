// The one place result rows become protos. Each query that returns a resource selects that
// resource's column list below (timestamps as epoch microseconds: exact and independent of
// the session's TimeZone), and the matching function maps the rows.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "db/result.h"
#include "firstsip/v1/identity.pb.h"
#include "firstsip/v1/user.pb.h"

// Columns of a users row aliased `u`.
#define FIRSTSIP_USER_COLUMNS                                                          \
  "u.id, u.email, u.name, u.timezone, u.preferred_briefing_time, u.role, u.revision, " \
  "(extract(epoch FROM u.last_login_at) * 1000000)::int8 AS last_login_at_us, "        \
  "(extract(epoch FROM u.last_briefing_at) * 1000000)::int8 AS last_briefing_at_us, "  \
  "(extract(epoch FROM u.create_time) * 1000000)::int8 AS create_time_us, "            \
  "(extract(epoch FROM u.update_time) * 1000000)::int8 AS update_time_us, "            \
  "(extract(epoch FROM u.delete_time) * 1000000)::int8 AS delete_time_us"

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

namespace firstsip::storage {

absl::StatusOr<std::vector<v1::User>> UsersFromResult(const db::Result& result);
absl::StatusOr<std::vector<v1::AuthIdentity>> IdentitiesFromResult(const db::Result& result);

}  // namespace firstsip::storage
