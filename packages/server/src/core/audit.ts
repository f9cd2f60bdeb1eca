import { ChainCheck, USER_AGENT_CHARS, type AuditEntry, type AuditInput } from '../domain/audit.js';
import type { Page } from '../domain/types.js';
import type { AuditFilter, Store } from '../store/store.js';

/** What a caller gives; the time defaults to now, and what is unknown may be left out. */
export type AuditRecord = Pick<AuditInput, 'actor' | 'action' | 'outcome'> & Partial<Omit<AuditInput, 'actor' | 'action' | 'outcome'>>;

/**
 * Appends one entry to the audit log. For the API's hook, and for what runs outside a
 * request: a CLI command (`rekey`, with actor `system`) calls it with the store it opened.
 */
export function recordAudit(store: Store, r: AuditRecord): Promise<AuditEntry> {
  return store.appendAudit({
    at: r.at ?? Date.now(),
    actor: r.actor,
    ip: r.ip ?? null,
    userAgent: r.userAgent == null ? null : r.userAgent.slice(0, USER_AGENT_CHARS),
    action: r.action,
    appId: r.appId ?? null,
    endpointId: r.endpointId ?? null,
    msgId: r.msgId ?? null,
    targetId: r.targetId ?? null,
    outcome: r.outcome,
    reason: r.reason ?? null,
  });
}

/** Entries read at once by verifyAudit and exportAudit. */
const BATCH = 1000;

/** Every entry matching `filter`, oldest first, a batch at a time. */
export async function* auditEntries(store: Store, filter: AuditFilter = {}): AsyncGenerator<AuditEntry> {
  let iterator: string | null = null;
  for (;;) {
    const page: Page<AuditEntry> = await store.listAudit(filter, { limit: BATCH, iterator, order: 'ascending' });
    yield* page.data;
    if (page.done || page.iterator === null) return;
    iterator = page.iterator;
  }
}

export type Verification = { ok: true; count: number } | { ok: false; count: number; brokenId: number; why: string };

/** Walks the whole chain: `count` entries held before the first broken one, if any. */
export async function verifyAudit(store: Store): Promise<Verification> {
  const chain = new ChainCheck();
  for await (const e of auditEntries(store)) {
    const broken = chain.check(e);
    if (broken !== null) return { ok: false, count: chain.count, brokenId: broken.id, why: broken.why };
  }
  return { ok: true, count: chain.count };
}
