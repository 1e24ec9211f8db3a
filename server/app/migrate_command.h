// `firstsip-server migrate up | down N | goto V | force V | version | status`.
#pragma once

#include <string>
#include <vector>

#include "app/options.h"

namespace firstsip::app {

// Runs one migrate subcommand; returns the process exit code (0 ok, 1 failed, 2 usage).
int RunMigrateCommand(const std::vector<std::string>& args, const Options& options);

// Applies pending migrations and checks the schema is current: the start-up step of `serve`
// (`migrate` false only checks). Prints one clear line and returns false on failure.
bool PrepareSchema(const Options& options, bool migrate);

}  // namespace firstsip::app
