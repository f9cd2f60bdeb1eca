
  -- Messages of an event type with validate = true must match its newest schema.
  ALTER TABLE event_types ADD COLUMN validate boolean NOT NULL DEFAULT false;
  