-- One morning's briefing for one user, produced by a worker.
CREATE TABLE briefings (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users (id),
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
  content jsonb,
  error_message text NOT NULL DEFAULT '',
  -- The caller's idempotency key for CreateBriefing, unique per user.
  request_id text CHECK (length(request_id) BETWEEN 1 AND 128),
  -- While processing: when the worker's claim runs out and another worker may take over.
  lease_expire_time timestamptz,
  read_at timestamptz,
  create_time timestamptz NOT NULL DEFAULT now(),
  update_time timestamptz NOT NULL DEFAULT now(),
  delete_time timestamptz
);

CREATE UNIQUE INDEX briefings_user_request_id_key ON briefings (user_id, request_id)
  WHERE request_id IS NOT NULL;

-- ListBriefings: a user's live briefings, newest (highest id) first.
CREATE INDEX briefings_user_list_idx ON briefings (user_id, id DESC) WHERE delete_time IS NULL;

-- ClaimNextBriefing: the oldest pending one, and processing ones whose lease ran out.
CREATE INDEX briefings_pending_idx ON briefings (id)
  WHERE status = 'pending' AND delete_time IS NULL;
CREATE INDEX briefings_lease_idx ON briefings (lease_expire_time)
  WHERE status = 'processing' AND delete_time IS NULL;
