// Event types' SQL, written once for both dialects (each store binds `?` its own way).
import type { EventType } from '../domain/types.js';
import type { Dialect } from './filters.js';
import type { Query } from './insights.js';
import type { PagePlan } from './paging.js';
import { json } from './rows.js';

export const INSERT_EVENT_TYPE = `INSERT INTO event_types (name, description, archived, deprecated, schemas, feature_flags, group_name, validate, created_at, updated_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

export function insertEventTypeParams(d: Dialect, et: EventType): unknown[] {
  return [et.name, et.description, d.flag(et.archived), d.flag(et.deprecated), json(et.schemas), json(et.featureFlags), et.groupName, d.flag(et.validate), et.createdAt, et.updatedAt];
}

export const SELECT_EVENT_TYPE = 'SELECT * FROM event_types WHERE name = ?';

export const UPDATE_EVENT_TYPE = `UPDATE event_types SET description = ?, archived = ?, deprecated = ?, schemas = ?, feature_flags = ?, group_name = ?,
  validate = ?, updated_at = ? WHERE name = ?`;

export function updateEventTypeParams(d: Dialect, et: EventType): unknown[] {
  return [et.description, d.flag(et.archived), d.flag(et.deprecated), json(et.schemas), json(et.featureFlags), et.groupName, d.flag(et.validate), et.updatedAt, et.name];
}

export const DELETE_EVENT_TYPE = 'DELETE FROM event_types WHERE name = ?';

export function listEventTypes(d: Dialect, plan: PagePlan, includeArchived: boolean): Query {
  const where = [includeArchived ? null : d.isFalse('archived'), plan.condition].filter((c) => c !== null);
  return {
    sql: `SELECT * FROM event_types ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY name ${plan.direction} LIMIT ?`,
    params: [...(plan.param === null ? [] : [plan.param]), plan.limit],
  };
}

export const SELECT_RETRY_SCHEDULE = 'SELECT retry_schedule FROM event_types WHERE name = ?';

export const UPDATE_RETRY_SCHEDULE = 'UPDATE event_types SET retry_schedule = ?, updated_at = ? WHERE name = ?';

/** The stored column as seconds; null follows the server's schedule. */
export function retryScheduleFrom(value: unknown): number[] | null {
  return typeof value === 'string' ? (JSON.parse(value) as number[]) : null;
}
