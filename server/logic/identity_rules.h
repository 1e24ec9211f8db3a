// IdentityService rules that need no database: providers, sign-in input, token updates.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "firstsip/v1/identity.pb.h"

namespace firstsip::logic {

inline constexpr size_t kMaxProviderUserIdLength = 255;
inline constexpr size_t kMaxTokenLength = 16 * 1024;

// Plaintext token fields to store; unset fields keep the stored value.
struct TokenUpdate {
  std::optional<std::string> access_token;
  std::optional<std::string> refresh_token;
  std::optional<int64_t> expiry_micros;
};

struct SignInInput {
  std::string provider;
  std::string provider_user_id;
  std::string email;
  std::string name;
  std::string timezone;  // valid; "UTC" when the caller's was missing or not a zone
  TokenUpdate tokens;
};

// A lowercase token [a-z0-9_-]{1,32}, e.g. "google".
absl::Status ValidateProvider(absl::string_view provider, absl::string_view field);

// Empty token strings and an unset expiry mean "keep the stored value".
absl::StatusOr<TokenUpdate> PrepareTokenUpdate(const v1::OAuthTokens& tokens,
                                               absl::string_view field);

// Validates SignIn's request. The time zone is taken when valid and is otherwise UTC (a
// browser's guess should not block a sign-in); everything else must be valid.
absl::StatusOr<SignInInput> PrepareSignIn(const v1::SignInRequest& request);

}  // namespace firstsip::logic
