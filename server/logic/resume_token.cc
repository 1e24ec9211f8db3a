#include "logic/resume_token.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "logic/bound_token.h"

namespace firstsip::logic {
namespace {

constexpr char kPurpose[] = "briefing_changes";

std::string Scope(int64_t user_id) { return absl::StrCat("user=", user_id); }

}  // namespace

std::string EncodeResumeToken(int64_t user_id, int64_t change_seq) {
  return EncodeBoundToken(kPurpose, Scope(user_id), change_seq);
}

absl::StatusOr<int64_t> DecodeResumeToken(absl::string_view token, int64_t user_id,
                                          absl::string_view field) {
  std::optional<int64_t> change_seq = DecodeBoundToken(token, kPurpose, Scope(user_id));
  if (!change_seq.has_value() || *change_seq < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": not a resume token this service issued for user ", user_id,
        " (use the resume_token of a WatchBriefings message or of a ListBriefings page)"));
  }
  return *change_seq;
}

}  // namespace firstsip::logic
