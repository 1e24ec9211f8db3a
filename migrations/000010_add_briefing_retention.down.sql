DROP FUNCTION IF EXISTS firstsip_remove_old_briefings(timestamptz, integer);
