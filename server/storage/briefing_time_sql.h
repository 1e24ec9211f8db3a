// When a user's briefing is due: the one place that turns a time zone and a local
// preferred_briefing_time ("HH:MM") into instants. Every statement that sets
// users.next_briefing_time (CreateUser, UpdateUser, UndeleteUser, SignIn creating a user, the
// scheduler and its backfill) builds it from these SQL expressions, so PostgreSQL computes it
// inside the very statement that stores it (docs/ARCHITECTURE.md, "The morning itself", says
// why the database and not the service).
//
// The rules are RFC 5545's (iCalendar):
//  - a local time the clock skips that day (a DST gap) is taken with the UTC offset in force
//    before the jump: 02:30 on the day Europe/Berlin skips 02:00-03:00 is 01:30 UTC (03:30
//    CEST). PostgreSQL's `timestamp AT TIME ZONE zone` does exactly this.
//  - a local time the clock shows twice (it falls back) is due at its first occurrence, once.
//    PostgreSQL picks the SECOND one (it uses the offset after the transition), so the
//    occurrence below checks whether the offset in force 24 hours earlier also reads that local
//    time at an earlier instant, and takes that one. This assumes a zone changes its offset at
//    most once in a day, which every zone has done since 2011 (Pacific/Apia skipped a whole
//    day then).
// tests/pg/briefing_time_pgtest.cc proves these on the table of zones and dates, and
// against Abseil's cctz (TimeZone::At(...).pre, the same rules) around every transition of
// every zone from 2025 to 2027.
#pragma once

// A users.timezone (an IANA name, checked by logic::ValidateTimezone) as PostgreSQL must be
// given it. PostgreSQL reads a zone argument as an abbreviation first when its
// timezone_abbreviations set (Default) knows one by that name; four IANA zones share a name with
// such an abbreviation and would lose their daylight saving time: CET and MET (EU rules, links to
// Europe/Brussels since tzdata 2024b), EET (Europe/Athens) and WET (Europe/Lisbon). EST, MST,
// HST, GMT, UCT and UTC mean the same fixed offset either way.
#define FIRSTSIP_PG_TIME_ZONE(zone)                                        \
  "(CASE (" zone                                                           \
  ") WHEN 'CET' THEN 'Europe/Brussels' WHEN 'MET' THEN 'Europe/Brussels' " \
  "WHEN 'EET' THEN 'Europe/Athens' WHEN 'WET' THEN 'Europe/Lisbon' ELSE (" zone ") END)"

// The instant (timestamptz) at which local day `day` (a date) reads `clock` (a time) in `pg_zone`
// (already through FIRSTSIP_PG_TIME_ZONE), by the rules above. The OFFSET 0 fences keep the
// planner from inlining each intermediate value wherever it is used (it would then convert the
// same local time several times over). Fails (SQLSTATE 22023) for a zone PostgreSQL does not
// know.
#define FIRSTSIP_OCCURRENCE_IN(pg_zone, day, clock)                                     \
  "(SELECT CASE WHEN o.c < o.t AND (o.c AT TIME ZONE o.z) = o.l THEN o.c ELSE o.t END " \
  "FROM (SELECT q.z, q.l, q.t, (q.l - ((q.t - interval '24 hours') AT TIME ZONE q.z "   \
  "- (q.t - interval '24 hours') AT TIME ZONE 'UTC')) AT TIME ZONE 'UTC' AS c "         \
  "FROM (SELECT w.z, w.l, w.l AT TIME ZONE w.z AS t "                                   \
  "FROM (SELECT (" pg_zone ")::text AS z, (" day ")::date + (" clock                    \
  ")::time AS l OFFSET 0) w "                                                           \
  "OFFSET 0) q OFFSET 0) o)"

// The briefing of local day `day` (date) of a user with `zone` (users.timezone) and `clock`
// (users.preferred_briefing_time): when it is due.
#define FIRSTSIP_BRIEFING_OCCURRENCE(zone, day, clock) \
  FIRSTSIP_OCCURRENCE_IN(FIRSTSIP_PG_TIME_ZONE(zone), day, clock)

// users.next_briefing_time: the first occurrence strictly after the instant `after`. The
// candidates are the occurrences of the local day of `after` and of the days either side (the
// day before counts when its time fell into a gap that crossed midnight: America/Nuuk skips
// Saturday 23:00-24:00 in March, so Saturday's 23:30 is due at Sunday 00:30).
#define FIRSTSIP_NEXT_BRIEFING_TIME(zone, clock, after) \
  "(SELECT min(r.o) FROM (SELECT " FIRSTSIP_PG_TIME_ZONE(zone) " AS z, (" clock                 \
  ")::time AS k, (" after ")::timestamptz AS a OFFSET 0) p "                                    \
  "CROSS JOIN LATERAL (VALUES (-1), (0), (1)) AS s(n) "                                         \
  "CROSS JOIN LATERAL (SELECT " FIRSTSIP_OCCURRENCE_IN("p.z", "(p.a AT TIME ZONE p.z)::date + s.n", \
                                                      "p.k") " AS o) r "                         \
  "WHERE r.o > p.a)"

// The local day (date) whose briefing is due at `due`: the day of the latest occurrence at or
// before it. For an occurrence that is the day `due` falls on, except when a gap crossing
// midnight moved it into the next day (see above). The scheduler names the briefing after it
// (request_id "YYYY-MM-DD"), so each local day has at most one.
#define FIRSTSIP_BRIEFING_DAY(zone, clock, due) \
  "(SELECT p.l::date - CASE WHEN p.l::time < p.k THEN 1 ELSE 0 END "                     \
  "FROM (SELECT (" due ")::timestamptz AT TIME ZONE " FIRSTSIP_PG_TIME_ZONE(zone) " AS l, " \
  "(" clock ")::time AS k OFFSET 0) p)"
