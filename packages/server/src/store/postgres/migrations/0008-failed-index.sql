
  -- The dashboard's failing endpoints, and each application's count of them: deliveries that
  -- exhausted their retries, few beside the rest, so a partial index holds only them and is
  -- written only when a delivery fails for good or leaves that state.
  CREATE INDEX deliveries_failed ON deliveries (app_id, endpoint_id, last_attempt_at) WHERE status = 2;
  