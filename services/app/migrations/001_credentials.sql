-- User credentials: only the vault: reference and metadata, never a value.
CREATE TABLE IF NOT EXISTS credential_references (
  user_id          text        NOT NULL,
  credential_type  text        NOT NULL,
  reference        text        NOT NULL CHECK (reference LIKE 'vault:kv/data/%'),
  version          integer     NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, credential_type),
  UNIQUE (reference)
);
