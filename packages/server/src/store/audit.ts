// The audit log's SQL, written once for both dialects (each store binds `?` its own way).
import type { AuditEntry } from '../domain/audit.js';
import type { PagePlan } from './paging.js';
import type { Row } from './rows.js';

/** PostgreSQL's transaction-level advisory lock that serialises appends (an arbitrary constant: "hwaudit"). */
export const AUDIT_LOCK = 0x6877617564697400n;

export const SELECT_AUDIT_HEAD = 'SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1';

const AUDIT_ROW = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
const INSERT_AUDIT_INTO = 'INSERT INTO audit_log (id, at, actor, ip, user_agent, action, app_id, endpoint_id, msg_id, target_id, outcome, reason, prev_hash, hash) VALUES ';

export const INSERT_AUDIT = `${INSERT_AUDIT_INTO}${AUDIT_ROW}`;

/** Most entries one statement inserts: 14 parameters each, well below PostgreSQL's 65,535. */
export const AUDIT_BATCH = 500;

/** Inserts `entries` (at most AUDIT_BATCH) in one statement. */
export function insertAudits(entries: AuditEntry[]): { sql: string; params: unknown[] } {
  return { sql: INSERT_AUDIT_INTO + entries.map(() => AUDIT_ROW).join(', '), params: entries.flatMap(auditParams) };
}

export function auditParams(e: AuditEntry): unknown[] {
  return [e.id, e.at, e.actor, e.ip, e.userAgent, e.action, e.appId, e.endpointId, e.msgId, e.targetId, e.outcome, e.reason, e.prevHash, e.hash];
}

export function auditFrom(r: Row): AuditEntry {
  return {
    id: Number(r.id),
    at: Number(r.at),
    actor: r.actor as string,
    ip: (r.ip as string | null) ?? null,
    userAgent: (r.user_agent as string | null) ?? null,
    action: r.action as string,
    appId: (r.app_id as string | null) ?? null,
    endpointId: (r.endpoint_id as string | null) ?? null,
    msgId: (r.msg_id as string | null) ?? null,
    targetId: (r.target_id as string | null) ?? null,
    outcome: r.outcome as string,
    reason: (r.reason as string | null) ?? null,
    prevHash: r.prev_hash as string,
    hash: r.hash as string,
  };
}

export interface AuditFilter {
  /** At or after / before these times (ms). */
  since?: number;
  until?: number;
  action?: string;
  actor?: string;
  appId?: string;
}

/** A page of entries (keyset on id, see planPage), filtered. */
export function listAudit(f: AuditFilter, plan: PagePlan): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (cond: string, value: unknown) => {
    where.push(cond);
    params.push(value);
  };
  if (f.since !== undefined) add('at >= ?', f.since);
  if (f.until !== undefined) add('at < ?', f.until);
  if (f.action !== undefined) add('action = ?', f.action);
  if (f.actor !== undefined) add('actor = ?', f.actor);
  if (f.appId !== undefined) add('app_id = ?', f.appId);
  if (plan.condition !== null) add(plan.condition, Number(plan.param));
  params.push(plan.limit);
  return { sql: `SELECT * FROM audit_log${where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`} ORDER BY id ${plan.direction} LIMIT ?`, params };
}
