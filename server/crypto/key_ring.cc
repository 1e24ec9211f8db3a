#include "crypto/key_ring.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace firstsip::crypto {
namespace {

constexpr char kHowToMakeAKey[] = "make one with `openssl rand -base64 32`";

// A string that wipes itself: holds decoded key material between parsing and Key.
struct WipedString {
  std::string value;
  ~WipedString() { OPENSSL_cleanse(value.data(), value.size()); }
};

absl::StatusOr<std::unique_ptr<Key>> DecodeKey(absl::string_view source, absl::string_view text) {
  absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  if (trimmed.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, " is empty; ", kHowToMakeAKey));
  }
  WipedString decoded;
  if (!absl::Base64Unescape(trimmed, &decoded.value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, " is not valid base64; ", kHowToMakeAKey));
  }
  if (decoded.value.size() != kKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(source, " decodes to ", decoded.value.size(),
                                                   " bytes; AES-256 needs exactly 32 (",
                                                   kHowToMakeAKey, ")"));
  }
  return std::make_unique<Key>(decoded.value);
}

}  // namespace

Key::Key(absl::string_view material) {
  std::memcpy(material_.data(), material.data(), kKeyBytes);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(material_.data(), material_.size(), digest, &length, EVP_sha256(), nullptr);
  std::memcpy(id_.data(), digest, kKeyIdBytes);
}

Key::~Key() { OPENSSL_cleanse(material_.data(), material_.size()); }

std::string KeyIdHex(const KeyId& id) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(id.data()), id.size()));
}

const Key* KeyRing::Find(const KeyId& id) const {
  for (const auto& key : keys_) {
    if (key->id() == id) return key.get();
  }
  return nullptr;
}

absl::StatusOr<KeyRing> KeyRing::FromBase64(absl::string_view active_source,
                                            absl::string_view active_base64,
                                            absl::string_view previous_csv) {
  KeyRing ring;
  absl::StatusOr<std::unique_ptr<Key>> active = DecodeKey(active_source, active_base64);
  if (!active.ok()) return active.status();
  ring.keys_.push_back(std::move(*active));
  int index = 0;
  for (absl::string_view entry : absl::StrSplit(previous_csv, ',', absl::SkipWhitespace())) {
    ++index;
    absl::StatusOr<std::unique_ptr<Key>> previous =
        DecodeKey(absl::StrCat("ENCRYPTION_PREVIOUS_KEYS entry ", index), entry);
    if (!previous.ok()) return previous.status();
    if (ring.Find((*previous)->id()) == nullptr) ring.keys_.push_back(std::move(*previous));
  }
  return ring;
}

absl::StatusOr<KeyRing> KeyRing::Load(std::optional<std::string> key_env,
                                      const std::string& key_file,
                                      std::optional<std::string> previous_env) {
  WipedString env{key_env.value_or("")};
  if (key_env) OPENSSL_cleanse(key_env->data(), key_env->size());
  WipedString previous{previous_env.value_or("")};
  if (previous_env) OPENSSL_cleanse(previous_env->data(), previous_env->size());
  bool have_env = !env.value.empty();
  if (have_env && !key_file.empty()) {
    return absl::InvalidArgumentError(
        "both ENCRYPTION_KEY and --encryption-key-file are set; use exactly one");
  }
  if (!have_env && key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no encryption key: set ENCRYPTION_KEY or --encryption-key-file (", kHowToMakeAKey, ")"));
  }
  if (have_env) return FromBase64("ENCRYPTION_KEY", env.value, previous.value);
  std::ifstream file(key_file);
  if (!file) {
    return absl::InvalidArgumentError(
        absl::StrCat("--encryption-key-file: cannot read ", key_file));
  }
  WipedString text;
  text.value.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  return FromBase64(absl::StrCat("--encryption-key-file ", key_file), text.value, previous.value);
}

}  // namespace firstsip::crypto
