import { hash } from 'node:crypto';

// The audit log: who did what to which record, and how it ended. An entry holds ids and
// stable names only, never a payload, a secret, a header's value or text a caller chose,
// so the log itself is not PHI. Each entry's hash covers the previous entry's hash and its
// own canonical JSON: editing, removing or reordering a stored entry breaks the chain at
// that entry (see verifyChain).

/** What is recorded; `id`, `prevHash` and `hash` are given when it is appended. */
export interface AuditInput {
  /** Epoch ms. */
  at: number;
  /** `admin`, `token:<token id>`, `portal:<token hash prefix>`, `link` (a content link's holder) or `system`. */
  actor: string;
  /** The client's address; null for `system`. */
  ip: string | null;
  /** The client's user agent, cut to USER_AGENT_CHARS. */
  userAgent: string | null;
  /** A stable name: the route's operationId (`v1.endpoint.create`), or `content.fetch`, `rekey`… */
  action: string;
  appId: string | null;
  endpointId: string | null;
  msgId: string | null;
  /** Another record the action concerns, by id (an API token, a backfill, an event type's name…). */
  targetId: string | null;
  /** The HTTP status answered, or `ok` / `refused` for what is not a request. */
  outcome: string;
  /** For a refusal: a code from a fixed set (`expired`, `read_only`…), never the caller's words. */
  reason: string | null;
}

export interface AuditEntry extends AuditInput {
  /** 1, 2, 3 … in append order. */
  id: number;
  prevHash: string;
  hash: string;
}

/** The previous hash of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

export const USER_AGENT_CHARS = 200;

/**
 * The entry as hashed: every field but `hash`, keys in a fixed (sorted) order, so the
 * same entry always gives the same text whatever built it.
 */
export function canonicalJson(e: Omit<AuditEntry, 'hash'>): string {
  return JSON.stringify({
    action: e.action,
    actor: e.actor,
    appId: e.appId,
    at: e.at,
    endpointId: e.endpointId,
    id: e.id,
    ip: e.ip,
    msgId: e.msgId,
    outcome: e.outcome,
    prevHash: e.prevHash,
    reason: e.reason,
    targetId: e.targetId,
    userAgent: e.userAgent,
  });
}

export function entryHash(e: Omit<AuditEntry, 'hash'>): string {
  return hash('sha256', `${e.prevHash}\n${canonicalJson(e)}`, 'hex');
}

/** The entry that follows `prev` (null: the first), hashed. */
export function chainEntry(prev: { id: number; hash: string } | null, input: AuditInput): AuditEntry {
  const e = { ...input, id: (prev?.id ?? 0) + 1, prevHash: prev?.hash ?? GENESIS_HASH };
  return { ...e, hash: entryHash(e) };
}

/**
 * Checks entries given in id order, batch by batch: `check` returns null while the chain
 * holds, else the first broken entry's id and what is wrong with it. Keep the returned state between batches.
 */
export class ChainCheck {
  count = 0;
  private prev: { id: number; hash: string } | null = null;

  check(e: AuditEntry): { id: number; why: string } | null {
    const expectedId = (this.prev?.id ?? 0) + 1;
    if (e.id !== expectedId) return { id: expectedId, why: `entry ${expectedId} is missing (the next one is ${e.id})` };
    if (e.prevHash !== (this.prev?.hash ?? GENESIS_HASH)) return { id: e.id, why: `entry ${e.id} does not follow entry ${expectedId - 1} (its prev_hash differs)` };
    if (entryHash(e) !== e.hash) return { id: e.id, why: `entry ${e.id} was changed after it was written (its hash does not match its content)` };
    this.prev = { id: e.id, hash: e.hash };
    this.count++;
    return null;
  }
}
