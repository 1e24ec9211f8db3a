-- Down drops the feed: watchers then have nothing to resume from (their tokens are refused).
-- squawk-ignore ban-drop-table
DROP TABLE IF EXISTS briefing_changes;
-- squawk-ignore ban-drop-column
ALTER TABLE users DROP COLUMN IF EXISTS change_seq;
