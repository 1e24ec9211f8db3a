// A fresh database at the head of the embedded migrations, with a connection to it: where a
// database test of code that runs on the service's schema starts. Tests of the migrations
// themselves start from an empty TestDatabase instead.
//
// Each call migrates a database of its own (about 0.1 s of the 0.3-0.6 s a test's database
// costs; creating it is most of the rest). Copying one migrated template per test run instead
// (CREATE DATABASE ... TEMPLATE) was tried: it did not shorten the pg tier beyond the run-to-run
// noise, so the simpler way stays.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "db/blocking_connection.h"
#include "support/test_database.h"

namespace firstsip::testing {

struct MigratedDatabase {
  // A new database with every embedded migration applied. The status names the step that
  // failed; FAILED_PRECONDITION explains how to provide PostgreSQL when none is configured.
  static absl::StatusOr<MigratedDatabase> Create();

  // Declared first so that the connection closes before the database is dropped.
  std::unique_ptr<TestDatabase> database;
  std::unique_ptr<db::BlockingConnection> connection;  // to `database`
};

}  // namespace firstsip::testing
