#include "db/sql_error.h"

#include "gtest/gtest.h"

namespace firstsip::db {
namespace {

TEST(CodeForSqlState, SortsErrorsByWhatTheCallerCanDo) {
  struct Case {
    const char* sqlstate;
    absl::StatusCode code;
  } const cases[] = {
      {"23505", absl::StatusCode::kAlreadyExists},
      {"23503", absl::StatusCode::kFailedPrecondition},
      {"23001", absl::StatusCode::kFailedPrecondition},
      {"23502", absl::StatusCode::kInvalidArgument},
      {"23514", absl::StatusCode::kInvalidArgument},
      {"22021", absl::StatusCode::kInvalidArgument},
      {"22P02", absl::StatusCode::kInvalidArgument},
      {"40001", absl::StatusCode::kAborted},
      {"40P01", absl::StatusCode::kAborted},
      {"57014", absl::StatusCode::kCancelled},
      {"08006", absl::StatusCode::kUnavailable},
      {"08001", absl::StatusCode::kUnavailable},
      {"57P01", absl::StatusCode::kUnavailable},
      {"57P03", absl::StatusCode::kUnavailable},
      {"53300", absl::StatusCode::kUnavailable},
      {"25006", absl::StatusCode::kUnavailable},
      {"42601", absl::StatusCode::kInternal},
      {"42P01", absl::StatusCode::kInternal},
      {"XX000", absl::StatusCode::kInternal},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.sqlstate);
    EXPECT_EQ(CodeForSqlState(c.sqlstate), c.code);
  }
}

TEST(IsConnectionFatal, MarksClass08AndServerShutdown) {
  EXPECT_TRUE(IsConnectionFatal("08006"));
  EXPECT_TRUE(IsConnectionFatal("57P01"));
  EXPECT_FALSE(IsConnectionFatal("23505"));
  EXPECT_FALSE(IsConnectionFatal("57014"));
}

}  // namespace
}  // namespace firstsip::db
