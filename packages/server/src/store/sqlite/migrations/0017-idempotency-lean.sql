-- Idempotency records are appended in insertion order and found through the serving
-- process's index of their keys (see KeyIndex), not an index on disk: the svix 2.x SDK sends
-- a random key with every POST, and a B-tree of random keys has every keyed message write a
-- page of its own at each commit. `key_hash` is that index's hash of the scope and key,
-- stored so the index is rebuilt at start without hashing every key again.
-- A message's record no longer keeps its answer: the answer is the message itself, rendered
-- when a repeat comes (body NULL), so the payload is not stored twice and an erased payload
-- is not echoed. Other answers are kept, and found in order by `rekey` (idempotency_answers).
CREATE TABLE idempotency_lean (
  id INTEGER PRIMARY KEY,
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  key_hash INTEGER,
  body_hash TEXT NOT NULL,
  status_code INTEGER NOT NULL,
  body TEXT,
  created_at INTEGER NOT NULL,
  msg_id TEXT
);
INSERT INTO idempotency_lean (scope, key, body_hash, status_code, body, created_at, msg_id)
  SELECT scope, key, body_hash, status_code, CASE WHEN msg_id IS NULL THEN body END, created_at, msg_id
  FROM idempotency ORDER BY created_at;
DROP TABLE idempotency;
ALTER TABLE idempotency_lean RENAME TO idempotency;
CREATE INDEX idempotency_answers ON idempotency (scope, key) WHERE body IS NOT NULL;
