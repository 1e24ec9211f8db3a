#include "logic/validators.h"

#include <string>

#include "gtest/gtest.h"

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

TEST(ValidateId, RequiresPositiveIds) {
  EXPECT_TRUE(ValidateId(1, "id").ok());
  EXPECT_FALSE(ValidateId(0, "id").ok());
  EXPECT_FALSE(ValidateId(-5, "id").ok());
}

}  // namespace
}  // namespace firstsip::logic
