-- The bulk erasure (firstsip_erase_deleted_users, migration 000008), made about ten times
-- cheaper on a large table: on 10 M briefings a batch of 500 users took 450-850 ms of
-- PostgreSQL's time, now 50 (docs/BENCHMARKS.md, "Personal data lifecycle"). What it does and
-- how it locks are unchanged; three things about how PostgreSQL runs it are not:
--
-- - No plan_cache_mode = force_custom_plan. A function's settings reach everything that runs
--   inside it, the foreign keys' checks too: each user's row removed makes PostgreSQL run four
--   small queries, which it plans once per session, and under that setting planned anew for
--   every user (2 000 plannings a batch, two thirds of it on 2 M briefings). The function's own
--   statements do well on generic plans: users by primary key, rows by user_id through an
--   index, soft-deleted users in users_deleted_idx's order.
-- - NOT EXISTS instead of NOT IN to find users someone holds a row of. Planned for 500 actual
--   ids, "briefings of these users" is estimated at the table's average per user (1 000 on
--   the benchmark, against the 5 a soft-deleted user had), too many for NOT IN to hash its
--   subquery: it compared every briefing with every locked one (436 ms). NOT EXISTS is an
--   anti join, hashed whatever the estimate.
-- - jit = off. The same estimate priced the statement high enough for JIT compilation:
--   200 ms a batch to compile a plan that runs for milliseconds.
CREATE OR REPLACE FUNCTION firstsip_erase_deleted_users(p_deleted_before timestamptz,
                                                       p_limit integer)
RETURNS TABLE (user_id bigint, notice text)
LANGUAGE plpgsql
SET jit = off
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
      WHERE i.user_id = ANY (ids) AND NOT EXISTS (SELECT FROM held_identities h WHERE h.id = i.id)
    UNION ALL
    SELECT b.user_id FROM briefings b
      WHERE b.user_id = ANY (ids) AND NOT EXISTS (SELECT FROM held_briefings h WHERE h.id = b.id)) x;
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
