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
#include "db/pool.h"
#include "firstsip/v1/identity.pb.h"
#include "firstsip/v1/user.pb.h"
#include "logic/identity_rules.h"
#include "storage/done.h"

namespace firstsip::storage {

using logic::SignInInput;
using logic::TokenUpdate;

struct SignInResult {
  v1::User user;
  v1::AuthIdentity identity;
  bool user_created = false;
  bool identity_created = false;
};

class IdentityStore {
 public:
  IdentityStore(db::Pool& pool, const crypto::TokenCipher& cipher) : pool_(pool), cipher_(cipher) {}

  // One atomic statement (see identity_store.cc); concurrent first sign-ins of one identity
  // are retried until they agree on one user and one identity. FAILED_PRECONDITION when the
  // identity's user is soft-deleted.
  void SignIn(const SignInInput& input, const db::CallOptions& call, Done<SignInResult> done);
  void Get(int64_t id, const db::CallOptions& call, Done<v1::AuthIdentity> done);
  // NOT_FOUND when the user is missing or soft-deleted.
  void ListForUser(int64_t user_id, const db::CallOptions& call,
                   Done<std::vector<v1::AuthIdentity>> done);
  void UpdateTokens(int64_t id, const TokenUpdate& update, const db::CallOptions& call,
                    Done<v1::AuthIdentity> done);
  // Decrypted tokens; DATA_LOSS when a stored value fails authentication.
  void GetTokens(int64_t id, const db::CallOptions& call, Done<v1::OAuthTokens> done);
  // Removes the row, tokens and all.
  void Delete(int64_t id, const db::CallOptions& call, Done<bool> done);

 private:
  void RunSignIn(db::Params params, const db::CallOptions& call, int attempt,
                 Done<SignInResult> done);

  db::Pool& pool_;
  const crypto::TokenCipher& cipher_;
};

// Associated data for a token column of an identity.
crypto::ValueContext TokenContext(absl::string_view column, absl::string_view provider,
                                  absl::string_view provider_user_id);

}  // namespace firstsip::storage
