// Development seed data: a test user and a sample briefing. A command of its own
// (`firstsip-server seed-dev`), never a migration, so production never gets it.
#pragma once

#include "absl/status/status.h"
#include "db/blocking_connection.h"

namespace firstsip::dev {

inline constexpr char kDevUserEmail[] = "dev@firstsip.local";

// Idempotent: creates what is missing and leaves what is there.
absl::Status SeedDev(db::BlockingConnection& connection);

}  // namespace firstsip::dev
