-- firstsip: no-transaction
-- Indexes for the personal-data lifecycle, built without blocking writes.
--
-- users_deleted_idx: the erase job's queue, soft-deleted users by deletion time. Partial, so
-- only a soft delete or an undelete writes it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_deleted_idx ON users (delete_time)
  WHERE delete_time IS NOT NULL;

-- briefings_user_deleted_idx: a user's soft-deleted briefings, which erasure must find as well
-- as the live ones (briefings_user_list_idx holds only those). Partial, so CreateBriefing never
-- writes it; only DeleteBriefing does.
CREATE INDEX CONCURRENTLY IF NOT EXISTS briefings_user_deleted_idx ON briefings (user_id)
  WHERE delete_time IS NOT NULL;

-- briefings_create_time_brin: retention finds briefings past the horizon. Rows arrive in time
-- order, so a BRIN index is a few pages for millions of rows and costs inserts next to nothing;
-- when nothing is past the horizon it says so without reading the table.
CREATE INDEX CONCURRENTLY IF NOT EXISTS briefings_create_time_brin ON briefings
  USING brin (create_time);
