#include "db/lookup_statements.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace firstsip::db {
namespace {

TEST(LookupStatements, SlotsAreThePowerOfTwoAtOrAboveTheKeys) {
  const std::pair<size_t, size_t> cases[] = {{0, 1}, {1, 1},  {2, 2},   {3, 4},   {4, 4},
                                             {5, 8}, {9, 16}, {16, 16}, {17, 32}, {64, 64}};
  for (const auto& [count, slots] : cases) {
    SCOPED_TRACE(count);
    EXPECT_EQ(LookupStatements::Slots(count), slots);
  }
}

TEST(LookupStatements, OnlyTheKeysParameterIsWrittenOut) {
  EXPECT_EQ(WithKeySlots("SELECT id FROM t WHERE id = ANY($1::int8[])", 2),
            "SELECT id FROM t WHERE id = ANY(ARRAY[$1,$2]::int8[])");
  EXPECT_EQ(WithKeySlots("SELECT k FROM unnest($1::text[]) AS k WHERE $10 > 0 AND $1 <> '{}'", 1),
            "SELECT k FROM unnest(ARRAY[$1]::text[]) AS k WHERE $10 > 0 AND ARRAY[$1] <> '{}'");
  EXPECT_EQ(WithKeySlots("SELECT $1", 4), "SELECT ARRAY[$1,$2,$3,$4]");
}

TEST(LookupStatements, EachSizeIsAStatementOfItsOwnAndTheLastKeyFillsTheSlots) {
  LookupStatements statements;
  const Query lookup{"things_find", "SELECT id FROM things WHERE id = ANY($1::int8[])",
                     Access::kRead};
  auto [three, three_params] = statements.For(lookup, {"1", "2", "3"});
  EXPECT_EQ(three.name, "things_find_4");
  EXPECT_EQ(three.sql, "SELECT id FROM things WHERE id = ANY(ARRAY[$1,$2,$3,$4]::int8[])");
  EXPECT_EQ(three.access, Access::kRead);
  ASSERT_EQ(three_params.size(), 4);
  std::vector<const char*> values = three_params.ValuePointers();
  EXPECT_STREQ(values[2], "3");
  EXPECT_STREQ(values[3], "3");
  auto [one, one_params] = statements.For(lookup, {"9"});
  EXPECT_EQ(one.name, "things_find_1");
  EXPECT_EQ(one_params.size(), 1);
  auto [again, again_params] = statements.For(lookup, {"5", "6", "7", "8"});
  EXPECT_EQ(again.sql.data(), three.sql.data()) << "one statement per size, kept";
}

}  // namespace
}  // namespace firstsip::db
