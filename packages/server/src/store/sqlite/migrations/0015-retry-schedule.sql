-- An event type's own retry schedule: a JSON array of seconds between attempts, which its
-- deliveries follow in place of the server's; null follows the server's.
ALTER TABLE event_types ADD COLUMN retry_schedule TEXT;
