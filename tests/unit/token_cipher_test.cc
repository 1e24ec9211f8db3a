#include "crypto/token_cipher.h"

#include <string>

#include "absl/strings/match.h"
#include "crypto/key_ring.h"
#include "gtest/gtest.h"

namespace firstsip::crypto {
namespace {

constexpr char kKeyA[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr char kKeyB[] = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

const ValueContext kAccess{"auth_identities", "access_token", "google", "1234"};

KeyRing Ring(const char* active, const char* previous = "") {
  auto ring = KeyRing::FromBase64("ENCRYPTION_KEY", active, previous);
  EXPECT_TRUE(ring.ok()) << ring.status();
  return *std::move(ring);
}

TEST(TokenCipher, RoundTripsAndUsesAFreshNonceEachTime) {
  KeyRing ring = Ring(kKeyA);
  TokenCipher cipher(ring);
  auto first = cipher.Encrypt("ya29.secret-token", kAccess);
  auto second = cipher.Encrypt("ya29.secret-token", kAccess);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE(*first, *second);
  EXPECT_EQ(first->size(), kHeaderBytes + 17 + kTagBytes);
  EXPECT_FALSE(absl::StrContains(*first, "secret"));
  EXPECT_EQ(*cipher.Decrypt(*first, kAccess), "ya29.secret-token");
  EXPECT_EQ(*cipher.Decrypt(*cipher.Encrypt("", kAccess), kAccess), "");
}

TEST(TokenCipher, EveryFlippedBitOfEveryRegionFailsToDecrypt) {
  KeyRing ring = Ring(kKeyA);
  TokenCipher cipher(ring);
  std::string sealed = *cipher.Encrypt("refresh-me", kAccess);
  // version | key id | nonce | ciphertext | tag: every byte, each region included.
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string altered = sealed;
    altered[i] = static_cast<char>(altered[i] ^ 0x01);
    SCOPED_TRACE(i);
    absl::StatusOr<std::string> opened = cipher.Decrypt(altered, kAccess);
    EXPECT_FALSE(opened.ok());
  }
  EXPECT_FALSE(cipher.Decrypt(sealed.substr(0, sealed.size() - 1), kAccess).ok());
  EXPECT_FALSE(cipher.Decrypt(sealed + "x", kAccess).ok());
  EXPECT_FALSE(cipher.Decrypt("", kAccess).ok());
}

TEST(TokenCipher, AValueMovedToAnotherRowOrColumnFailsToDecrypt) {
  KeyRing ring = Ring(kKeyA);
  TokenCipher cipher(ring);
  std::string sealed = *cipher.Encrypt("token", kAccess);
  const ValueContext elsewhere[] = {
      {"auth_identities", "refresh_token", "google", "1234"},
      {"auth_identities", "access_token", "google", "1235"},
      {"auth_identities", "access_token", "github", "1234"},
      {"other_table", "access_token", "google", "1234"},
      // Length prefixes keep field boundaries: "goo"+"gle1234" is not "google"+"1234".
      {"auth_identities", "access_token", "goo", "gle1234"},
  };
  for (const ValueContext& context : elsewhere) {
    absl::StatusOr<std::string> opened = cipher.Decrypt(sealed, context);
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss);
  }
}

TEST(TokenCipher, PreviousKeysStillDecryptAndUnknownKeysAreNamed) {
  KeyRing old_ring = Ring(kKeyA);
  std::string sealed = *TokenCipher(old_ring).Encrypt("token", kAccess);
  KeyRing rotated = Ring(kKeyB, kKeyA);
  EXPECT_EQ(*TokenCipher(rotated).Decrypt(sealed, kAccess), "token");
  std::string resealed = *TokenCipher(rotated).Encrypt("token", kAccess);
  EXPECT_EQ(*TokenCipher::KeyIdOf(resealed), rotated.active().id());
  KeyRing only_new = Ring(kKeyB);
  absl::Status missing = TokenCipher(only_new).Decrypt(sealed, kAccess).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(missing.message(), KeyIdHex(old_ring.active().id()))) << missing;
}

TEST(KeyRing, DerivesStableShortIdsFromTheKeys) {
  KeyRing a = Ring(kKeyA);
  KeyRing again = Ring(kKeyA);
  KeyRing b = Ring(kKeyB);
  EXPECT_EQ(a.active().id(), again.active().id());
  EXPECT_NE(a.active().id(), b.active().id());
  EXPECT_EQ(KeyIdHex(a.active().id()).size(), 8u);
  KeyRing duplicate = Ring(kKeyA, kKeyA);
  EXPECT_EQ(duplicate.size(), 1u);
}

TEST(KeyRing, RefusesBadKeysWithOneClearLineThatNeverShowsTheKey) {
  struct Case {
    const char* why;
    std::optional<std::string> env;
    std::string file;
    std::optional<std::string> previous;
    const char* mentions;
  } const cases[] = {
      {"missing", std::nullopt, "", std::nullopt, "no encryption key"},
      {"empty", std::string(""), "", std::nullopt, "no encryption key"},
      {"short", std::string("c2hvcnQta2V5"), "", std::nullopt, "decodes to 9 bytes"},
      {"not base64", std::string("not*base64*at*all!!"), "", std::nullopt, "not valid base64"},
      {"both sources", std::string(kKeyA), "/tmp/key", std::nullopt, "use exactly one"},
      {"unreadable file", std::nullopt, "/nonexistent/key", std::nullopt, "cannot read"},
      {"bad previous", std::string(kKeyA), "", std::string("c2hvcnQ="), "ENCRYPTION_PREVIOUS_KEYS"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.why);
    absl::Status status = KeyRing::Load(c.env, c.file, c.previous).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(status.message(), c.mentions)) << status;
    EXPECT_FALSE(absl::StrContains(status.message(), "\n"));
    if (c.env && !c.env->empty()) {
      EXPECT_FALSE(absl::StrContains(status.message(), *c.env));
    }
  }
}

}  // namespace
}  // namespace firstsip::crypto
