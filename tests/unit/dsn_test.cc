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

TEST(SplitHosts, GivesOneServerForASingleHostDsn) {
  auto servers = SplitHosts("postgresql://app:pw@db1:6432/firstsip?sslmode=require");
  ASSERT_TRUE(servers.ok()) << servers.status();
  ASSERT_EQ(servers->size(), 1u);
  EXPECT_EQ((*servers)[0].label, "db1:6432");
  EXPECT_NE((*servers)[0].dsn.find("sslmode=require"), std::string::npos);
  EXPECT_TRUE(ValidateDsn((*servers)[0].dsn).ok());
}

TEST(SplitHosts, SplitsLibpqMultiHostFormsKeepingEveryOtherSetting) {
  for (const char* dsn :
       {"postgresql://app:pw@db1:5433,db2:5434/firstsip?application_name=x",
        "host=db1,db2 port=5433,5434 user=app password=pw dbname=firstsip application_name=x"}) {
    auto servers = SplitHosts(dsn);
    ASSERT_TRUE(servers.ok()) << dsn;
    ASSERT_EQ(servers->size(), 2u) << dsn;
    EXPECT_EQ((*servers)[0].label, "db1:5433");
    EXPECT_EQ((*servers)[1].label, "db2:5434");
    for (const DsnHost& server : *servers) {
      // Each is a DSN of one server that libpq accepts, with the rest of the settings.
      EXPECT_TRUE(ValidateDsn(server.dsn).ok()) << server.dsn;
      EXPECT_EQ(server.dsn.find(','), std::string::npos) << server.dsn;
      EXPECT_NE(server.dsn.find("dbname=firstsip"), std::string::npos) << server.dsn;
      EXPECT_NE(server.dsn.find("password=pw"), std::string::npos) << server.dsn;
      EXPECT_NE(server.dsn.find("application_name=x"), std::string::npos) << server.dsn;
      // Labels go to logs and metrics: never credentials.
      EXPECT_EQ(server.label.find("pw"), std::string::npos);
    }
    EXPECT_NE((*servers)[1].dsn.find("host=db2 "), std::string::npos) << (*servers)[1].dsn;
    EXPECT_NE((*servers)[1].dsn.find("port=5434"), std::string::npos) << (*servers)[1].dsn;
  }
}

TEST(SplitHosts, OnePortServesEveryHostAndNoPortMeansTheDefault) {
  auto one_port = SplitHosts("host=a,b port=6000 dbname=x");
  ASSERT_TRUE(one_port.ok());
  ASSERT_EQ(one_port->size(), 2u);
  EXPECT_EQ((*one_port)[1].label, "b:6000");
  auto no_port = SplitHosts("host=a dbname=x");
  ASSERT_TRUE(no_port.ok());
  EXPECT_EQ((*no_port)[0].label, "a:5432");
}

TEST(SplitHosts, RefusesListsThatDoNotPairUpAndGarbage) {
  EXPECT_EQ(SplitHosts("host=a,b,c port=1,2").status().code(), absl::StatusCode::kInvalidArgument);
  auto garbage = SplitHosts("host='unterminated password=s3cret");
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(garbage.status().message().find("s3cret"), absl::string_view::npos);
}

}  // namespace
}  // namespace firstsip::db
