-- Endpoints that look after themselves: since when every attempt has failed (NULL while the
-- last one succeeded), and why and when the endpoint was disabled, by Hookwell or by a call.
ALTER TABLE endpoints ADD COLUMN failing_since bigint;
ALTER TABLE endpoints ADD COLUMN disabled_reason text;
ALTER TABLE endpoints ADD COLUMN disabled_at bigint;
