-- Down drops the schedule: next_briefing_time is computed again for every live, unpaused user
-- by the service after an up, but whether a user had paused their briefings is lost.
-- squawk-ignore ban-drop-column
ALTER TABLE users DROP COLUMN IF EXISTS briefings_paused;
-- squawk-ignore ban-drop-column
ALTER TABLE users DROP COLUMN IF EXISTS next_briefing_time;
