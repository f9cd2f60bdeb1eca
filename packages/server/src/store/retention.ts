// Deleting messages' content (retention, expunge, erasure), written once for both dialects.
// Content is the payload, the response bodies of the message's attempts and, for a
// backfill's notification, the backfill's records; the rows that say what happened (the
// message's metadata, its deliveries, attempts' status codes and times) stay.
import { newId } from '../domain/ids.js';
import { Status, Trigger } from '../domain/types.js';
import type { Dialect } from './filters.js';
import type { Row } from './rows.js';

/** What one deletion of content did. */
export interface ContentDeleted {
  /** Messages whose payload was deleted. */
  messages: number;
  /** Attempts whose response body was deleted. */
  attempts: number;
  /** Backfill records deleted. */
  backfillRecords: number;
  /** Deliveries not yet made that were ended (canceled, or failed with a note when their payload expired). */
  deliveries: number;
}

export const NOTHING_DELETED: ContentDeleted = { messages: 0, attempts: 0, backfillRecords: 0, deliveries: 0 };

export function addDeleted(a: ContentDeleted, b: ContentDeleted): ContentDeleted {
  return { messages: a.messages + b.messages, attempts: a.attempts + b.attempts, backfillRecords: a.backfillRecords + b.backfillRecords, deliveries: a.deliveries + b.deliveries };
}

/**
 * Binds the time twice (expired by, and leases live after) and the limit: messages whose
 * payload expired, oldest expiry first, from the partial index messages_payload_expiry.
 * A message with a delivery being sent right now (a live lease) waits for the next run:
 * its payload is already in the sender's hands, and the attempt's response body it is
 * about to record must be deleted with the rest.
 */
export const SELECT_EXPIRED = `SELECT m.id, m.app_id FROM messages m
  WHERE m.payload IS NOT NULL AND m.payload_expires_at <= ?
    AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND d.status = ${Status.Sending} AND d.next_attempt_at > ?)
  ORDER BY m.payload_expires_at LIMIT ?`;

/** The statements that delete the content of a list of one application's messages. */
export interface ContentStatements {
  /** Binds the application and the list: the unfinished deliveries, with their endpoint's URL, for the note an expiry records. */
  unfinished: string;
  /** Binds the application and the list: locks the unfinished deliveries' rows (PostgreSQL). */
  lockUnfinished: string;
  /** Binds the application and the list: ends the unfinished deliveries as failed (an expiry). */
  failUnfinished: string;
  /** Binds the application and the list: ends the unfinished deliveries as canceled (an expunge or an erasure). */
  cancelUnfinished: string;
  /** Binds the application and the list. */
  backfillRecords: string;
  /** Binds the application and the list. */
  attemptBodies: string;
  /** Binds the application and the list. */
  payloads: string;
}

export function contentStatements(d: Dialect): ContentStatements {
  const unfinished = `status IN (${Status.Pending}, ${Status.Sending})`;
  // The application's own messages of the list. Deliveries are reached through it by
  // msg_id: asked by app_id and status, a planner walks every unfinished delivery of the
  // application, a whole backlog, for each batch.
  const own = `(SELECT id FROM messages WHERE app_id = ? AND ${d.oneOf('id')})`;
  return {
    unfinished: `SELECT d.id, d.msg_id, d.endpoint_id, e.url FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
      WHERE d.msg_id IN ${own} AND d.${unfinished}`,
    lockUnfinished: `SELECT id FROM deliveries WHERE msg_id IN ${own} AND ${unfinished} ORDER BY id FOR UPDATE`,
    failUnfinished: `UPDATE deliveries SET status = ${Status.Fail}, next_attempt_at = NULL, lease_owner = NULL WHERE msg_id IN ${own} AND ${unfinished}`,
    cancelUnfinished: `UPDATE deliveries SET status = ${Status.Canceled}, next_attempt_at = NULL, lease_owner = NULL WHERE msg_id IN ${own} AND ${unfinished}`,
    backfillRecords: `DELETE FROM backfill_records WHERE backfill_id IN
      (SELECT backfill_id FROM messages WHERE app_id = ? AND ${d.oneOf('id')} AND backfill_id IS NOT NULL)`,
    attemptBodies: `UPDATE attempts SET response = '' WHERE app_id = ? AND ${d.oneOf('msg_id')} AND response <> ''`,
    payloads: `UPDATE messages SET payload = NULL WHERE app_id = ? AND ${d.oneOf('id')} AND payload IS NOT NULL`,
  };
}

/** The attempt recorded on a delivery whose payload expired before it was made: the note as response and error. */
export const INSERT_EXPIRY_ATTEMPT = `INSERT INTO attempts (id, msg_id, endpoint_id, app_id, url, status, response_status_code, response, response_duration_ms,
  trigger_type, error, created_at) VALUES (?, ?, ?, ?, ?, ${Status.Fail}, 0, ?, 0, ${Trigger.Scheduled}, ?, ?)`;

/** What the attempt recorded on a delivery whose payload expired says. */
export const EXPIRED_NOTE = "not sent: the message's payload reached the end of its retention period and was deleted";

/** INSERT_EXPIRY_ATTEMPT's values for a row of `unfinished`. */
export function expiryAttemptParams(r: Row, appId: string, now: number): unknown[] {
  return [newId('atmpt', now), r.msg_id, r.endpoint_id, appId, r.url, EXPIRED_NOTE, EXPIRED_NOTE, now];
}

/** SELECT_EXPIRED's rows as message ids per application. */
export function idsByApp(rows: Row[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of rows) {
    const ids = out.get(r.app_id as string);
    if (ids === undefined) out.set(r.app_id as string, [r.id as string]);
    else ids.push(r.id as string);
  }
  return out;
}

/**
 * Binds the application and the key (after, exclusive; '' for the start) and the limit:
 * messages that still hold a payload, in id order, for erasure's scan.
 */
export const SCAN_PAYLOADS = `SELECT id, event_type, payload, data_id, backfill_id FROM messages
  WHERE app_id = ? AND id > ? AND payload IS NOT NULL ORDER BY id LIMIT ?`;

/** Binds the application and the dataId: its messages that still hold content. */
export const SELECT_DATA_MESSAGES = 'SELECT id FROM messages WHERE app_id = ? AND data_id = ? AND payload IS NOT NULL';

/** Binds the application and the user: that user's backfills. */
export const SELECT_USER_BACKFILLS = 'SELECT id FROM backfills WHERE app_id = ? AND user_id = ?';

/** Binds the backfill. */
export const DELETE_BACKFILL_RECORDS = 'DELETE FROM backfill_records WHERE backfill_id = ?';

/** Binds the backfill: its notifications that still hold a payload. */
export const SELECT_BACKFILL_MESSAGES = 'SELECT id FROM messages WHERE backfill_id = ? AND payload IS NOT NULL';
