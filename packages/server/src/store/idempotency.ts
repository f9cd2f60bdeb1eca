// Idempotency keys' stored responses: SQL and rows, written once for both dialects.
import type { IdempotentResponse, ReplayRecord } from './store.js';
import type { Message } from '../domain/types.js';
import type { Row } from './rows.js';
import type { Sealer } from '../domain/sealing.js';

export const SELECT_IDEMPOTENT = 'SELECT * FROM idempotency WHERE scope = ? AND key = ?';

/** A record's values after its scope and key: body_hash, status_code, body (sealed), created_at, msg_id. */
export function recordValues(v: IdempotentResponse, s: Sealer): unknown[] {
  return [v.bodyHash, v.statusCode, v.body === null ? null : s.seal(v.body), v.createdAt, v.msgId ?? null];
}

export function idempotentFrom(r: Row, s: Sealer): IdempotentResponse {
  return {
    bodyHash: r.body_hash as string,
    statusCode: r.status_code as number,
    body: r.body === null ? null : s.open(r.body as string),
    createdAt: r.created_at as number,
    msgId: (r.msg_id as string | null) ?? null,
  };
}

export const PUT_IDEMPOTENT = `INSERT INTO idempotency (scope, key, body_hash, status_code, body, created_at, msg_id) VALUES (?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (scope, key) DO UPDATE SET body_hash = excluded.body_hash, status_code = excluded.status_code,
    body = excluded.body, created_at = excluded.created_at, msg_id = excluded.msg_id`;

export function putIdempotentParams(scope: string, key: string, v: IdempotentResponse, s: Sealer): unknown[] {
  return [scope, key, ...recordValues(v, s)];
}

/** A message's replay record, stored in the message's commit. */
export function replayRecord(r: ReplayRecord, message: Message, now: number): IdempotentResponse {
  return { bodyHash: r.bodyHash, statusCode: r.statusCode, body: r.body(message), createdAt: now, msgId: message.id };
}

/** PUT_IDEMPOTENT's parameters for a message's replay record. */
export function replayParams(r: ReplayRecord, message: Message, now: number, s: Sealer): unknown[] {
  return putIdempotentParams(r.scope, r.key, replayRecord(r, message, now), s);
}

/** Expired records, by their age (PostgreSQL, which keeps an index of it). */
export const PURGE_IDEMPOTENT = 'DELETE FROM idempotency WHERE created_at < ?';
