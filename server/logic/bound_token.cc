#include "logic/bound_token.h"

#include <openssl/evp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace firstsip::logic {
namespace {

constexpr unsigned char kFormatVersion = 1;
constexpr size_t kKeyBytes = 8;
constexpr size_t kDigestBytes = 8;
constexpr size_t kTokenBytes = 1 + kKeyBytes + kDigestBytes;

std::string Digest(absl::string_view purpose, absl::string_view scope, int64_t key) {
  // Length-prefixed so no two (purpose, scope) pairs hash the same text.
  std::string input =
      absl::StrCat(purpose.size(), ":", purpose, "|", scope.size(), ":", scope, "|", key);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), kDigestBytes);
}

}  // namespace

std::string EncodeBoundToken(absl::string_view purpose, absl::string_view scope, int64_t key) {
  std::string raw;
  raw.push_back(static_cast<char>(kFormatVersion));
  auto unsigned_key = static_cast<uint64_t>(key);
  for (int shift = 56; shift >= 0; shift -= 8) {
    raw.push_back(static_cast<char>((unsigned_key >> shift) & 0xff));
  }
  raw += Digest(purpose, scope, key);
  return absl::WebSafeBase64Escape(raw);
}

std::optional<int64_t> DecodeBoundToken(absl::string_view token, absl::string_view purpose,
                                        absl::string_view scope) {
  std::string raw;
  if (token.size() > 64 || !absl::WebSafeBase64Unescape(token, &raw) || raw.size() != kTokenBytes ||
      static_cast<unsigned char>(raw[0]) != kFormatVersion) {
    return std::nullopt;
  }
  uint64_t unsigned_key = 0;
  for (size_t i = 1; i <= kKeyBytes; ++i) {
    unsigned_key = (unsigned_key << 8) | static_cast<unsigned char>(raw[i]);
  }
  auto key = static_cast<int64_t>(unsigned_key);
  if (raw.substr(1 + kKeyBytes) != Digest(purpose, scope, key)) return std::nullopt;
  return key;
}

}  // namespace firstsip::logic
