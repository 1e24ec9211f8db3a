// Opaque tokens that carry one 64-bit key back to the service (page tokens, resume tokens):
// versioned, web-safe base64, and bound by a digest over (purpose, scope, key), so a token used
// for another purpose or scope (another listing filter, another user), or altered, is refused.
// The digest detects misuse, not forgery: a forged token could only move a caller's own
// request to another key of its own scope.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace firstsip::logic {

std::string EncodeBoundToken(absl::string_view purpose, absl::string_view scope, int64_t key);

// The key of a token EncodeBoundToken made for the same purpose and scope; nullopt otherwise.
std::optional<int64_t> DecodeBoundToken(absl::string_view token, absl::string_view purpose,
                                        absl::string_view scope);

}  // namespace firstsip::logic
