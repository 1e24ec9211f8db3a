#include "db/dsn.h"

#include "gtest/gtest.h"

namespace firstsip::db {
namespace {

TEST(DsnCutPassword, HidesThePasswordInBothForms) {
  std::string url = DsnCutPassword("postgresql://app:s3cret@db.internal:5432/firstsip");
  EXPECT_EQ(url.find("s3cret"), std::string::npos);
  EXPECT_NE(url.find("password=***"), std::string::npos);
  EXPECT_NE(url.find("host=db.internal"), std::string::npos);
  std::string pairs = DsnCutPassword("host=db user=app password='p w' dbname=firstsip");
  EXPECT_EQ(pairs.find("p w"), std::string::npos);
  EXPECT_NE(pairs.find("dbname=firstsip"), std::string::npos);
}

TEST(DsnCutPassword, NeverEchoesAnUnparsableDsn) {
  EXPECT_EQ(DsnCutPassword("postgresql://app:s3cret@[broken"), "<unparsable DSN>");
}

TEST(ValidateDsn, AcceptsBothFormsAndRejectsGarbageWithoutEchoingIt) {
  EXPECT_TRUE(ValidateDsn("postgresql://localhost/firstsip").ok());
  EXPECT_TRUE(ValidateDsn("host=/tmp dbname=x").ok());
  absl::Status bad = ValidateDsn("host='unterminated password=hunter2");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.message().find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace firstsip::db
