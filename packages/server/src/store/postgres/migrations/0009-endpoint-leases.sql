-- The live leases of each endpoint given, over all processes, counted once the endpoints'
-- advisory locks are held (taken in one fixed order). A claim calls it from within its one
-- statement: being VOLATILE, the count takes a snapshot of its own, after the locks, and so
-- sees every lease committed by a claim that held them before; the claim's own snapshot,
-- taken before it waited, would not. Status 3 is a delivery being sent (Status.Sending).
CREATE FUNCTION hookwell_endpoint_leases(endpoints text[], at_ms bigint)
  RETURNS TABLE (endpoint_id text, leases integer) LANGUAGE sql VOLATILE AS $$
  SELECT pg_advisory_xact_lock(k) FROM (
    SELECT hashtextextended('hookwell.endpoint.' || e, 0) AS k FROM unnest(endpoints) AS e ORDER BY 1) AS locks;
  SELECT d.endpoint_id, count(*)::integer FROM deliveries d
  WHERE d.status = 3 AND d.endpoint_id = ANY(endpoints) AND d.next_attempt_at > at_ms GROUP BY d.endpoint_id;
$$;
