#include "support/migrated_database.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "migrate/migration_set.h"
#include "migrate/migrator.h"

namespace firstsip::testing {
namespace {

absl::Status Context(const absl::Status& status, absl::string_view doing) {
  return absl::Status(status.code(), absl::StrCat(doing, ": ", status.message()));
}

}  // namespace

absl::StatusOr<MigratedDatabase> MigratedDatabase::Create() {
  absl::StatusOr<migrate::MigrationSet> migrations = migrate::MigrationSet::Embedded();
  if (!migrations.ok()) return Context(migrations.status(), "reading the embedded migrations");
  absl::StatusOr<std::unique_ptr<TestDatabase>> database = TestDatabase::Create();
  if (!database.ok()) return Context(database.status(), "creating the test database");
  auto connection = db::BlockingConnection::Open((*database)->dsn());
  if (!connection.ok()) {
    return Context(connection.status(), absl::StrCat("connecting to ", (*database)->name()));
  }
  migrate::Migrator migrator(**connection, *migrations, absl::Seconds(5));
  if (absl::Status up = migrator.Up(); !up.ok()) {
    return Context(up, absl::StrCat("migrating ", (*database)->name()));
  }
  return MigratedDatabase{std::move(*database), std::move(*connection)};
}

}  // namespace firstsip::testing
