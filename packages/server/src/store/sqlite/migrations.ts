// Versioned schema. Each entry moves the database from version i to i+1; the version is
// kept in SQLite's user_version so a file written by newer code is recognised and refused.
export const MIGRATIONS: string[] = [
  `
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
  `,
  `
  -- The outcome of the last ping/pong check of an endpoint's URL.
  ALTER TABLE endpoints ADD COLUMN ping_ok INTEGER;
  ALTER TABLE endpoints ADD COLUMN ping_detail TEXT;
  ALTER TABLE endpoints ADD COLUMN ping_at INTEGER;
  -- A shared key sent in a header of the customer's choice with every delivery.
  ALTER TABLE endpoints ADD COLUMN key_header TEXT;
  ALTER TABLE endpoints ADD COLUMN key_value TEXT;
  -- Bulk re-sends (recover, retry-failed) wait behind new traffic: priority 1 is claimed
  -- only when no priority-0 work is due.
  ALTER TABLE deliveries ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
  DROP INDEX deliveries_due;
  CREATE INDEX deliveries_due ON deliveries (priority, next_attempt_at, endpoint_id, status) WHERE status IN (1, 3);
  CREATE INDEX deliveries_app_status ON deliveries (app_id, status);
  `,
  `
  -- Messages of an event type with validate = 1 must match its newest schema.
  ALTER TABLE event_types ADD COLUMN validate INTEGER NOT NULL DEFAULT 0;
  `,
  `
  -- thin: deliveries carry identifiers and a content link instead of the payload; payloads
  -- over max_payload_bytes are sent thin whatever the mode.
  ALTER TABLE endpoints ADD COLUMN payload_mode TEXT NOT NULL DEFAULT 'full';
  ALTER TABLE endpoints ADD COLUMN max_payload_bytes INTEGER;
  -- Every fetch of a message's content through a content link.
  CREATE TABLE content_fetches (
    id INTEGER PRIMARY KEY,
    app_id TEXT NOT NULL,
    msg_id TEXT NOT NULL,
    endpoint_id TEXT,
    status INTEGER NOT NULL,
    remote_addr TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX content_fetches_msg ON content_fetches (msg_id, id);
  `,
  `
  -- Updates in order, per key. An endpoint may order its deliveries by a JSON path into the
  -- payload ({"key": "$.data.user_id"}, as JSON text); each delivery keeps the key its
  -- message had there (NULL: unordered), and claims lease only the head of each key.
  ALTER TABLE endpoints ADD COLUMN ordering TEXT;
  ALTER TABLE deliveries ADD COLUMN order_key TEXT;
  -- The unfinished deliveries of each key, by status then age: "is an earlier one
  -- unfinished" and "is another one leased" are each a probe or two. Unordered rows and
  -- finished ones are left out, so the index stays small.
  CREATE INDEX deliveries_order ON deliveries (endpoint_id, order_key, status, id)
    WHERE order_key IS NOT NULL AND status IN (1, 3);
  -- A message may name the record it is about (dataId), to find its messages again.
  ALTER TABLE messages ADD COLUMN data_id TEXT;
  CREATE INDEX messages_data_id ON messages (app_id, data_id) WHERE data_id IS NOT NULL;
  `,
  `
  -- Historical backfills: a user's records of one resource, uploaded newest first and kept
  -- in chunks of chunk_size (chunk i is seq [i * chunk_size, (i + 1) * chunk_size)).
  -- "receiving" while the upload runs; "complete" once its notifications are queued.
  CREATE TABLE backfills (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    provider TEXT NOT NULL,
    chunk_size INTEGER NOT NULL,
    notify TEXT NOT NULL,
    status TEXT NOT NULL,
    records INTEGER NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL DEFAULT 0,
    msg_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX backfills_app ON backfills (app_id, id);
  CREATE TABLE backfill_chunks (
    backfill_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    start_date INTEGER NOT NULL,
    end_date INTEGER NOT NULL,
    records INTEGER NOT NULL,
    msg_id TEXT,
    PRIMARY KEY (backfill_id, idx)
  );
  -- A rowid table, not WITHOUT ROWID: records are often kilobytes, too large to sit in a
  -- b-tree's interior as a clustered key's row would.
  CREATE TABLE backfill_records (
    id INTEGER PRIMARY KEY,
    backfill_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    record TEXT NOT NULL
  );
  CREATE UNIQUE INDEX backfill_records_seq ON backfill_records (backfill_id, seq);
  -- A notification's content: the records of one chunk of a backfill, or (chunk NULL) all.
  ALTER TABLE messages ADD COLUMN backfill_id TEXT;
  ALTER TABLE messages ADD COLUMN backfill_chunk INTEGER;
  `,
  `
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
  `,
  `
  -- The dashboard's failing endpoints, and each application's count of them: deliveries that
  -- exhausted their retries, few beside the rest, so a partial index holds only them and is
  -- written only when a delivery fails for good or leaves that state.
  CREATE INDEX deliveries_failed ON deliveries (app_id, endpoint_id, last_attempt_at) WHERE status = 2;
  `,
];
