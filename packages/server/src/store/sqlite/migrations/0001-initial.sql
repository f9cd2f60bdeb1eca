
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

  CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    uid TEXT UNIQUE,
    name TEXT NOT NULL,
    throttle_rate INTEGER,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );

  CREATE TABLE endpoints (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    uid TEXT,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    version INTEGER NOT NULL,
    disabled INTEGER NOT NULL,
    event_types TEXT,
    channels TEXT,
    throttle_rate INTEGER,
    metadata TEXT NOT NULL,
    headers TEXT NOT NULL,
    secret TEXT NOT NULL,
    previous_secrets TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (app_id, uid)
  );
  CREATE INDEX endpoints_app ON endpoints (app_id, id);

  CREATE TABLE event_types (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    archived INTEGER NOT NULL,
    deprecated INTEGER NOT NULL,
    schemas TEXT,
    feature_flags TEXT,
    group_name TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );

  -- Keyed by its time-ordered id, so inserts append; most messages have no event id,
  -- and the partial index leaves them out.
  CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    event_id TEXT,
    event_type TEXT NOT NULL,
    payload TEXT,
    channels TEXT,
    tags TEXT,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX messages_event_id ON messages (app_id, event_id) WHERE event_id IS NOT NULL;
  CREATE INDEX messages_app ON messages (app_id, id);

  -- The delivery table is the queue. A claimed row is status 3 (sending) with
  -- next_attempt_at holding its lease expiry, so one index finds both due and
  -- abandoned work.
  CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    msg_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    lease_owner TEXT,
    last_attempt_at INTEGER,
    trigger_type INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX deliveries_msg ON deliveries (msg_id, endpoint_id);
  -- Claims read (id, endpoint) pairs in due order from this index alone.
  CREATE INDEX deliveries_due ON deliveries (next_attempt_at, endpoint_id, status) WHERE status IN (1, 3);
  CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, msg_id);

  CREATE TABLE attempts (
    id TEXT PRIMARY KEY,
    msg_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    url TEXT NOT NULL,
    status INTEGER NOT NULL,
    response_status_code INTEGER NOT NULL,
    response TEXT NOT NULL,
    response_duration_ms INTEGER NOT NULL,
    trigger_type INTEGER NOT NULL,
    error TEXT,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX attempts_msg ON attempts (msg_id, id);
  CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id);

  CREATE TABLE idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
  );
  CREATE INDEX idempotency_age ON idempotency (created_at);
  