// UserService rules that need no database: defaults, validation, field masks, etags, roles.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "firstsip/v1/user.pb.h"
#include "google/protobuf/field_mask.pb.h"

namespace firstsip::logic {

// A macro too, for the statement that creates a user at sign-in (storage/identity_store.h).
#define FIRSTSIP_DEFAULT_BRIEFING_TIME "06:00"

inline constexpr char kDefaultTimezone[] = "UTC";
inline constexpr char kDefaultBriefingTime[] = FIRSTSIP_DEFAULT_BRIEFING_TIME;

// A user to insert, validated, with defaults applied and the role in its stored form.
struct NewUser {
  std::string email;
  std::string name;
  std::string timezone;
  std::string preferred_briefing_time;
  std::string role;
  bool briefings_paused = false;
};

// The fields an update sets (unset: keep), and the revision the caller's etag names.
struct UserPatch {
  std::optional<std::string> email;
  std::optional<std::string> name;
  std::optional<std::string> timezone;
  std::optional<std::string> preferred_briefing_time;
  std::optional<std::string> role;
  std::optional<bool> briefings_paused;
  std::optional<int64_t> expected_revision;
};

// Validates CreateUser's `user` (field paths "user.*") and applies defaults. Output-only
// fields (id, timestamps, etag) are ignored, as AIP-203 asks.
absl::StatusOr<NewUser> PrepareNewUser(const v1::User& user);

// Validates UpdateUser: every mask path must be one of email, name, timezone,
// preferred_briefing_time, role, briefings_paused; an empty mask is INVALID_ARGUMENT.
absl::StatusOr<UserPatch> PrepareUserPatch(const v1::User& user,
                                           const google::protobuf::FieldMask& mask);

// Stored role text <-> enum. RoleToStored fails on ROLE_UNSPECIFIED and unknown numbers.
absl::StatusOr<std::string> RoleToStored(v1::Role role, absl::string_view field);
absl::StatusOr<v1::Role> RoleFromStored(absl::string_view stored);

// Etags are opaque to callers; inside they name the row's revision.
std::string EtagForRevision(int64_t revision);
absl::StatusOr<int64_t> RevisionFromEtag(absl::string_view etag, absl::string_view field);

}  // namespace firstsip::logic
