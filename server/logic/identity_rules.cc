#include "logic/identity_rules.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "logic/user_rules.h"
#include "logic/validators.h"

namespace firstsip::logic {

absl::Status ValidateProvider(absl::string_view provider, absl::string_view field) {
  bool valid = !provider.empty() && provider.size() <= 32 &&
               std::all_of(provider.begin(), provider.end(), [](char c) {
                 return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' || c == '-';
               });
  if (!valid) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be 1 to 32 of a-z, 0-9, '_' or '-', e.g. \"google\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<TokenUpdate> PrepareTokenUpdate(const v1::OAuthTokens& tokens,
                                               absl::string_view field) {
  TokenUpdate update;
  if (!tokens.access_token().empty()) {
    FIRSTSIP_RETURN_IF_ERROR(
        ValidateText(tokens.access_token(), absl::StrCat(field, ".access_token"), kMaxTokenLength));
    update.access_token = tokens.access_token();
  }
  if (!tokens.refresh_token().empty()) {
    FIRSTSIP_RETURN_IF_ERROR(ValidateText(tokens.refresh_token(),
                                          absl::StrCat(field, ".refresh_token"), kMaxTokenLength));
    update.refresh_token = tokens.refresh_token();
  }
  if (tokens.has_expiry()) {
    using google::protobuf::util::TimeUtil;
    const auto& expiry = tokens.expiry();
    if (expiry.seconds() < TimeUtil::kTimestampMinSeconds ||
        expiry.seconds() > TimeUtil::kTimestampMaxSeconds || expiry.nanos() < 0 ||
        expiry.nanos() > 999'999'999) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".expiry: must be a valid timestamp (years 1 to 9999)"));
    }
    update.expiry_micros =
        google::protobuf::util::TimeUtil::TimestampToMicroseconds(tokens.expiry());
  }
  return update;
}

absl::StatusOr<SignInInput> PrepareSignIn(const v1::SignInRequest& request) {
  SignInInput input;
  FIRSTSIP_RETURN_IF_ERROR(ValidateProvider(request.provider(), "provider"));
  input.provider = request.provider();
  if (request.provider_user_id().empty()) {
    return absl::InvalidArgumentError("provider_user_id: is required");
  }
  FIRSTSIP_RETURN_IF_ERROR(
      ValidateIdentifier(request.provider_user_id(), "provider_user_id", kMaxProviderUserIdLength));
  input.provider_user_id = request.provider_user_id();
  FIRSTSIP_RETURN_IF_ERROR(ValidateEmail(request.email(), "email"));
  input.email = request.email();
  FIRSTSIP_RETURN_IF_ERROR(ValidateText(request.name(), "name", kMaxNameLength));
  input.name = request.name();
  input.timezone =
      ValidateTimezone(request.timezone(), "timezone").ok() ? request.timezone() : kDefaultTimezone;
  FIRSTSIP_ASSIGN_OR_RETURN(input.tokens, PrepareTokenUpdate(request.tokens(), "tokens"));
  return input;
}

}  // namespace firstsip::logic
