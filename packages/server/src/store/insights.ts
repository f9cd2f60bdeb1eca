// The read-only queries behind the dashboard and the portal's charts, shared by both
// stores. A range's start is also put on the id: an id starts with the millisecond it was
// made, never earlier than the row's created_at (ids of one process never go back, see
// domain/ids.ts), so `id >= idFloor(since)` keeps every row of the range and turns the
// primary key (or an (…, id) index) into the range scan; no index on created_at is needed.
// The end stays on created_at alone: an id may run ahead of its row's created_at (an
// attempt is stamped when it started, its id when recorded).
import { idFloor } from '../domain/ids.js';
import { Status, type Application, type StatusCode } from '../domain/types.js';
import type { DurationCount } from '../domain/series.js';
import { appFrom, type Row } from './rows.js';
import type { Dialect } from './filters.js';

export type { DurationCount };

export interface Backlog {
  pending: number;
  sending: number;
  oldestDueAt: number | null;
}

export interface Overview {
  backlog: Backlog;
  /** By bucket index from `since`; buckets with nothing are absent. */
  messages: Map<number, number>;
  success: Map<number, number>;
  fail: Map<number, number>;
  failingEndpoints: FailingEndpoint[];
  totals: { applications: number; endpoints: number; messagesSince: number };
}

export interface OverviewRange {
  since: number;
  until: number;
  bucketMs: number;
  /** Most failing endpoints listed. */
  failingLimit: number;
  /** The totals count messages created from this time. */
  countSince: number;
}

export interface FailingEndpoint {
  appId: string;
  appName: string;
  endpointId: string;
  url: string;
  failed: number;
  lastFailureAt: number | null;
}

export interface AppSummary {
  app: Application;
  endpoints: number;
  messagesSince: number;
  /** Endpoints with at least one failed delivery. */
  failing: number;
}

export interface Query {
  sql: string;
  params: unknown[];
}

/**
 * The bucket index of a created_at column from `since`. The cast makes SQLite's division
 * integral whatever the parameters were bound as; in PostgreSQL it already is.
 */
const bucketOf = (column: string): string => `CAST((${column} - ?) / ? AS INTEGER)`;

/**
 * The endpoint's finished attempts in [since, until), counted per bucket, outcome and
 * duration: exact percentiles without sending every attempt to the process, as durations
 * repeat (they are whole milliseconds). Read through attempts_endpoint (endpoint_id, id).
 */
export function durationCounts(appId: string, endpointId: string, since: number, until: number, bucketMs: number): Query {
  return {
    sql: `SELECT ${bucketOf('created_at')} AS bucket, status, response_duration_ms AS ms, COUNT(*) AS n FROM attempts
          WHERE endpoint_id = ? AND id >= ? AND app_id = ? AND created_at >= ? AND created_at < ? AND status IN (${Status.Success}, ${Status.Fail})
          GROUP BY 1, 2, 3`,
    params: [since, bucketMs, endpointId, idFloor('atmpt', since), appId, since, until],
  };
}

export const durationCountFrom = (r: Row): DurationCount => ({
  bucket: Number(r.bucket),
  status: Number(r.status) as StatusCode,
  durationMs: Number(r.ms),
  count: Number(r.n),
});

/** Deliveries waiting or being sent; when the earliest waiting one falls due. Read from deliveries_due. */
export const BACKLOG = `SELECT COUNT(CASE WHEN status = ${Status.Pending} THEN 1 END) AS pending,
    COUNT(CASE WHEN status = ${Status.Sending} THEN 1 END) AS sending,
    MIN(CASE WHEN status = ${Status.Pending} THEN next_attempt_at END) AS oldest_due
  FROM deliveries WHERE status IN (${Status.Pending}, ${Status.Sending})`;

/** The queue as /metrics reports it (see queueStats). */
export interface QueueStats {
  /** Waiting deliveries whose time has come. */
  due: number;
  /** When the earliest of them fell due; null when none is due. */
  oldestDueAt: number | null;
  /** Waiting deliveries not yet due: retries after a failed attempt, and messages sent for later. */
  scheduled: number;
  /** Waiting deliveries that have failed at least once, due or not. */
  retrying: number;
  /** Claimed by a dispatcher and being sent. */
  leased: number;
  /** Out of retries: failed for good until resent or recovered. */
  failed: number;
  disabledEndpoints: number;
  /** The endpoints with the most due deliveries, most first. */
  endpoints: EndpointQueue[];
}

export interface EndpointQueue {
  appId: string;
  endpointId: string;
  due: number;
  oldestDueAt: number;
}

/**
 * The queue's totals at `now`, read from the partial indexes deliveries_due (waiting and
 * leased rows) and deliveries_failed: what is scanned is the backlog, never the history.
 */
export function queueTotals(d: Dialect, now: number): Query {
  return {
    sql: `SELECT
        (SELECT COUNT(*) FROM endpoints WHERE NOT (${d.isFalse('disabled')})) AS disabled_endpoints,
        (SELECT COUNT(*) FROM deliveries WHERE status = ${Status.Fail}) AS failed,
        q.* FROM (SELECT
          COUNT(CASE WHEN status = ${Status.Pending} AND next_attempt_at <= ? THEN 1 END) AS due,
          MIN(CASE WHEN status = ${Status.Pending} AND next_attempt_at <= ? THEN next_attempt_at END) AS oldest_due,
          COUNT(CASE WHEN status = ${Status.Pending} AND next_attempt_at > ? THEN 1 END) AS scheduled,
          COUNT(CASE WHEN status = ${Status.Pending} AND attempts > 0 THEN 1 END) AS retrying,
          COUNT(CASE WHEN status = ${Status.Sending} THEN 1 END) AS leased
        FROM deliveries WHERE status IN (${Status.Pending}, ${Status.Sending})) q`,
    params: [now, now, now],
  };
}

/** No limit, as a bound value: see queueByEndpoint. */
const UNLIMITED = Number.MAX_SAFE_INTEGER;

/**
 * The `limit` endpoints with the most due deliveries at `now` (ties: the longest waiting
 * first), and their applications. The due rows are read from deliveries_due alone, in a
 * subquery whose LIMIT keeps SQLite from merging it into the grouping: merged, it scanned
 * the whole table by deliveries_endpoint for the GROUP BY's order, 3-4 times as long with
 * 200,000 due and as many delivered.
 */
export function queueByEndpoint(now: number, limit: number): Query {
  return {
    sql: `SELECT e.app_id, d.endpoint_id, d.due, d.oldest_due FROM (
            SELECT endpoint_id, COUNT(*) AS due, MIN(next_attempt_at) AS oldest_due FROM (
              SELECT endpoint_id, next_attempt_at, status FROM deliveries
              WHERE status IN (${Status.Pending}, ${Status.Sending}) AND next_attempt_at <= ? LIMIT ?) w
            WHERE status = ${Status.Pending}
            GROUP BY endpoint_id ORDER BY COUNT(*) DESC, MIN(next_attempt_at), endpoint_id LIMIT ?) d
          JOIN endpoints e ON e.id = d.endpoint_id
          ORDER BY d.due DESC, d.oldest_due, d.endpoint_id`,
    params: [now, UNLIMITED, limit],
  };
}

export function queueStatsFrom(totals: Row, endpoints: Row[]): QueueStats {
  return {
    due: Number(totals.due),
    oldestDueAt: totals.oldest_due === null || totals.oldest_due === undefined ? null : Number(totals.oldest_due),
    scheduled: Number(totals.scheduled),
    retrying: Number(totals.retrying),
    leased: Number(totals.leased),
    failed: Number(totals.failed),
    disabledEndpoints: Number(totals.disabled_endpoints),
    endpoints: endpoints.map((r) => ({ appId: r.app_id as string, endpointId: r.endpoint_id as string, due: Number(r.due), oldestDueAt: Number(r.oldest_due) })),
  };
}

/** Messages created per bucket over all applications, through the primary key. */
export function messagesPerBucket(since: number, until: number, bucketMs: number): Query {
  return {
    sql: `SELECT ${bucketOf('created_at')} AS bucket, COUNT(*) AS n FROM messages
          WHERE id >= ? AND created_at >= ? AND created_at < ? GROUP BY 1`,
    params: [since, bucketMs, idFloor('msg', since), since, until],
  };
}

/** Successful and failed attempts per bucket over all applications, through the primary key. */
export function outcomesPerBucket(since: number, until: number, bucketMs: number): Query {
  return {
    sql: `SELECT ${bucketOf('created_at')} AS bucket, COUNT(CASE WHEN status = ${Status.Success} THEN 1 END) AS success,
            COUNT(CASE WHEN status = ${Status.Fail} THEN 1 END) AS fail
          FROM attempts WHERE id >= ? AND created_at >= ? AND created_at < ? GROUP BY 1`,
    params: [since, bucketMs, idFloor('atmpt', since), since, until],
  };
}

/** Endpoints with failed deliveries, most first; read from the partial index deliveries_failed. */
export function failingEndpoints(limit: number): Query {
  return {
    sql: `SELECT f.app_id, a.name AS app_name, f.endpoint_id, e.url, f.failed, f.last_failure FROM (
            SELECT app_id, endpoint_id, COUNT(*) AS failed, MAX(last_attempt_at) AS last_failure
            FROM deliveries WHERE status = ${Status.Fail} GROUP BY app_id, endpoint_id) f
          JOIN endpoints e ON e.id = f.endpoint_id JOIN applications a ON a.id = f.app_id
          ORDER BY f.failed DESC, f.endpoint_id LIMIT ?`,
    params: [limit],
  };
}

export const failingEndpointFrom = (r: Row): FailingEndpoint => ({
  appId: r.app_id as string,
  appName: r.app_name as string,
  endpointId: r.endpoint_id as string,
  url: r.url as string,
  failed: Number(r.failed),
  lastFailureAt: r.last_failure === null || r.last_failure === undefined ? null : Number(r.last_failure),
});

export function totals(since: number): Query {
  return {
    sql: `SELECT (SELECT COUNT(*) FROM applications) AS applications, (SELECT COUNT(*) FROM endpoints) AS endpoints,
            (SELECT COUNT(*) FROM messages WHERE id >= ? AND created_at >= ?) AS messages`,
    params: [idFloor('msg', since), since],
  };
}

/** The row of BACKLOG. */
export const backlogFrom = (r: Row): Backlog => ({
  pending: Number(r.pending),
  sending: Number(r.sending),
  oldestDueAt: r.oldest_due === null || r.oldest_due === undefined ? null : Number(r.oldest_due),
});

/** Fills an Overview from the rows of the queries above. */
export function overviewFrom(backlog: Row, messages: Row[], outcomes: Row[], failing: Row[], total: Row): Overview {
  const byBucket = (rows: Row[], column: string) => new Map(rows.map((r) => [Number(r.bucket), Number(r[column])]));
  return {
    backlog: backlogFrom(backlog),
    messages: byBucket(messages, 'n'),
    success: byBucket(outcomes, 'success'),
    fail: byBucket(outcomes, 'fail'),
    failingEndpoints: failing.map(failingEndpointFrom),
    totals: { applications: Number(total.applications), endpoints: Number(total.endpoints), messagesSince: Number(total.messages) },
  };
}

/** `%text%` for LIKE … ESCAPE '\', with the text's own wildcards taken literally. */
export const containsPattern = (text: string): string => `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * Applications whose name or uid holds `search` (any case), in id order, each with its
 * counts. The counts are per application of the page: endpoints_app, messages_app
 * (app_id, id) and deliveries_app_status (app_id, status) each answer one in a probe or a
 * short range.
 */
export function appSummaries(search: string | null, since: number, keyCondition: string | null, key: string | null, direction: 'ASC' | 'DESC', limit: number): Query {
  const where: string[] = [];
  const params: unknown[] = [idFloor('msg', since), since];
  if (search !== null && search !== '') {
    where.push(`(lower(a.name) LIKE ? ESCAPE '\\' OR lower(COALESCE(a.uid, '')) LIKE ? ESCAPE '\\')`);
    const pattern = containsPattern(search);
    params.push(pattern, pattern);
  }
  if (keyCondition !== null) {
    where.push(keyCondition);
    params.push(key);
  }
  params.push(limit);
  return {
    sql: `SELECT a.*,
            (SELECT COUNT(*) FROM endpoints e WHERE e.app_id = a.id) AS n_endpoints,
            (SELECT COUNT(*) FROM messages m WHERE m.app_id = a.id AND m.id >= ? AND m.created_at >= ?) AS n_messages,
            (SELECT COUNT(DISTINCT d.endpoint_id) FROM deliveries d WHERE d.app_id = a.id AND d.status = ${Status.Fail}) AS n_failing
          FROM applications a ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
          ORDER BY a.id ${direction} LIMIT ?`,
    params,
  };
}

export const appSummaryFrom = (r: Row): AppSummary => ({
  app: appFrom(r),
  endpoints: Number(r.n_endpoints),
  messagesSince: Number(r.n_messages),
  failing: Number(r.n_failing),
});
