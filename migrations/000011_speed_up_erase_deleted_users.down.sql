-- Back to migration 000008's definition.
CREATE OR REPLACE FUNCTION firstsip_erase_deleted_users(p_deleted_before timestamptz,
                                                       p_limit integer)
RETURNS TABLE (user_id bigint, notice text)
LANGUAGE plpgsql
-- Planned for the batch's actual ids, never a generic plan that guesses at "= ANY (ids)".
SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
  ids bigint[];
  busy bigint[];
BEGIN
  SELECT array_agg(c.id) INTO ids FROM (
    SELECT u.id FROM users u
    WHERE u.delete_time IS NOT NULL AND u.delete_time < p_deleted_before
    ORDER BY u.delete_time LIMIT p_limit FOR UPDATE SKIP LOCKED) c;
  IF ids IS NULL THEN
    RETURN;
  END IF;
  -- One snapshot for both sides: the rows locked now, and all the rows; a user with a row in
  -- the second and not the first is busy.
  WITH held_identities AS MATERIALIZED (
    SELECT i.id FROM auth_identities i WHERE i.user_id = ANY (ids) FOR UPDATE SKIP LOCKED),
  held_briefings AS MATERIALIZED (
    SELECT b.id FROM briefings b WHERE b.user_id = ANY (ids) FOR UPDATE SKIP LOCKED)
  SELECT array_agg(DISTINCT x.user_id) INTO busy FROM (
    SELECT i.user_id FROM auth_identities i
      WHERE i.user_id = ANY (ids) AND i.id NOT IN (SELECT id FROM held_identities)
    UNION ALL
    SELECT b.user_id FROM briefings b
      WHERE b.user_id = ANY (ids) AND b.id NOT IN (SELECT id FROM held_briefings)) x;
  IF busy IS NOT NULL THEN
    ids := ARRAY(SELECT unnest(ids) EXCEPT SELECT unnest(busy));
  END IF;
  DELETE FROM auth_identities i WHERE i.user_id = ANY (ids);
  DELETE FROM briefing_changes c WHERE c.user_id = ANY (ids);
  DELETE FROM briefings b WHERE b.user_id = ANY (ids);
  INSERT INTO erased_users (id) SELECT unnest(ids);
  RETURN QUERY DELETE FROM users u WHERE u.id = ANY (ids)
    RETURNING u.id, u.id || ' ' || u.change_seq || ' '
      || (extract(epoch FROM clock_timestamp()) * 1000000)::int8 || ' e';
END;
$$;
