#include "logic/validators.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "logic/briefing_rules.h"
#include "logic/identity_rules.h"
#include "logic/user_rules.h"

namespace firstsip::logic {
namespace {

struct Case {
  std::string input;
  bool valid;
};

TEST(ValidateEmail, AcceptsAddressesAndRejectsEverythingElseNamingTheField) {
  const Case cases[] = {
      {"ada@example.com", true},
      {"Ada.Lovelace+news@mail.example.co.uk", true},
      {"a@b.io", true},
      {"", false},
      {"no-at-sign.example.com", false},
      {"two@@example.com", false},
      {"a@b@example.com", false},
      {"@example.com", false},
      {"ada@", false},
      {"ada@localhost", false},
      {"ada@.example.com", false},
      {"ada@example..com", false},
      {"ada lovelace@example.com", false},
      {" ada@example.com", false},
      {"ada@example.com\n", false},
      {".ada@example.com", false},
      {"ada..l@example.com", false},
      {"<ada@example.com>", false},
      {"ada@example.com; DROP TABLE users", false},
      {std::string("ada\0@example.com", 16), false},
      {std::string(65, 'a') + "@example.com", false},
      {"a@" + std::string(250, 'b') + ".com", false},
      {"\xff\xfe@example.com", false},
      // The domain is a hostname: LDH labels, xn-- for internationalized domains, 63 bytes a label.
      {"ada@mail-1.example.com", true},
      {"ada@xn--mnchen-3ya.de", true},
      {"ada@EXAMPLE.COM", true},
      {"ada@123.example", true},
      {"ada@" + std::string(63, 'a') + ".com", true},
      {"ada@" + std::string(64, 'a') + ".com", false},
      {"ada@münchen.de", false},
      {"ada@-example.com", false},
      {"ada@example-.com", false},
      {"ada@mail.-example.com", false},
      {"ada@example.com-", false},
      {"ada@example.com.", false},
      {"ada@exa_mple.com", false},
      {"ada@exa%mple.com", false},
      {"ada@exa!mple.com", false},
      {"ada@exa'mple.com", false},
      {"ada@example.c*m", false},
      // U+FFFD anywhere in the address.
      {"ad\xEF\xBF\xBD@example.com", false},
      {"\xEF\xBF\xBD@example.com", false},
      {"ada@ex\xEF\xBF\xBD"
       "ample.com",
       false},
      // Other non-ASCII text stays allowed before the '@' (RFC 6531).
      {"zoë@example.com", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    absl::Status status = ValidateEmail(c.input, "user.email");
    EXPECT_EQ(status.ok(), c.valid) << status;
    if (!c.valid) {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(status.message().substr(0, 11), "user.email:");
    }
  }
}

TEST(ValidateTimezone, AcceptsIanaNamesOnly) {
  const Case cases[] = {
      {"UTC", true},
      {"Europe/Berlin", true},
      {"America/Argentina/Buenos_Aires", true},
      {"Etc/GMT+5", true},
      {"", false},
      {"Mars/Olympus", false},
      {"Europe/Berlinn", false},
      {"/etc/localtime", false},
      {"../../etc/passwd", false},
      {"Fixed/UTC+01:00", false},
      {"Europe/Berlin; DROP TABLE users", false},
      {std::string(100, 'A'), false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    absl::Status status = ValidateTimezone(c.input, "user.timezone");
    EXPECT_EQ(status.ok(), c.valid) << status;
    if (!c.valid) {
      EXPECT_EQ(status.message().substr(0, 14), "user.timezone:");
    }
  }
}

TEST(ValidateClockTime, AcceptsTwoDigitTwentyFourHourTimes) {
  const Case cases[] = {
      {"00:00", true}, {"06:00", true},  {"23:59", true},  {"12:30", true},  {"24:00", false},
      {"6:00", false}, {"06:60", false}, {"06-00", false}, {"", false},      {"06:00 ", false},
      {"0600", false}, {"ab:cd", false}, {"99:99", false}, {"-1:00", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(ValidateClockTime(c.input, "t").ok(), c.valid);
  }
}

TEST(ValidateText, RejectsNulBytesInvalidUtf8AndOverlongValues) {
  EXPECT_TRUE(ValidateText("Zoë 👋", "name", 64).ok());
  EXPECT_FALSE(ValidateText(std::string("a\0b", 3), "name", 64).ok());
  EXPECT_FALSE(ValidateText("\xc3\x28", "name", 64).ok());          // bad continuation
  EXPECT_FALSE(ValidateText("\xed\xa0\x80", "name", 64).ok());      // surrogate
  EXPECT_FALSE(ValidateText("\xc0\xaf", "name", 64).ok());          // overlong
  EXPECT_FALSE(ValidateText("\xf4\x90\x80\x80", "name", 64).ok());  // above U+10FFFF
  EXPECT_FALSE(ValidateText(std::string(65, 'x'), "name", 64).ok());
  EXPECT_TRUE(ValidateText(std::string(64, 'x'), "name", 64).ok());
}

TEST(ValidateEmail, SaysWhichDomainRuleBroke) {
  EXPECT_EQ(ValidateEmail("ada@" + std::string(64, 'a') + ".com", "email").message(),
            "email: each part of the domain must be at most 63 bytes");
  EXPECT_EQ(ValidateEmail("ada@münchen.de", "email").message(),
            "email: the domain must be ASCII letters, digits, hyphens and dots (an "
            "internationalized domain in its xn-- form)");
  EXPECT_EQ(ValidateEmail("ada@example-.com", "email").message(),
            "email: no part of the domain may start or end with a hyphen");
  EXPECT_EQ(ValidateEmail("ada@localhost", "email").message(),
            "email: needs a domain such as example.com after the '@'");
}

TEST(ValidateIdentifier, RefusesTheReplacementCharacterAndWhatValidateTextRefuses) {
  EXPECT_TRUE(ValidateIdentifier("1084", "provider_user_id", 255).ok());
  EXPECT_TRUE(ValidateIdentifier("Zoë 👋", "provider_user_id", 255).ok());
  EXPECT_TRUE(ValidateIdentifier("\xEF\xBF\xBC", "id", 255).ok());  // U+FFFC is not U+FFFD
  for (const std::string& damaged : {std::string("\xEF\xBF\xBD"), std::string("abc\xEF\xBF\xBD"),
                                     std::string("\xEF\xBF\xBD"
                                                 "abc"),
                                     std::string("a\xEF\xBF\xBD\xEF\xBF\xBD")}) {
    absl::Status status = ValidateIdentifier(damaged, "provider_user_id", 255);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(),
              "provider_user_id: must not contain U+FFFD, the replacement character: the text "
              "was damaged before it arrived; send the original");
  }
  EXPECT_FALSE(ValidateIdentifier(std::string("a\0b", 3), "id", 255).ok());
  EXPECT_FALSE(ValidateIdentifier("\xc3\x28", "id", 255).ok());
  EXPECT_FALSE(ValidateIdentifier(std::string(256, 'x'), "id", 255).ok());
}

// Every identifier field of every request refuses U+FFFD, naming the field; free text (a name,
// an error message) keeps it, since a display name may legitimately hold one.
TEST(IdentifierFields, EveryOneRefusesTheReplacementCharacterNamingTheField) {
  const std::string kDamaged = "ada\xEF\xBF\xBD";
  auto sign_in = [&](auto change) {
    v1::SignInRequest request;
    request.set_provider("google");
    request.set_provider_user_id("1084");
    request.set_email("ada@example.com");
    change(request);
    return PrepareSignIn(request).status();
  };
  v1::User user;
  user.set_email(kDamaged + "@example.com");
  google::protobuf::FieldMask email_mask;
  email_mask.add_paths("email");
  struct FieldCase {
    std::string field;
    absl::Status status;
  };
  const FieldCase cases[] = {
      {"provider_user_id",
       sign_in([&](v1::SignInRequest& r) { r.set_provider_user_id(kDamaged); })},
      {"email", sign_in([&](v1::SignInRequest& r) { r.set_email(kDamaged + "@example.com"); })},
      {"email", ValidateEmail(kDamaged + "@example.com", "email")},  // GetUserByEmail
      {"user.email", PrepareNewUser(user).status()},
      {"user.email", PrepareUserPatch(user, email_mask).status()},
      {"request_id", RequestIdFrom(kDamaged, "request_id").status()},
      {"provider", sign_in([&](v1::SignInRequest& r) { r.set_provider(kDamaged); })},
  };
  for (const FieldCase& c : cases) {
    SCOPED_TRACE(c.field);
    EXPECT_EQ(c.status.code(), absl::StatusCode::kInvalidArgument) << c.status;
    EXPECT_TRUE(absl::StartsWith(c.status.message(), c.field + ": ")) << c.status;
  }
  EXPECT_TRUE(sign_in([&](v1::SignInRequest& r) { r.set_name(kDamaged); }).ok());
}

TEST(ValidateId, RequiresPositiveIds) {
  EXPECT_TRUE(ValidateId(1, "id").ok());
  EXPECT_FALSE(ValidateId(0, "id").ok());
  EXPECT_FALSE(ValidateId(-5, "id").ok());
}

}  // namespace
}  // namespace firstsip::logic
