-- firstsip: no-transaction
-- Indexes for the personal-data lifecycle, built without blocking writes.
--
-- users_deleted_idx: the erase job's queue, soft-deleted users by deletion time. Partial, so
-- only a soft delete or an undelete writes it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_deleted_idx ON users (delete_time)
  WHERE delete_time IS NOT NULL;

-- briefings_user_id_idx: every briefing of a user, live or soft-deleted. Erasure removes them
-- all, and removing the user's row makes PostgreSQL check the foreign key from briefings with
-- "WHERE user_id = $1", which none of the partial indexes can answer: without this index each
-- erased user would cost a scan of the whole table. CreateBriefing writes one more index entry
-- (docs/BENCHMARKS.md, "Personal data lifecycle", measures what that costs).
CREATE INDEX CONCURRENTLY IF NOT EXISTS briefings_user_id_idx ON briefings (user_id);

-- briefings_create_time_brin: retention finds briefings past the horizon. Rows arrive in time
-- order, so a BRIN index is a few pages for millions of rows and costs inserts next to nothing;
-- when nothing is past the horizon it says so without reading the table. Pages written since
-- their range was last summarized are always read, so autosummarize asks autovacuum to
-- summarize each range as soon as it fills, not only at the table's next vacuum.
CREATE INDEX CONCURRENTLY IF NOT EXISTS briefings_create_time_brin ON briefings
  USING brin (create_time) WITH (autosummarize = on);
