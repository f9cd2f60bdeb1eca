// Deliveries queued again by hand (resend, recover, retry-failed, replay): SQL written once for
// both dialects (each store binds `?` its own way). Claims, leases and key locks stay per store.
import { Status, Trigger } from '../domain/types.js';

/** What a delivery queued again by hand starts from: pending, due at the bound time, its attempts restarted. */
const REQUEUED = `status = ${Status.Pending}, attempts = 0, next_attempt_at = ?, trigger_type = ${Trigger.Manual}, lease_owner = NULL`;

/** A manual resend is a new round. Binds the due time, the message and the endpoint; a delivery being sent is left alone. */
export const RESEND = `UPDATE deliveries SET ${REQUEUED}, priority = 0
  WHERE msg_id = ? AND endpoint_id = ? AND status != ${Status.Sending}`;

/** What a resend with no delivery to requeue orders its new one by. Binds the endpoint, the application and the message. */
export const SELECT_RESEND_ORDERING = `SELECT m.payload, m.backfill_id, e.ordering FROM messages m JOIN endpoints e ON e.app_id = m.app_id AND e.id = ? WHERE m.app_id = ? AND m.id = ?`;

/** A resend's new delivery, unless a concurrent one made it. Binds the message, endpoint, application, due time, order key and creation time. */
export const INSERT_RESENT = `INSERT INTO deliveries (msg_id, endpoint_id, app_id, status, next_attempt_at, trigger_type, order_key, created_at)
  VALUES (?, ?, ?, ${Status.Pending}, ?, ${Trigger.Manual}, ?, ?) ON CONFLICT (msg_id, endpoint_id) DO NOTHING`;

/** An endpoint's failed deliveries made in [since, until). Binds the due time, the application, the endpoint, since and until. */
export const RECOVER = `UPDATE deliveries SET ${REQUEUED}, priority = 1
  WHERE app_id = ? AND endpoint_id = ? AND status = ${Status.Fail} AND created_at >= ? AND created_at < ?`;

/** An application's failed deliveries. Binds the due time and the application. */
export const RETRY_FAILED = `UPDATE deliveries SET ${REQUEUED}, priority = 1
  WHERE app_id = ? AND status = ${Status.Fail}`;

const replayCandidatesSql = (payload: string): string => `SELECT m.id, m.event_type, m.channels, m.backfill_id, ${payload} FROM messages m
  WHERE m.app_id = ? AND m.created_at >= ? AND m.created_at < ? AND m.payload IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND d.endpoint_id = ?)
  ORDER BY m.id`;

const REPLAY_CANDIDATES = replayCandidatesSql('m.payload');
const REPLAY_CANDIDATES_UNORDERED = replayCandidatesSql('NULL AS payload');

/**
 * The messages of [since, until) an endpoint has no delivery of, in message order (so that
 * replayed messages of one key keep their order among themselves); their payloads only when the
 * endpoint orders by a key read from them. Binds the application, since, until and the endpoint.
 */
export const replayCandidates = (ordered: boolean): string => (ordered ? REPLAY_CANDIDATES : REPLAY_CANDIDATES_UNORDERED);
