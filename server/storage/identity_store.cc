#include "storage/identity_store.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "db/sql_error.h"
#include "storage/rows.h"

namespace firstsip::storage {
namespace {

constexpr char kIdentitiesTable[] = "auth_identities";
constexpr char kAccessTokenColumn[] = "access_token";
constexpr char kRefreshTokenColumn[] = "refresh_token";
constexpr int kSignInAttempts = 5;

constexpr db::Lookup kFindIdentities{"identities_find",
                                     "SELECT " FIRSTSIP_IDENTITY_COLUMNS
                                     " FROM auth_identities i WHERE i.id = ANY($1::int8[])"};

// A left join, so "user exists with no identities" (one row, NULL identity) differs from
// "no such live user" (no row).
constexpr db::Query kListIdentities{
    "identities_list",
    "SELECT " FIRSTSIP_IDENTITY_COLUMNS
    " FROM users u LEFT JOIN auth_identities i"
    " ON i.user_id = u.id WHERE u.id = $1 AND u.delete_time IS NULL ORDER BY i.id",
    db::Access::kRead};

// The provider account an identity's tokens are sealed to.
constexpr db::Lookup kFindOwners{
    "identities_find_owners",
    "SELECT id, provider, provider_user_id FROM auth_identities WHERE id = ANY($1::int8[])"};

constexpr db::Query kUpdateTokens{
    "identities_update_tokens",
    "UPDATE auth_identities i SET access_token = coalesce($2::bytea, i.access_token),"
    "  refresh_token = coalesce($3::bytea, i.refresh_token),"
    "  token_expiry = coalesce(" FIRSTSIP_MICROS_TO_TIMESTAMPTZ("$4") ", i.token_expiry),"
    "  update_time = now() "
    "WHERE i.id = $1 RETURNING " FIRSTSIP_IDENTITY_COLUMNS};

constexpr db::Lookup kFindTokens{
    "identities_find_tokens",
    "SELECT id, provider, provider_user_id, access_token, refresh_token,"
    " (extract(epoch FROM token_expiry) * 1000000)::int8 AS token_expiry_us, user_id"
    " FROM auth_identities WHERE id = ANY($1::int8[])"};

constexpr db::Query kDeleteIdentity{"identities_delete",
                                    "DELETE FROM auth_identities WHERE id = $1"};

absl::Status IdentityNotFound(int64_t id) {
  return absl::NotFoundError(absl::StrCat("identity ", id, " not found"));
}

bool IsSignInRace(const absl::Status& status) {
  std::string constraint = db::ConstraintOf(status);
  return status.code() == absl::StatusCode::kAlreadyExists &&
         (constraint == "users_live_email_key" ||
          constraint == "auth_identities_provider_account_key");
}

// Encrypts the tokens an update sets and appends them ($access, $refresh, $expiry) to params.
absl::Status AddEncryptedTokens(const crypto::TokenCipher& cipher, const TokenUpdate& update,
                                absl::string_view provider, absl::string_view provider_user_id,
                                db::Params& params) {
  for (const auto& [value, column] : {std::pair{&update.access_token, kAccessTokenColumn},
                                      std::pair{&update.refresh_token, kRefreshTokenColumn}}) {
    if (!value->has_value()) {
      params.AddNull();
      continue;
    }
    FIRSTSIP_ASSIGN_OR_RETURN(
        std::string sealed,
        cipher.Encrypt(**value, TokenContext(column, provider, provider_user_id)));
    params.AddBytes(sealed);
  }
  params.Add(update.expiry_micros);
  return absl::OkStatus();
}

// The first row's identity; `if_none` when there is none.
absl::StatusOr<v1::AuthIdentity> OneIdentity(absl::StatusOr<db::Result> result,
                                             absl::Status if_none) {
  if (!result.ok()) return result.status();
  return FirstRow(*result, &IdentityFromRow, std::move(if_none));
}

}  // namespace

crypto::ValueContext TokenContext(absl::string_view column, absl::string_view provider,
                                  absl::string_view provider_user_id) {
  return crypto::ValueContext{kIdentitiesTable, column, provider, provider_user_id};
}

void IdentityStore::SignIn(const SignInInput& input, const db::CallOptions& call,
                           Done<SignInResult> done) {
  db::Params params;
  params.Add(input.provider)
      .Add(input.provider_user_id)
      .Add(input.email)
      .Add(input.name)
      .Add(input.timezone);
  if (absl::Status sealed =
          AddEncryptedTokens(cipher_, input.tokens, input.provider, input.provider_user_id, params);
      !sealed.ok()) {
    return std::move(done)(sealed);
  }
  RunSignIn(
      std::move(params), call, 1,
      [this, input, call, done = std::move(done)](absl::StatusOr<SignInResult> signed_in) mutable {
        // 22023: the database's time zone data lacks the zone (only the time arithmetic
        // raises it here). A first sign-in must not fail for that: UTC, as for a zone the
        // service does not know either.
        if (!signed_in.ok() && db::SqlStateOf(signed_in.status()) == "22023" &&
            input.timezone != logic::kDefaultTimezone) {
          SignInInput in_utc = input;
          in_utc.timezone = logic::kDefaultTimezone;
          return SignIn(in_utc, call, std::move(done));
        }
        if (signed_in.ok() && signed_in->user_created && due_ &&
            signed_in->user.has_next_briefing_time()) {
          due_(absl::FromUnixSeconds(signed_in->user.next_briefing_time().seconds()) +
               absl::Nanoseconds(signed_in->user.next_briefing_time().nanos()));
        }
        std::move(done)(std::move(signed_in));
      });
}

void IdentityStore::RunSignIn(db::Params params, const db::CallOptions& call, int attempt,
                              Done<SignInResult> done) {
  db::Params retry_params = params;
  primary_.Execute(
      queries::kSignIn, std::move(params), call,
      [this, retry_params = std::move(retry_params), call, attempt,
       done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
        if (!result.ok()) {
          if (IsSignInRace(result.status()) && attempt < kSignInAttempts) {
            return RunSignIn(std::move(retry_params), call, attempt + 1, std::move(done));
          }
          return std::move(done)(result.status());
        }
        // No row: the identity the statement found was removed before it could update it (an
        // erasure of its user, or DeleteIdentity, committed meanwhile). A retry reads what they
        // committed, and links or creates afresh.
        if (result->rows() == 0 && attempt < kSignInAttempts) {
          return RunSignIn(std::move(retry_params), call, attempt + 1, std::move(done));
        }
        if (result->rows() != 1) {
          return std::move(done)(absl::InternalError("sign-in statement returned no outcome"));
        }
        absl::StatusOr<std::vector<v1::User>> users = UsersFromResult(*result);
        absl::StatusOr<std::vector<v1::AuthIdentity>> identities = IdentitiesFromResult(*result);
        if (!users.ok()) return std::move(done)(users.status());
        if (!identities.ok()) return std::move(done)(identities.status());
        if (result->Text(0, result->Column("outcome")) == "user_deleted") {
          return std::move(done)(absl::FailedPreconditionError(
              absl::StrCat("identity ", identities->front().id(), " belongs to user ",
                           users->front().id(), ", which is deleted; undelete the user first")));
        }
        SignInResult outcome;
        outcome.user = std::move(users->front());
        outcome.identity = std::move(identities->front());
        outcome.user_created = *result->Bool(0, result->Column("user_created"));
        outcome.identity_created = *result->Bool(0, result->Column("identity_created"));
        std::move(done)(std::move(outcome));
      });
}

void IdentityStore::Get(int64_t id, const db::CallOptions& call, Done<v1::AuthIdentity> done) {
  reads_.Find(kFindIdentities, absl::StrCat(id), call,
              [id, done = std::move(done)](absl::StatusOr<db::LookupRow> found) mutable {
                std::move(done)(FoundRow(found, &IdentityFromRow, IdentityNotFound(id)));
              });
}

void IdentityStore::ListForUser(int64_t user_id, const db::CallOptions& call,
                                Done<std::vector<v1::AuthIdentity>> done) {
  db::Params params;
  params.Add(user_id);
  reads_.Execute(
      kListIdentities, std::move(params), call,
      [user_id, done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
        if (!result.ok()) return std::move(done)(result.status());
        if (result->rows() == 0) {
          return std::move(done)(absl::NotFoundError(absl::StrCat("user ", user_id, " not found")));
        }
        if (result->IsNull(0, result->Column("identity_id"))) {
          return std::move(done)(std::vector<v1::AuthIdentity>());
        }
        std::move(done)(IdentitiesFromResult(*result));
      });
}

void IdentityStore::UpdateTokens(int64_t id, const TokenUpdate& update, const db::CallOptions& call,
                                 Done<v1::AuthIdentity> done) {
  // Two statements: the associated data needs the identity's provider account, which never
  // changes once the row exists, so nothing can slip in between that matters.
  primary_.Find(
      kFindOwners, absl::StrCat(id), call,
      [this, id, update, call,
       done = std::move(done)](absl::StatusOr<db::LookupRow> found) mutable {
        if (!found.ok()) return std::move(done)(found.status());
        if (!found->found()) return std::move(done)(IdentityNotFound(id));
        const db::Result& owner = *found->result;
        db::Params params;
        params.Add(id);
        if (absl::Status sealed = AddEncryptedTokens(cipher_, update, owner.Text(found->index, 1),
                                                     owner.Text(found->index, 2), params);
            !sealed.ok()) {
          return std::move(done)(sealed);
        }
        primary_.Execute(kUpdateTokens, std::move(params), call,
                         [id, done = std::move(done)](absl::StatusOr<db::Result> updated) mutable {
                           std::move(done)(OneIdentity(std::move(updated), IdentityNotFound(id)));
                         });
      });
}

void IdentityStore::GetTokens(int64_t id, const db::CallOptions& call, Done<v1::OAuthTokens> done) {
  GetTokensWithOwner(id, call, [done = std::move(done)](absl::StatusOr<OwnedTokens> owned) mutable {
    if (!owned.ok()) return std::move(done)(owned.status());
    std::move(done)(std::move(owned->tokens));
  });
}

void IdentityStore::GetTokensWithOwner(int64_t id, const db::CallOptions& call,
                                       Done<OwnedTokens> done) {
  primary_.Find(
      kFindTokens, absl::StrCat(id), call,
      [this, id, done = std::move(done)](absl::StatusOr<db::LookupRow> found) mutable {
        if (!found.ok()) return std::move(done)(found.status());
        if (!found->found()) return std::move(done)(IdentityNotFound(id));
        const db::Result& result = *found->result;
        const int row = found->index;
        absl::string_view provider = result.Text(row, 1);
        absl::string_view provider_user_id = result.Text(row, 2);
        OwnedTokens owned;
        auto open = [&](int index, absl::string_view column, std::string* out) -> absl::Status {
          FIRSTSIP_ASSIGN_OR_RETURN(std::optional<std::string> sealed,
                                    result.OptionalBytes(row, index));
          if (!sealed.has_value()) return absl::OkStatus();
          FIRSTSIP_ASSIGN_OR_RETURN(
              *out, cipher_.Decrypt(*sealed, TokenContext(column, provider, provider_user_id)));
          return absl::OkStatus();
        };
        if (absl::Status opened = open(3, kAccessTokenColumn, owned.tokens.mutable_access_token());
            !opened.ok()) {
          return std::move(done)(opened);
        }
        if (absl::Status opened =
                open(4, kRefreshTokenColumn, owned.tokens.mutable_refresh_token());
            !opened.ok()) {
          return std::move(done)(opened);
        }
        absl::StatusOr<std::optional<int64_t>> expiry = result.OptionalInt64(row, 5);
        if (!expiry.ok()) return std::move(done)(expiry.status());
        if (expiry->has_value()) SetTimestampMicros(**expiry, owned.tokens.mutable_expiry());
        absl::StatusOr<int64_t> user_id = result.Int64(row, 6);
        if (!user_id.ok()) return std::move(done)(user_id.status());
        owned.user_id = *user_id;
        std::move(done)(std::move(owned));
      });
}

void IdentityStore::Delete(int64_t id, const db::CallOptions& call, Done<bool> done) {
  db::Params params;
  params.Add(id);
  primary_.Execute(kDeleteIdentity, std::move(params), call,
                   [id, done = std::move(done)](absl::StatusOr<db::Result> result) mutable {
                     if (!result.ok()) return std::move(done)(result.status());
                     if (result->affected_rows() == 0) return std::move(done)(IdentityNotFound(id));
                     std::move(done)(true);
                   });
}

}  // namespace firstsip::storage
