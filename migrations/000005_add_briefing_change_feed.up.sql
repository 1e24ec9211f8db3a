-- The change feed behind WatchBriefings: one row per committed change to a briefing, with the
-- briefing's state after it (what changes: status, read_at, update_time, delete_time; content
-- and error_message are written once, so a change reads them from the briefing itself).
--
-- Every statement that changes a briefing bumps its user's change_seq and logs the change
-- under the new value, in the same statement. The bump takes the user's row lock until
-- commit, so one user's changes commit in change_seq order: "the changes of user U after N"
-- (change_seq > N) is an exact replay, never missing one that commits late with a smaller
-- number. Rows older than the service's --change-retention are deleted in small batches.
--
-- users.change_seq comes without a table rewrite (a constant default is kept in the
-- catalogue); briefing_changes is new, so building its indexes blocks nobody.
ALTER TABLE users ADD COLUMN IF NOT EXISTS change_seq bigint NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS briefing_changes (
  user_id bigint NOT NULL,
  change_seq bigint NOT NULL,
  briefing_id bigint NOT NULL,
  status text NOT NULL,
  read_at timestamptz,
  update_time timestamptz NOT NULL,
  delete_time timestamptz,
  change_time timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, change_seq)
);

-- Retention deletes by age; rows arrive in time order, so a BRIN index stays tiny.
CREATE INDEX IF NOT EXISTS briefing_changes_time_idx ON briefing_changes USING brin (change_time);
