-- firstsip: no-transaction
-- Back to migration 000010's retention function, then without the index.
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

DROP INDEX CONCURRENTLY IF EXISTS briefing_changes_briefing_id_idx;
