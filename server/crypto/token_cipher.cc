#include "crypto/token_cipher.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

namespace firstsip::crypto {
namespace {

constexpr uint8_t kFormatVersion = 1;

struct ContextFree {
  void operator()(EVP_CIPHER_CTX* context) const { EVP_CIPHER_CTX_free(context); }
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, ContextFree>;

// Length-prefixed fields, so ("ab", "c") and ("a", "bc") never share associated data.
std::string AssociatedData(const ValueContext& context) {
  std::string data = "firstsip.v1";
  for (absl::string_view part :
       {context.table, context.column, context.provider, context.provider_user_id}) {
    absl::StrAppend(&data, "|", part.size(), ":", part);
  }
  return data;
}

const unsigned char* Bytes(absl::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

absl::Status Tampered() {
  return absl::DataLossError(
      "a stored token failed authentication: it was altered, or stored for another row or "
      "column");
}

}  // namespace

absl::StatusOr<KeyId> TokenCipher::KeyIdOf(absl::string_view stored) {
  if (stored.size() < kHeaderBytes + kTagBytes ||
      static_cast<uint8_t>(stored[0]) != kFormatVersion) {
    return absl::DataLossError("a stored token is not in a format this service reads");
  }
  KeyId id;
  std::memcpy(id.data(), stored.data() + 1, kKeyIdBytes);
  return id;
}

absl::StatusOr<std::string> TokenCipher::Encrypt(absl::string_view plaintext,
                                                 const ValueContext& context) const {
  const Key& key = keys_.active();
  std::string out(kHeaderBytes + plaintext.size() + kTagBytes, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  bytes[0] = kFormatVersion;
  std::memcpy(bytes + 1, key.id().data(), kKeyIdBytes);
  unsigned char* nonce = bytes + 1 + kKeyIdBytes;
  if (RAND_bytes(nonce, kNonceBytes) != 1) return absl::InternalError("RAND_bytes failed");
  std::string aad = AssociatedData(context);
  CipherContext cipher(EVP_CIPHER_CTX_new());
  int length = 0;
  unsigned char* ciphertext = bytes + kHeaderBytes;
  bool ok = cipher &&
            EVP_EncryptInit_ex(cipher.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(cipher.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
            EVP_EncryptInit_ex(cipher.get(), nullptr, nullptr, key.data(), nonce) == 1 &&
            EVP_EncryptUpdate(cipher.get(), nullptr, &length, Bytes(aad),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_EncryptUpdate(cipher.get(), ciphertext, &length, Bytes(plaintext),
                              static_cast<int>(plaintext.size())) == 1 &&
            EVP_EncryptFinal_ex(cipher.get(), ciphertext + length, &length) == 1 &&
            EVP_CIPHER_CTX_ctrl(cipher.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                                ciphertext + plaintext.size()) == 1;
  if (!ok) return absl::InternalError("AES-256-GCM encryption failed");
  return out;
}

absl::StatusOr<std::string> TokenCipher::Decrypt(absl::string_view stored,
                                                 const ValueContext& context) const {
  absl::StatusOr<KeyId> id = KeyIdOf(stored);
  if (!id.ok()) return id.status();
  const Key* key = keys_.Find(*id);
  if (key == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("a stored token is encrypted under key ", KeyIdHex(*id),
                     ", which is not configured; add that key to ENCRYPTION_PREVIOUS_KEYS"));
  }
  const unsigned char* nonce = Bytes(stored) + 1 + kKeyIdBytes;
  const unsigned char* ciphertext = Bytes(stored) + kHeaderBytes;
  size_t ciphertext_size = stored.size() - kHeaderBytes - kTagBytes;
  std::string aad = AssociatedData(context);
  std::string plaintext(ciphertext_size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  unsigned char tag[kTagBytes];
  std::memcpy(tag, ciphertext + ciphertext_size, kTagBytes);
  CipherContext cipher(EVP_CIPHER_CTX_new());
  int length = 0;
  bool setup =
      cipher &&
      EVP_DecryptInit_ex(cipher.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(cipher.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
      EVP_DecryptInit_ex(cipher.get(), nullptr, nullptr, key->data(), nonce) == 1 &&
      EVP_DecryptUpdate(cipher.get(), nullptr, &length, Bytes(aad), static_cast<int>(aad.size())) ==
          1 &&
      EVP_DecryptUpdate(cipher.get(), out, &length, ciphertext,
                        static_cast<int>(ciphertext_size)) == 1 &&
      EVP_CIPHER_CTX_ctrl(cipher.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) == 1;
  if (!setup) return absl::InternalError("AES-256-GCM decryption failed to start");
  if (EVP_DecryptFinal_ex(cipher.get(), out + length, &length) != 1) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return Tampered();
  }
  return plaintext;
}

}  // namespace firstsip::crypto
