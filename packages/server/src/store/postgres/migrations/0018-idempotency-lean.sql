-- A message's idempotency record no longer keeps its answer: the answer is the message
-- itself, rendered when a repeat comes (body NULL), so the payload is not stored twice and
-- an erased payload is not echoed. Records of other requests keep their answer. With no
-- payload in them, records need not be found by message.
ALTER TABLE idempotency ALTER COLUMN body DROP NOT NULL;
UPDATE idempotency SET body = NULL WHERE msg_id IS NOT NULL;
DROP INDEX idempotency_msg;
