
  -- App portal tokens: bearers scoped to one application. Only the token's SHA-256 is kept.
  -- capabilities and feature_flags are JSON arrays of strings.
  CREATE TABLE portal_tokens (
    token_hash TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    capabilities TEXT NOT NULL,
    feature_flags TEXT NOT NULL,
    session_id TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX portal_tokens_app ON portal_tokens (app_id, expires_at);
  