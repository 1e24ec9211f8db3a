#include "migrate/migration_set.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace firstsip::migrate {
namespace {

TEST(ParseMigrationFileName, ReadsVersionNameAndDirection) {
  auto up = ParseMigrationFileName("000001_create_users.up.sql");
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->version, 1);
  EXPECT_EQ(up->description, "create_users");
  EXPECT_TRUE(up->up);
  auto down = ParseMigrationFileName("20240101120000_add-index.down.sql");
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_EQ(down->version, 20240101120000);
  EXPECT_FALSE(down->up);
}

TEST(ParseMigrationFileName, RejectsMisnamedFiles) {
  for (const char* name :
       {"create_users.up.sql", "000001.up.sql", "000001_create_users.sql", "000001_.up.sql",
        "x00001_users.up.sql", "000000_zero.up.sql", "000001_bad name.up.sql",
        "1234567890123456789_too_long.up.sql", "000001_users.UP.sql", "000001_users.up.sql.bak"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(ParseMigrationFileName(name).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(MigrationSet, PairsFilesInVersionOrder) {
  std::vector<EmbeddedFile> files = {{"000002_b.down.sql", "drop b"},
                                     {"000001_a.up.sql", "create a"},
                                     {"000002_b.up.sql", "create b"},
                                     {"000001_a.down.sql", "drop a"}};
  auto set = MigrationSet::FromFiles(files);
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->migrations().size(), 2u);
  EXPECT_EQ(set->migrations()[0].version, 1);
  EXPECT_EQ(set->migrations()[1].up_sql, "create b");
  EXPECT_EQ(set->head(), 2);
  EXPECT_EQ(set->Previous(2), 1);
  EXPECT_EQ(set->Previous(1), 0);
  EXPECT_EQ(set->migrations()[0].up_sha256, Sha256Hex("create a"));
}

TEST(MigrationSet, RefusesMissingHalvesAndClashingVersions) {
  std::vector<EmbeddedFile> lonely = {{"000001_a.up.sql", "x"}};
  EXPECT_EQ(MigrationSet::FromFiles(lonely).status().code(), absl::StatusCode::kFailedPrecondition);
  std::vector<EmbeddedFile> clash = {{"000001_a.up.sql", "x"},
                                     {"000001_a.down.sql", "x"},
                                     {"000001_b.up.sql", "x"},
                                     {"000001_b.down.sql", "x"}};
  EXPECT_EQ(MigrationSet::FromFiles(clash).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(MigrationSet, EmbeddedFilesFormAValidSetWithOneTablePerMigration) {
  auto set = MigrationSet::Embedded();
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_GE(set->migrations().size(), 3u);
  EXPECT_EQ(set->migrations()[0].up_file, "000001_create_users.up.sql");
  EXPECT_EQ(set->migrations()[1].up_file, "000002_create_auth_identities.up.sql");
  EXPECT_EQ(set->migrations()[2].up_file, "000003_create_briefings.up.sql");
}

TEST(Sha256Hex, MatchesTheKnownDigest) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace firstsip::migrate
