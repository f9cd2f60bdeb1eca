// Per-key ordering in SQL, shared by both stores. Deliveries of one endpoint that carry the
// same order_key go one at a time in delivery id order (the order they were queued, which
// for deliveries made with their messages is message order). "Unfinished" is pending (1)
// or sending (3); success, fail and canceled release the key.
import { newId } from '../domain/ids.js';
import { Status, Trigger } from '../domain/types.js';
import type { Row } from './rows.js';

/**
 * A condition that delivery `d` may be leased now: it has no order key, or
 *  - no earlier delivery of its endpoint and key is unfinished (it is the head), and
 *  - no other delivery of that key holds a live lease.
 * The second clause matters only when an older delivery is queued again (resend, recover,
 * retry-failed) while a younger one of its key is being sent: the old one becomes the
 * head, but waits until that attempt ends. A lease that has expired does not hold the key,
 * or a dead worker's lease would hold it for ever; its delivery is claimed again in turn.
 *
 * Binds one `?`: the claim time. Two probes of deliveries_order (endpoint_id, order_key,
 * status, id), one per status: "an earlier pending one" is the first pending entry of the
 * key, and the sending entries of a key are one or two. Each names the partial index's
 * condition (`status IN (1, 3)`, order_key compared) as SQLite needs to use it; rows
 * without a key never reach them.
 *
 * What it costs: deliveries waiting behind a head stay in the due index, so a claim (and
 * nextDueAt) walks past them, about a microsecond each on SQLite: nothing for a few hundred,
 * a tenth of a second per claim for 100,000 behind one failing head. Parking them outside
 * the due index until their head finishes would remove that, at the price of waking them
 * on every path that finishes a delivery.
 */
export function inTurn(d: string): string {
  const sameKey = `o.endpoint_id = ${d}.endpoint_id AND o.order_key = ${d}.order_key AND o.status IN (${Status.Pending}, ${Status.Sending})`;
  return `(${d}.order_key IS NULL OR (
      NOT EXISTS (SELECT 1 FROM deliveries o WHERE ${sameKey} AND o.status = ${Status.Pending} AND o.id < ${d}.id)
      AND NOT EXISTS (SELECT 1 FROM deliveries o WHERE ${sameKey} AND o.status = ${Status.Sending} AND o.id <> ${d}.id
                      AND (o.id < ${d}.id OR o.next_attempt_at > ?))))`;
}

/**
 * When the next delivery a claim would take falls due (`t`, null for none): per priority, the
 * first entry of its part of the due index, passing over deliveries that wait behind the head
 * of their key, or a key held by a failing head would wake the dispatchers at once, again and
 * again. `from` names the deliveries as `d`, with a dialect's index hint if it has one. Binds
 * two `?`, each the time now.
 */
export function nextDue(from: string): string {
  const first = (priority: number) =>
    `SELECT next_attempt_at FROM ${from}
     WHERE status IN (${Status.Pending}, ${Status.Sending}) AND priority = ${priority} AND next_attempt_at IS NOT NULL AND ${inTurn('d')}
     ORDER BY next_attempt_at LIMIT 1`;
  return `SELECT MIN(t) AS t FROM (SELECT (${first(0)}) AS t UNION ALL SELECT (${first(1)})) AS due`;
}

/** Binds two `?`: the endpoint and the key. Whether anything of that key is unfinished. */
export const KEY_BUSY = `SELECT 1 FROM deliveries WHERE endpoint_id = ? AND order_key = ? AND status IN (${Status.Pending}, ${Status.Sending}) LIMIT 1`;

/** Binds two `?`: the endpoint and the key. The head of the key: its earliest unfinished delivery. */
export const KEY_HEAD = `SELECT id, msg_id, app_id, status, next_attempt_at FROM deliveries
  WHERE endpoint_id = ? AND order_key = ? AND status IN (${Status.Pending}, ${Status.Sending}) ORDER BY id LIMIT 1`;

/** Binds the head's id: skipping it fails it for good, which releases its key. */
export const SKIP_HEAD = `UPDATE deliveries SET status = ${Status.Fail}, lease_owner = NULL, next_attempt_at = NULL WHERE id = ?`;

/** The attempt a skip records on the head it failed, its note as the response and the error. */
export const INSERT_SKIP_ATTEMPT = `INSERT INTO attempts (id, msg_id, endpoint_id, app_id, url, status, response_status_code, response, response_duration_ms,
           trigger_type, error, created_at) VALUES (?, ?, ?, ?, ?, ${Status.Fail}, 0, ?, 0, ${Trigger.Manual}, ?, ?)`;

export function skipAttemptParams(head: Row, endpointId: string, appId: string, url: unknown, note: string, now: number): unknown[] {
  return [newId('atmpt', now), head.msg_id, endpointId, appId, url, note, note, now];
}

