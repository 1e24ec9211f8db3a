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
DECLARE
  ids bigint[];
  owners bigint[];
BEGIN
  WITH doomed AS MATERIALIZED (
    SELECT b.id, b.user_id FROM briefings b WHERE b.create_time < p_created_before
    LIMIT p_limit FOR UPDATE SKIP LOCKED),
  gone AS (
    DELETE FROM briefings b USING doomed d WHERE b.id = d.id RETURNING b.id, b.user_id)
  SELECT array_agg(g.id), array_agg(DISTINCT g.user_id) INTO ids, owners FROM gone g;
  IF ids IS NULL THEN
    RETURN QUERY SELECT 0::bigint, 0::bigint;
    RETURN;
  END IF;
  -- A statement of its own, planned for these very users: joined to the CTE above, the planner
  -- hashed the whole change feed (1.75 M rows, 2.7 s a batch on the benchmark) instead of
  -- walking its primary key by user. The briefings are gone, so no change of theirs can be
  -- logged meanwhile (a change locks its briefing first).
  DELETE FROM briefing_changes c WHERE c.user_id = ANY (owners) AND c.briefing_id = ANY (ids);
  GET DIAGNOSTICS removed_changes = ROW_COUNT;
  removed_briefings := cardinality(ids);
  RETURN NEXT;
END;
$$;
