-- firstsip: no-transaction
-- The scheduler's work is proportional to the users due, not to all users: it finds the due
-- ones (next_briefing_time <= now()), the earliest time to sleep until, and the users whose
-- next_briefing_time is still to be filled in (IS NULL: a btree indexes NULLs) through this
-- index of live, unpaused users. Built CONCURRENTLY, so writes to users go on meanwhile.
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_next_briefing_idx ON users (next_briefing_time)
  WHERE delete_time IS NULL AND NOT briefings_paused;
