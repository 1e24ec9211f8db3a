-- A user's link to an OAuth provider account. Tokens are AES-256-GCM ciphertexts made by the
-- service (key id, nonce, ciphertext, tag): never plaintext.
CREATE TABLE auth_identities (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users (id),
  provider text NOT NULL CHECK (provider ~ '^[a-z0-9_-]{1,32}$'),
  provider_user_id text NOT NULL CHECK (length(provider_user_id) BETWEEN 1 AND 255),
  access_token bytea,
  refresh_token bytea,
  token_expiry timestamptz,
  create_time timestamptz NOT NULL DEFAULT now(),
  update_time timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT auth_identities_provider_account_key UNIQUE (provider, provider_user_id)
);

-- ListIdentities, and the foreign key's lookups from users.
CREATE INDEX auth_identities_user_id_idx ON auth_identities (user_id);
