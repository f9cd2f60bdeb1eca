
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
  