-- Down takes erasure out: users go back to never being hard-deleted. Tombstones are dropped
-- with their table (the ids stay unused: the identity sequence never goes back).
DROP FUNCTION IF EXISTS firstsip_erase_deleted_users(timestamptz, integer);
DROP FUNCTION IF EXISTS firstsip_erase_user(bigint, bigint);
DROP TRIGGER IF EXISTS users_no_erased_id ON users;
DROP FUNCTION IF EXISTS users_refuse_erased_id();
CREATE OR REPLACE FUNCTION users_refuse_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'users are soft-deleted only; set delete_time instead (id %)', OLD.id
    USING ERRCODE = 'restrict_violation';
END;
$$;
-- squawk-ignore ban-drop-table
DROP TABLE IF EXISTS erased_users;
