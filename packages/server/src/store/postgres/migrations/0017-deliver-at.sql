-- The time a message was asked to be sent at, as given, so MessageOut answers it (Svix's
-- deliverAt). Its deliveries already fall due then; this is what the caller asked for.
ALTER TABLE messages ADD COLUMN deliver_at bigint;
