-- A message's idempotency record no longer keeps its answer: the answer is the message
-- itself, rendered when a repeat comes (body NULL), so the payload is not stored twice and
-- an erased payload is not echoed. Records of other requests keep their answer.
-- With no payload in them, records need not be found by message (idempotency_msg), and the
-- purge walks the table in insertion order, oldest first (rowid), rather than keep an index
-- by age: every keyed message wrote three index entries besides its row; it now writes one.
CREATE TABLE idempotency_lean (
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  body_hash TEXT NOT NULL,
  status_code INTEGER NOT NULL,
  body TEXT,
  created_at INTEGER NOT NULL,
  msg_id TEXT,
  PRIMARY KEY (scope, key)
);
INSERT INTO idempotency_lean (scope, key, body_hash, status_code, body, created_at, msg_id)
  SELECT scope, key, body_hash, status_code, CASE WHEN msg_id IS NULL THEN body END, created_at, msg_id
  FROM idempotency ORDER BY created_at;
DROP TABLE idempotency;
ALTER TABLE idempotency_lean RENAME TO idempotency;
