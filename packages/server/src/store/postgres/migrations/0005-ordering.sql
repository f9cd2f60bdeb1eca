
  -- Updates in order, per key. An endpoint may order its deliveries by a JSON path into the
  -- payload ({"key": "$.data.user_id"}, as JSON text); each delivery keeps the key its
  -- message had there (NULL: unordered), and claims lease only the head of each key.
  ALTER TABLE endpoints ADD COLUMN ordering text;
  ALTER TABLE deliveries ADD COLUMN order_key text COLLATE "C";
  -- The unfinished deliveries of each key, by status then age: "is an earlier one
  -- unfinished" and "is another one leased" are each a probe or two. Unordered rows and
  -- finished ones are left out, so the index stays small.
  CREATE INDEX deliveries_order ON deliveries (endpoint_id, order_key, status, id)
    WHERE order_key IS NOT NULL AND status IN (1, 3);
  -- A message may name the record it is about (dataId), to find its messages again.
  ALTER TABLE messages ADD COLUMN data_id text;
  CREATE INDEX messages_data_id ON messages (app_id, data_id) WHERE data_id IS NOT NULL;
  