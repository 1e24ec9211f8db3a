#include "logic/page_token.h"

#include <openssl/evp.h>

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace firstsip::logic {
namespace {

constexpr unsigned char kFormatVersion = 1;
constexpr size_t kKeyBytes = 8;
constexpr size_t kDigestBytes = 8;
constexpr size_t kTokenBytes = 1 + kKeyBytes + kDigestBytes;

std::string Digest(absl::string_view collection, absl::string_view filter, int64_t key) {
  // Length-prefixed so no two (collection, filter) pairs hash the same text.
  std::string input =
      absl::StrCat(collection.size(), ":", collection, "|", filter.size(), ":", filter, "|", key);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), kDigestBytes);
}

}  // namespace

absl::StatusOr<int> NormalizePageSize(int32_t requested, absl::string_view field) {
  if (requested < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must not be negative"));
  }
  if (requested == 0) return kDefaultPageSize;
  return requested > kMaxPageSize ? kMaxPageSize : static_cast<int>(requested);
}

std::string EncodePageToken(absl::string_view collection, absl::string_view filter, int64_t key) {
  std::string raw;
  raw.push_back(static_cast<char>(kFormatVersion));
  auto unsigned_key = static_cast<uint64_t>(key);
  for (int shift = 56; shift >= 0; shift -= 8) {
    raw.push_back(static_cast<char>((unsigned_key >> shift) & 0xff));
  }
  raw += Digest(collection, filter, key);
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<int64_t> DecodePageToken(absl::string_view token, absl::string_view collection,
                                        absl::string_view filter, absl::string_view field) {
  auto invalid = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat(field,
                     ": not a page token this service issued for this request "
                     "(tokens are bound to their filters; start again without one)"));
  };
  std::string raw;
  if (token.size() > 64 || !absl::WebSafeBase64Unescape(token, &raw) || raw.size() != kTokenBytes ||
      static_cast<unsigned char>(raw[0]) != kFormatVersion) {
    return invalid();
  }
  uint64_t unsigned_key = 0;
  for (size_t i = 1; i <= kKeyBytes; ++i) {
    unsigned_key = (unsigned_key << 8) | static_cast<unsigned char>(raw[i]);
  }
  auto key = static_cast<int64_t>(unsigned_key);
  if (raw.substr(1 + kKeyBytes) != Digest(collection, filter, key)) return invalid();
  return key;
}

}  // namespace firstsip::logic
