-- firstsip: no-transaction
-- Retention removes a briefing's change-feed rows through an index on briefing_id.
--
-- Until now it found them by owner (the primary key's user_id), reading every change of every
-- owner of the batch's briefings to delete the few, usually none, that belong to briefings
-- past the horizon: on the benchmark 16 830 change rows over 11 056 pages for a batch of 100
-- briefings, 550 ms, and enough pages read to push CreateBriefing's own out of shared buffers
-- (its p99 went from 8.4 to 21.8 ms while retention ran; docs/BENCHMARKS.md, "Personal data
-- lifecycle"). The index costs every logged change one more index entry; ids of new briefings
-- grow, so the entries go mostly to its right-hand pages.
CREATE INDEX CONCURRENTLY IF NOT EXISTS briefing_changes_briefing_id_idx
  ON briefing_changes (briefing_id);

CREATE OR REPLACE FUNCTION firstsip_remove_old_briefings(p_created_before timestamptz,
                                                        p_limit integer)
RETURNS TABLE (removed_briefings bigint, removed_changes bigint)
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
  ids bigint[];
BEGIN
  WITH doomed AS MATERIALIZED (
    SELECT b.id, b.user_id FROM briefings b WHERE b.create_time < p_created_before
    LIMIT p_limit FOR UPDATE SKIP LOCKED),
  gone AS (
    DELETE FROM briefings b USING doomed d WHERE b.id = d.id RETURNING b.id)
  SELECT array_agg(g.id) INTO ids FROM gone g;
  IF ids IS NULL THEN
    RETURN QUERY SELECT 0::bigint, 0::bigint;
    RETURN;
  END IF;
  -- Through briefing_changes_briefing_id_idx, the batch's own rows only. The briefings are
  -- gone, so no change of theirs can be logged meanwhile (a change locks its briefing first).
  DELETE FROM briefing_changes c WHERE c.briefing_id = ANY (ids);
  GET DIAGNOSTICS removed_changes = ROW_COUNT;
  removed_briefings := cardinality(ids);
  RETURN NEXT;
END;
$$;
