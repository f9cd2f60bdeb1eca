import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { idFloor, newId } from '../../domain/ids.js';
import { ConflictError, NotFoundError } from '../../domain/errors.js';
import { endpointMatches } from '../../domain/routing.js';
import { deliveryOrderKey, keyReader } from '../../domain/ordering.js';
import { Status, Trigger, type Application, type Attempt, type Backfill, type BackfillChunk, type Endpoint, type EventType, type ListQuery, type Message, type Page, type BackgroundTask, type TaskStatus } from '../../domain/types.js';
import type { StoredPayload, AppInput, AttemptFilter, AttemptRecord, BackfillInput, BackfillRecord, ClaimOptions, ContentFetch, DeliveryFilter, DisabledEndpoint, EndpointFields, EndpointInput, EndpointMessage, EndpointStats, EndpointStatus, EventTypeInput, IdempotentResponse, LeaseOffer, ReplayRecord, CommitObserver, PoolUsage, MessageDestination, MessageInput, SkipOutcome, PortalToken, Store, Work, ApiToken, AppListFilter } from '../store.js';
import { RepeatedRequest } from '../store.js';
import { planPage, toPage } from '../paging.js';
import type { Dialect } from '../filters.js';
import { appSummaries, appSummaryFrom, BACKLOG, backlogFrom, queueByEndpoint, queueStatsFrom, queueTotals, type QueueStats, durationCountFrom, durationCounts, failingEndpoints, messagesPerBucket, outcomesPerBucket, overviewFrom, totals, type AppSummary, type Backlog, type DurationCount, type Overview, type OverviewRange } from '../insights.js';
import { storedPayloadFrom, appFrom, attemptFrom, backfillChunkFrom, backfillFrom, contentFetchFrom, deliveryFrom, endpointFrom, duplicateEventId, eventTypeFrom, INSERT_MESSAGE, messageFrom, openEndpointColumns, openWorkRow, SELECT_APP_BY_REF, SELECT_ENDPOINT_BY_REF, SELECT_MESSAGE_BY_REF, messageParams, newMessage, offeredWork, parse, workFrom, WORK_ENDPOINT_COLUMNS, type Row } from '../rows.js';
import { checkKeyRecord, KEY_RECORD_META_KEY, KeyRingError, Sealer } from '../../domain/sealing.js';
import { rekeyTables, type RekeyProgress } from '../rekey.js';
import { bulkReplayBatch, CANCEL_PENDING, INSERT_RESENT, RECOVER, recoverBatch, replayCandidates, requeueBatchFrom, RESEND, RETRY_FAILED, SELECT_RESEND_ORDERING, type BulkReplayFilter, type RequeueBatch } from '../requeue.js';
import { FAIL_STALE_TASKS, PURGE_FINISHED_TASKS, INSERT_TASK, listTasks, SELECT_TASK, taskFrom, taskParams, UPDATE_TASK, type TaskFilter } from '../tasks.js';
import { COMPLETE_BACKFILL, COUNT_BACKFILL_RECORDS, DROP_BACKFILL, INSERT_BACKFILL, insertBackfillParams, listBackfills, newBackfill, SELECT_BACKFILL, SELECT_BACKFILL_CHUNKS, SELECT_BACKFILL_ID, SELECT_BACKFILL_RECORDS, SELECT_STALE_BACKFILLS } from '../backfills.js';
import { SELECT_CONTENT_FETCHES } from '../content-fetches.js';
import { INSERT_SKIP_ATTEMPT, inTurn, KEY_BUSY, KEY_HEAD, nextDue, SKIP_HEAD, skipAttemptParams } from '../ordering.js';
import { migrate } from './migrations.js';
import { latestVersion, MigrationFolderError } from '../migrations.js';
import { listMessages } from '../messages.js';
import { addDeleted, contentStatements, DELETE_BACKFILL_RECORDS, expiryAttemptParams, idsByApp, INSERT_EXPIRY_ATTEMPT, NOTHING_DELETED, SCAN_PAYLOADS, SELECT_BACKFILL_MESSAGES, SELECT_DATA_MESSAGES, SELECT_EXPIRED, SELECT_USER_BACKFILLS, type ContentDeleted } from '../retention.js';
import { ENDPOINT_DELIVERY_COUNTS, endpointStatsFrom, listEndpointMessages, listMessageDestinations } from '../deliveries.js';
import { EXPUNGE_ATTEMPT, listAttempts, SELECT_ATTEMPT } from '../attempts.js';
import { batchOutcomes, disabledFrom, endpointHealthParams, endpointHealthSql } from '../endpoints.js';
import { DELETE_ENDPOINT, duplicateEndpointUid, INSERT_ENDPOINT, insertEndpointParams, listEndpoints, newEndpoint, SELECT_ENDPOINT, SELECT_ENDPOINT_FILTERS, SELECT_ENDPOINT_URL, SELECT_ROUTE, selectRoutes, UPDATE_ENDPOINT, updateEndpointParams, withFields } from '../endpoints.js';
import { DELETE_APPLICATION, duplicateAppUid, INSERT_APPLICATION, insertApplicationParams, listApplications, SELECT_APPLICATION, UPDATE_APPLICATION, updateApplicationParams } from '../applications.js';
import { INSERT_META_IF_ABSENT, SELECT_META, UPSERT_META } from '../meta.js';
import { idempotentFrom, recordValues, replayRecord } from '../idempotency.js';
import { KeyIndex } from './key-index.js';
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
import { EXPIRE_PORTAL_TOKEN, expirePortalTokensParams, expirePortalTokensSql, INSERT_PORTAL_TOKEN, portalTokenFrom, portalTokenParams, PURGE_PORTAL_TOKENS, SELECT_PORTAL_TOKEN } from '../portal-tokens.js';
import { Checkpointer } from './checkpointer.js';
import { sendingReads, type SendingReads } from '../sending.js';
import { apiTokenFrom, apiTokenParams, INSERT_API_TOKEN, listApiTokens, REVOKE_API_TOKEN, SELECT_API_TOKEN, SELECT_API_TOKEN_BY_HASH } from '../api-tokens.js';
import { auditFrom, auditParams, INSERT_AUDIT, listAudit, SELECT_AUDIT_HEAD, type AuditFilter } from '../audit.js';
import { chainEntry, type AuditEntry, type AuditInput } from '../../domain/audit.js';
import { GroupCommit, type WriteHealth } from './group-commit.js';
import { DatabaseInUseError, holderRecord, HOLDER_META_KEY, openFailure, secureFiles, ServeLock, type Tightened } from './files.js';

const NEXT_DUE = nextDue('deliveries AS d INDEXED BY deliveries_due');

const HEALTH_PROBE_KEY = 'health_probe';

// Idempotency records, found by id through the KeyIndex (see there).
const SELECT_IDEMPOTENT_KEYS = 'SELECT id, scope, key, key_hash, created_at FROM idempotency ORDER BY id';
const SELECT_IDEMPOTENT_ROW = 'SELECT * FROM idempotency WHERE id = ?';
const INSERT_IDEMPOTENT = 'INSERT INTO idempotency (scope, key, key_hash, body_hash, status_code, body, created_at, msg_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)';
const UPDATE_IDEMPOTENT = 'UPDATE idempotency SET key_hash = ?, body_hash = ?, status_code = ?, body = ?, created_at = ?, msg_id = ? WHERE id = ?';
const MESSAGE_EXISTS = 'SELECT 1 FROM messages WHERE id = ?';
/** Expired idempotency records among the first `?` of the table in insertion order (see purgeIdempotent). */
const PURGE_IDEMPOTENT_HEAD = 'DELETE FROM idempotency WHERE id IN (SELECT id FROM idempotency ORDER BY id LIMIT ?) AND created_at < ?';
const PURGE_BATCH = 5000;
/** wal_autocheckpoint of a connection that checkpoints itself (see configure). */
const AUTOCHECKPOINT_PAGES = 10_000;

function isUniqueViolation(err: unknown): boolean {
  const code = err instanceof Error && 'code' in err ? (err as { code: string }).code : '';
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** An endpoint as messages are routed to it: its row for sending, its filters parsed. */
interface Route {
  row: Row;
  eventTypes: string[] | null;
  channels: string[] | null;
  ordering: { key: string } | null;
}

const routeFrom = (r: Row, s: Sealer): Route => ({
  row: openEndpointColumns(r, s),
  eventTypes: parse<string[] | null>(r.event_types, null),
  channels: parse<string[] | null>(r.channels, null),
  ordering: parse<{ key: string } | null>(r.ordering, null),
});

/** A statement that changes rows of the endpoints table. */
const WRITES_ENDPOINTS = /^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)\s+endpoints\b/i;

const DIALECT: Dialect = {
  arrayHolds: (column) => `EXISTS (SELECT 1 FROM json_each(${column}) WHERE value = ?)`,
  oneOf: (column) => `${column} IN (SELECT value FROM json_each(?))`,
  list: (values) => JSON.stringify(values),
  flag: (value) => (value ? 1 : 0),
  isFalse: (column) => `${column} = 0`,
};

const SELECT_ROUTES = selectRoutes(DIALECT);
const CONTENT = contentStatements(DIALECT);

const ENDPOINT_HEALTH = endpointHealthSql(
  "SELECT value ->> '$[0]' AS id, value ->> '$[1]' AS ok_at, value ->> '$[2]' AS fail_from, value ->> '$[3]' AS fail_at, value ->> '$[4]' AS gone FROM json_each(?)",
);

export class SqliteStore implements Store {
  readonly leasesOnCreate = true;
  readonly repeatsFoundInCommit = true;
  readonly sending: SendingReads = sendingReads(DIALECT, async (sql, params) => this.q(sql).all(...params) as Row[]);
  readonly db: Database.Database;
  private readonly statements = new Map<string, Statement>();
  private healthUpdate: Statement | undefined;
  /**
   * Applications by id and by uid. Every message looks its application up; this process
   * is the only writer, so clearing on each change keeps the cache exact.
   */
  private readonly apps = new Map<string, Application>();
  /**
   * The enabled endpoints of each application, read as createMessage routes by them: every
   * message would otherwise select and parse them again. Any statement that writes the
   * endpoints table clears it when it is fetched (q), and so does a commit that fails, as
   * its rollback may undo a write read back into it meanwhile.
   */
  private readonly routes = new Map<string, Route[]>();
  private readonly endpointWriters = new Set<Statement>();
  /** Where each idempotency record is, built from the table when first needed (see KeyIndex). */
  private keys: KeyIndex | null = null;
  private readonly commits: GroupCommit;
  /** A serving store's log is checkpointed on a thread of its own (see Checkpointer). */
  private checkpointer: Checkpointer | null = null;
  /** The last write failed for the disk's sake, and none has succeeded since. */
  private writesFailing = false;
  /** The size of the write checkHealth tries while writes fail. */
  private probeBytes = 1024 * 1024;

  private constructor(
    path: string,
    private readonly lock: ServeLock | null,
    health: WriteHealth,
    /** Seals the columns kept encrypted at rest, opens them on read. */
    private readonly sealer: Sealer,
  ) {
    this.db = new Database(path);
    try {
      this.configure();
      // GroupCommit makes every commit that holds anything a client is told is stored
      // durable (the -wal file synced) before it settles.
      this.commits = new GroupCommit(
        this.db,
        () => {
          this.apps.clear();
          this.routes.clear();
        },
        {
          failed: (err) => {
            this.writesFailing = true;
            health.failed(err);
          },
          succeeded: () => {
            this.writesFailing = false;
            health.succeeded();
          },
        },
      );
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  private configure(): void {
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    // Without a checkpointing thread (tools beside a serving process, or if the thread
    // cannot run), checkpoint when the log holds 10,000 pages (about 40 MB), not SQLite's 1,000. Under
    // a steady stream of small commits the same few right-hand pages of every index are
    // logged again and again; a checkpoint writes each of them to the database file once,
    // so rarer checkpoints write far less, and the serving thread (which runs them, with
    // their syncs) stops less often. Ingest gained 6-10% over 1,000 pages and again over
    // 4,000; the longest commit, the one that checkpoints, grew from about 12 to 35 ms.
    this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    // The log keeps the size it once reached: a checkpoint lets it be written again from
    // its start, it does not shrink it. Past 64 MB (a large transaction, or checkpoints
    // held off) it is cut back to that once it restarts, so it does not keep the space a
    // growing database or a full disk needs. Above the ~40 MB of steady running, so that
    // is never truncated and grown again.
    this.db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
    // Payloads are health data: what is deleted (a purge, an erasure, any row removed) is
    // overwritten with zeros in its page and in pages set free, not left in the file for
    // anyone with a copy of it. FAST would leave freed overflow pages, where large payloads
    // live, as they were. The cost is writing freed pages once more.
    this.db.pragma('secure_delete = ON');
  }

  /**
   * Opens, creates or migrates the database at `path`, its files owner-only (see
   * secureFiles). A serving process (the default) holds the file's ServeLock, so a second
   * server on it is refused rather than both delivering; `releaseLeases: false` is for
   * tools run beside a serving process (migrate, catalogue import): they take no lock and
   * leave its leases alone. A failure names the file and why. `probeBytes`: see checkHealth.
   */
  static open(
    path: string,
    opts: { releaseLeases?: boolean; health?: WriteHealth; tightened?: (t: Tightened) => void; probeBytes?: number; sealer?: Sealer } = {},
  ): SqliteStore {
    const serving = opts.releaseLeases !== false;
    const file = path === ':memory:' ? path : resolve(path);
    const health = opts.health ?? { failed: () => undefined, succeeded: () => undefined };
    let lock: ServeLock | null = null;
    let store: SqliteStore | null = null;
    try {
      if (file !== ':memory:') {
        if (serving) lock = ServeLock.acquire(file);
        for (const t of secureFiles(file)) opts.tightened?.(t);
      }
      const sealer = opts.sealer ?? Sealer.none;
      store = new SqliteStore(file, lock, health, sealer);
      if (opts.probeBytes !== undefined) store.probeBytes = Math.max(64 * 1024, opts.probeBytes);
      migrate(store.db);
      const record = store.db.prepare(SELECT_META).get(KEY_RECORD_META_KEY) as Row | undefined;
      const recordNow = checkKeyRecord((record?.value as string | undefined) ?? null, sealer);
      if (recordNow !== null) store.db.prepare(UPSERT_META).run(KEY_RECORD_META_KEY, recordNow);
      if (serving) {
        // Named when another server is refused the file.
        store.db.prepare(UPSERT_META).run(HOLDER_META_KEY, holderRecord());
        // One process serves a SQLite file, so every lease found at start-up is from a process
        // that is gone: give that work back at once rather than waiting out the lease.
        store.db
          .prepare(`UPDATE deliveries SET status = ${Status.Pending}, lease_owner = NULL, next_attempt_at = ? WHERE status = ${Status.Sending}`)
          .run(Date.now());
        // Likewise an upload still receiving was cut off: nothing was acknowledged for it.
        for (const r of store.db.prepare(`SELECT id FROM backfills WHERE status = 'receiving'`).all() as Row[]) {
          store.db.transaction(() => store!.dropBackfill(r.id as string))();
        }
        if (file !== ':memory:') store.checkpointOnAThread();
        // Before serving, rather than inside the first keyed message's commit.
        store.keyIndex();
      }
      return store;
    } catch (err) {
      if (store?.db.open) store.db.close();
      lock?.release();
      // Not the file's fault: the installation's migrations are broken, and the error says how.
      if (err instanceof DatabaseInUseError || err instanceof MigrationFolderError || err instanceof KeyRingError) throw err;
      throw openFailure(file, err);
    }
  }

  private checkpointOnAThread(): void {
    this.db.pragma('wal_autocheckpoint = 0');
    this.checkpointer = new Checkpointer(this.db.name, () => {
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    });
    this.commits.checkpoints = this.checkpointer;
  }

  private q(sql: string): Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
      if (WRITES_ENDPOINTS.test(sql)) this.endpointWriters.add(s);
    }
    if (this.endpointWriters.has(s)) this.routes.clear();
    return s;
  }

  /** The enabled endpoints of an application, for routing its messages. */
  private routesOf(appId: string): Route[] {
    let routes = this.routes.get(appId);
    if (routes === undefined) {
      const rows = this.q(SELECT_ROUTES).all(appId) as Row[];
      routes = rows.map((r) => routeFrom(r, this.sealer));
      if (this.routes.size > 10_000) this.routes.clear();
      this.routes.set(appId, routes);
    }
    return routes;
  }

  private write<T>(fn: () => T): Promise<T> {
    return this.commits.run(fn);
  }

  /** For writes whose loss can only cause a delivery to be attempted again. */
  private writeBookkeeping<T>(fn: () => T): Promise<T> {
    return this.commits.run(fn, false);
  }

  async close(): Promise<void> {
    await this.commits.drain();
    // Before the serving connection closes: the last connection to close checkpoints the
    // whole log and removes it.
    await this.checkpointer?.stop();
    this.commits.close();
    this.db.close();
    this.lock?.release();
  }

  /**
   * Healthy unless the last write failed for the disk's sake. Then a write as large as the
   * largest message (probeBytes) is tried, and removed again: health comes back once such
   * a message could be stored, with or without traffic. A small probe would not do: it
   * fits in the log's space that a larger failed commit left allocated, and would report
   * health while every message still fails. Probing on every call, not only while writes
   * fail, would make each health check a synced commit.
   */
  async checkHealth(): Promise<void> {
    if (!this.writesFailing) {
      await this.getMeta('schema');
      return;
    }
    await this.write(() => {
      this.q('INSERT INTO meta (key, value) VALUES (?, zeroblob(?)) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(HEALTH_PROBE_KEY, this.probeBytes);
    });
    await this.write(() => {
      this.q('DELETE FROM meta WHERE key = ?').run(HEALTH_PROBE_KEY);
    });
  }

  // --- meta -------------------------------------------------------------------------

  async schemaVersion(): Promise<{ version: number; latest: number }> {
    return { version: this.db.pragma('user_version', { simple: true }) as number, latest: latestVersion('sqlite') };
  }

  async getMeta(key: string): Promise<string | null> {
    const r = this.q(SELECT_META).get(key) as Row | undefined;
    return r === undefined ? null : this.sealer.open(r.value as string);
  }

  setMeta(key: string, value: string): Promise<void> {
    return this.write(() => {
      this.q(UPSERT_META).run(key, this.sealer.seal(value));
    });
  }

  async ensureMeta(key: string, value: string): Promise<string> {
    await this.write(() => {
      this.q(INSERT_META_IF_ABSENT).run(key, this.sealer.seal(value));
    });
    return (await this.getMeta(key))!;
  }

  // --- applications -----------------------------------------------------------------

  createApp(input: AppInput): Promise<Application> {
    return this.write(() => {
      const now = Date.now();
      const app: Application = { id: newId('app', now), ...input, createdAt: now, updatedAt: now };
      try {
        this.q(INSERT_APPLICATION).run(...insertApplicationParams(app));
      } catch (err) {
        if (isUniqueViolation(err)) throw duplicateAppUid(input.uid);
        throw err;
      }
      return app;
    });
  }

  async getApp(ref: string): Promise<Application | null> {
    const cached = this.apps.get(ref);
    if (cached !== undefined) return cached;
    const r = this.q(SELECT_APP_BY_REF).get(ref, ref, ref) as Row | undefined;
    if (r === undefined) return null;
    const app = appFrom(r);
    if (this.apps.size > 10_000) this.apps.clear();
    this.apps.set(ref, app);
    return app;
  }

  async listApps(q: ListQuery, filter: AppListFilter = {}): Promise<Page<Application>> {
    const plan = planPage('id', q);
    const { sql, params } = listApplications(plan, filter);
    const rows = this.q(sql).all(...params) as Row[];
    return toPage(rows, plan, (r) => r.id as string, appFrom);
  }

  updateApp(id: string, fields: Partial<AppInput>): Promise<Application> {
    return this.write(() => {
      this.apps.clear();
      const r = this.q(SELECT_APPLICATION).get(id) as Row | undefined;
      if (r === undefined) throw new NotFoundError('application', id);
      const app = { ...appFrom(r), ...fields, updatedAt: Date.now() };
      try {
        this.q(UPDATE_APPLICATION).run(...updateApplicationParams(app));
      } catch (err) {
        if (isUniqueViolation(err)) throw duplicateAppUid(fields.uid);
        throw err;
      }
      return app;
    });
  }

  deleteApp(id: string): Promise<void> {
    return this.write(() => {
      this.apps.clear();
      for (const sql of DELETE_APPLICATION) this.q(sql).run(id);
    });
  }

  // --- endpoints ----------------------------------------------------------------------

  private putEndpoint(ep: Endpoint, insert: boolean): void {
    try {
      if (insert) this.q(INSERT_ENDPOINT).run(...insertEndpointParams(DIALECT, ep, this.sealer));
      else this.q(UPDATE_ENDPOINT).run(...updateEndpointParams(DIALECT, ep, this.sealer));
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateEndpointUid(ep.uid);
      throw err;
    }
  }

  createEndpoint(appId: string, input: EndpointInput): Promise<Endpoint> {
    return this.write(() => {
      const ep = newEndpoint(appId, input, Date.now());
      this.putEndpoint(ep, true);
      return ep;
    });
  }

  async getEndpoint(appId: string, ref: string): Promise<Endpoint | null> {
    const r = this.q(SELECT_ENDPOINT_BY_REF).get(appId, ref, ref, ref) as Row | undefined;
    return r === undefined ? null : endpointFrom(r, this.sealer);
  }

  async listEndpoints(appId: string, q: ListQuery): Promise<Page<Endpoint>> {
    const plan = planPage('id', q);
    const { sql, params } = listEndpoints(appId, plan);
    const rows = this.q(sql).all(...params) as Row[];
    return toPage(rows, plan, (r) => r.id as string, (r) => endpointFrom(r, this.sealer));
  }

  updateEndpoint(appId: string, id: string, fields: EndpointFields): Promise<Endpoint> {
    return this.write(() => {
      const r = this.q(SELECT_ENDPOINT).get(appId, id) as Row | undefined;
      if (r === undefined) throw new NotFoundError('endpoint', id);
      const ep = withFields(endpointFrom(r, this.sealer), fields, Date.now());
      this.putEndpoint(ep, false);
      return ep;
    });
  }

  deleteEndpoint(appId: string, id: string): Promise<void> {
    return this.write(() => {
      const [attempts, deliveries, endpoint] = DELETE_ENDPOINT;
      this.q(attempts).run(id);
      this.q(deliveries).run(id);
      this.q(endpoint).run(appId, id);
    });
  }

  // --- event types --------------------------------------------------------------------

  createEventType(input: EventTypeInput): Promise<EventType> {
    return this.write(() => {
      const now = Date.now();
      const et: EventType = { ...input, createdAt: now, updatedAt: now };
      try {
        this.q(INSERT_EVENT_TYPE).run(...insertEventTypeParams(DIALECT, et));
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError(`event type "${input.name}" already exists`);
        throw err;
      }
      return et;
    });
  }

  async getEventType(name: string): Promise<EventType | null> {
    const r = this.q(SELECT_EVENT_TYPE).get(name) as Row | undefined;
    return r === undefined ? null : eventTypeFrom(r);
  }

  async listEventTypes(q: ListQuery, includeArchived: boolean): Promise<Page<EventType>> {
    const plan = planPage('name', q);
    const { sql, params } = listEventTypes(DIALECT, plan, includeArchived);
    const rows = this.q(sql).all(...params) as Row[];
    return toPage(rows, plan, (r) => r.name as string, eventTypeFrom);
  }

  updateEventType(name: string, fields: Partial<EventTypeInput>): Promise<EventType> {
    return this.write(() => {
      const r = this.q(SELECT_EVENT_TYPE).get(name) as Row | undefined;
      if (r === undefined) throw new NotFoundError('event type', name);
      const et: EventType = { ...eventTypeFrom(r), ...fields, name, updatedAt: Date.now() };
      this.q(UPDATE_EVENT_TYPE).run(...updateEventTypeParams(DIALECT, et));
      return et;
    });
  }

  deleteEventType(name: string): Promise<void> {
    return this.write(() => {
      this.q(DELETE_EVENT_TYPE).run(name);
    });
  }

  async getRetrySchedule(name: string): Promise<number[] | null | undefined> {
    const r = this.q(SELECT_RETRY_SCHEDULE).get(name) as Row | undefined;
    return r === undefined ? undefined : retryScheduleFrom(r.retry_schedule);
  }

  setRetrySchedule(name: string, schedule: number[] | null): Promise<boolean> {
    return this.write(() => this.q(UPDATE_RETRY_SCHEDULE).run(schedule === null ? null : JSON.stringify(schedule), Date.now(), name).changes > 0);
  }

  // --- messages -----------------------------------------------------------------------

  createMessage(
    appId: string,
    input: MessageInput,
    options: { onlyEndpointId?: string; lease?: LeaseOffer; replay?: ReplayRecord } = {},
  ): Promise<{ message: Message; deliveries: number; leased: Work[] }> {
    // Without a lease offer, writing a message changes nothing but the database (and the
    // caches it reads through), so it can be done again after a rollback.
    return this.commits.run(() => this.insertMessage(appId, input, options, Date.now()), true, options.lease === undefined);
  }

  /** createMessage's work, inside a write. */
  private insertMessage(
    appId: string,
    input: MessageInput,
    options: { onlyEndpointId?: string; lease?: LeaseOffer; replay?: ReplayRecord },
    now: number,
  ): { message: Message; deliveries: number; leased: Work[] } {
    const { onlyEndpointId, lease, replay } = options;
    const message = newMessage(appId, input, now);
    // A live record under the key, of a message that still exists, makes this a repeat:
    // refused before anything is written. One expired, or of a message deleted with its
    // application, is taken over.
    const keyHash = replay === undefined ? 0 : KeyIndex.hashOf(replay.scope, replay.key);
    const previous = replay === undefined ? undefined : this.idempotentRow(replay.scope, replay.key, keyHash);
    if (previous !== undefined && (previous.created_at as number) > replay!.expiredAt && (previous.msg_id === null || this.q(MESSAGE_EXISTS).get(previous.msg_id) !== undefined)) {
      throw new RepeatedRequest(idempotentFrom(previous, this.sealer));
    }
    try {
      this.q(INSERT_MESSAGE).run(...messageParams(message, this.sealer));
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateEventId(input.eventId);
      throw err;
    }
    // In the message's savepoint: a message refused (or rolled back) leaves no record either.
    if (replay !== undefined) this.writeIdempotent(replay.scope, replay.key, keyHash, replayRecord(replay, message, now), previous);
    const candidates =
      onlyEndpointId === undefined
        ? this.routesOf(appId)
        : (this.q(SELECT_ROUTE).all(appId, onlyEndpointId) as Row[]).map((r) => routeFrom(r, this.sealer));
    const immediate = input.deliverAt === null || input.deliverAt <= now;
    const insert = this.q(
      `INSERT INTO deliveries (msg_id, endpoint_id, app_id, status, next_attempt_at, lease_owner, order_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const keyOf = keyReader(input.payload);
    let deliveries = 0;
    const leased: Work[] = [];
    for (const route of candidates) {
      if (onlyEndpointId === undefined && !endpointMatches(route, message)) continue;
      const c = route.row;
      deliveries++;
      // Null for an unordered endpoint, and for a payload without a usable key there:
      // that delivery goes unordered (see orderKeyOf).
      const orderKey = deliveryOrderKey(keyOf, route.ordering, message.backfill?.id);
      // A delivery of a key with older ones unfinished waits for its turn, to be claimed.
      const inTurnNow = orderKey === null || this.q(KEY_BUSY).get(c.endpoint_id, orderKey) === undefined;
      if (lease !== undefined && immediate && inTurnNow && lease.take(c.endpoint_id as string)) {
        const leaseUntil = now + lease.leaseMs;
        const id = insert.run(message.id, c.endpoint_id, appId, Status.Sending, leaseUntil, lease.owner, orderKey, now).lastInsertRowid;
        leased.push(offeredWork(c, Number(id), message, orderKey, now, leaseUntil));
      } else {
        insert.run(message.id, c.endpoint_id, appId, Status.Pending, input.deliverAt ?? now, null, orderKey, now);
      }
    }
    return { message, deliveries, leased };
  }

  async getMessage(appId: string, ref: string): Promise<Message | null> {
    const r = this.q(SELECT_MESSAGE_BY_REF).get(appId, ref, ref, ref) as Row | undefined;
    return r === undefined ? null : messageFrom(r, this.sealer);
  }

  async listMessages(appId: string, q: ListQuery, filter: DeliveryFilter): Promise<Page<Message>> {
    const plan = planPage('m.id', q);
    const { sql, params } = listMessages(DIALECT, appId, plan, filter);
    const rows = this.q(sql).all(...params) as Row[];
    return toPage(rows, plan, (r) => r.id as string, (r) => messageFrom(r, this.sealer));
  }

  async expungeMessage(appId: string, msgId: string): Promise<void> {
    await this.deleteContent(appId, [msgId]);
  }

  async deleteContent(appId: string, msgIds: string[]): Promise<ContentDeleted> {
    if (msgIds.length === 0) return NOTHING_DELETED;
    const deleted = await this.write(() => this.deleteContentNow(appId, msgIds, null));
    await this.afterDeleting(deleted.messages + deleted.attempts + deleted.backfillRecords);
    return deleted;
  }

  async purgeExpiredContent(now: number, limit: number): Promise<ContentDeleted> {
    const deleted = await this.write(() => {
      let total = NOTHING_DELETED;
      for (const [appId, ids] of idsByApp(this.q(SELECT_EXPIRED).all(now, now, limit) as Row[])) {
        total = addDeleted(total, this.deleteContentNow(appId, ids, now));
      }
      return total;
    });
    await this.afterDeleting(deleted.messages + deleted.attempts + deleted.backfillRecords);
    return deleted;
  }

  /**
   * Content deleted inside a write. `expiredAt`: the payloads expired (their unfinished
   * deliveries fail with a note, recorded after the bodies are cleared); null: they were
   * expunged or erased (their unfinished deliveries are canceled).
   */
  private deleteContentNow(appId: string, msgIds: string[], expiredAt: number | null): ContentDeleted {
    const list = DIALECT.list(msgIds);
    // The messages first, in the order PostgreSQL's must go (see deleteContentIn).
    const messages = this.q(CONTENT.payloads).run(appId, list).changes;
    const backfillRecords = this.q(CONTENT.backfillRecords).run(appId, list).changes;
    const attempts = this.q(CONTENT.attemptBodies).run(appId, list).changes;
    let deliveries: number;
    if (expiredAt === null) {
      deliveries = this.q(CONTENT.cancelUnfinished).run(appId, list).changes;
    } else {
      const note = this.q(INSERT_EXPIRY_ATTEMPT);
      for (const r of this.q(CONTENT.unfinished).all(appId, list) as Row[]) note.run(...expiryAttemptParams(r, appId, expiredAt));
      deliveries = this.q(CONTENT.failUnfinished).run(appId, list).changes;
    }
    return { messages, attempts, backfillRecords, deliveries };
  }

  /**
   * secure_delete zeroed the deleted content in the pages written since, but older frames of
   * the -wal file still hold it: the log is copied into the database and cut to nothing.
   */
  private async afterDeleting(rows: number): Promise<void> {
    if (rows > 0) await this.commits.truncateLog();
  }

  async scanPayloads(appId: string, afterId: string, limit: number): Promise<StoredPayload[]> {
    return (this.q(SCAN_PAYLOADS).all(appId, afterId, limit) as Row[]).map((r) => storedPayloadFrom(r, this.sealer));
  }

  async messagesWithDataId(appId: string, dataId: string): Promise<string[]> {
    return (this.q(SELECT_DATA_MESSAGES).all(appId, dataId) as Row[]).map((r) => r.id as string);
  }

  async deleteUserBackfillRecords(appId: string, userId: string): Promise<{ backfills: string[]; records: number; messages: string[] }> {
    const out = await this.write(() => {
      const backfills = (this.q(SELECT_USER_BACKFILLS).all(appId, userId) as Row[]).map((r) => r.id as string);
      let records = 0;
      const messages: string[] = [];
      for (const id of backfills) {
        records += this.q(DELETE_BACKFILL_RECORDS).run(id).changes;
        for (const r of this.q(SELECT_BACKFILL_MESSAGES).all(id) as Row[]) messages.push(r.id as string);
      }
      return { backfills, records, messages };
    });
    await this.afterDeleting(out.records);
    return out;
  }

  // --- deliveries ---------------------------------------------------------------------

  async listMessageDestinations(appId: string, msgId: string, q: ListQuery): Promise<Page<MessageDestination>> {
    const plan = planPage('e.id', q);
    const { sql, params } = listMessageDestinations(appId, msgId, plan);
    const rows = this.q(sql).all(...params) as Row[];
    return toPage(rows, plan, (r) => r.id as string, (r) => ({ endpoint: endpointFrom(r, this.sealer), delivery: deliveryFrom(r, 'd_') }));
  }

  async listEndpointMessages(appId: string, endpointId: string, q: ListQuery, filter: DeliveryFilter): Promise<Page<EndpointMessage>> {
    const plan = planPage('m.id', q);
    const { sql, params } = listEndpointMessages(DIALECT, appId, endpointId, plan, filter);
    const rows = this.q(sql).all(...params) as Row[];
    return toPage(rows, plan, (r) => r.id as string, (r) => ({ message: messageFrom(r, this.sealer), delivery: deliveryFrom(r, 'd_') }));
  }

  async endpointStats(appId: string, endpointId: string, since?: number, until?: number): Promise<EndpointStats> {
    const rows = this.q(ENDPOINT_DELIVERY_COUNTS).all(appId, endpointId, since ?? 0, until ?? Number.MAX_SAFE_INTEGER) as Row[];
    return endpointStatsFrom(rows);
  }

  async attemptDurations(appId: string, endpointId: string, since: number, until: number, bucketMs: number): Promise<DurationCount[]> {
    const { sql, params } = durationCounts(appId, endpointId, since, until, bucketMs);
    return (this.q(sql).all(...params) as Row[]).map(durationCountFrom);
  }

  async overview({ since, until, bucketMs, failingLimit, countSince }: OverviewRange): Promise<Overview> {
    const read = ({ sql, params }: { sql: string; params: unknown[] }) => this.q(sql).all(...params) as Row[];
    // One read transaction, so the figures agree with each other.
    return this.db.transaction(() =>
      overviewFrom(
        this.q(BACKLOG).get() as Row,
        read(messagesPerBucket(since, until, bucketMs)),
        read(outcomesPerBucket(since, until, bucketMs)),
        read(failingEndpoints(failingLimit)),
        read(totals(countSince))[0]!,
      ),
    )();
  }

  async backlog(): Promise<Backlog> {
    return backlogFrom(this.q(BACKLOG).get() as Row);
  }

  async queueStats(now: number, topEndpoints: number): Promise<QueueStats> {
    const totals = queueTotals(DIALECT, now);
    const endpoints = queueByEndpoint(now, topEndpoints);
    // One read transaction, so the totals and the endpoints' figures agree.
    return this.db.transaction(() => queueStatsFrom(this.q(totals.sql).get(...totals.params) as Row, this.q(endpoints.sql).all(...endpoints.params) as Row[]))();
  }

  observeCommits(observer: CommitObserver): void {
    this.commits.observer = observer;
  }

  poolUsage(): PoolUsage[] {
    return [];
  }

  async listAppSummaries(q: ListQuery, search: string | null, since: number): Promise<Page<AppSummary>> {
    const plan = planPage('a.id', q);
    const { sql, params } = appSummaries(search, since, plan.condition, plan.param, plan.direction, plan.limit);
    return toPage(this.q(sql).all(...params) as Row[], plan, (r) => r.id as string, appSummaryFrom);
  }

  resend(appId: string, msgId: string, endpointId: string): Promise<void> {
    return this.write(() => {
      const now = Date.now();
      // A manual resend is a new round: attempts restart so the full schedule applies again.
      const changed = this.q(RESEND).run(now, msgId, endpointId).changes;
      if (changed === 0) {
        // A delivery made now takes its place in its key's order now, after those queued.
        const r = this.q(SELECT_RESEND_ORDERING).get(endpointId, appId, msgId) as Row | undefined;
        const orderKey =
          r === undefined || r.payload === null
            ? null
            : deliveryOrderKey(keyReader(this.sealer.open(r.payload as string)), parse(r.ordering, null), r.backfill_id);
        this.q(INSERT_RESENT).run(msgId, endpointId, appId, now, orderKey, now);
      }
    });
  }

  recover(appId: string, endpointId: string, since: number, until: number | null): Promise<number> {
    return this.write(() => {
      const now = Date.now();
      return this.q(RECOVER).run(now, appId, endpointId, since, until ?? Number.MAX_SAFE_INTEGER).changes;
    });
  }

  recoverBatch(appId: string, endpointId: string, since: number, until: number | null, afterId: number, limit: number): Promise<RequeueBatch> {
    return this.write(() => {
      const { sql, params } = recoverBatch(appId, endpointId, since, until, afterId, limit, Date.now());
      return requeueBatchFrom(this.q(sql).all(...params) as Row[], limit);
    });
  }

  bulkReplay(appId: string, endpointId: string, since: number, until: number | null, filter: BulkReplayFilter, afterId: number, limit: number): Promise<RequeueBatch> {
    return this.write(() => {
      const { sql, params } = bulkReplayBatch(DIALECT, appId, endpointId, since, until, filter, afterId, limit, Date.now());
      return requeueBatchFrom(this.q(sql).all(...params) as Row[], limit);
    });
  }

  cancelPending(appId: string, endpointId: string, before: number): Promise<number> {
    return this.write(() => this.q(CANCEL_PENDING).run(appId, endpointId, idFloor('msg', before)).changes);
  }

  retryFailed(appId: string): Promise<number> {
    return this.write(() => {
      // All due at once; claims take equal due times in id order, i.e. oldest first.
      return this.q(RETRY_FAILED).run(Date.now(), appId).changes;
    });
  }

  async appStatus(appId: string): Promise<EndpointStatus[]> {
    const counts = this.q(
      `SELECT endpoint_id, SUM(status IN (${Status.Pending}, ${Status.Sending})) AS processing, SUM(status = ${Status.Fail}) AS failed
       FROM deliveries WHERE app_id = ? AND status IN (${Status.Pending}, ${Status.Fail}, ${Status.Sending}) GROUP BY endpoint_id`,
    ).all(appId) as Row[];
    const byEndpoint = new Map(counts.map((r) => [r.endpoint_id as string, r]));
    const endpoints = this.q('SELECT id FROM endpoints WHERE app_id = ? ORDER BY id').all(appId) as Row[];
    const last = this.q('SELECT created_at, response_status_code FROM attempts WHERE endpoint_id = ? ORDER BY id DESC LIMIT 1');
    return endpoints.map((e) => {
      const c = byEndpoint.get(e.id as string);
      const a = last.get(e.id) as Row | undefined;
      return {
        endpointId: e.id as string,
        processing: (c?.processing as number | undefined) ?? 0,
        failed: (c?.failed as number | undefined) ?? 0,
        lastAttemptAt: (a?.created_at as number | undefined) ?? null,
        lastStatus: (a?.response_status_code as number | undefined) ?? null,
      };
    });
  }

  replayMissing(appId: string, endpointId: string, since: number, until: number | null): Promise<number> {
    return this.write(() => {
      const r = this.q(SELECT_ENDPOINT_FILTERS).get(appId, endpointId) as Row | undefined;
      if (r === undefined) throw new NotFoundError('endpoint', endpointId);
      const ep = { eventTypes: parse<string[] | null>(r.event_types, null), channels: parse<string[] | null>(r.channels, null) };
      const ordering = parse<{ key: string } | null>(r.ordering, null);
      const now = Date.now();
      const candidates = this.q(replayCandidates(ordering !== null)).all(appId, since, until ?? Number.MAX_SAFE_INTEGER, endpointId) as Row[];
      const insert = this.q(
        `INSERT INTO deliveries (msg_id, endpoint_id, app_id, status, next_attempt_at, trigger_type, order_key, created_at) VALUES (?, ?, ?, ${Status.Pending}, ?, ${Trigger.Manual}, ?, ?)`,
      );
      let n = 0;
      for (const m of candidates) {
        if (!endpointMatches(ep, { eventType: m.event_type as string, channels: parse(m.channels, null) })) continue;
        const orderKey = deliveryOrderKey(keyReader(this.sealer.openNullable(m.payload) as string), ordering, m.backfill_id);
        insert.run(m.id, endpointId, appId, now, orderKey, now);
        n++;
      }
      return n;
    });
  }

  // --- attempts -----------------------------------------------------------------------

  async getAttempt(appId: string, msgId: string, attemptId: string): Promise<Attempt | null> {
    const r = this.q(SELECT_ATTEMPT).get(appId, msgId, attemptId) as Row | undefined;
    return r === undefined ? null : attemptFrom(r, this.sealer);
  }

  async listAttempts(appId: string, q: ListQuery, filter: AttemptFilter): Promise<Page<Attempt>> {
    const plan = planPage('a.id', q);
    const { sql, params } = listAttempts(DIALECT, appId, plan, filter);
    const rows = this.q(sql).all(...params) as Row[];
    return toPage(rows, plan, (r) => r.id as string, (r) => attemptFrom(r, this.sealer));
  }

  expungeAttempt(appId: string, msgId: string, attemptId: string): Promise<void> {
    return this.write(() => {
      this.q(EXPUNGE_ATTEMPT).run(appId, msgId, attemptId);
    });
  }

  // --- the queue ----------------------------------------------------------------------

  claim(o: ClaimOptions): Promise<Work[]> {
    return this.writeBookkeeping(() => {
      // First the due (id, endpoint) pairs in order, from the covering index alone, so the
      // cost follows the rows looked at. Full endpoints are left out in SQL (so they cannot
      // starve the rest); partly full ones are capped here, which keeps the index order.
      // New traffic (priority 0) first; bulk re-sends (priority 1) fill what room is left.
      // A delivery with an ordering key is looked at only when it is the head of its key
      // (inTurn); this store has one writer, so what this transaction reads stays true until
      // it commits the leases. Rows without a key pay one look-up of their order_key.
      const full = JSON.stringify(Object.keys(o.allowance).filter((ep) => o.allowance[ep]! <= 0));
      const scan = this.q(
        `SELECT id, endpoint_id, order_key FROM deliveries AS d INDEXED BY deliveries_due
         WHERE status IN (${Status.Pending}, ${Status.Sending}) AND priority = ? AND next_attempt_at <= ? AND endpoint_id NOT IN (SELECT value FROM json_each(?))
           AND ${inTurn('d')}
         ORDER BY next_attempt_at LIMIT ?`,
      );
      const taken = new Map<string, number>();
      // Endpoint and key of each keyed delivery chosen: one per key in a batch. inTurn
      // already admits only heads; this keeps it so whatever the plan.
      const keys = new Set<string>();
      const chosen: number[] = [];
      for (const priority of [0, 1]) {
        // A long run of rows from endpoints already at their allowance ends the scan: the
        // next claim leaves those endpoints out in SQL and reaches what lies beyond.
        let skipped = 0;
        for (const r of scan.iterate(priority, o.now, full, o.now, o.limit) as IterableIterator<Row>) {
          const ep = r.endpoint_id as string;
          const n = taken.get(ep) ?? 0;
          if (n >= (o.allowance[ep] ?? o.perEndpoint)) {
            if (++skipped >= 64) break;
            continue;
          }
          skipped = 0;
          if (r.order_key !== null) {
            const key = `${ep}\u0000${r.order_key as string}`;
            if (keys.has(key)) continue;
            keys.add(key);
          }
          taken.set(ep, n + 1);
          chosen.push(r.id as number);
          if (chosen.length >= o.limit) break;
        }
        if (chosen.length >= o.limit) break;
      }
      if (chosen.length === 0) return [];
      // Then what sending needs, for the chosen rows only.
      const rows = this.q(
        `SELECT d.id AS delivery_id, d.msg_id, d.app_id, d.attempts, d.trigger_type, d.order_key,
                m.event_type, m.payload, m.created_at AS msg_created_at, m.backfill_id, m.backfill_chunk, m.traceparent, m.tracestate, e.disabled, ${WORK_ENDPOINT_COLUMNS}
         FROM json_each(?) j JOIN deliveries d ON d.id = j.value
         JOIN messages m ON m.id = d.msg_id JOIN endpoints e ON e.id = d.endpoint_id
         ORDER BY j.key`,
      ).all(JSON.stringify(chosen)) as Row[];
      const leaseUntil = o.now + o.leaseMs;
      const lease = this.q(`UPDATE deliveries SET status = ${Status.Sending}, lease_owner = ?, next_attempt_at = ? WHERE id = ?`);
      const fail = this.q(`UPDATE deliveries SET status = ${Status.Fail}, lease_owner = NULL, next_attempt_at = NULL WHERE id = ?`);
      const work: Work[] = [];
      for (const r of rows) {
        if (r.disabled === 1 || r.payload === null) {
          // A disabled endpoint's backlog fails now rather than sitting in the queue;
          // recover brings it back once the endpoint is enabled again.
          fail.run(r.delivery_id);
          continue;
        }
        lease.run(o.owner, leaseUntil, r.delivery_id);
        work.push(workFrom(openWorkRow(r, this.sealer), o.now, leaseUntil));
      }
      return work;
    });
  }

  skipOrderHead(appId: string, endpointId: string, orderKey: string, now: number, note: string): Promise<SkipOutcome> {
    return this.write(() => {
      const head = this.q(KEY_HEAD).get(endpointId, orderKey) as Row | undefined;
      if (head === undefined || head.app_id !== appId) return { skipped: null };
      if (head.status === Status.Sending && (head.next_attempt_at as number) > now) return { sending: head.msg_id as string };
      const ep = this.q(SELECT_ENDPOINT_URL).get(endpointId) as Row;
      this.q(SKIP_HEAD).run(head.id);
      this.q(INSERT_SKIP_ATTEMPT).run(...skipAttemptParams(head, endpointId, appId, ep.url, note, now));
      return { skipped: head.msg_id as string };
    });
  }

  renewLeases(owner: string, deliveryIds: number[], until: number): Promise<void> {
    return this.writeBookkeeping(() => {
      this.q(
        `UPDATE deliveries SET next_attempt_at = ? WHERE status = ${Status.Sending} AND lease_owner = ? AND id IN (SELECT value FROM json_each(?))`,
      ).run(until, owner, JSON.stringify(deliveryIds));
    });
  }

  release(owner: string, deliveryIds: number[]): Promise<void> {
    return this.write(() => {
      this.q(
        `UPDATE deliveries SET status = ${Status.Pending}, lease_owner = NULL, next_attempt_at = ?
         WHERE status = ${Status.Sending} AND lease_owner = ? AND id IN (SELECT value FROM json_each(?))`,
      ).run(Date.now(), owner, JSON.stringify(deliveryIds));
    });
  }

  recordAttempts(records: AttemptRecord[], disableAfterMs: number | null = null): Promise<DisabledEndpoint[]> {
    return this.writeBookkeeping(() => {
      const insert = this.q(
        `INSERT INTO attempts (id, msg_id, endpoint_id, app_id, url, status, response_status_code, response, response_duration_ms,
           trigger_type, error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const update = this.q(
        `UPDATE deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_attempt_at = ?, lease_owner = NULL
         WHERE id = ? AND status = ${Status.Sending} AND lease_owner = ?`,
      );
      for (const rec of records) {
        const a = rec.attempt;
        // A delivery no longer held by this attempt's lease was canceled (its message's
        // content erased or expunged meanwhile) or taken over: the attempt is recorded,
        // without the response body, which may echo content that is gone.
        const held = update.run(rec.next, rec.attempts, rec.nextAttemptAt, a.createdAt, rec.deliveryId, rec.owner).changes > 0;
        insert.run(
          a.id ?? newId('atmpt', a.createdAt),
          a.msgId,
          a.endpointId,
          a.appId,
          a.url,
          a.status,
          a.responseStatusCode,
          held ? this.sealer.seal(a.response) : '',
          a.responseDurationMs,
          a.triggerType,
          a.error,
          a.createdAt,
        );
      }
      const outcomes = batchOutcomes(records).map((o) => [o.endpointId, o.okAt, o.failFrom, o.failAt, o.gone ? 1 : 0]);
      // Prepared apart from q(): that clears the routes on every call, and most batches disable nothing.
      this.healthUpdate ??= this.db.prepare(ENDPOINT_HEALTH);
      const disabled = disabledFrom(this.healthUpdate.all(...endpointHealthParams(DIALECT, disableAfterMs, [JSON.stringify(outcomes)])) as Row[]);
      if (disabled.length > 0) this.routes.clear();
      return disabled;
    });
  }

  async nextDueAt(): Promise<number | null> {
    const now = Date.now();
    const r = this.q(NEXT_DUE).get(now, now) as Row;
    return (r.t as number | null) ?? null;
  }

  // --- content links ------------------------------------------------------------------

  // --- backfills ----------------------------------------------------------------------

  createBackfill(appId: string, input: BackfillInput): Promise<Backfill> {
    return this.write(() => {
      const bf = newBackfill(appId, input, Date.now());
      this.q(INSERT_BACKFILL).run(...insertBackfillParams(bf));
      return bf;
    });
  }

  addBackfillRecords(backfillId: string, records: BackfillRecord[]): Promise<void> {
    // Not synced on its own: until completeBackfill's commit, which syncs the log these
    // pages precede, a crash loses only an upload that was never acknowledged.
    return this.writeBookkeeping(() => {
      const insert = this.q('INSERT INTO backfill_records (backfill_id, seq, record) VALUES (?, ?, ?)');
      for (const r of records) insert.run(backfillId, r.seq, this.sealer.seal(r.record));
      this.q(COUNT_BACKFILL_RECORDS).run(records.length, Date.now(), backfillId);
    });
  }

  completeBackfill(appId: string, backfillId: string, chunks: Omit<BackfillChunk, 'msgId'>[], notices: MessageInput[]): Promise<Backfill> {
    return this.write(() => {
      const r = this.q(SELECT_BACKFILL).get(appId, backfillId) as Row | undefined;
      if (r === undefined) throw new NotFoundError('backfill', backfillId);
      if (r.status !== 'receiving') throw new ConflictError(`backfill ${backfillId} is already complete`);
      const now = Date.now();
      const ids = notices.map((n) => this.insertMessage(appId, n, {}, now).message.id);
      const each = r.notify === 'each';
      const insert = this.q('INSERT INTO backfill_chunks (backfill_id, idx, start_date, end_date, records, msg_id) VALUES (?, ?, ?, ?, ?, ?)');
      for (const c of chunks) insert.run(backfillId, c.index, c.startDate, c.endDate, c.records, each ? (ids[c.index] ?? null) : null);
      const msgId = each ? null : (ids[0] ?? null);
      this.q(COMPLETE_BACKFILL).run(chunks.length, msgId, now, backfillId);
      return { ...backfillFrom(r), status: 'complete', chunks: chunks.length, msgId, updatedAt: now };
    });
  }

  deleteBackfill(appId: string, backfillId: string): Promise<void> {
    return this.write(() => {
      const r = this.q(SELECT_BACKFILL_ID).get(appId, backfillId);
      if (r === undefined) throw new NotFoundError('backfill', backfillId);
      this.dropBackfill(backfillId);
    });
  }

  private dropBackfill(backfillId: string): void {
    for (const sql of DROP_BACKFILL) this.q(sql).run(backfillId);
  }

  async getBackfill(appId: string, id: string): Promise<Backfill | null> {
    const r = this.q(SELECT_BACKFILL).get(appId, id) as Row | undefined;
    return r === undefined ? null : backfillFrom(r);
  }

  async listBackfills(appId: string, q: ListQuery): Promise<Page<Backfill>> {
    const plan = planPage('id', q);
    const { sql, params } = listBackfills(appId, plan);
    const rows = this.q(sql).all(...params) as Row[];
    return toPage(rows, plan, (r) => r.id as string, backfillFrom);
  }

  async listBackfillChunks(backfillId: string): Promise<BackfillChunk[]> {
    return (this.q(SELECT_BACKFILL_CHUNKS).all(backfillId) as Row[]).map(backfillChunkFrom);
  }

  async readBackfillRecords(backfillId: string, fromSeq: number, toSeq: number, limit: number): Promise<BackfillRecord[]> {
    const rows = this.q(SELECT_BACKFILL_RECORDS).all(backfillId, fromSeq, toSeq, limit) as BackfillRecord[];
    return rows.map((r) => ({ seq: r.seq, record: this.sealer.open(r.record) }));
  }

  purgeUnfinishedBackfills(olderThan: number): Promise<number> {
    return this.write(() => {
      const ids = this.q(SELECT_STALE_BACKFILLS).all(olderThan) as Row[];
      for (const r of ids) this.dropBackfill(r.id as string);
      return ids.length;
    });
  }

  recordContentFetch(f: ContentFetch, keep: number): Promise<void> {
    // A lost record of a read costs nothing else: no disk sync waited for.
    return this.writeBookkeeping(() => {
      this.q(
        'INSERT INTO content_fetches (app_id, msg_id, endpoint_id, status, remote_addr, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(f.appId, f.msgId, f.endpointId, f.status, f.remoteAddr, f.createdAt);
      // Rows of this message older than its newest `keep`, found through (msg_id, id).
      this.q(
        'DELETE FROM content_fetches WHERE msg_id = ? AND id <= (SELECT id FROM content_fetches WHERE msg_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)',
      ).run(f.msgId, f.msgId, keep);
    });
  }

  async listContentFetches(appId: string, msgId: string, limit: number): Promise<ContentFetch[]> {
    const rows = this.q(SELECT_CONTENT_FETCHES).all(msgId, appId, limit) as Row[];
    return rows.map(contentFetchFrom);
  }

  // --- idempotency --------------------------------------------------------------------

  async getIdempotent(scope: string, key: string): Promise<IdempotentResponse | null> {
    const r = this.idempotentRow(scope, key, KeyIndex.hashOf(scope, key));
    return r === undefined ? null : idempotentFrom(r, this.sealer);
  }

  putIdempotent(scope: string, key: string, v: IdempotentResponse): Promise<void> {
    return this.write(() => {
      const keyHash = KeyIndex.hashOf(scope, key);
      this.writeIdempotent(scope, key, keyHash, v, this.idempotentRow(scope, key, keyHash));
    });
  }

  async purgeIdempotent(olderThan: number): Promise<void> {
    // The oldest records are first in insertion order, so the purge takes them from the
    // head of the table, a batch a commit, until a batch holds none expired (a record
    // taken over in place keeps its early place, and does not stop the purge).
    for (;;) {
      const deleted = await this.write(() => this.q(PURGE_IDEMPOTENT_HEAD).run(PURGE_BATCH, olderThan).changes);
      if (deleted === 0) break;
    }
    this.keys?.drop(olderThan);
  }

  private keyIndex(): KeyIndex {
    if (this.keys === null) {
      const keys = new KeyIndex();
      for (const r of this.q(SELECT_IDEMPOTENT_KEYS).iterate() as IterableIterator<Row>) {
        keys.set((r.key_hash as number | null) ?? KeyIndex.hashOf(r.scope as string, r.key as string), r.id as number, r.created_at as number);
      }
      this.keys = keys;
    }
    return this.keys;
  }

  /** The record of `key` in `scope`, found through the key index and checked against the row. */
  private idempotentRow(scope: string, key: string, keyHash: number): Row | undefined {
    const id = this.keyIndex().get(keyHash);
    if (id === undefined) return undefined;
    const r = this.q(SELECT_IDEMPOTENT_ROW).get(id) as Row | undefined;
    return r !== undefined && r.scope === scope && r.key === key ? r : undefined;
  }

  /** Writes a record, over the key's row (`previous`) when it has one, and indexes it; in a write. */
  private writeIdempotent(scope: string, key: string, keyHash: number, v: IdempotentResponse, previous: Row | undefined): void {
    let id: number;
    if (previous !== undefined) {
      id = previous.id as number;
      this.q(UPDATE_IDEMPOTENT).run(keyHash, ...recordValues(v, this.sealer), id);
    } else {
      id = Number(this.q(INSERT_IDEMPOTENT).run(scope, key, keyHash, ...recordValues(v, this.sealer)).lastInsertRowid);
    }
    // Before the commit: should it roll back, the row read through this entry is another
    // key's or none (found as nothing), or this key's expired one (taken over again).
    this.keyIndex().set(keyHash, id, v.createdAt);
  }

  createPortalToken(token: PortalToken): Promise<void> {
    return this.write(() => {
      this.q(INSERT_PORTAL_TOKEN).run(...portalTokenParams(token));
    });
  }

  async getPortalToken(tokenHash: string): Promise<PortalToken | null> {
    const r = this.q(SELECT_PORTAL_TOKEN).get(tokenHash) as Row | undefined;
    return r === undefined ? null : portalTokenFrom(r);
  }

  expirePortalTokens(appId: string, at: number, sessionIds?: string[]): Promise<number> {
    return this.write(() => this.db.prepare(expirePortalTokensSql(sessionIds)).run(...expirePortalTokensParams(appId, at, sessionIds)).changes);
  }

  expirePortalToken(tokenHash: string, at: number): Promise<void> {
    return this.write(() => {
      this.q(EXPIRE_PORTAL_TOKEN).run(at, tokenHash, at);
    });
  }

  purgePortalTokens(expiredBefore: number): Promise<void> {
    return this.write(() => {
      this.q(PURGE_PORTAL_TOKENS).run(expiredBefore);
    });
  }

  // --- background tasks ---------------------------------------------------------------

  createTask(task: BackgroundTask): Promise<void> {
    return this.write(() => {
      this.q(INSERT_TASK).run(...taskParams(task));
    });
  }

  updateTask(id: string, status: TaskStatus, data: Record<string, unknown>, at: number): Promise<void> {
    return this.write(() => {
      this.q(UPDATE_TASK).run(status, JSON.stringify(data), at, id);
    });
  }

  async getTask(id: string): Promise<BackgroundTask | null> {
    const r = this.q(SELECT_TASK).get(id) as Row | undefined;
    return r === undefined ? null : taskFrom(r);
  }

  async listTasks(q: ListQuery, filter: TaskFilter): Promise<Page<BackgroundTask>> {
    const plan = planPage('id', q);
    const { sql, params } = listTasks(plan, filter);
    return toPage(this.q(sql).all(...params) as Row[], plan, (r) => r.id as string, taskFrom);
  }

  failStaleTasks(olderThan: number, data: Record<string, unknown>, at: number): Promise<number> {
    return this.write(() => this.q(FAIL_STALE_TASKS).run(JSON.stringify(data), at, olderThan).changes);
  }

  purgeFinishedTasks(olderThan: number): Promise<number> {
    return this.write(() => this.q(PURGE_FINISHED_TASKS).run(olderThan).changes);
  }

  // --- API tokens ---------------------------------------------------------------------

  createApiToken(token: ApiToken): Promise<void> {
    return this.write(() => {
      this.q(INSERT_API_TOKEN).run(...apiTokenParams(token));
    });
  }

  async getApiTokenByHash(tokenHash: string): Promise<ApiToken | null> {
    const r = this.q(SELECT_API_TOKEN_BY_HASH).get(tokenHash) as Row | undefined;
    return r === undefined ? null : apiTokenFrom(r);
  }

  async listApiTokens(q: ListQuery): Promise<Page<ApiToken>> {
    const plan = planPage('id', q);
    const { sql, params } = listApiTokens(plan);
    return toPage(this.q(sql).all(...params) as Row[], plan, (r) => r.id as string, apiTokenFrom);
  }

  revokeApiToken(id: string, at: number): Promise<boolean> {
    return this.write(() => {
      this.q(REVOKE_API_TOKEN).run(at, id);
      return this.q(SELECT_API_TOKEN).get(id) !== undefined;
    });
  }

  // --- audit log ----------------------------------------------------------------------

  appendAudit(input: AuditInput): Promise<AuditEntry> {
    // One process holds the file and runs every job of the group commit in turn on this
    // thread: reading the head and inserting after it, in one job, cannot interleave.
    return this.write(() => {
      const head = this.q(SELECT_AUDIT_HEAD).get() as Row | undefined;
      const entry = chainEntry(head === undefined ? null : { id: Number(head.id), hash: head.hash as string }, input);
      this.q(INSERT_AUDIT).run(...auditParams(entry));
      return entry;
    });
  }

  async listAudit(filter: AuditFilter, q: ListQuery): Promise<Page<AuditEntry>> {
    const plan = planPage('id', q);
    const { sql, params } = listAudit(filter, plan);
    return toPage(this.q(sql).all(...params) as Row[], plan, (r) => String(r.id), auditFrom);
  }

  // --- encryption at rest ----------------------------------------------------------------

  rekey(batch: number, progress: (p: RekeyProgress) => void): Promise<void> {
    // Plaintext replaced here would otherwise linger in the pages' free space until reused.
    this.db.pragma('secure_delete = ON');
    return rekeyTables(
      {
        select: async (sql, params) => this.q(sql).all(...params) as Row[],
        update: (statements) => this.write(() => statements.reduce((n, st) => n + this.q(st.sql).run(...st.params).changes, 0)),
        readKeyRecord: async () => ((this.q(SELECT_META).get(KEY_RECORD_META_KEY) as Row | undefined)?.value as string | undefined) ?? null,
        updateKeyRecord: (change) =>
          this.write(() => {
            const r = this.q(SELECT_META).get(KEY_RECORD_META_KEY) as Row | undefined;
            this.q(UPSERT_META).run(KEY_RECORD_META_KEY, change((r?.value as string | undefined) ?? null));
          }),
      },
      this.sealer,
      batch,
      progress,
    );
  }
}
