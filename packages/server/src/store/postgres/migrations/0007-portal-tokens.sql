
  -- App portal tokens: bearers scoped to one application. Only the token's SHA-256 is kept.
  -- capabilities and feature_flags are JSON arrays of strings.
  CREATE TABLE portal_tokens (
    token_hash text COLLATE "C" PRIMARY KEY,
    app_id text COLLATE "C" NOT NULL,
    capabilities text NOT NULL,
    feature_flags text NOT NULL,
    session_id text,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL
  );
  CREATE INDEX portal_tokens_app ON portal_tokens (app_id, expires_at);
  