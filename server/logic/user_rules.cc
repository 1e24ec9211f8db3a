#include "logic/user_rules.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "logic/validators.h"

namespace firstsip::logic {
namespace {

using logic::kMaxNameLength;

constexpr absl::string_view kMaskPaths[] = {
    "email", "name", "timezone", "preferred_briefing_time", "role", "briefings_paused"};
constexpr absl::string_view kEtagPrefix = "r";

}  // namespace

absl::StatusOr<std::string> RoleToStored(v1::Role role, absl::string_view field) {
  switch (role) {
    case v1::ROLE_USER:
      return std::string("user");
    case v1::ROLE_ADMIN:
      return std::string("admin");
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": must be ROLE_USER or ROLE_ADMIN (got ", static_cast<int>(role), ")"));
  }
}

absl::StatusOr<v1::Role> RoleFromStored(absl::string_view stored) {
  if (stored == "user") return v1::ROLE_USER;
  if (stored == "admin") return v1::ROLE_ADMIN;
  return absl::InternalError("unknown role stored");
}

std::string EtagForRevision(int64_t revision) { return absl::StrCat(kEtagPrefix, revision); }

absl::StatusOr<int64_t> RevisionFromEtag(absl::string_view etag, absl::string_view field) {
  int64_t revision = 0;
  if (etag.substr(0, kEtagPrefix.size()) != kEtagPrefix ||
      !absl::SimpleAtoi(etag.substr(kEtagPrefix.size()), &revision) || revision <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field,
                     ": not an etag this service issued; use the etag of a User it "
                     "returned"));
  }
  return revision;
}

absl::StatusOr<NewUser> PrepareNewUser(const v1::User& user) {
  NewUser prepared;
  FIRSTSIP_RETURN_IF_ERROR(logic::ValidateEmail(user.email(), "user.email"));
  prepared.email = user.email();
  FIRSTSIP_RETURN_IF_ERROR(logic::ValidateText(user.name(), "user.name", kMaxNameLength));
  prepared.name = user.name();
  prepared.timezone = user.timezone().empty() ? kDefaultTimezone : user.timezone();
  FIRSTSIP_RETURN_IF_ERROR(logic::ValidateTimezone(prepared.timezone, "user.timezone"));
  prepared.preferred_briefing_time = user.preferred_briefing_time().empty()
                                         ? kDefaultBriefingTime
                                         : user.preferred_briefing_time();
  FIRSTSIP_RETURN_IF_ERROR(
      logic::ValidateClockTime(prepared.preferred_briefing_time, "user.preferred_briefing_time"));
  v1::Role role = user.role() == v1::ROLE_UNSPECIFIED ? v1::ROLE_USER : user.role();
  FIRSTSIP_ASSIGN_OR_RETURN(prepared.role, RoleToStored(role, "user.role"));
  prepared.briefings_paused = user.briefings_paused();
  return prepared;
}

absl::StatusOr<UserPatch> PrepareUserPatch(const v1::User& user,
                                           const google::protobuf::FieldMask& mask) {
  if (mask.paths_size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "update_mask: must list the fields to change, among: ", absl::StrJoin(kMaskPaths, ", ")));
  }
  UserPatch patch;
  for (const std::string& path : mask.paths()) {
    if (path == "email") {
      FIRSTSIP_RETURN_IF_ERROR(logic::ValidateEmail(user.email(), "user.email"));
      patch.email = user.email();
    } else if (path == "name") {
      FIRSTSIP_RETURN_IF_ERROR(logic::ValidateText(user.name(), "user.name", kMaxNameLength));
      patch.name = user.name();
    } else if (path == "timezone") {
      FIRSTSIP_RETURN_IF_ERROR(logic::ValidateTimezone(user.timezone(), "user.timezone"));
      patch.timezone = user.timezone();
    } else if (path == "preferred_briefing_time") {
      FIRSTSIP_RETURN_IF_ERROR(
          logic::ValidateClockTime(user.preferred_briefing_time(), "user.preferred_briefing_time"));
      patch.preferred_briefing_time = user.preferred_briefing_time();
    } else if (path == "role") {
      FIRSTSIP_ASSIGN_OR_RETURN(patch.role, RoleToStored(user.role(), "user.role"));
    } else if (path == "briefings_paused") {
      patch.briefings_paused = user.briefings_paused();
    } else {
      std::string shown = path.size() > 64 ? path.substr(0, 64) + "…" : path;
      return absl::InvalidArgumentError(
          absl::StrCat("update_mask: \"", logic::ValidateText(shown, "", 128).ok() ? shown : "?",
                       "\" is not an updatable field; use: ", absl::StrJoin(kMaskPaths, ", ")));
    }
  }
  if (!user.etag().empty()) {
    FIRSTSIP_ASSIGN_OR_RETURN(patch.expected_revision, RevisionFromEtag(user.etag(), "user.etag"));
  }
  return patch;
}

}  // namespace firstsip::logic
