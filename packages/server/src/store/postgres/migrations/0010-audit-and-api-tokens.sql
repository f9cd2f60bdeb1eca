-- The audit log (see domain/audit.ts): ids and stable names only, each entry chained to the
-- one before by its hash. Appends take the AUDIT_LOCK advisory lock (store/audit.ts), so
-- processes appending at once still form one chain. Never changed: the trigger refuses it,
-- and an edit made around it breaks the chain (hookwell audit verify).
CREATE TABLE audit_log (
  id bigint PRIMARY KEY,
  at bigint NOT NULL,
  actor text COLLATE "C" NOT NULL,
  ip text,
  user_agent text,
  action text COLLATE "C" NOT NULL,
  app_id text COLLATE "C",
  endpoint_id text COLLATE "C",
  msg_id text COLLATE "C",
  target_id text COLLATE "C",
  outcome text NOT NULL,
  reason text,
  prev_hash text NOT NULL,
  hash text NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_app ON audit_log (app_id, id) WHERE app_id IS NOT NULL;
CREATE FUNCTION hookwell_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION hookwell_audit_append_only();

-- Scoped API tokens: bearers of the management API made by the admin token. Only the
-- token's SHA-256 is kept. app_ids: a JSON array of application ids, NULL for every one.
CREATE TABLE api_tokens (
  id text COLLATE "C" PRIMARY KEY,
  name text NOT NULL,
  token_hash text COLLATE "C" NOT NULL UNIQUE,
  app_ids text,
  read_only integer NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint,
  revoked_at bigint
);
