-- Each user's briefing is created at their own local briefing time (the service's scheduler,
-- server/schedule/). next_briefing_time is when the next one is due (NULL while the user is
-- paused or deleted, and for users of the previous release until the running service fills it
-- in, in batches: no backfill UPDATE of the whole table here). briefings_paused stops it.
--
-- Both columns come without a table rewrite: a nullable column, and a constant default kept in
-- the catalogue. Their index (live, unpaused users by next_briefing_time) is built in 000007,
-- a no-transaction file, without blocking writes.
ALTER TABLE users ADD COLUMN IF NOT EXISTS next_briefing_time timestamptz;
ALTER TABLE users ADD COLUMN IF NOT EXISTS briefings_paused boolean NOT NULL DEFAULT false;
