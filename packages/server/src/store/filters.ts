// The WHERE clauses of message and attempt listings, shared by both stores. JSON arrays are
// kept as text in both; only how SQL looks inside one differs, and that is the dialect.
import { idFloor } from '../domain/ids.js';
import type { StatusCode } from '../domain/types.js';
import type { AttemptFilter, MessageFilter } from './store.js';

export interface Dialect {
  /** A condition that the JSON-array text column holds the one `?` parameter. */
  arrayHolds(column: string): string;
  /** A condition that the column equals one of the values bound to the one `?` parameter. */
  oneOf(column: string): string;
  /** How a list of values is bound for `oneOf`. */
  list(values: string[]): unknown;
  /** How a boolean is bound: SQLite keeps 0 or 1 in an INTEGER column, PostgreSQL a boolean. */
  flag(value: boolean): unknown;
  /** A condition that the boolean column is false. */
  isFalse(column: string): string;
}

export function messageConditions(d: Dialect, filter: MessageFilter, alias: string, where: string[], params: unknown[]): void {
  if (filter.channel !== undefined) {
    where.push(d.arrayHolds(`${alias}.channels`));
    params.push(filter.channel);
  }
  if (filter.channels !== undefined && filter.channels.length > 0) {
    where.push(`(${filter.channels.map(() => d.arrayHolds(`${alias}.channels`)).join(' OR ')})`);
    params.push(...filter.channels);
  }
  if (filter.tag !== undefined) {
    where.push(d.arrayHolds(`${alias}.tags`));
    params.push(filter.tag);
  }
  if (filter.eventTypes !== undefined && filter.eventTypes.length > 0) {
    where.push(d.oneOf(`${alias}.event_type`));
    params.push(d.list(filter.eventTypes));
  }
  if (filter.dataId !== undefined) {
    where.push(`${alias}.data_id = ?`);
    params.push(filter.dataId);
  }
  // A message's created_at is its id's time (rows.ts newMessage), so the same bounds on the
  // id make a time range a range of the (app_id, id) index instead of a walk of the log.
  if (filter.before !== undefined) {
    where.push(`${alias}.created_at < ?`, `${alias}.id < ?`);
    params.push(filter.before, idFloor('msg', filter.before));
  }
  if (filter.after !== undefined) {
    where.push(`${alias}.created_at > ?`, `${alias}.id >= ?`);
    params.push(filter.after, idFloor('msg', Math.floor(filter.after) + 1));
  }
}

/**
 * Messages `m` with at least one delivery in the status. A probe of deliveries_msg (msg_id, …)
 * per message: the log is walked newest first either way, and a status seldom seen only
 * makes the walk longer, never a scan of every delivery.
 */
export function deliveryStatusCondition(status: StatusCode | undefined, alias: string, where: string[], params: unknown[]): void {
  if (status === undefined) return;
  where.push(`EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = ${alias}.id AND d.status = ?)`);
  params.push(status);
}

/** Conditions on attempts `a` of one application; time bounds apply to the attempt itself. */
export function attemptConditions(d: Dialect, appId: string, filter: AttemptFilter): { where: string[]; params: unknown[] } {
  const where = ['a.app_id = ?'];
  const params: unknown[] = [appId];
  const exact: [string, unknown][] = [
    ['a.msg_id = ?', filter.msgId],
    ['a.endpoint_id = ?', filter.endpointId],
    ['a.status = ?', filter.status],
    ['(a.response_status_code / 100) * 100 = ?', filter.statusCodeClass],
    ['a.created_at < ?', filter.before],
    ['a.created_at > ?', filter.after],
  ];
  for (const [condition, value] of exact) {
    if (value === undefined) continue;
    where.push(condition);
    params.push(value);
  }
  const msgWhere: string[] = [];
  messageConditions(d, { channel: filter.channel, tag: filter.tag, eventTypes: filter.eventTypes, dataId: filter.dataId }, 'm', msgWhere, params);
  if (msgWhere.length > 0) where.push(`EXISTS (SELECT 1 FROM messages m WHERE m.id = a.msg_id AND ${msgWhere.join(' AND ')})`);
  return { where, params };
}
