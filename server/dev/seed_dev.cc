#include "dev/seed_dev.h"

#include <cstdio>

#include "common/status_macros.h"

namespace firstsip::dev {
namespace {

constexpr char kSeedUser[] = R"sql(
INSERT INTO users (email, name, timezone, preferred_briefing_time)
VALUES ($1, 'Dev User', 'Europe/Berlin', '06:30')
ON CONFLICT (lower(email)) WHERE delete_time IS NULL DO NOTHING
)sql";

constexpr char kFindUser[] =
    "SELECT id FROM users WHERE lower(email) = lower($1) AND delete_time IS NULL";

constexpr char kSeedBriefing[] = R"sql(
INSERT INTO briefings (user_id, status, content, request_id)
VALUES ($1, 'completed', $2::jsonb, 'seed-dev')
ON CONFLICT (user_id, request_id) WHERE request_id IS NOT NULL DO NOTHING
)sql";

constexpr char kSampleContent[] = R"json({
  "news": [{"title": "Local café opens at dawn", "source": "First Sip Daily"}],
  "weather": {"location": "Berlin", "summary": "Light rain, clearing later", "high_c": 9, "low_c": 3},
  "work": {"meetings": 2, "first": "09:30 stand-up"}
})json";

}  // namespace

absl::Status SeedDev(db::BlockingConnection& connection) {
  db::Params email;
  email.Add(kDevUserEmail);
  FIRSTSIP_ASSIGN_OR_RETURN(db::Result inserted, connection.Exec(kSeedUser, email));
  FIRSTSIP_ASSIGN_OR_RETURN(db::Result found, connection.Exec(kFindUser, email));
  FIRSTSIP_ASSIGN_OR_RETURN(int64_t user_id, found.Int64(0, 0));
  db::Params briefing;
  briefing.Add(user_id).Add(kSampleContent);
  FIRSTSIP_ASSIGN_OR_RETURN(db::Result seeded, connection.Exec(kSeedBriefing, briefing));
  std::fprintf(stderr, "seed-dev: user %s (id %lld) %s; sample briefing %s\n", kDevUserEmail,
               static_cast<long long>(user_id),
               inserted.affected_rows() ? "created" : "already there",
               seeded.affected_rows() ? "created" : "already there");
  return absl::OkStatus();
}

}  // namespace firstsip::dev
