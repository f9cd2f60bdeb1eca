
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
  