// The SQL of Svix's counting and statistics operations (precheck, throttling status, attempt
// counts, application and endpoint statistics), written once for both dialects.
import { idFloor } from '../domain/ids.js';
import { Status, type StatusCode } from '../domain/types.js';
import type { AttemptFilter } from './store.js';
import { attemptConditions, type Dialect } from './filters.js';
import type { Query } from './insights.js';
import { flag, parse, type Row } from './rows.js';
import { INTERNAL_APP_IDS } from './applications.js';

/** The routing filters of an application's enabled endpoints. Binds the application. */
export const selectRouteFilters = (d: Dialect): string => `SELECT event_types, channels FROM endpoints WHERE app_id = ? AND ${d.isFalse('disabled')}`;

/**
 * An endpoint's deliveries due by now and not yet done: waiting, or leased (a leased row's
 * next_attempt_at is its lease expiry, so it counts whatever that is), and when the first of
 * them fell due (a leased one's: when last tried, or else created). Binds the endpoint and now.
 */
export const ENDPOINT_DUE_BACKLOG = `SELECT COUNT(*) AS n,
    MIN(CASE WHEN status = ${Status.Pending} THEN next_attempt_at ELSE COALESCE(last_attempt_at, created_at) END) AS oldest
  FROM deliveries WHERE endpoint_id = ? AND (status = ${Status.Sending} OR (status = ${Status.Pending} AND next_attempt_at <= ?))`;

/** Counts the attempts the filter lets through, stopping at `ceiling` + 1 so a large count costs no more than that. */
export function countAttempts(d: Dialect, appId: string, filter: AttemptFilter, ceiling: number): Query {
  const { where, params } = attemptConditions(d, appId, filter);
  return { sql: `SELECT COUNT(*) AS n FROM (SELECT 1 FROM attempts a WHERE ${where.join(' AND ')} LIMIT ?) t`, params: [...params, ceiling + 1] };
}

/** A URL of Svix Play, which Svix's counts may leave out. */
const PLAY = `url NOT LIKE 'https://play.svix.com/%'`;

/** Counts over all applications leave out the internal operational-webhooks one. */
const NOT_INTERNAL = `app_id NOT IN ${INTERNAL_APP_IDS}`;

/** Applications with at least one endpoint (enabled, unless `withDisabled`). */
export function countActiveApps(d: Dialect, withDisabled: boolean, excludePlay: boolean): string {
  const where = [NOT_INTERNAL, withDisabled ? null : d.isFalse('disabled'), excludePlay ? PLAY : null].filter((c) => c !== null);
  return `SELECT COUNT(DISTINCT app_id) AS n FROM endpoints WHERE ${where.join(' AND ')}`;
}

/** Endpoints over all applications, enabled and disabled. */
export const countEndpoints = (excludePlay: boolean): string =>
  `SELECT disabled, COUNT(*) AS n FROM endpoints WHERE ${NOT_INTERNAL}${excludePlay ? ` AND ${PLAY}` : ''} GROUP BY disabled`;

/** An application's finished attempts in [since, until) by event type and outcome, and its canceled deliveries created then. */
export function appOutcomes(d: Dialect, appId: string, since: number, until: number, eventTypes: string[] | null): Query {
  const types = eventTypes !== null && eventTypes.length > 0;
  return {
    sql: `SELECT m.event_type, a.status, COUNT(*) AS n FROM attempts a JOIN messages m ON m.id = a.msg_id
        WHERE a.app_id = ? AND a.id >= ? AND a.created_at >= ? AND a.created_at < ? ${types ? `AND ${d.oneOf('m.event_type')}` : ''}
        GROUP BY m.event_type, a.status
      UNION ALL
      SELECT m.event_type, dl.status, COUNT(*) AS n FROM deliveries dl JOIN messages m ON m.id = dl.msg_id
        WHERE dl.app_id = ? AND dl.status = ${Status.Canceled} AND dl.created_at >= ? AND dl.created_at < ? ${types ? `AND ${d.oneOf('m.event_type')}` : ''}
        GROUP BY m.event_type, dl.status`,
    params: [
      appId,
      idFloor('atmpt', since),
      since,
      until,
      ...(types ? [d.list(eventTypes)] : []),
      appId,
      since,
      until,
      ...(types ? [d.list(eventTypes)] : []),
    ],
  };
}

/** An application's finished attempts (and canceled deliveries) per bucket of `bucketMs` from `since`, by outcome. */
export function appOutcomeSeries(d: Dialect, appId: string, since: number, until: number, bucketMs: number, eventTypes: string[] | null): Query {
  const types = eventTypes !== null && eventTypes.length > 0;
  return {
    sql: `SELECT CAST((a.created_at - ?) / ? AS INTEGER) AS bucket, a.status, COUNT(*) AS n FROM attempts a
        WHERE a.app_id = ? AND a.id >= ? AND a.created_at >= ? AND a.created_at < ?
          ${types ? `AND EXISTS (SELECT 1 FROM messages m WHERE m.id = a.msg_id AND ${d.oneOf('m.event_type')})` : ''}
        GROUP BY 1, 2
      UNION ALL
      SELECT CAST((dl.created_at - ?) / ? AS INTEGER) AS bucket, dl.status, COUNT(*) AS n FROM deliveries dl
        WHERE dl.app_id = ? AND dl.status = ${Status.Canceled} AND dl.created_at >= ? AND dl.created_at < ?
          ${types ? `AND EXISTS (SELECT 1 FROM messages m WHERE m.id = dl.msg_id AND ${d.oneOf('m.event_type')})` : ''}
        GROUP BY 1, 2`,
    params: [
      since,
      bucketMs,
      appId,
      idFloor('atmpt', since),
      since,
      until,
      ...(types ? [d.list(eventTypes)] : []),
      since,
      bucketMs,
      appId,
      since,
      until,
      ...(types ? [d.list(eventTypes)] : []),
    ],
  };
}

/** Messages per event type created in [since, until), over all applications (but the internal one) or the given ones. */
export function messagesByEventType(d: Dialect, since: number, until: number, appIds: string[] | null): Query {
  return {
    sql: `SELECT app_id, event_type, COUNT(*) AS n FROM messages WHERE id >= ? AND created_at >= ? AND created_at < ?
      AND ${appIds === null ? NOT_INTERNAL : d.oneOf('app_id')} GROUP BY app_id, event_type`,
    params: [idFloor('msg', since), since, until, ...(appIds === null ? [] : [d.list(appIds)])],
  };
}

/** Attempts (and canceled deliveries) counted by outcome: `status` is 0 success, 2 fail, 4 canceled. */
export interface OutcomeCount {
  status: StatusCode;
  count: number;
}

/** The reads behind Svix's counting and statistics operations. */
export interface SendingReads {
  /** The routing filters of the application's enabled endpoints. */
  routeFilters(appId: string): Promise<{ eventTypes: string[] | null; channels: string[] | null }[]>;
  /** The endpoint's deliveries due by `now` and still waiting, and when the first of them fell due (ms). */
  dueBacklog(endpointId: string, now: number): Promise<{ count: number; oldestDueAt: number | null }>;
  /** The attempts the filter lets through, counted up to `ceiling` + 1 at most. */
  countAttempts(appId: string, filter: AttemptFilter, ceiling: number): Promise<number>;
  countActiveApps(withDisabled: boolean, excludePlay: boolean): Promise<number>;
  countEndpoints(excludePlay: boolean): Promise<{ active: number; disabled: number }>;
  appOutcomes(appId: string, since: number, until: number, eventTypes: string[] | null): Promise<(OutcomeCount & { eventType: string })[]>;
  appOutcomeSeries(appId: string, since: number, until: number, bucketMs: number, eventTypes: string[] | null): Promise<(OutcomeCount & { bucket: number })[]>;
  messagesByEventType(since: number, until: number, appIds: string[] | null): Promise<{ appId: string; eventType: string; count: number }[]>;
}

/** SendingReads over a store's way of running a query. */
export function sendingReads(d: Dialect, read: (sql: string, params: unknown[]) => Promise<Row[]>): SendingReads {
  const filterSql = selectRouteFilters(d);
  return {
    async routeFilters(appId) {
      return (await read(filterSql, [appId])).map((r) => ({ eventTypes: parse(r.event_types, null), channels: parse(r.channels, null) }));
    },
    async dueBacklog(endpointId, now) {
      const r = (await read(ENDPOINT_DUE_BACKLOG, [endpointId, now]))[0];
      return { count: Number(r?.n ?? 0), oldestDueAt: r?.oldest === null || r?.oldest === undefined ? null : Number(r.oldest) };
    },
    async countAttempts(appId, filter, ceiling) {
      const q = countAttempts(d, appId, filter, ceiling);
      return Number((await read(q.sql, q.params))[0]?.n ?? 0);
    },
    async countActiveApps(withDisabled, excludePlay) {
      return Number((await read(countActiveApps(d, withDisabled, excludePlay), []))[0]?.n ?? 0);
    },
    async countEndpoints(excludePlay) {
      const out = { active: 0, disabled: 0 };
      for (const r of await read(countEndpoints(excludePlay), [])) out[flag(r.disabled) ? 'disabled' : 'active'] += Number(r.n);
      return out;
    },
    async appOutcomes(appId, since, until, eventTypes) {
      const q = appOutcomes(d, appId, since, until, eventTypes);
      return (await read(q.sql, q.params)).map((r) => ({ eventType: r.event_type as string, status: Number(r.status) as StatusCode, count: Number(r.n) }));
    },
    async appOutcomeSeries(appId, since, until, bucketMs, eventTypes) {
      const q = appOutcomeSeries(d, appId, since, until, bucketMs, eventTypes);
      return (await read(q.sql, q.params)).map((r) => ({ bucket: Number(r.bucket), status: Number(r.status) as StatusCode, count: Number(r.n) }));
    },
    async messagesByEventType(since, until, appIds) {
      const q = messagesByEventType(d, since, until, appIds);
      return (await read(q.sql, q.params)).map((r) => ({ appId: r.app_id as string, eventType: r.event_type as string, count: Number(r.n) }));
    },
  };
}
