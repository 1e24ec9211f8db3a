// AES-256-GCM for values stored at rest (OAuth tokens). A stored value is self-describing:
//
//   version (1 byte, = 1) | key id (4) | nonce (12, fresh from RAND_bytes) | ciphertext | tag (16)
//
// and bound to where it is stored through associated data (table, column, and the identity's
// provider and provider_user_id), so a value copied into another row or column fails to
// decrypt. Tampering yields an error, never garbage.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/key_ring.h"

namespace firstsip::crypto {

inline constexpr size_t kNonceBytes = 12;
inline constexpr size_t kTagBytes = 16;
inline constexpr size_t kHeaderBytes = 1 + kKeyIdBytes + kNonceBytes;

// Where a value lives; becomes the associated data.
struct ValueContext {
  absl::string_view table;
  absl::string_view column;
  absl::string_view provider;
  absl::string_view provider_user_id;
};

class TokenCipher {
 public:
  explicit TokenCipher(const KeyRing& keys) : keys_(keys) {}

  // Encrypts under the active key. INTERNAL only if OpenSSL fails.
  absl::StatusOr<std::string> Encrypt(absl::string_view plaintext,
                                      const ValueContext& context) const;

  // DATA_LOSS when the value is malformed, altered, or stored for another place;
  // FAILED_PRECONDITION naming the key id when its key is not configured.
  absl::StatusOr<std::string> Decrypt(absl::string_view stored, const ValueContext& context) const;

  // The id of the key a stored value was encrypted under (DATA_LOSS if malformed).
  static absl::StatusOr<KeyId> KeyIdOf(absl::string_view stored);

  const KeyRing& keys() const { return keys_; }

 private:
  const KeyRing& keys_;
};

}  // namespace firstsip::crypto
