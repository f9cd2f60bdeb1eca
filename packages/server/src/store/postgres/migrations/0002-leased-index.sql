
  -- Leases held now, per endpoint, over all processes: claims count them so that an
  -- endpoint's concurrency limit holds across processes. Only leased rows are in it.
  CREATE INDEX deliveries_leased ON deliveries (endpoint_id) WHERE status = 3;
  