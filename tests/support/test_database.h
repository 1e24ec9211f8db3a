// A fresh, empty database per test, in the cluster the ctest fixture started (or in the
// server FIRSTSIP_TEST_DATABASE_URL names). Database tests fail, never skip, without one.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace firstsip::testing {

class TestDatabase {
 public:
  // Creates the database. FAILED_PRECONDITION explains how to provide PostgreSQL when none
  // is configured.
  static absl::StatusOr<std::unique_ptr<TestDatabase>> Create();
  // Drops the database, disconnecting whoever is left.
  ~TestDatabase();

  // A libpq key=value DSN for this database.
  const std::string& dsn() const { return dsn_; }
  // The same server's maintenance database (for terminating backends and the like).
  const std::string& admin_dsn() const { return admin_dsn_; }
  const std::string& name() const { return name_; }

 private:
  TestDatabase(std::string admin_dsn, std::string name);

  std::string admin_dsn_;
  std::string name_;
  std::string dsn_;
};

}  // namespace firstsip::testing
