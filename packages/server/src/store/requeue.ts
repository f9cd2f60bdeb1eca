// Deliveries queued again by hand (resend, recover, retry-failed, replay): SQL written once for
// both dialects (each store binds `?` its own way). Claims, leases and key locks stay per store.
import { Status, Trigger, type StatusCode } from '../domain/types.js';
import { messageConditions, type Dialect } from './filters.js';
import type { Row } from './rows.js';

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

/** What a bulk replay picks, besides the endpoint and the time window. */
export interface BulkReplayFilter {
  eventTypes?: string[];
  channel?: string;
  tag?: string;
  /** Only deliveries in this status (success or fail; others are in flight and never replayed). */
  status?: StatusCode;
  /** Only deliveries whose last attempt's HTTP status is in this class (0 for no response). */
  statusCodeClass?: number;
}

/** A batch of a bulk requeue: how many were queued, and the last delivery id looked at (null once none are left). */
export interface RequeueBatch {
  queued: number;
  lastId: number | null;
}

/**
 * Deliveries `d` matching `where`, queued again behind new traffic, `limit` at a time in id
 * order after `afterId`, so a large recover or replay is many short writes that report
 * progress. Rows requeued leave by id, so one that fails again at once is not taken twice.
 * The status condition is checked again on the row updated (a concurrent change wins).
 */
function requeueBatch(where: string[], params: unknown[], status: string, afterId: number, limit: number, now: number): { sql: string; params: unknown[] } {
  return {
    sql: `UPDATE deliveries SET ${REQUEUED}, priority = 1 WHERE ${status} AND id IN
      (SELECT d.id FROM deliveries d WHERE ${where.join(' AND ')} AND d.id > ? ORDER BY d.id LIMIT ?) RETURNING id`,
    params: [now, ...params, afterId, limit],
  };
}

/** RECOVER in batches: the endpoint's failed deliveries made in [since, until). */
export function recoverBatch(appId: string, endpointId: string, since: number, until: number | null, afterId: number, limit: number, now: number): { sql: string; params: unknown[] } {
  return requeueBatch(
    ['d.app_id = ?', 'd.endpoint_id = ?', `d.status = ${Status.Fail}`, 'd.created_at >= ?', 'd.created_at < ?'],
    [appId, endpointId, since, until ?? Number.MAX_SAFE_INTEGER],
    `status = ${Status.Fail}`,
    afterId,
    limit,
    now,
  );
}

/**
 * Bulk replay in batches: the endpoint's finished deliveries (sent or failed) of messages
 * created in [since, until) that still hold their payload. Pending and sending deliveries are
 * on their way already and are left alone.
 */
export function bulkReplayBatch(
  d: Dialect,
  appId: string,
  endpointId: string,
  since: number,
  until: number | null,
  filter: BulkReplayFilter,
  afterId: number,
  limit: number,
  now: number,
): { sql: string; params: unknown[] } {
  const finished = `status IN (${Status.Success}, ${Status.Fail})`;
  const where = ['d.app_id = ?', 'd.endpoint_id = ?', `d.${finished}`];
  const params: unknown[] = [appId, endpointId];
  if (filter.status !== undefined) {
    where.push('d.status = ?');
    params.push(filter.status);
  }
  const msgWhere = ['m.app_id = ?', 'm.payload IS NOT NULL'];
  params.push(appId);
  messageConditions(d, { eventTypes: filter.eventTypes, channel: filter.channel, tag: filter.tag, after: since - 1, before: until ?? undefined }, 'm', msgWhere, params);
  where.push(`d.msg_id IN (SELECT m.id FROM messages m WHERE ${msgWhere.join(' AND ')})`);
  if (filter.statusCodeClass !== undefined) {
    where.push(`(SELECT (a.response_status_code / 100) * 100 FROM attempts a
      WHERE a.msg_id = d.msg_id AND a.endpoint_id = d.endpoint_id ORDER BY a.id DESC LIMIT 1) = ?`);
    params.push(filter.statusCodeClass);
  }
  return requeueBatch(where, params, finished, afterId, limit, now);
}

/** A batch's RETURNING rows as a RequeueBatch. */
export function requeueBatchFrom(rows: Row[], limit: number): RequeueBatch {
  const last = rows.reduce((max, r) => Math.max(max, Number(r.id)), 0);
  return { queued: rows.length, lastId: rows.length < limit ? null : last };
}

/**
 * Cancels the endpoint's pending deliveries of messages created before a time; binds the
 * application, the endpoint and the lowest message id of that time (ids follow creation
 * time, so the (endpoint_id, msg_id) index finds them). A delivery being sent finishes its
 * attempt; its retries, if any, are not canceled.
 */
export const CANCEL_PENDING = `UPDATE deliveries SET status = ${Status.Canceled}, next_attempt_at = NULL, lease_owner = NULL
  WHERE app_id = ? AND endpoint_id = ? AND msg_id < ? AND status = ${Status.Pending}`;
