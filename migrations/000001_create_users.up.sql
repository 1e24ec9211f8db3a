-- Users: one row per person; never hard-deleted (delete_time marks a soft delete).
CREATE TABLE users (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
  name text NOT NULL DEFAULT '' CHECK (length(name) <= 256),
  timezone text NOT NULL DEFAULT 'UTC' CHECK (length(timezone) BETWEEN 1 AND 64),
  preferred_briefing_time text NOT NULL DEFAULT '06:00'
    CHECK (preferred_briefing_time ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
  role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
  -- Bumped by every update; the API's etag.
  revision bigint NOT NULL DEFAULT 1,
  last_login_at timestamptz,
  last_briefing_at timestamptz,
  create_time timestamptz NOT NULL DEFAULT now(),
  update_time timestamptz NOT NULL DEFAULT now(),
  delete_time timestamptz
);

-- Email is unique among live users, case-insensitively; GetUserByEmail reads through it too.
CREATE UNIQUE INDEX users_live_email_key ON users (lower(email)) WHERE delete_time IS NULL;

-- ListUsers filtered by role walks this in id order.
CREATE INDEX users_role_id_idx ON users (role, id);

-- Users are never hard-deleted: a DELETE is a bug somewhere, so refuse it loudly.
CREATE FUNCTION users_refuse_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'users are soft-deleted only; set delete_time instead (id %)', OLD.id
    USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER users_no_hard_delete BEFORE DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION users_refuse_delete();
