
  -- thin: deliveries carry identifiers and a content link instead of the payload; payloads
  -- over max_payload_bytes are sent thin whatever the mode.
  ALTER TABLE endpoints ADD COLUMN payload_mode text NOT NULL DEFAULT 'full';
  ALTER TABLE endpoints ADD COLUMN max_payload_bytes integer;
  -- Every fetch of a message's content through a content link.
  CREATE TABLE content_fetches (
    id bigserial PRIMARY KEY,
    app_id text COLLATE "C" NOT NULL,
    msg_id text COLLATE "C" NOT NULL,
    endpoint_id text COLLATE "C",
    status integer NOT NULL,
    remote_addr text,
    created_at bigint NOT NULL
  );
  CREATE INDEX content_fetches_msg ON content_fetches (msg_id, id);
  