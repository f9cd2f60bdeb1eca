
  -- Messages of an event type with validate = 1 must match its newest schema.
  ALTER TABLE event_types ADD COLUMN validate INTEGER NOT NULL DEFAULT 0;
  