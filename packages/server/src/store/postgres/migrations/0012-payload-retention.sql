-- Payload retention: when a message's payload, its attempts' response bodies and its
-- backfill's records are deleted (ms). Messages stored before carry the default period
-- (90 days) from their creation. The index holds only payloads still kept, so the purge
-- reads the next expired ones from its start and a purged message leaves it.
ALTER TABLE messages ADD COLUMN payload_expires_at bigint;
UPDATE messages SET payload_expires_at = created_at + 7776000000 WHERE payload IS NOT NULL;
CREATE INDEX messages_payload_expiry ON messages (payload_expires_at) WHERE payload IS NOT NULL;
-- Erasure by user_id finds a user's backfills without reading every one.
CREATE INDEX backfills_user ON backfills (app_id, user_id);
-- A replayed answer to a message's creation holds its payload: it goes with the payload.
ALTER TABLE idempotency ADD COLUMN msg_id text COLLATE "C";
CREATE INDEX idempotency_msg ON idempotency (msg_id) WHERE msg_id IS NOT NULL;
