// When a briefing is due, as PostgreSQL computes it (storage/briefing_time_sql.h): the issue's
// table of zones and dates, checked to the second, and Abseil's cctz as an independent oracle
// around every transition of every zone from 2025 to 2027. cctz's TimeZone::At(civil).pre is
// RFC 5545's reading: a skipped local time with the offset before the jump, a repeated one at
// its first occurrence.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "db/blocking_connection.h"
#include "db/query.h"
#include "gtest/gtest.h"
#include "logic/validators.h"
#include "storage/briefing_time_sql.h"
#include "storage/rows.h"
#include "support/test_database.h"

namespace firstsip {
namespace {

// For each (zone, clock, after) of the three lists: the next briefing time (epoch microseconds)
// and the local day it is the briefing of.
constexpr db::Query kNextBriefings{
    "test_next_briefings",
    "SELECT (extract(epoch FROM n.next) * 1000000)::int8 AS next_us, "
    "  to_char(" FIRSTSIP_BRIEFING_DAY("t.zone", "t.clock", "n.next") ", 'YYYY-MM-DD') AS day "
    "FROM unnest(string_to_array($1, ','), string_to_array($2, ','), "
    "  string_to_array($3, ',')::int8[]) WITH ORDINALITY AS t(zone, clock, after_us, i) "
    "CROSS JOIN LATERAL (SELECT " FIRSTSIP_NEXT_BRIEFING_TIME(
        "t.zone", "t.clock", FIRSTSIP_MICROS_TO_TIMESTAMPTZ("t.after_us")) " AS next) n "
    "ORDER BY t.i"};

struct Probe {
  std::string zone;
  std::string clock;  // HH:MM
  absl::Time after;
};

struct Due {
  absl::Time next;
  std::string day;  // YYYY-MM-DD
};

absl::Time Utc(const char* rfc3339) {
  absl::Time time;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &time, &error)) << rfc3339 << error;
  return time;
}

class BriefingTimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto database = testing::TestDatabase::Create();
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    auto connection = db::BlockingConnection::Open(database_->dsn());
    ASSERT_TRUE(connection.ok()) << connection.status();
    connection_ = std::move(*connection);
  }

  // What PostgreSQL computes for each probe, in order.
  std::vector<Due> Compute(const std::vector<Probe>& probes) {
    std::vector<std::string> zones, clocks, afters;
    for (const Probe& probe : probes) {
      zones.push_back(probe.zone);
      clocks.push_back(probe.clock);
      afters.push_back(absl::StrCat(absl::ToUnixMicros(probe.after)));
    }
    db::Params params;
    params.Add(absl::StrJoin(zones, ","))
        .Add(absl::StrJoin(clocks, ","))
        .Add(absl::StrJoin(afters, ","));
    absl::StatusOr<db::Result> rows = connection_->Exec(kNextBriefings.sql, params);
    EXPECT_TRUE(rows.ok()) << rows.status();
    std::vector<Due> due;
    if (!rows.ok()) return due;
    for (int row = 0; row < rows->rows(); ++row) {
      absl::StatusOr<std::optional<int64_t>> micros = rows->OptionalInt64(row, 0);
      due.push_back({micros.ok() && micros->has_value() ? absl::FromUnixMicros(**micros)
                                                        : absl::InfinitePast(),
                     std::string(rows->Text(row, 1))});
    }
    return due;
  }

  std::unique_ptr<testing::TestDatabase> database_;
  std::unique_ptr<db::BlockingConnection> connection_;
};

TEST_F(BriefingTimeTest, TheIssuesTableOfZonesAndDatesToTheSecond) {
  struct Case {
    const char* why;
    Probe probe;
    const char* next;  // UTC, RFC 3339
    const char* day;   // the local day it is the briefing of
  } const cases[] = {
      {"Berlin skips 02:00-03:00: 02:30 is due with CET, at 03:30 CEST",
       {"Europe/Berlin", "02:30", Utc("2026-03-28T12:00:00Z")},
       "2026-03-29T01:30:00Z",
       "2026-03-29"},
      {"Berlin shows 02:00-03:00 twice: 02:30 is due at its first occurrence (CEST)",
       {"Europe/Berlin", "02:30", Utc("2026-10-24T12:00:00Z")},
       "2026-10-25T00:30:00Z",
       "2026-10-25"},
      {"once: after the first 02:30 the next is the day after, not the repeat at 01:30Z",
       {"Europe/Berlin", "02:30", Utc("2026-10-25T00:30:00Z")},
       "2026-10-26T01:30:00Z",
       "2026-10-26"},
      {"New York skips 02:00-03:00: 02:30 is due at 03:30 EDT",
       {"America/New_York", "02:30", Utc("2026-03-07T12:00:00Z")},
       "2026-03-08T07:30:00Z",
       "2026-03-08"},
      {"New York spring day, before the gap: 01:30 EST",
       {"America/New_York", "01:30", Utc("2026-03-07T12:00:00Z")},
       "2026-03-08T06:30:00Z",
       "2026-03-08"},
      {"New York shows 01:00-02:00 twice: 01:30 EDT, the first",
       {"America/New_York", "01:30", Utc("2026-10-31T12:00:00Z")},
       "2026-11-01T05:30:00Z",
       "2026-11-01"},
      {"New York: after the first 01:30, the next day's (EST)",
       {"America/New_York", "01:30", Utc("2026-11-01T05:30:00Z")},
       "2026-11-02T06:30:00Z",
       "2026-11-02"},
      {"Lord Howe falls back 30 minutes (02:00 +11 to 01:30 +10:30): 01:45 at +11",
       {"Australia/Lord_Howe", "01:45", Utc("2026-04-04T00:00:00Z")},
       "2026-04-04T14:45:00Z",
       "2026-04-05"},
      {"Lord Howe skips 02:00-02:30: 02:15 with +10:30, at 02:45 +11",
       {"Australia/Lord_Howe", "02:15", Utc("2026-10-03T00:00:00Z")},
       "2026-10-03T15:45:00Z",
       "2026-10-04"},
      {"Lord Howe in winter: +10:30",
       {"Australia/Lord_Howe", "06:00", Utc("2026-07-01T00:00:00Z")},
       "2026-07-01T19:30:00Z",
       "2026-07-02"},
      {"Kolkata, +05:30",
       {"Asia/Kolkata", "06:00", Utc("2026-12-07T00:00:00Z")},
       "2026-12-07T00:30:00Z",
       "2026-12-07"},
      {"Kathmandu, +05:45",
       {"Asia/Kathmandu", "06:00", Utc("2026-12-07T00:00:00Z")},
       "2026-12-07T00:15:00Z",
       "2026-12-07"},
      {"Kiritimati, +14: the local day is a day ahead of UTC's",
       {"Pacific/Kiritimati", "06:00", Utc("2026-12-07T00:00:00Z")},
       "2026-12-07T16:00:00Z",
       "2026-12-08"},
      {"Sao Paulo abolished DST in 2019: January stays -03 (it was -02)",
       {"America/Sao_Paulo", "06:00", Utc("2026-01-14T12:00:00Z")},
       "2026-01-15T09:00:00Z",
       "2026-01-15"},
      {"Sao Paulo before 2019: January was -02",
       {"America/Sao_Paulo", "06:00", Utc("2018-01-14T12:00:00Z")},
       "2018-01-15T08:00:00Z",
       "2018-01-15"},
      {"00:00 exactly now: strictly after, so tomorrow's",
       {"UTC", "00:00", Utc("2026-12-07T00:00:00Z")},
       "2026-12-08T00:00:00Z",
       "2026-12-08"},
      {"00:00, a second before",
       {"UTC", "00:00", Utc("2026-12-06T23:59:59Z")},
       "2026-12-07T00:00:00Z",
       "2026-12-07"},
      {"00:00 in Berlin, across the new year",
       {"Europe/Berlin", "00:00", Utc("2026-12-31T23:00:00Z")},
       "2027-01-01T23:00:00Z",
       "2027-01-02"},
      {"23:59, a second before",
       {"Europe/Berlin", "23:59", Utc("2026-12-07T22:58:59Z")},
       "2026-12-07T22:59:00Z",
       "2026-12-07"},
      {"23:59, just after: tomorrow's",
       {"Europe/Berlin", "23:59", Utc("2026-12-07T22:59:01Z")},
       "2026-12-08T22:59:00Z",
       "2026-12-08"},
      {"Nuuk skips Saturday 23:00-24:00: Saturday's 23:30 is due Sunday 00:30 (-01)",
       {"America/Nuuk", "23:30", Utc("2026-03-28T12:00:00Z")},
       "2026-03-29T01:30:00Z",
       "2026-03-28"},
      {"Nuuk: from just after the jump, that same Saturday's briefing is still ahead",
       {"America/Nuuk", "23:30", Utc("2026-03-29T01:00:00Z")},
       "2026-03-29T01:30:00Z",
       "2026-03-28"},
      {"Nuuk: and Sunday's, a day later by date though under a day later in time",
       {"America/Nuuk", "23:30", Utc("2026-03-29T01:30:00Z")},
       "2026-03-30T00:30:00Z",
       "2026-03-29"},
      {"CET is the zone (EU summer time), not PostgreSQL's fixed abbreviation",
       {"CET", "06:00", Utc("2026-07-01T00:00:00Z")},
       "2026-07-01T04:00:00Z",
       "2026-07-01"},
      {"EET likewise",
       {"EET", "06:00", Utc("2026-07-01T00:00:00Z")},
       "2026-07-01T03:00:00Z",
       "2026-07-01"},
  };
  std::vector<Probe> probes;
  for (const Case& c : cases) probes.push_back(c.probe);
  std::vector<Due> due = Compute(probes);
  ASSERT_EQ(due.size(), probes.size());
  for (size_t i = 0; i < due.size(); ++i) {
    SCOPED_TRACE(cases[i].why);
    EXPECT_EQ(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", due[i].next, absl::UTCTimeZone()),
              cases[i].next);
    EXPECT_EQ(due[i].day, cases[i].day);
  }
}

// The oracle: the first occurrence strictly after `after` of `clock` in `zone`, by cctz.
Due Oracle(const absl::TimeZone& zone, int hour, int minute, absl::Time after) {
  const absl::CivilDay today = absl::ToCivilDay(after, zone);
  Due due{absl::InfiniteFuture(), ""};
  for (int offset = -1; offset <= 2; ++offset) {
    const absl::CivilDay day = today + offset;
    const absl::Time at =
        zone.At(absl::CivilSecond(day.year(), day.month(), day.day(), hour, minute, 0)).pre;
    if (at > after && at < due.next) {
      due.next = at;
      due.day = absl::FormatCivilTime(day);
    }
  }
  return due;
}

std::string Clock(const absl::CivilMinute& minute) {
  return absl::StrCat(minute.hour() < 10 ? "0" : "", minute.hour(), ":",
                      minute.minute() < 10 ? "0" : "", minute.minute());
}

TEST_F(BriefingTimeTest, AgreesWithCctzAroundEveryTransitionOfEveryZoneFrom2025To2027) {
  absl::StatusOr<db::Result> names = connection_->Exec(
      "SELECT name FROM pg_timezone_names WHERE name NOT LIKE 'posix/%' ORDER BY name");
  ASSERT_TRUE(names.ok()) << names.status();
  std::vector<Probe> probes;
  std::vector<Due> expected;
  const absl::Time start = Utc("2025-01-01T00:00:00Z"), end = Utc("2028-01-01T00:00:00Z");
  int zones = 0, transitions = 0;
  for (int row = 0; row < names->rows(); ++row) {
    const std::string name(names->Text(row, 0));
    absl::TimeZone zone;
    // Only the names the service accepts (and that mean a zone: "localtime" is the server's).
    if (name == "localtime" || name == "posixrules" || name == "Factory" ||
        !logic::ValidateTimezone(name, "zone").ok() || !absl::LoadTimeZone(name, &zone)) {
      continue;
    }
    ++zones;
    auto add = [&](const absl::CivilMinute& clock, absl::Time after) {
      probes.push_back({name, Clock(clock), after});
      expected.push_back(Oracle(zone, clock.hour(), clock.minute(), after));
    };
    add(absl::CivilMinute(2026, 6, 1, 6, 0), Utc("2026-06-01T00:00:00Z"));
    add(absl::CivilMinute(2026, 12, 1, 23, 59), Utc("2026-12-01T00:00:00Z"));
    absl::TimeZone::CivilTransition transition;
    for (absl::Time t = start; zone.NextTransition(t, &transition);) {
      const absl::Time instant = zone.At(transition.to).trans;
      if (instant >= end || instant <= t) break;
      t = instant;
      ++transitions;
      const absl::CivilMinute from(transition.from), to(transition.to);
      const absl::CivilMinute clocks[] = {from - 61, from - 1, from,   from + 1,
                                          to - 1,    to,       to + 1, from + (to - from) / 2};
      const absl::CivilDay day(transition.from);
      const absl::Time day_before = zone.At(absl::CivilSecond(day - 1) + 12 * 3600).pre;
      for (const absl::CivilMinute& clock : clocks) {
        add(clock, day_before);
        add(clock, instant - absl::Minutes(1));
        // Just after that one was due (a scheduled briefing): the next must not be the repeat.
        add(clock, Oracle(zone, clock.hour(), clock.minute(), day_before).next);
      }
    }
  }
  EXPECT_GT(zones, 300) << "the tz database should be installed (Debian's tzdata)";
  EXPECT_GT(transitions, 500);
  std::vector<Due> computed = Compute(probes);
  ASSERT_EQ(computed.size(), probes.size());
  int mismatches = 0;
  for (size_t i = 0; i < probes.size() && mismatches < 20; ++i) {
    if (computed[i].next == expected[i].next && computed[i].day == expected[i].day) continue;
    ++mismatches;
    ADD_FAILURE() << probes[i].zone << " " << probes[i].clock << " after "
                  << absl::FormatTime(absl::RFC3339_sec, probes[i].after, absl::UTCTimeZone())
                  << ": PostgreSQL "
                  << absl::FormatTime(absl::RFC3339_sec, computed[i].next, absl::UTCTimeZone())
                  << " (" << computed[i].day << "), cctz "
                  << absl::FormatTime(absl::RFC3339_sec, expected[i].next, absl::UTCTimeZone())
                  << " (" << expected[i].day << ")";
  }
  std::printf("checked %zu probes over %d zones and %d transitions\n", probes.size(), zones,
              transitions);
}

}  // namespace
}  // namespace firstsip
