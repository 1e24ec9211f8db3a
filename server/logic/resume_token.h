// WatchBriefings resume tokens: opaque, versioned, bound to their user (bound_token.h). A token
// names a point of the user's change feed (users.change_seq): resuming from it delivers every
// change committed after that point.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace firstsip::logic {

std::string EncodeResumeToken(int64_t user_id, int64_t change_seq);

// The feed position of a token EncodeResumeToken made for `user_id`; INVALID_ARGUMENT naming
// `field` for anything else (another user's token, a page token, text that is no token).
absl::StatusOr<int64_t> DecodeResumeToken(absl::string_view token, int64_t user_id,
                                          absl::string_view field = "resume_token");

}  // namespace firstsip::logic
