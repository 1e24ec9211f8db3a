#include "logic/page_token.h"

#include "absl/strings/str_cat.h"
#include "logic/bound_token.h"

namespace firstsip::logic {

absl::StatusOr<int> NormalizePageSize(int32_t requested, absl::string_view field) {
  if (requested < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must not be negative"));
  }
  if (requested == 0) return kDefaultPageSize;
  return requested > kMaxPageSize ? kMaxPageSize : static_cast<int>(requested);
}

std::string EncodePageToken(absl::string_view collection, absl::string_view filter, int64_t key) {
  return EncodeBoundToken(collection, filter, key);
}

absl::StatusOr<int64_t> DecodePageToken(absl::string_view token, absl::string_view collection,
                                        absl::string_view filter, absl::string_view field) {
  std::optional<int64_t> key = DecodeBoundToken(token, collection, filter);
  if (!key.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field,
                     ": not a page token this service issued for this request "
                     "(tokens are bound to their filters; start again without one)"));
  }
  return *key;
}

}  // namespace firstsip::logic
