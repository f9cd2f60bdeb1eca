// Idempotency keys' stored responses: SQL and rows, written once for both dialects.
import type { IdempotentResponse, ReplayRecord } from './store.js';
import type { Message } from '../domain/types.js';
import type { Row } from './rows.js';
import type { Sealer } from '../domain/sealing.js';

export const SELECT_IDEMPOTENT = 'SELECT * FROM idempotency WHERE scope = ? AND key = ?';

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
  return [scope, key, v.bodyHash, v.statusCode, v.body === null ? null : s.seal(v.body), v.createdAt, v.msgId ?? null];
}

/** PUT_IDEMPOTENT's parameters for a message's replay record, stored in the message's commit. */
export function replayParams(r: ReplayRecord, message: Message, now: number, s: Sealer): unknown[] {
  return putIdempotentParams(r.scope, r.key, { bodyHash: r.bodyHash, statusCode: r.statusCode, body: r.body(message), createdAt: now, msgId: message.id }, s);
}

/**
 * A message's record, written in its commit only where no live record holds the key
 * (one expired, or left by a message since deleted, is replaced): no change means a repeat,
 * found without a look-up before the commit. CLAIM_IDEMPOTENT's parameters are
 * replayParams' and then the record's expiredAt.
 */
export const CLAIM_IDEMPOTENT = `${PUT_IDEMPOTENT}
  WHERE idempotency.created_at <= ?
    OR (idempotency.msg_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = idempotency.msg_id))`;

/** Expired records, by their age (PostgreSQL, which keeps an index of it). */
export const PURGE_IDEMPOTENT = 'DELETE FROM idempotency WHERE created_at < ?';

/**
 * createMessage's refusal when its request's idempotency-key already holds a live answer
 * (a store with `repeatsFoundInCommit`): nothing of the message was written.
 */
export class RepeatedRequest extends Error {
  constructor(readonly previous: IdempotentResponse) {
    super('this idempotency-key already holds an answer');
  }
}
