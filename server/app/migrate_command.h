// `firstsip-server migrate up | down N | goto V | force V | version | status`.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "app/options.h"
#include "migrate/migration_set.h"
#include "migrate/migrator.h"

namespace firstsip::app {

// The migrations this process runs: those built in, or --migrations-dir's.
absl::StatusOr<migrate::MigrationSet> LoadMigrations(const Options& options);

// The migrator's settings from the flags (the lock waits; a second session to name blockers).
migrate::MigratorOptions MigratorOptionsFrom(const Options& options);

// Runs one migrate subcommand; returns the process exit code (0 ok, 1 failed, 2 usage).
int RunMigrateCommand(const std::vector<std::string>& args, const Options& options);

// Applies pending migrations and checks the schema is current: the start-up step of `serve`
// (`migrate` false only checks). Prints one clear line and returns false on failure.
bool PrepareSchema(const Options& options, bool migrate);

}  // namespace firstsip::app
