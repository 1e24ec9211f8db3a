// Keyset pagination: page sizes and opaque page tokens bound to the request that issued them.
// A token carries the last row's key and a digest over (collection, filter, key); a token used
// with another collection or filter, or altered, fails the digest. The digest detects misuse,
// not forgery: a forged token could only move a caller's own listing to another starting key.
#pragma once

#include <cstdint>
#include <string>

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

}  // namespace firstsip::logic
