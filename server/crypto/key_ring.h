// The AES-256 keys the service encrypts OAuth tokens with: one active key (encrypts and
// decrypts) and any number of previous keys (decrypt only, during a rotation). Each key's id is
// a short fingerprint of the key itself, so operators never map ids by hand. Key material is
// wiped from memory when a key is destroyed.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace firstsip::crypto {

inline constexpr size_t kKeyBytes = 32;
inline constexpr size_t kKeyIdBytes = 4;

using KeyId = std::array<uint8_t, kKeyIdBytes>;

// A key and its id. Not copyable, so the material exists once; wiped on destruction.
class Key {
 public:
  // `material` must be exactly 32 bytes.
  explicit Key(absl::string_view material);
  ~Key();
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;

  const uint8_t* data() const { return material_.data(); }
  const KeyId& id() const { return id_; }

 private:
  std::array<uint8_t, kKeyBytes> material_;
  KeyId id_;
};

// Eight lowercase hex characters, as operators see a key id in messages and progress lines.
std::string KeyIdHex(const KeyId& id);

class KeyRing {
 public:
  const Key& active() const { return *keys_.front(); }
  // The key with `id`, or nullptr when it is not configured.
  const Key* Find(const KeyId& id) const;
  size_t size() const { return keys_.size(); }

  // Builds a ring from base64 text. INVALID_ARGUMENT, naming the source and never the key,
  // when the active key is missing or either is not base64 of exactly 32 bytes. A previous key
  // equal to the active one is ignored.
  static absl::StatusOr<KeyRing> FromBase64(absl::string_view active_source,
                                            absl::string_view active_base64,
                                            absl::string_view previous_csv);

  // Reads the configuration the server accepts: ENCRYPTION_KEY (`key_env`) or a key file
  // (`key_file`, e.g. a Kubernetes secret mount, surrounding whitespace ignored), exactly one
  // of them; and ENCRYPTION_PREVIOUS_KEYS (`previous_env`, comma-separated).
  static absl::StatusOr<KeyRing> Load(std::optional<std::string> key_env,
                                      const std::string& key_file,
                                      std::optional<std::string> previous_env);

 private:
  std::vector<std::unique_ptr<Key>> keys_;  // front: the active key
};

}  // namespace firstsip::crypto
