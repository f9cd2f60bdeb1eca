  -- The audit log (see domain/audit.ts): ids and stable names only, each entry chained to
  -- the one before by its hash. Appended by one process at a time; never changed: the
  -- triggers refuse it, and an edit made around them breaks the chain (hookwell audit verify).
  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    action TEXT NOT NULL,
    app_id TEXT,
    endpoint_id TEXT,
    msg_id TEXT,
    target_id TEXT,
    outcome TEXT NOT NULL,
    reason TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE INDEX audit_log_at ON audit_log (at);
  CREATE INDEX audit_log_app ON audit_log (app_id, id) WHERE app_id IS NOT NULL;
  CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
  CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

  -- Scoped API tokens: bearers of the management API made by the admin token. Only the
  -- token's SHA-256 is kept. app_ids: a JSON array of application ids, NULL for every one.
  CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    app_ids TEXT,
    read_only INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
  ) WITHOUT ROWID;
