import { sendingReads, type SendingReads } from '../sending.js';
import pg from 'pg';
import { idFloor, newId } from '../../domain/ids.js';
import { ConflictError, NotFoundError, UnavailableError } from '../../domain/errors.js';
import { Status, Trigger, type Application, type Attempt, type Backfill, type BackfillChunk, type Endpoint, type EventType, type ListQuery, type Message, type Page, type BackgroundTask, type TaskStatus } from '../../domain/types.js';
import type { StoredPayload, CommitObserver, PoolUsage, AppInput, AttemptFilter, AttemptRecord, BackfillInput, BackfillRecord, ClaimOptions, ContentFetch, DeliveryFilter, DisabledEndpoint, EndpointFields, EndpointInput, EndpointMessage, EndpointStats, EndpointStatus, EventTypeInput, IdempotentResponse, LeaseOffer, ReplayRecord, MessageDestination, MessageInput, SkipOutcome, PortalToken, Store, Work, ApiToken, AppListFilter } from '../store.js';
import { EXPIRE_PORTAL_TOKEN, expirePortalTokensParams, expirePortalTokensSql, INSERT_PORTAL_TOKEN, portalTokenFrom, portalTokenParams, PURGE_PORTAL_TOKENS, SELECT_PORTAL_TOKEN } from '../portal-tokens.js';
import { planPage, toPage } from '../paging.js';
import type { Dialect } from '../filters.js';
import { appSummaries, appSummaryFrom, BACKLOG, backlogFrom, queueByEndpoint, queueStatsFrom, queueTotals, type QueueStats, durationCountFrom, durationCounts, failingEndpoints, messagesPerBucket, outcomesPerBucket, overviewFrom, totals, type AppSummary, type Backlog, type DurationCount, type Overview, type OverviewRange } from '../insights.js';
import { storedPayloadFrom, appFrom, attemptFrom, backfillChunkFrom, backfillFrom, contentFetchFrom, deliveryFrom, endpointFrom, duplicateEventId, eventTypeFrom, MESSAGE_COLUMNS, messageFrom, openEndpointColumns, openWorkRow, SELECT_ENDPOINT_BY_REF, SELECT_MESSAGE_BY_REF, messageParams, newMessage, offeredWork, parse, workFrom, WORK_ENDPOINT_COLUMNS, type Row } from '../rows.js';
import { checkKeyRecord, KEY_RECORD_META_KEY, Sealer } from '../../domain/sealing.js';
import { rekeyTables, type RekeyProgress } from '../rekey.js';
import { endpointMatches } from '../../domain/routing.js';
import { deliveryOrderKey, keyReader } from '../../domain/ordering.js';
import { bulkReplayBatch, CANCEL_PENDING, INSERT_RESENT, RECOVER, recoverBatch, replayCandidates, requeueBatchFrom, RESEND, RETRY_FAILED, SELECT_RESEND_ORDERING, type BulkReplayFilter, type RequeueBatch } from '../requeue.js';
import { FAIL_STALE_TASKS, PURGE_FINISHED_TASKS, INSERT_TASK, listTasks, SELECT_TASK, taskFrom, taskParams, UPDATE_TASK, type TaskFilter } from '../tasks.js';
import { COMPLETE_BACKFILL, COUNT_BACKFILL_RECORDS, DROP_BACKFILL, INSERT_BACKFILL, insertBackfillParams, listBackfills, newBackfill, SELECT_BACKFILL, SELECT_BACKFILL_CHUNKS, SELECT_BACKFILL_ID, SELECT_BACKFILL_RECORDS, SELECT_STALE_BACKFILLS } from '../backfills.js';
import { SELECT_CONTENT_FETCHES } from '../content-fetches.js';
import { INSERT_SKIP_ATTEMPT, inTurn, KEY_HEAD, nextDue, SKIP_HEAD, skipAttemptParams } from '../ordering.js';
import { MIGRATION_LOCK, migrate } from './migrations.js';
import { latestVersion } from '../migrations.js';
import { apiTokenFrom, apiTokenParams, INSERT_API_TOKEN, listApiTokens, REVOKE_API_TOKEN, SELECT_API_TOKEN, SELECT_API_TOKEN_BY_HASH } from '../api-tokens.js';
import { AUDIT_BATCH, AUDIT_LOCK, auditFrom, insertAudits, listAudit, SELECT_AUDIT_HEAD, type AuditFilter } from '../audit.js';
import { chainEntry, type AuditEntry, type AuditInput } from '../../domain/audit.js';
import { GroupCommit, type Outcome } from './group-commit.js';
import { ReadBatch } from './read-batch.js';
import { listMessages } from '../messages.js';
import { addDeleted, contentStatements, DELETE_BACKFILL_RECORDS, expiryAttemptParams, idsByApp, INSERT_EXPIRY_ATTEMPT, NOTHING_DELETED, SCAN_PAYLOADS, SELECT_BACKFILL_MESSAGES, SELECT_DATA_MESSAGES, SELECT_EXPIRED, SELECT_USER_BACKFILLS, type ContentDeleted } from '../retention.js';
import { ENDPOINT_DELIVERY_COUNTS, endpointStatsFrom, listEndpointMessages, listMessageDestinations } from '../deliveries.js';
import { EXPUNGE_ATTEMPT, listAttempts, SELECT_ATTEMPT } from '../attempts.js';
import { batchOutcomes, disabledFrom, endpointHealthParams, endpointHealthSql } from '../endpoints.js';
import { DELETE_ENDPOINT, duplicateEndpointUid, INSERT_ENDPOINT, insertEndpointParams, listEndpoints, newEndpoint, SELECT_ENDPOINT, SELECT_ENDPOINT_FILTERS, SELECT_ENDPOINT_URL, SELECT_ROUTE, selectRoutesOfApps, UPDATE_ENDPOINT, updateEndpointParams, withFields } from '../endpoints.js';
import { DELETE_APPLICATION, duplicateAppUid, INSERT_APPLICATION, insertApplicationParams, appRowsByRef, listApplications, SELECT_APPLICATION, selectAppsByRefs, UPDATE_APPLICATION, updateApplicationParams } from '../applications.js';
import { INSERT_META_IF_ABSENT, SELECT_META, UPSERT_META } from '../meta.js';
import { idempotentFrom, PURGE_IDEMPOTENT, PUT_IDEMPOTENT, putIdempotentParams, replayParams, SELECT_IDEMPOTENT } from '../idempotency.js';
import {
  DELETE_EVENT_TYPE,
  INSERT_EVENT_TYPE,
  insertEventTypeParams,
  listEventTypes,
  retryScheduleFrom,
  SELECT_EVENT_TYPE,
  SELECT_RETRY_SCHEDULE,
  UPDATE_EVENT_TYPE,
  UPDATE_RETRY_SCHEDULE,
  updateEventTypeParams,
} from '../event-types.js';

// The PostgreSQL store: the same rows, results and errors as SqliteStore, for several
// Hookwell processes sharing one database. Each method is one statement or one
// transaction on a dedicated pooled client. Nothing is cached in the process, since
// another process may change anything at any time.

type Db = pg.Pool | pg.PoolClient;


/** bigint (int8) as a JS number: ids and epoch-ms times stay far below 2^53. */
const INT8_OID = 20;
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/** SQL is written with `?` placeholders, as SqliteStore's (and planPage's) is; PostgreSQL numbers them. */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

// SQLSTATE classes and codes of a lost or refused connection, and Node's socket errors.
const CONNECTION_STATES = /^(08|57P0[1-3]|53300)/;
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Whether an error means the database could not be reached, rather than that a statement failed. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_STATES.test(code) || SOCKET_ERRORS.has(code))) return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error|Client was closed|not queryable|not currently accepting connections|the database system is (starting up|shutting down|in recovery mode)/i.test(
    err.message,
  );
}

/** Tells when the database goes away and when it is back: once each, not once per query. */
export interface DatabaseHealth {
  failed(err: unknown): void;
  succeeded(): void;
}

/** Each store's health listener, by its pool and by the clients it has checked out. */
const HEALTH = new WeakMap<Db, DatabaseHealth>();

/**
 * A statement each connection parses and plans once, then runs again by name: for the queue's
 * statements and ingest's (the batch's application lookup, routes and write), run many times a
 * second, whose planning would cost as much as their running. Each names its columns rather
 * than `*`, so a column added by a later migration cannot change a prepared statement's result.
 */
interface Prepared {
  readonly name: string;
  readonly text: string;
}

function prepared(name: string, sql: string): Prepared {
  return { name: `hookwell_${name}`, text: numbered(sql) };
}

async function query(db: Db, sql: string | Prepared, params: unknown[]): Promise<pg.QueryResult> {
  try {
    const r = await (typeof sql === 'string' ? db.query(numbered(sql), params) : db.query({ ...sql, values: params }));
    HEALTH.get(db)?.succeeded();
    return r;
  } catch (err) {
    throw unavailable(err, HEALTH.get(db));
  }
}

/** A connection failure becomes UnavailableError (503 on the API); anything else is passed on. */
function unavailable(err: unknown, health: DatabaseHealth | undefined): unknown {
  if (err instanceof UnavailableError || !isConnectionError(err)) return err;
  health?.failed(err);
  return new UnavailableError(`the database is unavailable (${(err as Error).message}); try again shortly`);
}

async function all(db: Db, sql: string | Prepared, params: unknown[] = []): Promise<Row[]> {
  return (await query(db, sql, params)).rows as Row[];
}

async function one(db: Db, sql: string | Prepared, params: unknown[] = []): Promise<Row | undefined> {
  return (await all(db, sql, params))[0];
}

async function run(db: Db, sql: string | Prepared, params: unknown[] = []): Promise<number> {
  return (await query(db, sql, params)).rowCount ?? 0;
}

/**
 * Takes the transaction-level advisory lock of each (endpoint, order key) given, in one
 * fixed order (by lock id), so transactions that take several cannot deadlock. Everything
 * that makes a delivery with a key holds its key's lock until it commits, so deliveries of
 * one key draw their ids and commit one after another; a claim checks the keyed deliveries it
 * leased under their keys' locks before handing them out (keepInTurn), so each check sees
 * every earlier one. A claim's endpoint locks (hookwell_endpoint_leases) are released at its
 * statement's commit, before keepInTurn takes any key's: none is held with the other.
 */
async function lockKeys(c: Db, pairs: [string, string][]): Promise<void> {
  if (pairs.length === 0) return;
  await all(
    c,
    `SELECT pg_advisory_xact_lock(k) FROM (
       SELECT DISTINCT hashtextextended('hookwell.order.' || u.ep || '.' || u.key, 0) AS k
       FROM unnest(?::text[], ?::text[]) AS u(ep, key) ORDER BY 1) AS locks`,
    [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
  );
}

/** Runs fn in a transaction on the client: BEGIN, fn, COMMIT; or ROLLBACK (unless the connection is lost) and throw. */
async function within<T>(c: pg.PoolClient, fn: (c: pg.PoolClient) => Promise<T>, bookkeeping = false): Promise<T> {
  await c.query('BEGIN');
  try {
    if (bookkeeping) await c.query('SET LOCAL synchronous_commit = off');
    const result = await fn(c);
    await c.query('COMMIT');
    return result;
  } catch (err) {
    if (!(err instanceof UnavailableError) && !isConnectionError(err)) await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

function isUniqueViolation(err: unknown): boolean {
  return err instanceof Error && (err as { code?: unknown }).code === '23505';
}

// JSON arrays are stored as text; jsonb containment tests membership.
const DIALECT: Dialect = {
  arrayHolds: (column) => `(${column})::jsonb @> jsonb_build_array(?::text)`,
  oneOf: (column) => `${column} = ANY(?::text[])`,
  list: (values) => values,
  flag: (value) => value,
  isFalse: (column) => `NOT ${column}`,
};

const CONTENT = contentStatements(DIALECT);

// Expired messages are taken by one process at a time: others sharing the database purge the next ones.
const SELECT_EXPIRED_UNLOCKED = `${SELECT_EXPIRED} FOR UPDATE OF m SKIP LOCKED`;

// Backfills are locked while completed, deleted or purged; a purge passes over one being completed.
const SELECT_BACKFILL_FOR_UPDATE = `${SELECT_BACKFILL} FOR UPDATE`;
const SELECT_BACKFILL_ID_FOR_UPDATE = `${SELECT_BACKFILL_ID} FOR UPDATE`;
const SELECT_STALE_BACKFILLS_UNLOCKED = `${SELECT_STALE_BACKFILLS} FOR UPDATE SKIP LOCKED`;

// --- messages, written in batches ---------------------------------------------------

/** One createMessage call, as writeMessages takes it. */
interface MessageJob {
  appId: string;
  input: MessageInput;
  onlyEndpointId: string | undefined;
  lease: LeaseOffer | undefined;
  /** Made once: a batch written again keeps its ids and times. */
  message: Message;
  now: number;
  /** The offer's answer per endpoint, asked once: a batch may be written twice. */
  taken: Map<string, boolean>;
  /** The request's idempotency record (PUT_IDEMPOTENT's parameters), stored with the message; null without. */
  replay: unknown[] | null;
}

type Created = { message: Message; deliveries: number; leased: Work[] };

function messageJob(appId: string, input: MessageInput, options: { onlyEndpointId?: string; lease?: LeaseOffer; replay?: ReplayRecord }, now: number, sealer: Sealer): MessageJob {
  const { onlyEndpointId, lease, replay } = options;
  const message = newMessage(appId, input, now);
  return { appId, input, onlyEndpointId, lease, message, now, taken: new Map(), replay: replay === undefined ? null : replayParams(replay, message, now, sealer) };
}

// The applications' enabled endpoints in id order, the order every process makes (and
// locks) a message's deliveries in.
const SELECT_APPS_ROUTES = prepared('apps_routes', `${selectRoutesOfApps(DIALECT)} ORDER BY e.id`);

// A duplicate event id is skipped, not an error: the other messages of the statement go on,
// and the duplicate is the one missing from what it returns. Rows go in in the order given,
// so of two with one event id in a batch the earlier is stored, as when written one by one.
const INSERT_MESSAGES = `INSERT INTO messages (${MESSAGE_COLUMNS})
  SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::integer[], ?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::bigint[])
  ON CONFLICT (app_id, event_id) WHERE event_id IS NOT NULL DO NOTHING RETURNING id`;

const DELIVERY_COLUMNS = 'msg_id, endpoint_id, app_id, status, next_attempt_at, lease_owner, order_key, created_at';
const DELIVERY_VALUES = 'unnest(?::text[], ?::text[], ?::text[], ?::integer[], ?::bigint[], ?::text[], ?::text[], ?::bigint[])';

// In the order given, so deliveries of one key draw their ids in message order.
const INSERT_DELIVERIES = `INSERT INTO deliveries (${DELIVERY_COLUMNS}) SELECT * FROM ${DELIVERY_VALUES}`;

// INSERT_MESSAGES, then the deliveries of the messages it stored (in the order given: the
// identity of each row is drawn above the sort), answering the ids of the messages stored.
const INSERT_MESSAGES_WITH_DELIVERIES = prepared(
  'insert_messages',
  `WITH m AS (${INSERT_MESSAGES}),
  d AS (INSERT INTO deliveries (${DELIVERY_COLUMNS})
        SELECT ${DELIVERY_COLUMNS} FROM ${DELIVERY_VALUES} WITH ORDINALITY AS u(${DELIVERY_COLUMNS}, n)
        WHERE u.msg_id IN (SELECT id FROM m) ORDER BY u.n)
  SELECT id FROM m`,
);

const REPLAY_VALUES = 'unnest(?::text[], ?::text[], ?::text[], ?::integer[], ?::text[], ?::bigint[], ?::text[]) AS u(scope, key, body_hash, status_code, body, created_at, msg_id)';
const REPLAY_UPSERT = `ON CONFLICT (scope, key) DO UPDATE SET body_hash = excluded.body_hash, status_code = excluded.status_code,
    body = excluded.body, created_at = excluded.created_at, msg_id = excluded.msg_id`;

// As INSERT_MESSAGES_WITH_DELIVERIES, and the idempotency records of the messages stored
// (PUT_IDEMPOTENT for each): a keyed message costs no statement of its own.
const INSERT_MESSAGES_WITH_DELIVERIES_AND_REPLAYS = prepared(
  'insert_messages_replays',
  `WITH m AS (${INSERT_MESSAGES}),
  d AS (INSERT INTO deliveries (${DELIVERY_COLUMNS})
        SELECT ${DELIVERY_COLUMNS} FROM ${DELIVERY_VALUES} WITH ORDINALITY AS u(${DELIVERY_COLUMNS}, n)
        WHERE u.msg_id IN (SELECT id FROM m) ORDER BY u.n),
  r AS (INSERT INTO idempotency (scope, key, body_hash, status_code, body, created_at, msg_id)
        SELECT u.* FROM ${REPLAY_VALUES} WHERE u.msg_id IN (SELECT id FROM m)
        ${REPLAY_UPSERT})
  SELECT id FROM m`,
);

// The idempotency records of the messages stored, in writeLeasing's transaction.
const INSERT_REPLAYS = `INSERT INTO idempotency (scope, key, body_hash, status_code, body, created_at, msg_id)
  SELECT u.* FROM ${REPLAY_VALUES} WHERE u.msg_id = ANY(?::text[]) ${REPLAY_UPSERT}`;

/**
 * The replay records of these jobs, as REPLAY_VALUES takes them. One a key: a process holds
 * a key while its request is out (IdempotencyKeys), so a batch never has two, but a second
 * would make the upsert fail the whole batch.
 */
function replayColumns(jobs: MessageJob[]): unknown[][] {
  const seen = new Set<string>();
  const rows: unknown[][] = [];
  for (const j of jobs) {
    if (j.replay === null) continue;
    const slot = `${j.replay[0] as string}\n${j.replay[1] as string}`;
    if (seen.has(slot)) continue;
    seen.add(slot);
    rows.push(j.replay);
  }
  return columns(rows, 7);
}

/** KEY_BUSY for many (endpoint, key) pairs: those that have a delivery unfinished. */
const KEYS_BUSY = `SELECT u.ep, u.key FROM unnest(?::text[], ?::text[]) AS u(ep, key)
  WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.endpoint_id = u.ep AND d.order_key = u.key AND d.status IN (${Status.Pending}, ${Status.Sending}))`;

/** Rows of values as the columns unnest takes them: one array per column. */
function columns(rows: unknown[][], width: number): unknown[][] {
  return Array.from({ length: width }, (_, i) => rows.map((r) => r[i]));
}

const pairKey = (endpointId: string, orderKey: string): string => `${endpointId}\n${orderKey}`;

type Plan = { e: Row; orderKey: string | null }[];

/**
 * Stores messages and their deliveries with one statement per step for all of them, and
 * gives each message the outcome it would have had written alone: a duplicate event id (in
 * the database, or earlier in the batch) is its ConflictError, and a delivery of a key is
 * in turn for a lease only when no earlier one of that key is unfinished, whether stored
 * before or earlier in the batch.
 *
 * The routes of all the messages' applications are read first. Then, when no delivery has
 * an order key and no message a lease offer, the messages and their deliveries are written
 * by one statement (INSERT_MESSAGES_WITH_DELIVERIES), which outside a transaction is also
 * the commit: two round trips a batch. Otherwise, in a transaction (`inTransaction`, or one
 * of its own), the order keys' locks are taken together first, in one order, so batches
 * cannot deadlock over them: five round trips, or seven with lease offers.
 */
async function writeMessages(c: pg.PoolClient, jobs: MessageJob[], inTransaction: boolean, sealer: Sealer): Promise<Outcome<Created>[]> {
  const apps = [...new Set(jobs.filter((j) => j.onlyEndpointId === undefined).map((j) => j.appId))];
  const routes = new Map<string, Row[]>();
  for (const r of apps.length === 0 ? [] : await all(c, SELECT_APPS_ROUTES, [apps])) {
    const of = routes.get(r.app_id as string);
    if (of === undefined) routes.set(r.app_id as string, [r]);
    else of.push(r);
  }
  const plans: Plan[] = [];
  for (const j of jobs) {
    const candidates = j.onlyEndpointId === undefined ? (routes.get(j.appId) ?? []) : await all(c, SELECT_ROUTE, [j.appId, j.onlyEndpointId]);
    const keyOf = keyReader(j.input.payload);
    plans.push(
      candidates
        .filter((e) => {
          const ep = { eventTypes: parse<string[] | null>(e.event_types, null), channels: parse<string[] | null>(e.channels, null) };
          return j.onlyEndpointId !== undefined || endpointMatches(ep, j.message);
        })
        // Null for an unordered endpoint, and for a payload without a usable key there:
        // that delivery goes unordered (see orderKeyOf).
        .map((e) => ({ e, orderKey: deliveryOrderKey(keyOf, parse(e.ordering, null), j.message.backfill?.id) })),
    );
  }
  const keyed = plans.flat().filter((m) => m.orderKey !== null);
  if (keyed.length === 0 && jobs.every((j) => j.lease === undefined)) return writeTogether(c, jobs, plans, sealer);
  const locked = async (c: pg.PoolClient) => {
    await lockKeys(c, keyed.map((m) => [m.e.endpoint_id as string, m.orderKey!]));
    return jobs.some((j) => j.lease !== undefined) ? writeLeasing(c, jobs, plans, keyed, sealer) : writeTogether(c, jobs, plans, sealer);
  };
  return inTransaction ? locked(c) : within(c, locked);
}

/** A delivery row as INSERT_DELIVERIES' columns take it, pending (due at deliverAt, or now). */
function pendingDelivery(j: MessageJob, endpointId: string, orderKey: string | null): unknown[] {
  return [j.message.id, endpointId, j.appId, Status.Pending, j.input.deliverAt ?? j.now, null, orderKey, j.now];
}

function outcomes(jobs: MessageJob[], plans: Plan[], stored: Set<string>, leased: Work[][] = []): Outcome<Created>[] {
  return jobs.map((j, job) =>
    stored.has(j.message.id)
      ? { ok: true, value: { message: j.message, deliveries: plans[job]!.length, leased: leased[job] ?? [] } }
      : { ok: false, error: duplicateEventId(j.input.eventId) },
  );
}

/** The messages and their (pending) deliveries in one statement; a duplicate's deliveries are left out with it. */
async function writeTogether(c: pg.PoolClient, jobs: MessageJob[], plans: Plan[], sealer: Sealer): Promise<Outcome<Created>[]> {
  const deliveries = jobs.flatMap((j, job) => plans[job]!.map(({ e, orderKey }) => pendingDelivery(j, e.endpoint_id as string, orderKey)));
  const replays = jobs.some((j) => j.replay !== null);
  const stored = await all(c, replays ? INSERT_MESSAGES_WITH_DELIVERIES_AND_REPLAYS : INSERT_MESSAGES_WITH_DELIVERIES, [
    ...columns(jobs.map((j) => messageParams(j.message, sealer)), 15),
    ...columns(deliveries, 8),
    ...(replays ? replayColumns(jobs) : []),
  ]);
  return outcomes(jobs, plans, new Set(stored.map((r) => r.id as string)));
}

/** With lease offers: the messages, which keys are busy, then the deliveries, some leased. */
async function writeLeasing(c: pg.PoolClient, jobs: MessageJob[], plans: Plan[], keyed: Plan, sealer: Sealer): Promise<Outcome<Created>[]> {
  const stored = new Set((await all(c, INSERT_MESSAGES, columns(jobs.map((j) => messageParams(j.message, sealer)), 15))).map((r) => r.id as string));
  if (jobs.some((j) => j.replay !== null)) await run(c, INSERT_REPLAYS, [...replayColumns(jobs), [...stored]]);
  // Under the keys' locks: a delivery of a key with older ones unfinished waits for its turn.
  const busy = new Set<string>();
  if (keyed.length > 0) {
    for (const r of await all(c, KEYS_BUSY, columns(keyed.map((m) => [m.e.endpoint_id, m.orderKey]), 2))) busy.add(pairKey(r.ep as string, r.key as string));
  }
  const rows: unknown[][] = [];
  const leasing: { job: number; e: Row; orderKey: string | null; leaseUntil: number }[] = [];
  jobs.forEach((j, job) => {
    if (!stored.has(j.message.id)) return;
    const immediate = j.input.deliverAt === null || j.input.deliverAt <= j.now;
    for (const { e, orderKey } of plans[job]!) {
      const endpointId = e.endpoint_id as string;
      const inTurnNow = orderKey === null || !busy.has(pairKey(endpointId, orderKey));
      if (orderKey !== null) busy.add(pairKey(endpointId, orderKey));
      const { lease } = j;
      if (lease !== undefined && immediate && inTurnNow && taken(j, lease, endpointId)) {
        const leaseUntil = j.now + lease.leaseMs;
        rows.push([j.message.id, endpointId, j.appId, Status.Sending, leaseUntil, lease.owner, orderKey, j.now]);
        leasing.push({ job, e, orderKey, leaseUntil });
      } else {
        rows.push(pendingDelivery(j, endpointId, orderKey));
      }
    }
  });
  const ids = new Map<string, number>();
  if (rows.length > 0) {
    for (const r of await all(c, `${INSERT_DELIVERIES} RETURNING id, msg_id, endpoint_id`, columns(rows, 8))) {
      ids.set(pairKey(r.msg_id as string, r.endpoint_id as string), r.id as number);
    }
  }
  const leased = jobs.map((): Work[] => []);
  for (const { job, e, orderKey, leaseUntil } of leasing) {
    const { message, now } = jobs[job]!;
    leased[job]!.push(offeredWork(openEndpointColumns(e, sealer), ids.get(pairKey(message.id, e.endpoint_id as string))!, message, orderKey, now, leaseUntil));
  }
  return outcomes(jobs, plans, stored, leased);
}

/** Whether the offer takes a delivery to the endpoint: asked once per message and endpoint. */
function taken(j: MessageJob, lease: LeaseOffer, endpointId: string): boolean {
  let t = j.taken.get(endpointId);
  if (t === undefined) {
    t = lease.take(endpointId);
    j.taken.set(endpointId, t);
  }
  return t;
}

const SELECT_APPS_BY_REFS = prepared('apps_by_refs', selectAppsByRefs(DIALECT));

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The claim: due rows picked, locked and leased in one statement. Per priority (new traffic
 * first, then bulk re-sends in the room left), the due rows in (next_attempt_at, id) order,
 * locked as they are read; rows another claim has locked are skipped, so concurrent claims
 * never take the same delivery. Endpoints with no room here are left out while reading (so
 * they cannot starve the rest); of the rows read, a keyed delivery must be the head of its
 * key (inTurn) and the first of its key in the batch, and each endpoint gets at most its
 * allowance (perEndpoint unless given). With `capped`, also at most the endpoint limit over all
 * processes less the leases others hold now (hookwell_endpoint_leases, which holds each
 * endpoint's lock until this statement commits, so claims of one endpoint count one another's
 * leases); the endpoints left with work for want of it come back in `capped`. Rows read but
 * not leased are unlocked at commit, unchanged. One row per delivery leased or failed, in
 * claim order, with what sending needs; with none, one row of nulls but `capped`.
 */
function claimSql(capped: boolean): string {
  const due = (priority: number, limit: string) =>
    `SELECT d.id, d.endpoint_id, d.order_key, ${priority} AS priority, d.next_attempt_at FROM deliveries d
     WHERE d.status IN (${Status.Pending}, ${Status.Sending}) AND d.priority = ${priority} AND d.next_attempt_at <= ? AND d.endpoint_id <> ALL(?::text[]) AND ${inTurn('d')}
     ORDER BY d.next_attempt_at, d.id LIMIT ${limit} FOR UPDATE SKIP LOCKED`;
  return `WITH due0 AS MATERIALIZED (${due(0, '?')}),
  due1 AS MATERIALIZED (${due(1, '? - (SELECT count(*) FROM due0)')}),
  due AS (SELECT * FROM due0 UNION ALL SELECT * FROM due1),
  per_key AS (SELECT due.*, row_number() OVER (PARTITION BY endpoint_id, order_key ORDER BY priority, next_attempt_at, id) AS nth FROM due),
  per_endpoint AS (
    SELECT k.id, k.endpoint_id, k.priority, k.next_attempt_at, row_number() OVER (PARTITION BY k.endpoint_id ORDER BY k.priority, k.next_attempt_at, k.id) AS nth
    FROM per_key k WHERE k.order_key IS NULL OR k.nth = 1),
  allowance AS (SELECT * FROM unnest(?::text[], ?::int[]) AS a(endpoint_id, n)),
  allowed AS (
    SELECT p.* FROM per_endpoint p LEFT JOIN allowance a ON a.endpoint_id = p.endpoint_id WHERE p.nth <= COALESCE(a.n, ?)),
  ${
    capped
      ? `held AS MATERIALIZED (SELECT * FROM hookwell_endpoint_leases(ARRAY(SELECT DISTINCT endpoint_id FROM allowed ORDER BY 1), ?)),
  room AS (SELECT a.*, ? - COALESCE(h.leases, 0) AS room FROM allowed a LEFT JOIN held h ON h.endpoint_id = a.endpoint_id),
  chosen AS (SELECT * FROM room WHERE nth <= room),
  left_over AS (SELECT array_agg(DISTINCT endpoint_id) AS capped FROM room WHERE nth > room),`
      : `chosen AS (SELECT * FROM allowed),
  left_over AS (SELECT NULL::text[] AS capped),`
  }
  leased AS (
    UPDATE deliveries d SET
      status = CASE WHEN e.disabled OR m.payload IS NULL THEN ${Status.Fail} ELSE ${Status.Sending} END,
      lease_owner = CASE WHEN e.disabled OR m.payload IS NULL THEN NULL ELSE ? END,
      next_attempt_at = CASE WHEN e.disabled OR m.payload IS NULL THEN NULL ELSE ?::bigint END
    FROM chosen c, messages m, endpoints e
    WHERE d.id = c.id AND m.id = d.msg_id AND e.id = d.endpoint_id
    RETURNING c.priority, c.next_attempt_at AS due_at, d.status, d.id AS delivery_id, d.msg_id, d.app_id, d.attempts, d.trigger_type, d.order_key,
      m.event_type, m.payload, m.created_at AS msg_created_at, m.backfill_id, m.backfill_chunk, m.traceparent, m.tracestate, ${WORK_ENDPOINT_COLUMNS})
  SELECT l.*, o.capped FROM left_over o LEFT JOIN leased l ON l.status = ${Status.Sending}
  ORDER BY l.priority, l.due_at, l.delivery_id`;
}
// A lease's renewal passes over rows locked meanwhile: one being recorded needs none, and one
// claimed by another (its lease lost) is no longer this owner's. So renewals never wait on, or
// deadlock with, the records.
const RENEW_LEASES = prepared(
  'renew_leases',
  `UPDATE deliveries SET next_attempt_at = ?
   WHERE id IN (SELECT id FROM deliveries WHERE status = ${Status.Sending} AND lease_owner = ? AND id = ANY(?::bigint[]) FOR UPDATE SKIP LOCKED)`,
);

// Leases given back, due at once; if any were, the workers listening on the channel (when one
// is given) are woken at this statement's commit to take them.
const RELEASE = prepared(
  'release',
  `WITH released AS (
     UPDATE deliveries SET status = ${Status.Pending}, lease_owner = NULL, next_attempt_at = ?
     WHERE status = ${Status.Sending} AND lease_owner = ? AND id = ANY(?::bigint[]) RETURNING id)
   SELECT pg_notify(?, '') FROM (SELECT 1 FROM released LIMIT 1) AS any_released WHERE ?::text IS NOT NULL`,
);

// A batch of attempt records, whatever its size: the attempts inserted, and each delivery
// updated only while still leased by the record's owner (a lease that expired and was claimed
// again belongs to someone else now), its rows locked in id order first so that writers of
// overlapping batches cannot deadlock; an attempt whose delivery is no longer held (canceled
// by an erasure or expunge, or taken over) is kept without its response body, which may echo
// deleted content: `held` is read once the row's lock is had, so from the latest commit; each endpoint's failing-since time kept, and those
// that answered 410 or failed too long disabled (store/endpoints.ts endpointHealthSql).
const RECORD_ATTEMPTS = prepared(
  'record_attempts',
  `WITH health AS (${endpointHealthSql(
    'SELECT * FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::boolean[]) AS o(id, ok_at, fail_from, fail_at, gone)',
    ' ORDER BY e2.id FOR UPDATE OF e2',
  )}),
   outcome AS (SELECT * FROM unnest(?::bigint[], ?::int[], ?::int[], ?::bigint[], ?::bigint[], ?::text[]) AS u(id, status, attempts, next_at, last_at, owner)),
   locked AS MATERIALIZED (
     SELECT d.id, d.status = ${Status.Sending} AND d.lease_owner IN (SELECT u.owner FROM outcome u WHERE u.id = d.id) AS held
     FROM deliveries d WHERE d.id IN (SELECT id FROM outcome) ORDER BY d.id FOR UPDATE),
   inserted AS (
     INSERT INTO attempts (id, msg_id, endpoint_id, app_id, url, status, response_status_code, response, response_duration_ms,
       trigger_type, error, created_at)
     SELECT a.id, a.msg_id, a.endpoint_id, a.app_id, a.url, a.status, a.response_status_code, CASE WHEN l.held THEN a.response ELSE '' END,
       a.response_duration_ms, a.trigger_type, a.error, a.created_at
     FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::int[], ?::int[], ?::text[], ?::int[], ?::int[], ?::text[], ?::bigint[], ?::bigint[])
       AS a(id, msg_id, endpoint_id, app_id, url, status, response_status_code, response, response_duration_ms, trigger_type, error, created_at, delivery_id)
     LEFT JOIN locked l ON l.id = a.delivery_id),
   recorded AS (
     UPDATE deliveries d SET status = u.status, attempts = u.attempts, next_attempt_at = u.next_at, last_attempt_at = u.last_at, lease_owner = NULL
     FROM outcome u, locked l WHERE d.id = u.id AND l.id = u.id AND d.status = ${Status.Sending} AND d.lease_owner = u.owner RETURNING d.id)
   SELECT h.* FROM health h`,
);

const NEXT_DUE = prepared('next_due', nextDue('deliveries AS d'));
const CLAIM = prepared('claim', claimSql(false));
const CLAIM_CAPPED = prepared('claim_capped', claimSql(true));

/** A pool whose sessions start with `settings` (name=value each; a search_path in the URL's own `options` takes precedence). */
function newPool(url: string, max: number, settings: string[]): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    // While the database is down, callers hear so within seconds rather than queueing.
    connectionTimeoutMillis: 5000,
    types: typeParsers,
    ...(settings.length === 0 ? {} : { options: settings.map((setting) => `-c ${setting}`).join(' ') }),
  });
  // An idle client whose connection dies emits 'error' on the pool; without a listener
  // that would end the process. The pool drops the client, and the next query reconnects.
  pool.on('error', () => undefined);
  // A checked-out client has no listener of the pool's: a connection terminated between two
  // statements would emit an unhandled 'error' and end the process. The failing query
  // still rejects, and the broken client is dropped when released.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/**
 * Rewrites the record of key ids in use (see checkKeyRecord) under the migration lock, so
 * processes opening at once with different rings, and rekey, each add to what the other wrote.
 * `change` answers null to leave it as it is.
 */
async function updateKeyRecord(pool: pg.Pool, change: (recorded: string | null) => string | null): Promise<void> {
  const client = await pool.connect();
  try {
    await within(client, async (c) => {
      await c.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
      const recorded = ((await one(c, SELECT_META, [KEY_RECORD_META_KEY]))?.value as string | undefined) ?? null;
      const next = change(recorded);
      if (next !== null && next !== recorded) await run(c, UPSERT_META, [KEY_RECORD_META_KEY, next]);
    });
  } finally {
    client.release();
  }
}

export interface PostgresStoreOptions {
  /** A schema to keep Hookwell's tables in, created if missing; otherwise the server's default search_path. */
  schema?: string;
  /** Most connections in the pool (default 10). */
  poolSize?: number;
  /** Told when the database becomes unreachable and when it is back. */
  health?: DatabaseHealth;
  /** The LISTEN/NOTIFY channel of the workers (see WorkNotifier): deliveries given back wake them. */
  workChannel?: string;
  /** Encryption at rest (none by default). */
  sealer?: Sealer;
}

export class PostgresStore implements Store {
  readonly sending: SendingReads = sendingReads(DIALECT, (sql, params) => all(this.pool, sql, params));
  // Offers would bypass the endpoint limit that claims enforce across processes.
  readonly leasesOnCreate = false;
  // Keys are looked up before the commit: its message writes are batched in one statement.
  readonly repeatsFoundInCommit = false;
  /** createMessage's writes, made together when they come at once (see GroupCommit). */
  private readonly messages: GroupCommit<MessageJob, Created>;

  /** Audit entries waiting for the append under way (see flushAudits). */
  private readonly auditQueue: { input: AuditInput; resolve: (e: AuditEntry) => void; reject: (err: unknown) => void }[] = [];
  private auditFlushing = false;
  /** The flush under way, or the last one: close waits for it. It never rejects. */
  private auditRun: Promise<void> = Promise.resolve();

  /** getApp's lookups, made together when they come at once (see ReadBatch). */
  private readonly apps: ReadBatch<Application>;

  private constructor(
    readonly pool: pg.Pool,
    /**
     * The queue's own connections: claims, leases and attempt records, each one statement
     * committed on its own. Their commits do not wait for the WAL flush (synchronous_commit
     * is off for these sessions, as SqliteStore's bookkeeping skips the sync): losing one in
     * a crash can only cause a delivery to be attempted again.
     */
    private readonly queue: pg.Pool,
    private readonly workChannel: string | null,
    /** Seals the columns kept encrypted at rest, opens them on read. */
    private readonly sealer: Sealer,
  ) {
    // Payloads of up to 4 MiB a batch: ingest's small messages go by the hundred, large
    // ones (up to maxPayloadBytes each) a few at a time.
    this.messages = new GroupCommit((fn) => this.session(fn), (fn) => this.tx(fn), (c, jobs, inTx) => writeMessages(c, jobs, inTx, this.sealer), { weight: (j) => j.input.payload.length, maxWeight: 4 * 1024 * 1024 });
    this.apps = new ReadBatch(async (refs) => {
      const rowOf = appRowsByRef(await all(this.pool, SELECT_APPS_BY_REFS, [refs, refs]));
      const found = new Map<string, Application>();
      for (const ref of refs) {
        const r = rowOf(ref);
        if (r !== undefined) found.set(ref, appFrom(r));
      }
      return found;
    });
  }

  static async open(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const { schema } = opts;
    if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
      throw new Error(`invalid PostgreSQL schema name "${schema}": use lower-case letters, digits and "_"`);
    }
    const pool = newPool(url, opts.poolSize ?? 10, schema === undefined ? [] : [`search_path=${schema}`]);
    // As large as the other: a dispatcher writes several batches of records at once beside its claims.
    const queue = newPool(url, opts.poolSize ?? 10, [...(schema === undefined ? [] : [`search_path=${schema}`]), 'synchronous_commit=off']);
    try {
      if (schema !== undefined) {
        // Under the migration lock, so processes starting together cannot race to create it.
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
          // Looked up first, so a role without CREATE on the database can use an existing schema.
          const found = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
          if (found.rowCount === 0) await client.query(`CREATE SCHEMA ${schema}`);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        } finally {
          client.release();
        }
      }
      await migrate(pool);
      // Refused before serving anything: data sealed with a key the ring lacks could not be read.
      await updateKeyRecord(pool, (recorded) => checkKeyRecord(recorded, opts.sealer ?? Sealer.none));
    } catch (err) {
      await Promise.all([pool.end(), queue.end()]);
      throw err;
    }
    if (opts.health !== undefined) {
      HEALTH.set(pool, opts.health);
      HEALTH.set(queue, opts.health);
    }
    // Unlike SqliteStore, leases found at start-up are not given back: other processes
    // sharing the database may hold them. They fall due when they expire.
    return new PostgresStore(pool, queue, opts.workChannel ?? null, opts.sealer ?? Sealer.none);
  }

  /** Runs fn on a client of its own (a connection that broke is not given back to the pool). */
  private async session<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const health = HEALTH.get(this.pool);
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw unavailable(err, health);
    }
    if (health !== undefined) HEALTH.set(client, health);
    let broken: Error | undefined;
    try {
      return await fn(client);
    } catch (err) {
      const e = unavailable(err, health);
      if (e instanceof UnavailableError) broken = e;
      throw e;
    } finally {
      client.release(broken);
    }
  }

  /**
   * Runs fn in one transaction on a dedicated client. `bookkeeping` is for writes whose
   * loss can only cause a delivery to be attempted again: they commit without waiting
   * for the WAL flush, as SqliteStore's skip the sync.
   */
  private tx<T>(fn: (c: pg.PoolClient) => Promise<T>, bookkeeping = false): Promise<T> {
    return this.session((c) => within(c, fn, bookkeeping));
  }

  async close(): Promise<void> {
    await this.messages.drain();
    await this.auditRun;
    await Promise.all([this.pool.end(), this.queue.end()]);
  }

  async checkHealth(): Promise<void> {
    await this.getMeta('schema');
  }

  async schemaVersion(): Promise<{ version: number; latest: number }> {
    const r = await one(this.pool, 'SELECT MAX(version) AS v FROM hookwell_schema_version', []);
    return { version: Number(r?.v ?? 0), latest: latestVersion('postgres') };
  }

  // --- meta -------------------------------------------------------------------------

  async getMeta(key: string): Promise<string | null> {
    const r = await one(this.pool, SELECT_META, [key]);
    return r === undefined ? null : this.sealer.open(r.value as string);
  }

  async setMeta(key: string, value: string): Promise<void> {
    await run(this.pool, UPSERT_META, [key, this.sealer.seal(value)]);
  }

  async ensureMeta(key: string, value: string): Promise<string> {
    await run(this.pool, INSERT_META_IF_ABSENT, [key, this.sealer.seal(value)]);
    return (await this.getMeta(key))!;
  }

  // --- applications -----------------------------------------------------------------

  async createApp(input: AppInput): Promise<Application> {
    const now = Date.now();
    const app: Application = { id: newId('app', now), ...input, createdAt: now, updatedAt: now };
    try {
      await run(this.pool, INSERT_APPLICATION, insertApplicationParams(app));
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateAppUid(input.uid);
      throw err;
    }
    return app;
  }

  async getApp(ref: string): Promise<Application | null> {
    return (await this.apps.get(ref)) ?? null;
  }

  async listApps(q: ListQuery, filter: AppListFilter = {}): Promise<Page<Application>> {
    const plan = planPage('id', q);
    const { sql, params } = listApplications(plan, filter);
    const rows = await all(this.pool, sql, params);
    return toPage(rows, plan, (r) => r.id as string, appFrom);
  }

  updateApp(id: string, fields: Partial<AppInput>): Promise<Application> {
    return this.tx(async (c) => {
      const r = await one(c, `${SELECT_APPLICATION} FOR UPDATE`, [id]);
      if (r === undefined) throw new NotFoundError('application', id);
      const app = { ...appFrom(r), ...fields, updatedAt: Date.now() };
      try {
        await run(c, UPDATE_APPLICATION, updateApplicationParams(app));
      } catch (err) {
        if (isUniqueViolation(err)) throw duplicateAppUid(fields.uid);
        throw err;
      }
      return app;
    });
  }

  deleteApp(id: string): Promise<void> {
    return this.tx(async (c) => {
      for (const sql of DELETE_APPLICATION) await run(c, sql, [id]);
    });
  }

  // --- endpoints ----------------------------------------------------------------------

  private async putEndpoint(db: Db, ep: Endpoint, insert: boolean): Promise<void> {
    try {
      if (insert) await run(db, INSERT_ENDPOINT, insertEndpointParams(DIALECT, ep, this.sealer));
      else await run(db, UPDATE_ENDPOINT, updateEndpointParams(DIALECT, ep, this.sealer));
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateEndpointUid(ep.uid);
      throw err;
    }
  }

  async createEndpoint(appId: string, input: EndpointInput): Promise<Endpoint> {
    const ep = newEndpoint(appId, input, Date.now());
    await this.putEndpoint(this.pool, ep, true);
    return ep;
  }

  async getEndpoint(appId: string, ref: string): Promise<Endpoint | null> {
    const r = await one(this.pool, SELECT_ENDPOINT_BY_REF, [appId, ref, ref, ref]);
    return r === undefined ? null : endpointFrom(r, this.sealer);
  }

  async listEndpoints(appId: string, q: ListQuery): Promise<Page<Endpoint>> {
    const plan = planPage('id', q);
    const { sql, params } = listEndpoints(appId, plan);
    const rows = await all(this.pool, sql, params);
    return toPage(rows, plan, (r) => r.id as string, (r) => endpointFrom(r, this.sealer));
  }

  updateEndpoint(appId: string, id: string, fields: EndpointFields): Promise<Endpoint> {
    return this.tx(async (c) => {
      const r = await one(c, `${SELECT_ENDPOINT} FOR UPDATE`, [appId, id]);
      if (r === undefined) throw new NotFoundError('endpoint', id);
      const ep = withFields(endpointFrom(r, this.sealer), fields, Date.now());
      await this.putEndpoint(c, ep, false);
      return ep;
    });
  }

  deleteEndpoint(appId: string, id: string): Promise<void> {
    return this.tx(async (c) => {
      const [attempts, deliveries, endpoint] = DELETE_ENDPOINT;
      await run(c, attempts, [id]);
      await run(c, deliveries, [id]);
      await run(c, endpoint, [appId, id]);
    });
  }

  // --- event types --------------------------------------------------------------------

  async createEventType(input: EventTypeInput): Promise<EventType> {
    const now = Date.now();
    const et: EventType = { ...input, createdAt: now, updatedAt: now };
    try {
      await run(this.pool, INSERT_EVENT_TYPE, insertEventTypeParams(DIALECT, et));
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`event type "${input.name}" already exists`);
      throw err;
    }
    return et;
  }

  async getEventType(name: string): Promise<EventType | null> {
    const r = await one(this.pool, SELECT_EVENT_TYPE, [name]);
    return r === undefined ? null : eventTypeFrom(r);
  }

  async listEventTypes(q: ListQuery, includeArchived: boolean): Promise<Page<EventType>> {
    const plan = planPage('name', q);
    const { sql, params } = listEventTypes(DIALECT, plan, includeArchived);
    const rows = await all(this.pool, sql, params);
    return toPage(rows, plan, (r) => r.name as string, eventTypeFrom);
  }

  updateEventType(name: string, fields: Partial<EventTypeInput>): Promise<EventType> {
    return this.tx(async (c) => {
      const r = await one(c, `${SELECT_EVENT_TYPE} FOR UPDATE`, [name]);
      if (r === undefined) throw new NotFoundError('event type', name);
      const et: EventType = { ...eventTypeFrom(r), ...fields, name, updatedAt: Date.now() };
      await run(c, UPDATE_EVENT_TYPE, updateEventTypeParams(DIALECT, et));
      return et;
    });
  }

  async deleteEventType(name: string): Promise<void> {
    await run(this.pool, DELETE_EVENT_TYPE, [name]);
  }

  async getRetrySchedule(name: string): Promise<number[] | null | undefined> {
    const r = await one(this.pool, SELECT_RETRY_SCHEDULE, [name]);
    return r === undefined ? undefined : retryScheduleFrom(r.retry_schedule);
  }

  async setRetrySchedule(name: string, schedule: number[] | null): Promise<boolean> {
    return (await run(this.pool, UPDATE_RETRY_SCHEDULE, [schedule === null ? null : JSON.stringify(schedule), Date.now(), name])) > 0;
  }

  // --- messages -----------------------------------------------------------------------

  createMessage(
    appId: string,
    input: MessageInput,
    options: { onlyEndpointId?: string; lease?: LeaseOffer; replay?: ReplayRecord } = {},
  ): Promise<{ message: Message; deliveries: number; leased: Work[] }> {
    return this.messages.run(messageJob(appId, input, options, Date.now(), this.sealer));
  }

  async getMessage(appId: string, ref: string): Promise<Message | null> {
    const r = await one(this.pool, SELECT_MESSAGE_BY_REF, [appId, ref, ref, ref]);
    return r === undefined ? null : messageFrom(r, this.sealer);
  }

  async listMessages(appId: string, q: ListQuery, filter: DeliveryFilter): Promise<Page<Message>> {
    const plan = planPage('m.id', q);
    const { sql, params } = listMessages(DIALECT, appId, plan, filter);
    const rows = await all(this.pool, sql, params);
    return toPage(rows, plan, (r) => r.id as string, (r) => messageFrom(r, this.sealer));
  }

  async expungeMessage(appId: string, msgId: string): Promise<void> {
    await this.deleteContent(appId, [msgId]);
  }

  deleteContent(appId: string, msgIds: string[]): Promise<ContentDeleted> {
    if (msgIds.length === 0) return Promise.resolve(NOTHING_DELETED);
    return this.tx((c) => this.deleteContentIn(c, appId, msgIds, null));
  }

  purgeExpiredContent(now: number, limit: number): Promise<ContentDeleted> {
    return this.tx(async (c) => {
      let total = NOTHING_DELETED;
      for (const [appId, ids] of idsByApp(await all(c, SELECT_EXPIRED_UNLOCKED, [now, now, limit]))) {
        total = addDeleted(total, await this.deleteContentIn(c, appId, ids, now));
      }
      return total;
    });
  }

  /** As SqliteStore's deleteContentNow, in the transaction of `c`. */
  private async deleteContentIn(c: Db, appId: string, msgIds: string[], expiredAt: number | null): Promise<ContentDeleted> {
    const list = DIALECT.list(msgIds);
    // The messages' rows are locked first, as the purge's SELECT … FOR UPDATE does, so an
    // erasure and a purge meeting on one message wait for each other rather than deadlock.
    const messages = await run(c, CONTENT.payloads, [appId, list]);
    // Then their unfinished deliveries, before the attempts' bodies are cleared: an attempt
    // being recorded holds its delivery's row until its commit, so the bodies cleared below
    // include its own, and one recorded after this commit finds its lease gone and keeps none.
    await run(c, CONTENT.lockUnfinished, [appId, list]);
    const backfillRecords = await run(c, CONTENT.backfillRecords, [appId, list]);
    const attempts = await run(c, CONTENT.attemptBodies, [appId, list]);
    let deliveries: number;
    if (expiredAt === null) {
      deliveries = await run(c, CONTENT.cancelUnfinished, [appId, list]);
    } else {
      for (const r of await all(c, CONTENT.unfinished, [appId, list])) await run(c, INSERT_EXPIRY_ATTEMPT, expiryAttemptParams(r, appId, expiredAt));
      deliveries = await run(c, CONTENT.failUnfinished, [appId, list]);
    }
    return { messages, attempts, backfillRecords, deliveries };
  }

  async scanPayloads(appId: string, afterId: string, limit: number): Promise<StoredPayload[]> {
    return (await all(this.pool, SCAN_PAYLOADS, [appId, afterId, limit])).map((r) => storedPayloadFrom(r, this.sealer));
  }

  async messagesWithDataId(appId: string, dataId: string): Promise<string[]> {
    return (await all(this.pool, SELECT_DATA_MESSAGES, [appId, dataId])).map((r) => r.id as string);
  }

  deleteUserBackfillRecords(appId: string, userId: string): Promise<{ backfills: string[]; records: number; messages: string[] }> {
    return this.tx(async (c) => {
      const backfills = (await all(c, SELECT_USER_BACKFILLS, [appId, userId])).map((r) => r.id as string);
      let records = 0;
      const messages: string[] = [];
      for (const id of backfills) {
        records += await run(c, DELETE_BACKFILL_RECORDS, [id]);
        for (const r of await all(c, SELECT_BACKFILL_MESSAGES, [id])) messages.push(r.id as string);
      }
      return { backfills, records, messages };
    });
  }

  // --- deliveries ---------------------------------------------------------------------

  async listMessageDestinations(appId: string, msgId: string, q: ListQuery): Promise<Page<MessageDestination>> {
    const plan = planPage('e.id', q);
    const { sql, params } = listMessageDestinations(appId, msgId, plan);
    const rows = await all(this.pool, sql, params);
    return toPage(rows, plan, (r) => r.id as string, (r) => ({ endpoint: endpointFrom(r, this.sealer), delivery: deliveryFrom(r, 'd_') }));
  }

  async listEndpointMessages(appId: string, endpointId: string, q: ListQuery, filter: DeliveryFilter): Promise<Page<EndpointMessage>> {
    const plan = planPage('m.id', q);
    const { sql, params } = listEndpointMessages(DIALECT, appId, endpointId, plan, filter);
    const rows = await all(this.pool, sql, params);
    return toPage(rows, plan, (r) => r.id as string, (r) => ({ message: messageFrom(r, this.sealer), delivery: deliveryFrom(r, 'd_') }));
  }

  async endpointStats(appId: string, endpointId: string, since?: number, until?: number): Promise<EndpointStats> {
    const rows = await all(this.pool, ENDPOINT_DELIVERY_COUNTS, [appId, endpointId, since ?? 0, until ?? Number.MAX_SAFE_INTEGER]);
    return endpointStatsFrom(rows);
  }

  async attemptDurations(appId: string, endpointId: string, since: number, until: number, bucketMs: number): Promise<DurationCount[]> {
    const { sql, params } = durationCounts(appId, endpointId, since, until, bucketMs);
    return (await all(this.pool, sql, params)).map(durationCountFrom);
  }

  async overview({ since, until, bucketMs, failingLimit, countSince }: OverviewRange): Promise<Overview> {
    // One snapshot, so the figures agree with each other.
    return this.tx(async (c) => {
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const read = ({ sql, params }: { sql: string; params: unknown[] }) => all(c, sql, params);
      return overviewFrom(
        (await one(c, BACKLOG))!,
        await read(messagesPerBucket(since, until, bucketMs)),
        await read(outcomesPerBucket(since, until, bucketMs)),
        await read(failingEndpoints(failingLimit)),
        (await read(totals(countSince)))[0]!,
      );
    });
  }

  async backlog(): Promise<Backlog> {
    return backlogFrom((await one(this.pool, BACKLOG))!);
  }

  async queueStats(now: number, topEndpoints: number): Promise<QueueStats> {
    const totals = queueTotals(DIALECT, now);
    const endpoints = queueByEndpoint(now, topEndpoints);
    // One snapshot, so the totals and the endpoints' figures agree.
    return this.tx(async (c) => {
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      return queueStatsFrom((await one(c, totals.sql, totals.params))!, await all(c, endpoints.sql, endpoints.params));
    });
  }

  observeCommits(observer: CommitObserver): void {
    this.messages.observer = observer;
  }

  poolUsage(): PoolUsage[] {
    return [
      { pool: 'main', waiting: this.pool.waitingCount, total: this.pool.totalCount, idle: this.pool.idleCount },
      { pool: 'queue', waiting: this.queue.waitingCount, total: this.queue.totalCount, idle: this.queue.idleCount },
    ];
  }

  async listAppSummaries(q: ListQuery, search: string | null, since: number): Promise<Page<AppSummary>> {
    const plan = planPage('a.id', q);
    const { sql, params } = appSummaries(search, since, plan.condition, plan.param, plan.direction, plan.limit);
    return toPage(await all(this.pool, sql, params), plan, (r) => r.id as string, appSummaryFrom);
  }

  resend(appId: string, msgId: string, endpointId: string): Promise<void> {
    return this.tx(async (c) => {
      const now = Date.now();
      // A manual resend is a new round: attempts restart so the full schedule applies again.
      const changed = await run(c, RESEND, [now, msgId, endpointId]);
      if (changed === 0) {
        // A delivery made now takes its place in its key's order now, after those queued.
        const r = await one(c, SELECT_RESEND_ORDERING, [endpointId, appId, msgId]);
        const orderKey =
          r === undefined || r.payload === null
            ? null
            : deliveryOrderKey(keyReader(this.sealer.open(r.payload as string)), parse(r.ordering, null), r.backfill_id);
        if (orderKey !== null) await lockKeys(c, [[endpointId, orderKey]]);
        await run(c, INSERT_RESENT, [msgId, endpointId, appId, now, orderKey, now]);
      }
    });
  }

  recover(appId: string, endpointId: string, since: number, until: number | null): Promise<number> {
    return run(this.pool, RECOVER, [Date.now(), appId, endpointId, since, until ?? Number.MAX_SAFE_INTEGER]);
  }

  async recoverBatch(appId: string, endpointId: string, since: number, until: number | null, afterId: number, limit: number): Promise<RequeueBatch> {
    const { sql, params } = recoverBatch(appId, endpointId, since, until, afterId, limit, Date.now());
    return requeueBatchFrom(await all(this.pool, sql, params), limit);
  }

  async bulkReplay(appId: string, endpointId: string, since: number, until: number | null, filter: BulkReplayFilter, afterId: number, limit: number): Promise<RequeueBatch> {
    const { sql, params } = bulkReplayBatch(DIALECT, appId, endpointId, since, until, filter, afterId, limit, Date.now());
    return requeueBatchFrom(await all(this.pool, sql, params), limit);
  }

  cancelPending(appId: string, endpointId: string, before: number): Promise<number> {
    return run(this.pool, CANCEL_PENDING, [appId, endpointId, idFloor('msg', before)]);
  }

  retryFailed(appId: string): Promise<number> {
    // All due at once; claims take equal due times in id order, i.e. oldest first.
    return run(this.pool, RETRY_FAILED, [Date.now(), appId]);
  }

  async appStatus(appId: string): Promise<EndpointStatus[]> {
    const rows = await all(
      this.pool,
      `SELECT e.id, COALESCE(c.processing, 0) AS processing, COALESCE(c.failed, 0) AS failed,
              a.created_at AS last_at, a.response_status_code AS last_status
       FROM endpoints e
       LEFT JOIN (
         SELECT endpoint_id, COUNT(*) FILTER (WHERE status IN (${Status.Pending}, ${Status.Sending})) AS processing, COUNT(*) FILTER (WHERE status = ${Status.Fail}) AS failed
         FROM deliveries WHERE app_id = ? AND status IN (${Status.Pending}, ${Status.Fail}, ${Status.Sending}) GROUP BY endpoint_id
       ) c ON c.endpoint_id = e.id
       LEFT JOIN LATERAL (
         SELECT created_at, response_status_code FROM attempts WHERE endpoint_id = e.id ORDER BY id DESC LIMIT 1
       ) a ON true
       WHERE e.app_id = ? ORDER BY e.id`,
      [appId, appId],
    );
    return rows.map((r) => ({
      endpointId: r.id as string,
      processing: r.processing as number,
      failed: r.failed as number,
      lastAttemptAt: (r.last_at as number | null) ?? null,
      lastStatus: (r.last_status as number | null) ?? null,
    }));
  }

  replayMissing(appId: string, endpointId: string, since: number, until: number | null): Promise<number> {
    return this.tx(async (c) => {
      const r = await one(c, SELECT_ENDPOINT_FILTERS, [appId, endpointId]);
      if (r === undefined) throw new NotFoundError('endpoint', endpointId);
      const ep = { eventTypes: parse<string[] | null>(r.event_types, null), channels: parse<string[] | null>(r.channels, null) };
      const ordering = parse<{ key: string } | null>(r.ordering, null);
      const now = Date.now();
      const candidates = await all(c, replayCandidates(ordering !== null), [appId, since, until ?? Number.MAX_SAFE_INTEGER, endpointId]);
      const chosen = candidates.filter((m) => endpointMatches(ep, { eventType: m.event_type as string, channels: parse(m.channels, null) }));
      if (chosen.length === 0) return 0;
      const ids = chosen.map((m) => m.id as string);
      const keys = chosen.map((m) => deliveryOrderKey(keyReader(this.sealer.openNullable(m.payload) as string), ordering, m.backfill_id));
      // Ids are drawn under the keys' locks, so each key's deliveries are committed in id order.
      await lockKeys(c, keys.filter((k) => k !== null).map((k) => [endpointId, k]));
      // A concurrent replay or resend may have made some of them meanwhile: those are skipped, not counted.
      return run(
        c,
        `INSERT INTO deliveries (msg_id, endpoint_id, app_id, status, next_attempt_at, trigger_type, order_key, created_at)
         SELECT u.id, ?, ?, ${Status.Pending}, ?, ${Trigger.Manual}, u.order_key, ? FROM unnest(?::text[], ?::text[]) WITH ORDINALITY AS u(id, order_key, ord) ORDER BY u.ord
         ON CONFLICT (msg_id, endpoint_id) DO NOTHING`,
        [endpointId, appId, now, now, ids, keys],
      );
    });
  }

  // --- attempts -----------------------------------------------------------------------

  async getAttempt(appId: string, msgId: string, attemptId: string): Promise<Attempt | null> {
    const r = await one(this.pool, SELECT_ATTEMPT, [appId, msgId, attemptId]);
    return r === undefined ? null : attemptFrom(r, this.sealer);
  }

  async listAttempts(appId: string, q: ListQuery, filter: AttemptFilter): Promise<Page<Attempt>> {
    const plan = planPage('a.id', q);
    const { sql, params } = listAttempts(DIALECT, appId, plan, filter);
    const rows = await all(this.pool, sql, params);
    return toPage(rows, plan, (r) => r.id as string, (r) => attemptFrom(r, this.sealer));
  }

  async expungeAttempt(appId: string, msgId: string, attemptId: string): Promise<void> {
    await run(this.pool, EXPUNGE_ATTEMPT, [appId, msgId, attemptId]);
  }

  // --- the queue ----------------------------------------------------------------------

  /**
   * One statement picks the due rows and leases them, and fails instead those of a disabled
   * endpoint or an expunged message (recover brings them back once the endpoint is enabled
   * again); see CLAIM. Keyed deliveries it leased are then checked again under their keys'
   * locks (keepInTurn) before they are handed out.
   */
  async claim(o: ClaimOptions): Promise<Work[]> {
    const full = Object.keys(o.allowance).filter((ep) => o.allowance[ep]! <= 0);
    const allowed = Object.keys(o.allowance).filter((ep) => o.allowance[ep]! > 0);
    const leaseUntil = o.now + o.leaseMs;
    const rows = await all(this.queue, o.endpointLimit === undefined ? CLAIM : CLAIM_CAPPED, [
      o.now,
      full,
      o.now,
      o.limit,
      o.now,
      full,
      o.now,
      o.limit,
      allowed,
      allowed.map((ep) => o.allowance[ep]!),
      o.perEndpoint,
      ...(o.endpointLimit === undefined ? [] : [o.now, o.endpointLimit]),
      o.owner,
      leaseUntil,
    ]);
    for (const ep of (rows[0]?.capped as string[] | null | undefined) ?? []) o.onCapped?.(ep);
    const work = rows.filter((r) => r.delivery_id !== null).map((r) => workFrom(openWorkRow(r, this.sealer), o.now, leaseUntil));
    if (!work.some((w) => w.orderKey !== null)) return work;
    const dropped = await this.keepInTurn(o, work.filter((w) => w.orderKey !== null));
    return dropped.size === 0 ? work : work.filter((w) => !dropped.has(w.deliveryId));
  }

  /**
   * Gives back the keyed deliveries just leased that are not, or no longer, the head of their
   * key, and returns their ids. They were picked under the claim statement's snapshot, and
   * another claim, a new message or a re-queue may have committed since. So each key's advisory
   * lock is taken, and the rule is checked again by a statement that starts after the locks
   * are held, and so sees every commit made under them: of two claims that leased deliveries
   * of one key, the second to check sees the first's lease (and gives its own back) unless the
   * first gave its back already. None is sent before this check, so at most one delivery of a
   * key is sent at a time over all processes, and never one while an earlier delivery of the
   * key is unfinished (ids of one key are drawn under its lock, so none can appear later with
   * a smaller id). Re-queues (resend, recover, retry-failed) take no lock: the "no other live
   * lease" half of the rule makes a re-queued head wait for a lease made before the re-queue
   * was seen.
   */
  private keepInTurn(o: ClaimOptions, keyed: Work[]): Promise<Set<number>> {
    return this.tx(async (c) => {
      await lockKeys(c, keyed.map((w) => [w.endpointId, w.orderKey!]));
      const out = await all(
        c,
        `UPDATE deliveries d SET status = ${Status.Pending}, lease_owner = NULL, next_attempt_at = ?
         WHERE id = ANY(?::bigint[]) AND status = ${Status.Sending} AND lease_owner = ? AND NOT ${inTurn('d')} RETURNING id`,
        [o.now, keyed.map((w) => w.deliveryId), o.owner, o.now],
      );
      return new Set(out.map((r) => r.id as number));
    }, true);
  }

  async skipOrderHead(appId: string, endpointId: string, orderKey: string, now: number, note: string): Promise<SkipOutcome> {
    // The head's row lock, not the key's advisory lock: a claim holds the row lock of a
    // candidate while it waits for the key's lock, so taking them the other way round here
    // could deadlock. A claim leasing the head meanwhile is waited for, and then seen.
    return this.tx(async (c) => {
      const head = await one(c, `${KEY_HEAD} FOR UPDATE`, [endpointId, orderKey]);
      if (head === undefined || head.app_id !== appId) return { skipped: null };
      if (head.status === Status.Sending && (head.next_attempt_at as number) > now) return { sending: head.msg_id as string };
      const ep = await one(c, SELECT_ENDPOINT_URL, [endpointId]);
      await run(c, SKIP_HEAD, [head.id]);
      await run(c, INSERT_SKIP_ATTEMPT, skipAttemptParams(head, endpointId, appId, ep!.url, note, now));
      return { skipped: head.msg_id as string };
    });
  }

  async renewLeases(owner: string, deliveryIds: number[], until: number): Promise<void> {
    if (deliveryIds.length === 0) return;
    await run(this.queue, RENEW_LEASES, [until, owner, deliveryIds]);
  }

  async release(owner: string, deliveryIds: number[]): Promise<void> {
    if (deliveryIds.length === 0) return;
    await run(this.queue, RELEASE, [Date.now(), owner, deliveryIds, this.workChannel ?? '', this.workChannel]);
  }

  async recordAttempts(records: AttemptRecord[], disableAfterMs: number | null = null): Promise<DisabledEndpoint[]> {
    if (records.length === 0) return [];
    const col = <T>(f: (r: AttemptRecord) => T): T[] => records.map(f);
    const outcomes = batchOutcomes(records);
    const rows = await all(
      this.queue,
      RECORD_ATTEMPTS,
      [
        ...endpointHealthParams(DIALECT, disableAfterMs, [
          outcomes.map((o) => o.endpointId),
          outcomes.map((o) => o.okAt),
          outcomes.map((o) => o.failFrom),
          outcomes.map((o) => o.failAt),
          outcomes.map((o) => o.gone),
        ]),
        col((r) => r.deliveryId),
        col((r) => r.next),
        col((r) => r.attempts),
        col((r) => r.nextAttemptAt),
        col((r) => r.attempt.createdAt),
        col((r) => r.owner),
        col((r) => r.attempt.id ?? newId('atmpt', r.attempt.createdAt)),
        col((r) => r.attempt.msgId),
        col((r) => r.attempt.endpointId),
        col((r) => r.attempt.appId),
        col((r) => r.attempt.url),
        col((r) => r.attempt.status),
        col((r) => r.attempt.responseStatusCode),
        col((r) => this.sealer.seal(r.attempt.response)),
        col((r) => r.attempt.responseDurationMs),
        col((r) => r.attempt.triggerType),
        col((r) => r.attempt.error),
        col((r) => r.attempt.createdAt),
        col((r) => r.deliveryId),
      ],
    );
    return disabledFrom(rows);
  }

  async nextDueAt(): Promise<number | null> {
    const now = Date.now();
    const r = await one(this.queue, NEXT_DUE, [now, now]);
    return (r?.t as number | null | undefined) ?? null;
  }

  // --- content links ------------------------------------------------------------------

  // --- backfills ----------------------------------------------------------------------

  async createBackfill(appId: string, input: BackfillInput): Promise<Backfill> {
    const bf = newBackfill(appId, input, Date.now());
    await run(this.pool, INSERT_BACKFILL, insertBackfillParams(bf));
    return bf;
  }

  addBackfillRecords(backfillId: string, records: BackfillRecord[]): Promise<void> {
    // Not waiting for the WAL flush: completeBackfill's commit, which does, comes after
    // these in the log, and until it an upload is not acknowledged.
    return this.tx(async (c) => {
      await run(c, 'INSERT INTO backfill_records (backfill_id, seq, record) SELECT ?, * FROM unnest(?::bigint[], ?::text[])', [
        backfillId,
        records.map((r) => r.seq),
        records.map((r) => this.sealer.seal(r.record)),
      ]);
      await run(c, COUNT_BACKFILL_RECORDS, [records.length, Date.now(), backfillId]);
    }, true);
  }

  completeBackfill(appId: string, backfillId: string, chunks: Omit<BackfillChunk, 'msgId'>[], notices: MessageInput[]): Promise<Backfill> {
    return this.tx(async (c) => {
      const r = await one(c, SELECT_BACKFILL_FOR_UPDATE, [appId, backfillId]);
      if (r === undefined) throw new NotFoundError('backfill', backfillId);
      if (r.status !== 'receiving') throw new ConflictError(`backfill ${backfillId} is already complete`);
      const now = Date.now();
      const written = await writeMessages(c, notices.map((n) => messageJob(appId, n, {}, now, this.sealer)), true, this.sealer);
      const ids = written.map((o) => {
        if (!o.ok) throw o.error;
        return o.value.message.id;
      });
      const each = r.notify === 'each';
      await run(
        c,
        `INSERT INTO backfill_chunks (backfill_id, idx, start_date, end_date, records, msg_id)
         SELECT ?, * FROM unnest(?::integer[], ?::bigint[], ?::bigint[], ?::integer[], ?::text[])`,
        [
          backfillId,
          chunks.map((ch) => ch.index),
          chunks.map((ch) => ch.startDate),
          chunks.map((ch) => ch.endDate),
          chunks.map((ch) => ch.records),
          chunks.map((ch) => (each ? (ids[ch.index] ?? null) : null)),
        ],
      );
      const msgId = each ? null : (ids[0] ?? null);
      await run(c, COMPLETE_BACKFILL, [chunks.length, msgId, now, backfillId]);
      return { ...backfillFrom(r), status: 'complete', chunks: chunks.length, msgId, updatedAt: now };
    });
  }

  deleteBackfill(appId: string, backfillId: string): Promise<void> {
    return this.tx(async (c) => {
      const r = await one(c, SELECT_BACKFILL_ID_FOR_UPDATE, [appId, backfillId]);
      if (r === undefined) throw new NotFoundError('backfill', backfillId);
      await this.dropBackfill(c, backfillId);
    });
  }

  private async dropBackfill(c: Db, backfillId: string): Promise<void> {
    for (const sql of DROP_BACKFILL) await run(c, sql, [backfillId]);
  }

  async getBackfill(appId: string, id: string): Promise<Backfill | null> {
    const r = await one(this.pool, SELECT_BACKFILL, [appId, id]);
    return r === undefined ? null : backfillFrom(r);
  }

  async listBackfills(appId: string, q: ListQuery): Promise<Page<Backfill>> {
    const plan = planPage('id', q);
    const { sql, params } = listBackfills(appId, plan);
    const rows = await all(this.pool, sql, params);
    return toPage(rows, plan, (r) => r.id as string, backfillFrom);
  }

  async listBackfillChunks(backfillId: string): Promise<BackfillChunk[]> {
    return (await all(this.pool, SELECT_BACKFILL_CHUNKS, [backfillId])).map(backfillChunkFrom);
  }

  async readBackfillRecords(backfillId: string, fromSeq: number, toSeq: number, limit: number): Promise<BackfillRecord[]> {
    const rows = await all(this.pool, SELECT_BACKFILL_RECORDS, [backfillId, fromSeq, toSeq, limit]);
    return rows.map((r) => ({ seq: Number(r.seq), record: this.sealer.open(r.record as string) }));
  }

  purgeUnfinishedBackfills(olderThan: number): Promise<number> {
    return this.tx(async (c) => {
      // SKIP LOCKED: an upload completing at this moment is not waited for, nor removed.
      const rows = await all(c, SELECT_STALE_BACKFILLS_UNLOCKED, [olderThan]);
      for (const r of rows) await this.dropBackfill(c, r.id as string);
      return rows.length;
    });
  }

  async recordContentFetch(f: ContentFetch, keep: number): Promise<void> {
    // One statement: the insert, then the rows of this message older than its newest
    // `keep` (found through (msg_id, id)). Concurrent fetches may each leave a row or two
    // over the bound for a moment; the next insert prunes them.
    await run(
      this.pool,
      `WITH added AS (
         INSERT INTO content_fetches (app_id, msg_id, endpoint_id, status, remote_addr, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id
       )
       DELETE FROM content_fetches WHERE msg_id = ?
         AND id <= (SELECT id FROM content_fetches WHERE msg_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
      [f.appId, f.msgId, f.endpointId, f.status, f.remoteAddr, f.createdAt, f.msgId, f.msgId, keep - 1],
    );
  }

  async listContentFetches(appId: string, msgId: string, limit: number): Promise<ContentFetch[]> {
    const rows = await all(this.pool, SELECT_CONTENT_FETCHES, [msgId, appId, limit]);
    return rows.map(contentFetchFrom);
  }

  // --- idempotency --------------------------------------------------------------------

  async getIdempotent(scope: string, key: string): Promise<IdempotentResponse | null> {
    const r = await one(this.pool, SELECT_IDEMPOTENT, [scope, key]);
    return r === undefined ? null : idempotentFrom(r, this.sealer);
  }

  async putIdempotent(scope: string, key: string, v: IdempotentResponse): Promise<void> {
    await run(this.pool, PUT_IDEMPOTENT, putIdempotentParams(scope, key, v, this.sealer));
  }

  async purgeIdempotent(olderThan: number): Promise<void> {
    await run(this.pool, PURGE_IDEMPOTENT, [olderThan]);
  }

  async createPortalToken(token: PortalToken): Promise<void> {
    await run(this.pool, INSERT_PORTAL_TOKEN, portalTokenParams(token));
  }

  async getPortalToken(tokenHash: string): Promise<PortalToken | null> {
    const r = await one(this.pool, SELECT_PORTAL_TOKEN, [tokenHash]);
    return r === undefined ? null : portalTokenFrom(r);
  }

  expirePortalTokens(appId: string, at: number, sessionIds?: string[]): Promise<number> {
    return run(this.pool, expirePortalTokensSql(sessionIds), expirePortalTokensParams(appId, at, sessionIds));
  }

  async expirePortalToken(tokenHash: string, at: number): Promise<void> {
    await run(this.pool, EXPIRE_PORTAL_TOKEN, [at, tokenHash, at]);
  }

  async purgePortalTokens(expiredBefore: number): Promise<void> {
    await run(this.pool, PURGE_PORTAL_TOKENS, [expiredBefore]);
  }

  // --- background tasks ---------------------------------------------------------------

  async createTask(task: BackgroundTask): Promise<void> {
    await run(this.pool, INSERT_TASK, taskParams(task));
  }

  async updateTask(id: string, status: TaskStatus, data: Record<string, unknown>, at: number): Promise<void> {
    await run(this.pool, UPDATE_TASK, [status, JSON.stringify(data), at, id]);
  }

  async getTask(id: string): Promise<BackgroundTask | null> {
    const r = await one(this.pool, SELECT_TASK, [id]);
    return r === undefined ? null : taskFrom(r);
  }

  async listTasks(q: ListQuery, filter: TaskFilter): Promise<Page<BackgroundTask>> {
    const plan = planPage('id', q);
    const { sql, params } = listTasks(plan, filter);
    return toPage(await all(this.pool, sql, params), plan, (r) => r.id as string, taskFrom);
  }

  failStaleTasks(olderThan: number, data: Record<string, unknown>, at: number): Promise<number> {
    return run(this.pool, FAIL_STALE_TASKS, [JSON.stringify(data), at, olderThan]);
  }

  purgeFinishedTasks(olderThan: number): Promise<number> {
    return run(this.pool, PURGE_FINISHED_TASKS, [olderThan]);
  }

  // --- API tokens ---------------------------------------------------------------------

  async createApiToken(token: ApiToken): Promise<void> {
    await run(this.pool, INSERT_API_TOKEN, apiTokenParams(token));
  }

  async getApiTokenByHash(tokenHash: string): Promise<ApiToken | null> {
    const r = await one(this.pool, SELECT_API_TOKEN_BY_HASH, [tokenHash]);
    return r === undefined ? null : apiTokenFrom(r);
  }

  async listApiTokens(q: ListQuery): Promise<Page<ApiToken>> {
    const plan = planPage('id', q);
    const { sql, params } = listApiTokens(plan);
    return toPage(await all(this.pool, sql, params), plan, (r) => r.id as string, apiTokenFrom);
  }

  async revokeApiToken(id: string, at: number): Promise<boolean> {
    await run(this.pool, REVOKE_API_TOKEN, [at, id]);
    return (await one(this.pool, SELECT_API_TOKEN, [id])) !== undefined;
  }

  // --- audit log ----------------------------------------------------------------------

  appendAudit(input: AuditInput): Promise<AuditEntry> {
    return new Promise((resolve, reject) => {
      this.auditQueue.push({ input, resolve, reject });
      if (!this.auditFlushing) this.auditRun = this.flushAudits();
    });
  }

  /**
   * Appends what is queued, a batch a transaction, until nothing is. Several processes
   * append: the advisory lock, held to the commit, makes each read of the head see the last
   * append's row, so the chain cannot fork. Each append alone took the lock and a synced
   * commit in turn: the appends of a process wait together instead, so concurrent writes
   * share one lock and one commit.
   */
  private async flushAudits(): Promise<void> {
    this.auditFlushing = true;
    while (this.auditQueue.length > 0) {
      const batch = this.auditQueue.splice(0, AUDIT_BATCH);
      try {
        const entries = await this.tx(async (c) => {
          await c.query(`SELECT pg_advisory_xact_lock(${AUDIT_LOCK})`);
          const head = await one(c, SELECT_AUDIT_HEAD);
          let prev = head === undefined ? null : { id: Number(head.id), hash: head.hash as string };
          const made = batch.map((job) => (prev = chainEntry(prev, job.input)));
          const { sql, params } = insertAudits(made);
          await run(c, sql, params);
          return made;
        });
        batch.forEach((job, i) => job.resolve(entries[i]!));
      } catch (err) {
        for (const job of batch) job.reject(err);
      }
    }
    this.auditFlushing = false;
  }

  async listAudit(filter: AuditFilter, q: ListQuery): Promise<Page<AuditEntry>> {
    const plan = planPage('id', q);
    const { sql, params } = listAudit(filter, plan);
    return toPage(await all(this.pool, sql, params), plan, (r) => String(r.id), auditFrom);
  }

  // --- encryption at rest ----------------------------------------------------------------

  rekey(batch: number, progress: (p: RekeyProgress) => void): Promise<void> {
    return rekeyTables(
      {
        select: (sql, params) => all(this.pool, sql, params),
        update: (statements) =>
          this.tx(async (c) => {
            let n = 0;
            for (const st of statements) n += await run(c, st.sql, st.params);
            return n;
          }),
        readKeyRecord: async () => ((await one(this.pool, SELECT_META, [KEY_RECORD_META_KEY]))?.value as string | undefined) ?? null,
        updateKeyRecord: (change) => updateKeyRecord(this.pool, change),
      },
      this.sealer,
      batch,
      progress,
    );
  }
}
