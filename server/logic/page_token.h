// Keyset pagination: page sizes and opaque page tokens bound to the request that issued them.
// A token carries the last row's key, bound to (collection, filter) (bound_token.h): a token
// used with another collection or filter, or altered, is refused.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace firstsip::logic {

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 1000;

// 0 -> 50, above 1000 -> 1000; negative -> INVALID_ARGUMENT naming `field`.
absl::StatusOr<int> NormalizePageSize(int32_t requested, absl::string_view field = "page_size");

// `filter` is any stable text that identifies the request's filters (e.g. "deleted=1;role=2").
std::string EncodePageToken(absl::string_view collection, absl::string_view filter, int64_t key);

// The key from a token EncodePageToken made for the same collection and filter; otherwise
// INVALID_ARGUMENT naming `field`.
absl::StatusOr<int64_t> DecodePageToken(absl::string_view token, absl::string_view collection,
                                        absl::string_view filter,
                                        absl::string_view field = "page_token");

// For rows fetched with a limit of `page_size` + 1 (the extra row says another page follows):
// cuts `rows` to the page and returns the next page's token, or "" when this page is the last.
// `Row` has the id() the listing is ordered by.
template <typename Row>
std::string CutToPage(std::vector<Row>& rows, int page_size, absl::string_view collection,
                      absl::string_view filter) {
  if (static_cast<int>(rows.size()) <= page_size) return "";
  rows.resize(page_size);
  return EncodePageToken(collection, filter, rows.back().id());
}

}  // namespace firstsip::logic
