DROP TABLE IF EXISTS briefing_changes;
ALTER TABLE users DROP COLUMN IF EXISTS change_seq;
