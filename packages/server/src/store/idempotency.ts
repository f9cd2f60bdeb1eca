// Idempotency keys' stored responses: SQL and rows, written once for both dialects.
import type { IdempotentResponse, ReplayRecord } from './store.js';
import type { Message } from '../domain/types.js';
import type { Row } from './rows.js';
import type { Sealer } from '../domain/sealing.js';

export const SELECT_IDEMPOTENT = 'SELECT * FROM idempotency WHERE scope = ? AND key = ?';

export function idempotentFrom(r: Row, s: Sealer): IdempotentResponse {
  return { bodyHash: r.body_hash as string, statusCode: r.status_code as number, body: s.open(r.body as string), createdAt: r.created_at as number };
}

export const PUT_IDEMPOTENT = `INSERT INTO idempotency (scope, key, body_hash, status_code, body, created_at, msg_id) VALUES (?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (scope, key) DO UPDATE SET body_hash = excluded.body_hash, status_code = excluded.status_code,
    body = excluded.body, created_at = excluded.created_at, msg_id = excluded.msg_id`;

export function putIdempotentParams(scope: string, key: string, v: IdempotentResponse, s: Sealer): unknown[] {
  return [scope, key, v.bodyHash, v.statusCode, s.seal(v.body), v.createdAt, v.msgId ?? null];
}

/** PUT_IDEMPOTENT's parameters for a message's replay record, stored in the message's commit. */
export function replayParams(r: ReplayRecord, message: Message, now: number, s: Sealer): unknown[] {
  return putIdempotentParams(r.scope, r.key, { bodyHash: r.bodyHash, statusCode: r.statusCode, body: r.body(message), createdAt: now, msgId: message.id }, s);
}

export const PURGE_IDEMPOTENT = 'DELETE FROM idempotency WHERE created_at < ?';
