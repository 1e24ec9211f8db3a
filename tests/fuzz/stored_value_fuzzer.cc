// libFuzzer: the encrypted-value parser never crashes and never accepts a forgery.
#include <cstddef>
#include <cstdint>
#include <string>

#include "crypto/key_ring.h"
#include "crypto/token_cipher.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto* ring = new firstsip::crypto::KeyRing(*firstsip::crypto::KeyRing::FromBase64(
      "fuzz", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", ""));
  firstsip::crypto::TokenCipher cipher(*ring);
  std::string stored(reinterpret_cast<const char*>(data), size);
  (void)firstsip::crypto::TokenCipher::KeyIdOf(stored);
  const firstsip::crypto::ValueContext context{"auth_identities", "access_token", "google", "1"};
  // Without the key, a random input authenticating would be a forgery.
  if (cipher.Decrypt(stored, context).ok()) __builtin_trap();
  return 0;
}
