-- The W3C trace context (traceparent, tracestate) a message was created under, sent on with
-- its deliveries so one event can be followed from the caller's request to the receiver.
ALTER TABLE messages ADD COLUMN traceparent text;
ALTER TABLE messages ADD COLUMN tracestate text;
