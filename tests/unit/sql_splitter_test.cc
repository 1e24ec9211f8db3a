// The statement splitter for no-transaction migration files, and the marker that selects them.
#include "migrate/sql_splitter.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "migrate/migration_set.h"

namespace firstsip::migrate {
namespace {

std::vector<std::string> Texts(absl::string_view sql) {
  auto statements = SplitSqlStatements(sql);
  EXPECT_TRUE(statements.ok()) << statements.status();
  std::vector<std::string> texts;
  if (statements.ok()) {
    for (const SqlStatement& statement : *statements) texts.push_back(statement.text);
  }
  return texts;
}

TEST(SplitSqlStatements, SplitsOnlyAtTheSemicolonsThatEndStatements) {
  struct Case {
    const char* name;
    const char* sql;
    std::vector<std::string> statements;
  };
  const Case cases[] = {
      {"plain", "SELECT 1; SELECT 2;", {"SELECT 1", "SELECT 2"}},
      {"no final semicolon", "SELECT 1;\nSELECT 2\n", {"SELECT 1", "SELECT 2"}},
      {"string", "SELECT 'a;b'; SELECT 2", {"SELECT 'a;b'", "SELECT 2"}},
      {"doubled quote", "SELECT 'it''s; fine'; SELECT 2", {"SELECT 'it''s; fine'", "SELECT 2"}},
      {"escape string", "SELECT E'a\\';b'; SELECT 2", {"SELECT E'a\\';b'", "SELECT 2"}},
      {"backslash in a standard string", "SELECT 'a\\'; SELECT 2", {"SELECT 'a\\'", "SELECT 2"}},
      {"a word ending in e is not an escape prefix",
       "SELECT name'x\\'; SELECT 2",
       {"SELECT name'x\\'", "SELECT 2"}},
      {"quoted identifier",
       "CREATE TABLE \"a;b\" (x int); SELECT 2",
       {"CREATE TABLE \"a;b\" (x int)", "SELECT 2"}},
      {"dollar quote",
       "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$; SELECT 2",
       {"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$", "SELECT 2"}},
      {"tagged dollar quote holding $$",
       "DO $body$ BEGIN PERFORM '$$;'; END $body$; SELECT 2",
       {"DO $body$ BEGIN PERFORM '$$;'; END $body$", "SELECT 2"}},
      {"dollar in an identifier and a parameter are not quotes",
       "SELECT a$b FROM t WHERE x = $1; SELECT 2",
       {"SELECT a$b FROM t WHERE x = $1", "SELECT 2"}},
      {"line comment",
       "SELECT 1; -- not here; nor here\nSELECT 2",
       {"SELECT 1", "-- not here; nor here\nSELECT 2"}},
      {"nested block comment",
       "SELECT /* a; /* b; */ c; */ 1; SELECT 2",
       {"SELECT /* a; /* b; */ c; */ 1", "SELECT 2"}},
      {"comment-only pieces are dropped",
       "-- firstsip: no-transaction\n-- why\n;\n/* nothing */;  ;",
       {}},
      {"quote characters inside comments",
       "-- it's\nSELECT 1; /* \"; */ SELECT 2",
       {"-- it's\nSELECT 1", "/* \"; */ SELECT 2"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(Texts(c.sql), c.statements);
  }
}

TEST(SplitSqlStatements, ReportsTheLineWhereEachStatementStarts) {
  auto statements = SplitSqlStatements(
      "-- firstsip: no-transaction\n-- a comment\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i\n"
      "  ON t (x);\n\nSELECT 'two\nlines';\nSELECT 3;");
  ASSERT_TRUE(statements.ok()) << statements.status();
  ASSERT_EQ(statements->size(), 3u);
  EXPECT_EQ((*statements)[0].line, 3);
  EXPECT_EQ((*statements)[1].line, 6);
  EXPECT_EQ((*statements)[2].line, 8);
}

TEST(SplitSqlStatements, RefusesWhatItCannotSplitSafely) {
  for (const char* sql :
       {"SELECT 'open", "SELECT \"open", "SELECT $x$ open", "SELECT /* /* */",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END"}) {
    SCOPED_TRACE(sql);
    EXPECT_EQ(SplitSqlStatements(sql).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(NoTransactionMarker, OnlyTheExactFirstLineCounts) {
  EXPECT_TRUE(HasNoTransactionMarker("-- firstsip: no-transaction\nCREATE INDEX ..."));
  EXPECT_TRUE(HasNoTransactionMarker("-- firstsip: no-transaction  \r\nSELECT 1"));
  EXPECT_FALSE(HasNoTransactionMarker("SELECT 1;\n-- firstsip: no-transaction\n"));
  EXPECT_FALSE(HasNoTransactionMarker("--firstsip: no-transaction\n"));
}

TEST(NoTransactionMarker, MarkedFilesAreSplitAndNearMissesRefused) {
  std::vector<EmbeddedFile> files = {
      {"000001_a.up.sql",
       "-- firstsip: no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (x);\n"},
      {"000001_a.down.sql", "DROP INDEX IF EXISTS i;"}};
  auto set = MigrationSet::FromFiles(files);
  ASSERT_TRUE(set.ok()) << set.status();
  const Migration& migration = set->migrations()[0];
  EXPECT_TRUE(migration.up_no_transaction);
  EXPECT_FALSE(migration.down_no_transaction);
  ASSERT_EQ(migration.up_statements.size(), 1u);
  EXPECT_EQ(migration.up_statements[0].line, 2);

  for (const char* near_miss :
       {"--firstsip: no-transaction\nSELECT 1;", "SELECT 1;\n-- firstsip: no-transaction\n",
        "-- firstsip: no-transactions\nSELECT 1;", "-- FirstSip: no-transaction\nSELECT 1;"}) {
    SCOPED_TRACE(near_miss);
    std::vector<EmbeddedFile> typo = {{"000001_a.up.sql", near_miss},
                                      {"000001_a.down.sql", "SELECT 1;"}};
    auto refused = MigrationSet::FromFiles(typo);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(refused.status().message().find(kNoTransactionMarker), absl::string_view::npos)
        << refused.status();
  }
  std::vector<EmbeddedFile> unsplittable = {
      {"000001_a.up.sql", "-- firstsip: no-transaction\nSELECT 'open;\n"},
      {"000001_a.down.sql", "SELECT 1;"}};
  EXPECT_EQ(MigrationSet::FromFiles(unsplittable).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace firstsip::migrate
