import type { AppListFilter } from './store.js';
import { SVIX_PLAY_URL_PREFIX } from '../domain/routing.js';
// Applications' SQL, written once for both dialects (each store binds `?` its own way).
import type { Application } from '../domain/types.js';
import { ConflictError } from '../domain/errors.js';
import type { Query } from './insights.js';
import { selectPage, type PagePlan } from './paging.js';
import type { Dialect } from './filters.js';
import { json, type Row } from './rows.js';
import { OPERATIONAL_APP_UID } from '../domain/endpoint-health.js';

/** Leaves out the internal operational-webhooks application: binds nothing (the uid is a constant of ours). */
export const NOT_INTERNAL_APP = (uid: string): string => `(${uid} IS NULL OR ${uid} <> '${OPERATIONAL_APP_UID}')`;

/** The internal application's id, as a subquery, for the counts over all applications: binds nothing. */
export const INTERNAL_APP_IDS = `(SELECT id FROM applications WHERE uid = '${OPERATIONAL_APP_UID}')`;

export const INSERT_APPLICATION = 'INSERT INTO applications (id, uid, name, throttle_rate, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)';

export function insertApplicationParams(app: Application): unknown[] {
  return [app.id, app.uid, app.name, app.throttleRate, json(app.metadata), app.createdAt, app.updatedAt];
}

export const SELECT_APPLICATION = 'SELECT * FROM applications WHERE id = ?';

/** SELECT_APP_BY_REF (rows.ts) for several references at once: binds their list twice (see Dialect.oneOf). */
export const selectAppsByRefs = (d: Dialect): string =>
  `SELECT id, uid, name, throttle_rate, metadata, created_at, updated_at FROM applications WHERE ${d.oneOf('id')} OR ${d.oneOf('uid')}`;

/** Finds, among selectAppsByRefs' rows, the one a reference names: as in SELECT_APP_BY_REF, the id wins over another row's uid. */
export function appRowsByRef(rows: Row[]): (ref: string) => Row | undefined {
  const byId = new Map(rows.map((r) => [r.id as string, r]));
  const byUid = new Map(rows.filter((r) => r.uid !== null).map((r) => [r.uid as string, r]));
  return (ref) => byId.get(ref) ?? byUid.get(ref);
}

export const UPDATE_APPLICATION = 'UPDATE applications SET uid = ?, name = ?, throttle_rate = ?, metadata = ?, updated_at = ? WHERE id = ?';

export function updateApplicationParams(app: Application): unknown[] {
  return [app.uid, app.name, app.throttleRate, json(app.metadata), app.updatedAt, app.id];
}

/** An application's rows, children first, then the application itself; each binds its id. */
export const DELETE_APPLICATION = [
  // Its alert email (api/statistics.ts alertEmailKey).
  "DELETE FROM meta WHERE key = 'alert-email:' || ?",
  'DELETE FROM attempts WHERE app_id = ?',
  'DELETE FROM deliveries WHERE app_id = ?',
  'DELETE FROM messages WHERE app_id = ?',
  'DELETE FROM endpoints WHERE app_id = ?',
  'DELETE FROM applications WHERE id = ?',
] as const;


export function listApplications(plan: PagePlan, filter: AppListFilter = {}): Query {
  const page = selectPage('applications', plan);
  const own = 'e.app_id = applications.id';
  // The internal application is Hookwell's, not one of the caller's.
  const keep: string[] = [NOT_INTERNAL_APP('applications.uid')];
  const params: unknown[] = [];
  if (filter.noEndpoints) keep.push(`EXISTS (SELECT 1 FROM endpoints e WHERE ${own})`);
  // "Only disabled" and "only Svix Play" say nothing of an application without endpoints.
  if (filter.disabledEndpoints) keep.push(`(NOT EXISTS (SELECT 1 FROM endpoints e WHERE ${own}) OR EXISTS (SELECT 1 FROM endpoints e WHERE ${own} AND NOT e.disabled))`);
  if (filter.svixPlayEndpoints) {
    keep.push(`(NOT EXISTS (SELECT 1 FROM endpoints e WHERE ${own}) OR EXISTS (SELECT 1 FROM endpoints e WHERE ${own} AND e.url NOT LIKE ?))`);
    params.push(`${SVIX_PLAY_URL_PREFIX}%`);
  }
  const [head, tail] = page.sql.split(' ORDER BY ');
  const joiner = head!.includes(' WHERE ') ? ' AND ' : ' WHERE ';
  return { sql: `${head!.trimEnd()}${joiner}${keep.join(' AND ')} ORDER BY ${tail}`, params: [...(plan.param === null ? [] : [plan.param]), ...params, plan.limit] };
}

/** What inserting or renaming an application to a uid another one has throws. */
export const duplicateAppUid = (uid: string | null | undefined): ConflictError => new ConflictError(`an application with uid "${uid}" already exists`);
