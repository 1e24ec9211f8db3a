package main

// The statements the C++ service sends, copied from server/storage/rows.h (column lists),
// server/storage/user_store.h (kFindUsers), server/storage/briefing_store.h (kListBriefings,
// kCreateBriefing) and server/storage/identity_store.h (kSignIn), character for character,
// except that GetUser reads one id per statement: the C++ service merges the ids of the calls
// that meet in a batch into one users_find statement, which pgx (one statement per call, as a
// Go service would use it) has no equivalent of.

// FIRSTSIP_USER_COLUMNS: a users row aliased u.
const userColumns = "u.id, u.email, u.name, u.timezone, u.preferred_briefing_time, u.role, u.revision, " +
	"(extract(epoch FROM u.last_login_at) * 1000000)::int8 AS last_login_at_us, " +
	"(extract(epoch FROM u.last_briefing_at) * 1000000)::int8 AS last_briefing_at_us, " +
	"(extract(epoch FROM u.create_time) * 1000000)::int8 AS create_time_us, " +
	"(extract(epoch FROM u.update_time) * 1000000)::int8 AS update_time_us, " +
	"(extract(epoch FROM u.delete_time) * 1000000)::int8 AS delete_time_us"

// FIRSTSIP_IDENTITY_COLUMNS: an auth_identities row aliased i; never the tokens themselves.
const identityColumns = "i.id AS identity_id, i.user_id AS identity_user_id, i.provider AS identity_provider, " +
	"i.provider_user_id AS identity_provider_user_id, " +
	"(extract(epoch FROM i.token_expiry) * 1000000)::int8 AS identity_token_expiry_us, " +
	"i.access_token IS NOT NULL AS identity_has_access_token, " +
	"i.refresh_token IS NOT NULL AS identity_has_refresh_token, " +
	"(extract(epoch FROM i.create_time) * 1000000)::int8 AS identity_create_time_us, " +
	"(extract(epoch FROM i.update_time) * 1000000)::int8 AS identity_update_time_us"

// FIRSTSIP_BRIEFING_COLUMNS: a briefings row aliased b; content from the jsonb column only
// (content_proto, migration 000004, is neither read nor written).
const briefingColumns = "b.id, b.user_id, b.status, b.content, b.error_message, " +
	"(extract(epoch FROM b.read_at) * 1000000)::int8 AS read_at_us, " +
	"(extract(epoch FROM b.create_time) * 1000000)::int8 AS create_time_us, " +
	"(extract(epoch FROM b.update_time) * 1000000)::int8 AS update_time_us, " +
	"(extract(epoch FROM b.delete_time) * 1000000)::int8 AS delete_time_us"

// FIRSTSIP_MICROS_TO_TIMESTAMPTZ("$8").
const expiryFromMicros = "(timestamptz 'epoch' + $8::int8 * interval '1 microsecond')"

// users_find for one id (storage::kFindUsers), with show_deleted, which the C++ service checks
// on the row it gets back, in SQL. $1 id, $2 show_deleted.
const sqlGetUser = "SELECT " + userColumns +
	" FROM users u " +
	"WHERE u.id = $1 AND ($2 OR u.delete_time IS NULL)"

// storage::queries::kListBriefings. $1 user_id, $2 before id (exclusive), $3 status or NULL,
// $4 unread_only, $5 limit. No row: no such live user; one row of NULLs: an empty page.
const sqlListBriefings = "SELECT " + briefingColumns +
	" FROM users u LEFT JOIN LATERAL (" +
	"  SELECT * FROM briefings x WHERE x.user_id = u.id AND x.delete_time IS NULL AND x.id < $2" +
	"    AND ($3::text IS NULL OR x.status = $3) AND (NOT $4 OR x.read_at IS NULL)" +
	"  ORDER BY x.id DESC LIMIT $5) b ON true " +
	"WHERE u.id = $1 AND u.delete_time IS NULL ORDER BY b.id DESC"

// storage::queries::kCreateBriefing with its change feed (migration 000005): the user's
// change_seq bumped, the change logged, and, as a plain Go service would write it, the NOTIFY
// inside the statement (the C++ service announces after the commit instead, in batches).
// $1 user_id, $2 request_id or NULL.
const sqlCreateBriefing = "WITH owner AS (SELECT id FROM users WHERE id = $1 AND delete_time IS NULL), " +
	"existing AS (SELECT * FROM briefings WHERE $2::text IS NOT NULL AND user_id = $1 " +
	"  AND request_id = $2 AND EXISTS (SELECT 1 FROM owner)), " +
	"target AS (SELECT id AS user_id FROM owner WHERE NOT EXISTS (SELECT 1 FROM existing)), " +
	"bump AS (UPDATE users u SET change_seq = u.change_seq + 1 FROM target t " +
	"  WHERE u.id = t.user_id AND u.delete_time IS NULL RETURNING u.id AS user_id, u.change_seq, " +
	"  pg_notify('firstsip_briefing_changes', u.id || ' ' || u.change_seq || ' ' || " +
	"  (extract(epoch FROM clock_timestamp()) * 1000000)::int8 || ' p')), " +
	"inserted AS (INSERT INTO briefings (user_id, request_id) SELECT user_id, $2 FROM bump RETURNING *), " +
	"logged AS (INSERT INTO briefing_changes (user_id, change_seq, briefing_id, status, read_at, " +
	"  update_time, delete_time) SELECT c.user_id, bump.change_seq, c.id, c.status, c.read_at, " +
	"  c.update_time, c.delete_time FROM inserted c JOIN bump ON bump.user_id = c.user_id) " +
	"SELECT " + briefingColumns +
	" FROM inserted b " +
	"UNION ALL SELECT " + briefingColumns + " FROM existing b"

// storage::queries::kSignIn. $1 provider, $2 provider_user_id, $3 email, $4 name, $5 timezone,
// $6 sealed access token or NULL, $7 sealed refresh token or NULL, $8 expiry micros or NULL.
const sqlSignIn = "WITH found AS (" +
	"  SELECT i.id AS identity_id, i.user_id, u.delete_time IS NOT NULL AS user_deleted" +
	"  FROM auth_identities i JOIN users u ON u.id = i.user_id" +
	"  WHERE i.provider = $1 AND i.provider_user_id = $2" +
	"), touched_identity AS (" +
	"  UPDATE auth_identities i SET access_token = coalesce($6::bytea, i.access_token)," +
	"    refresh_token = coalesce($7::bytea, i.refresh_token)," +
	"    token_expiry = coalesce(" + expiryFromMicros + ", i.token_expiry)," +
	"    update_time = now()" +
	"  FROM found f WHERE i.id = f.identity_id AND NOT f.user_deleted RETURNING i.*" +
	"), touched_user AS (" +
	"  UPDATE users u SET last_login_at = now()" +
	"  FROM found f WHERE u.id = f.user_id AND NOT f.user_deleted RETURNING u.*" +
	"), live_user AS (" +
	"  SELECT u.id FROM users u WHERE NOT EXISTS (SELECT 1 FROM found)" +
	"    AND lower(u.email) = lower($3) AND u.delete_time IS NULL" +
	"), linked_user AS (" +
	"  UPDATE users u SET last_login_at = now() FROM live_user l WHERE u.id = l.id" +
	"  RETURNING u.*" +
	"), new_user AS (" +
	"  INSERT INTO users (email, name, timezone, last_login_at)" +
	"  SELECT $3, $4, $5, now()" +
	"  WHERE NOT EXISTS (SELECT 1 FROM found) AND NOT EXISTS (SELECT 1 FROM live_user)" +
	"  RETURNING *" +
	"), new_identity AS (" +
	"  INSERT INTO auth_identities" +
	"    (user_id, provider, provider_user_id, access_token, refresh_token, token_expiry)" +
	"  SELECT u.id, $1, $2, $6::bytea, $7::bytea, " + expiryFromMicros +
	"  FROM (SELECT id FROM new_user UNION ALL SELECT id FROM linked_user) u" +
	"  RETURNING *" +
	") " +
	"SELECT 'signed_in' AS outcome, false AS user_created, false AS identity_created, " +
	userColumns + ", " + identityColumns +
	" FROM touched_user u CROSS JOIN touched_identity i " +
	"UNION ALL " +
	"SELECT 'signed_in', EXISTS (SELECT 1 FROM new_user), true, " +
	userColumns + ", " + identityColumns +
	" FROM (SELECT * FROM new_user UNION ALL SELECT * FROM linked_user) u" +
	" JOIN new_identity i ON i.user_id = u.id " +
	"UNION ALL " +
	"SELECT 'user_deleted', false, false, " + userColumns + ", " + identityColumns +
	" FROM found f JOIN users u ON u.id = f.user_id JOIN auth_identities i ON i.id = f.identity_id" +
	" WHERE f.user_deleted"
