-- Erasure (UserService.EraseUser, and --erase-deleted-after for users soft-deleted long ago).
-- Everything the service holds about an erased user is removed in one transaction: the user's
-- row (email, name, time zone...), its identities (and so their tokens), its briefings and
-- their change-feed entries. What stays is this tombstone: the id and when it was erased, so
-- an id is never handed out again and a reference held outside ("user 42") stays meaningful.
--
-- Erasure runs as a function because it is several statements in one transaction: the user's
-- row is locked first, and only then are its briefings and identities read (each statement of
-- a PL/pgSQL function takes a fresh snapshot under READ COMMITTED), so a briefing or identity
-- committed by someone who held the user's lock just before is erased too, never left behind.
-- One statement of data-modifying CTEs would read everything in the snapshot it started with.
-- Every lookup by user goes through an index (briefings_user_id_idx, migration 000009, which
-- also serves the foreign key's check when the user's row goes).
CREATE TABLE IF NOT EXISTS erased_users (
  id bigint PRIMARY KEY,
  erase_time timestamptz NOT NULL DEFAULT now()
);

-- The change feed's sweep asks for users erased in the last seconds (their open watches end);
-- tombstones arrive in time order, so a BRIN index stays tiny.
CREATE INDEX IF NOT EXISTS erased_users_erase_time_idx ON erased_users USING brin (erase_time);

-- Users are still never hard-deleted, except by erasure: a row whose tombstone exists in the
-- same transaction may go. Any other DELETE is a bug somewhere and is refused loudly.
CREATE OR REPLACE FUNCTION users_refuse_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM erased_users e WHERE e.id = OLD.id) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'users are soft-deleted only; set delete_time instead (id %)', OLD.id
    USING ERRCODE = 'restrict_violation';
END;
$$;

-- An erased id is never used again, whatever inserts it (an OVERRIDING SYSTEM VALUE, a
-- sequence set back by hand): the identity sequence alone would not stop those.
CREATE OR REPLACE FUNCTION users_refuse_erased_id() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM erased_users e WHERE e.id = NEW.id) THEN
    RAISE EXCEPTION 'user id % was erased and is never used again', NEW.id
      USING ERRCODE = 'unique_violation', CONSTRAINT = 'erased_users_pkey';
  END IF;
  RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS users_no_erased_id ON users;
CREATE TRIGGER users_no_erased_id BEFORE INSERT ON users
  FOR EACH ROW EXECUTE FUNCTION users_refuse_erased_id();

-- Erases user p_id if its revision is p_revision. One row: outcome 'erased', 'stale' (the
-- revision moved), 'missing' (no such user) or 'erased_before' (a tombstone: erase_time_us says
-- when); notice is the change feed's notice of the erasure ("<id> <change_seq> <sent_us> e",
-- push/change_feed.h), announced after the commit so the user's watches end.
--
-- Locks: the user's row first, waiting for whoever holds it while holding nothing else; then
-- the user's identities and briefings without waiting (NOWAIT). A worker's transition locks
-- a briefing and then the user, so waiting for that briefing while holding the user would be
-- a deadlock; instead the attempt is rolled back (a subtransaction), which lets the worker go
-- on, and tried again a moment later. Persistent contention ends in serialization_failure
-- (ABORTED: retry the call).
CREATE OR REPLACE FUNCTION firstsip_erase_user(p_id bigint, p_revision bigint)
RETURNS TABLE (outcome text, erase_time_us bigint, notice text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  current_revision bigint;
  seq bigint;
  erased_at timestamptz;
  locked boolean := false;
BEGIN
  FOR attempt IN 1..40 LOOP
    BEGIN
      SELECT u.revision, u.change_seq INTO current_revision, seq
        FROM users u WHERE u.id = p_id FOR UPDATE;
      IF NOT FOUND THEN
        SELECT e.erase_time INTO erased_at FROM erased_users e WHERE e.id = p_id;
        RETURN QUERY SELECT CASE WHEN erased_at IS NULL THEN 'missing' ELSE 'erased_before' END,
          (extract(epoch FROM erased_at) * 1000000)::int8, NULL::text;
        RETURN;
      END IF;
      IF current_revision <> p_revision THEN
        RETURN QUERY SELECT 'stale'::text, NULL::int8, NULL::text;
        RETURN;
      END IF;
      PERFORM 1 FROM auth_identities i WHERE i.user_id = p_id FOR UPDATE NOWAIT;
      PERFORM 1 FROM briefings b WHERE b.user_id = p_id FOR UPDATE NOWAIT;
      locked := true;
    EXCEPTION WHEN lock_not_available THEN
      PERFORM pg_sleep(0.001 * attempt);
    END;
    EXIT WHEN locked;
  END LOOP;
  IF NOT locked THEN
    RAISE EXCEPTION 'user % is busy (its briefings or identities stay locked); retry', p_id
      USING ERRCODE = 'serialization_failure';
  END IF;
  DELETE FROM auth_identities i WHERE i.user_id = p_id;
  DELETE FROM briefing_changes c WHERE c.user_id = p_id;
  DELETE FROM briefings b WHERE b.user_id = p_id;
  INSERT INTO erased_users (id) VALUES (p_id) RETURNING erase_time INTO erased_at;
  DELETE FROM users u WHERE u.id = p_id;
  RETURN QUERY SELECT 'erased'::text, (extract(epoch FROM erased_at) * 1000000)::int8,
    p_id || ' ' || seq || ' ' || (extract(epoch FROM clock_timestamp()) * 1000000)::int8
      || ' e';
END;
$$;

-- Erases up to p_limit users soft-deleted before p_deleted_before, oldest deletion first, and
-- returns each one's id and change-feed notice. Every replica runs this: FOR UPDATE SKIP
-- LOCKED hands each user to one of them. It never waits for a lock: a user one of whose
-- briefings or identities someone holds right now (a worker's transition, a token refresh) is
-- left for a later batch, so no live user's row and no worker ever waits on this for longer
-- than the batch's own statements. The locking re-checks delete_time, so a user undeleted
-- meanwhile is not touched.
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
