// Storage for auth identities and their OAuth tokens. Tokens are encrypted here, on the way
// in, and decrypted here, on the way out (only for GetTokens): no other layer sees ciphertext,
// and PostgreSQL never sees plaintext.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "crypto/token_cipher.h"
#include "db/call_options.h"
#include "db/executor.h"
#include "firstsip/v1/identity.pb.h"
#include "firstsip/v1/user.pb.h"
#include "logic/identity_rules.h"
#include "logic/user_rules.h"
#include "storage/briefing_due.h"
#include "storage/briefing_time_sql.h"
#include "storage/done.h"
#include "storage/rows.h"

namespace firstsip::storage {

using logic::SignInInput;
using logic::TokenUpdate;

// Statements the benchmark also hands to pgbench, so both measure the very same SQL.
namespace queries {

// SignIn as one statement, so it is atomic without a client-side transaction:
//  - identity found: update its tokens (NULL keeps) and the user's last_login_at;
//  - not found: link the live user with the email, or create one (with its first
//    next_briefing_time, storage/briefing_time_sql.h), then create the identity.
// Concurrent first sign-ins of one identity collide on a unique index (the live email or
// (provider, provider_user_id)); the loser's whole statement rolls back with 23505, and a retry
// finds what the winner committed. That is why neither INSERT says ON CONFLICT.
inline constexpr db::Query kSignIn{
    "identities_sign_in",
    "WITH found AS ("
    "  SELECT i.id AS identity_id, i.user_id, u.delete_time IS NOT NULL AS user_deleted"
    "  FROM auth_identities i JOIN users u ON u.id = i.user_id"
    "  WHERE i.provider = $1 AND i.provider_user_id = $2"
    "), touched_identity AS ("
    "  UPDATE auth_identities i SET access_token = coalesce($6::bytea, i.access_token),"
    "    refresh_token = coalesce($7::bytea, i.refresh_token),"
    "    token_expiry = coalesce(" FIRSTSIP_MICROS_TO_TIMESTAMPTZ("$8") ", i.token_expiry),"
    "    update_time = now()"
    "  FROM found f WHERE i.id = f.identity_id AND NOT f.user_deleted RETURNING i.*"
    "), touched_user AS ("
    "  UPDATE users u SET last_login_at = now()"
    "  FROM found f WHERE u.id = f.user_id AND NOT f.user_deleted RETURNING u.*"
    "), live_user AS ("
    "  SELECT u.id FROM users u WHERE NOT EXISTS (SELECT 1 FROM found)"
    "    AND lower(u.email) = lower($3) AND u.delete_time IS NULL"
    "), linked_user AS ("
    "  UPDATE users u SET last_login_at = now() FROM live_user l WHERE u.id = l.id"
    "  RETURNING u.*"
    "), new_user AS ("
    "  INSERT INTO users (email, name, timezone, preferred_briefing_time, next_briefing_time,"
    "    last_login_at)"
    "  SELECT $3, $4, $5::text, '" FIRSTSIP_DEFAULT_BRIEFING_TIME "', " FIRSTSIP_NEXT_BRIEFING_TIME(
        "$5::text", "'" FIRSTSIP_DEFAULT_BRIEFING_TIME "'", "now()") ", now()"
    "  WHERE NOT EXISTS (SELECT 1 FROM found) AND NOT EXISTS (SELECT 1 FROM live_user)"
    "  RETURNING *"
    "), new_identity AS ("
    "  INSERT INTO auth_identities"
    "    (user_id, provider, provider_user_id, access_token, refresh_token, token_expiry)"
    "  SELECT u.id, $1, $2, $6::bytea, $7::bytea, " FIRSTSIP_MICROS_TO_TIMESTAMPTZ("$8")
    "  FROM (SELECT id FROM new_user UNION ALL SELECT id FROM linked_user) u"
    "  RETURNING *"
    ") "
    "SELECT 'signed_in' AS outcome, false AS user_created, false AS identity_created, "
    FIRSTSIP_USER_COLUMNS ", " FIRSTSIP_IDENTITY_COLUMNS
    " FROM touched_user u CROSS JOIN touched_identity i "
    "UNION ALL "
    "SELECT 'signed_in', EXISTS (SELECT 1 FROM new_user), true, "
    FIRSTSIP_USER_COLUMNS ", " FIRSTSIP_IDENTITY_COLUMNS
    " FROM (SELECT * FROM new_user UNION ALL SELECT * FROM linked_user) u"
    " JOIN new_identity i ON i.user_id = u.id "
    "UNION ALL "
    "SELECT 'user_deleted', false, false, " FIRSTSIP_USER_COLUMNS ", " FIRSTSIP_IDENTITY_COLUMNS
    " FROM found f JOIN users u ON u.id = f.user_id JOIN auth_identities i ON i.id = f.identity_id"
    " WHERE f.user_deleted"};

}  // namespace queries

// An identity's decrypted tokens and the user they belong to (GetTokensWithOwner).
struct OwnedTokens {
  int64_t user_id = 0;
  v1::OAuthTokens tokens;
};

struct SignInResult {
  v1::User user;
  v1::AuthIdentity identity;
  bool user_created = false;
  bool identity_created = false;
};

class IdentityStore {
 public:
  // `reads` serves the reads a slightly stale answer may serve (db/read_pool.h: standbys within
  // --read-max-lag, else the primary); everything else runs on `primary`. `due` (may be empty)
  // hears the next_briefing_time of each user a sign-in creates.
  IdentityStore(db::Executor& primary, db::Executor& reads, const crypto::TokenCipher& cipher,
                BriefingDue due = nullptr)
      : primary_(primary), reads_(reads), cipher_(cipher), due_(std::move(due)) {}
  IdentityStore(db::Executor& primary, const crypto::TokenCipher& cipher)
      : IdentityStore(primary, primary, cipher) {}

  // One atomic statement (see identity_store.cc); concurrent first sign-ins of one identity
  // are retried until they agree on one user and one identity. FAILED_PRECONDITION when the
  // identity's user is soft-deleted. A user it creates in a time zone the database does not
  // know gets UTC, as one in a zone the service does not know does.
  void SignIn(const SignInInput& input, const db::CallOptions& call, Done<SignInResult> done);
  void Get(int64_t id, const db::CallOptions& call, Done<v1::AuthIdentity> done);
  // NOT_FOUND when the user is missing or soft-deleted.
  void ListForUser(int64_t user_id, const db::CallOptions& call,
                   Done<std::vector<v1::AuthIdentity>> done);
  void UpdateTokens(int64_t id, const TokenUpdate& update, const db::CallOptions& call,
                    Done<v1::AuthIdentity> done);
  // Decrypted tokens; DATA_LOSS when a stored value fails authentication.
  void GetTokens(int64_t id, const db::CallOptions& call, Done<v1::OAuthTokens> done);
  // GetTokens with the identity's user id, which the GetTokens RPC's audit line names: the same
  // lookup (identities_find_tokens, merged with the others of its batch), on the primary.
  void GetTokensWithOwner(int64_t id, const db::CallOptions& call, Done<OwnedTokens> done);
  // Removes the row, tokens and all.
  void Delete(int64_t id, const db::CallOptions& call, Done<bool> done);

 private:
  void RunSignIn(db::Params params, const db::CallOptions& call, int attempt,
                 Done<SignInResult> done);

  db::Executor& primary_;
  db::Executor& reads_;
  const crypto::TokenCipher& cipher_;
  const BriefingDue due_;
};

// Associated data for a token column of an identity.
crypto::ValueContext TokenContext(absl::string_view column, absl::string_view provider,
                                  absl::string_view provider_user_id);

}  // namespace firstsip::storage
