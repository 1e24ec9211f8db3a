-- Briefing retention (--briefing-retention): removes up to p_limit briefings created before
-- p_created_before, with their change-feed entries, in one short statement, and says how many
-- of each it removed. Every replica may run it at once: FOR UPDATE SKIP LOCKED gives each
-- briefing to one of them, and passes over a briefing a worker is changing right now (the next
-- batch takes it).
--
-- A function for one reason: plan_cache_mode. Prepared once and run with a parameter, the
-- statement would soon get a generic plan, which guesses that a third of the table is past the
-- horizon and reads it in order until it has p_limit rows: when nothing is past the horizon,
-- that reads the whole table every time. Planned for the actual horizon, the statement asks
-- briefings_create_time_brin, which answers "nothing" from a few pages.
CREATE OR REPLACE FUNCTION firstsip_remove_old_briefings(p_created_before timestamptz,
                                                        p_limit integer)
RETURNS TABLE (removed_briefings bigint, removed_changes bigint)
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $$
BEGIN
  RETURN QUERY
  WITH doomed AS MATERIALIZED (
    SELECT b.id, b.user_id FROM briefings b WHERE b.create_time < p_created_before
    LIMIT p_limit FOR UPDATE SKIP LOCKED),
  gone AS (
    DELETE FROM briefings b USING doomed d WHERE b.id = d.id RETURNING b.id, b.user_id),
  logged AS (
    DELETE FROM briefing_changes c USING gone g
    WHERE c.user_id = g.user_id AND c.briefing_id = g.id RETURNING 1)
  SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM logged);
END;
$$;
