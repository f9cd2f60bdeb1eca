import type { TraceContext } from '../domain/trace-context.js';
import type { AuditEntry, AuditInput } from '../domain/audit.js';
import type { SendingReads } from './sending.js';
import type { AuditFilter } from './audit.js';
import type { RekeyProgress } from './rekey.js';
import type { AppSummary, Backlog, DurationCount, Overview, OverviewRange, QueueStats } from './insights.js';
import type { ContentDeleted } from './retention.js';
import type {
  Application,
  Attempt,
  BackgroundTask,
  Backfill,
  BackfillChunk,
  BackfillRef,
  Delivery,
  Endpoint,
  EndpointAuth,
  EventType,
  ListQuery,
  Message,
  MessageInput,
  Ordering,
  Page,
  PayloadMode,
  StatusCode,
  TaskStatus,
  TriggerCode,
} from '../domain/types.js';
import type { BulkReplayFilter, RequeueBatch } from './requeue.js';
import type { TaskFilter } from './tasks.js';

export type { BulkReplayFilter, RequeueBatch } from './requeue.js';
export type { TaskFilter } from './tasks.js';

export interface AppInput {
  uid: string | null;
  name: string;
  throttleRate: number | null;
  metadata: Record<string, string>;
}

export type EndpointInput = Omit<
  Endpoint,
  | 'id'
  | 'appId'
  | 'createdAt'
  | 'updatedAt'
  | 'previousSecrets'
  | 'webhookKey'
  | 'payloadMode'
  | 'maxPayloadBytes'
  | 'ordering'
  | 'disabledReason'
  | 'disabledAt'
  | 'auth'
> &
  Partial<Pick<Endpoint, 'payloadMode' | 'maxPayloadBytes'>> & {
    /** Absent: unordered. */
    ordering?: Ordering | null;
  };
/** `auth` changes only the parts given, on the row as it is when written (two changes of different parts do not undo each other). */
export type EndpointFields = Partial<Omit<Endpoint, 'id' | 'appId' | 'createdAt' | 'updatedAt' | 'auth'>> & { auth?: Partial<EndpointAuth> };

export type EventTypeInput = Omit<EventType, 'createdAt' | 'updatedAt'>;

export type { MessageInput } from '../domain/types.js';

export type BackfillInput = Pick<Backfill, 'userId' | 'resource' | 'provider' | 'chunkSize' | 'notify'>;

/** An endpoint that a batch of attempt records disabled. */
export interface DisabledEndpoint {
  endpointId: string;
  appId: string;
  uid: string | null;
  /** Since when every attempt had failed; null when a 410 disabled it at its first failure. */
  failingSince: number | null;
  reason: string;
  disabledAt: number;
}

/** One stored record of a backfill: its place in the upload (0 is the newest) and its exact text. */
export interface BackfillRecord {
  seq: number;
  record: string;
}

export interface MessageFilter {
  channel?: string;
  /** Messages in any one of these channels. */
  channels?: string[];
  tag?: string;
  eventTypes?: string[];
  dataId?: string;
  /** Created strictly before / after these times (ms). */
  before?: number;
  after?: number;
}

export interface AttemptFilter extends MessageFilter {
  msgId?: string;
  endpointId?: string;
  status?: StatusCode;
  /** 0 for no response, otherwise 100, 200 … 500. */
  statusCodeClass?: number;
}

export interface DeliveryFilter extends MessageFilter {
  status?: StatusCode;
}

export interface EndpointMessage {
  message: Message;
  delivery: Delivery;
}

export interface MessageDestination {
  endpoint: Endpoint;
  delivery: Delivery;
}

export interface EndpointStatus {
  endpointId: string;
  processing: number;
  failed: number;
  lastAttemptAt: number | null;
  /** The last attempt's HTTP status, 0 when it got no response. */
  lastStatus: number | null;
}

export interface EndpointStats {
  success: number;
  pending: number;
  sending: number;
  fail: number;
  canceled: number;
}

/** A delivery claimed by a dispatcher, with everything needed to send it. */
export interface Work {
  deliveryId: number;
  msgId: string;
  appId: string;
  endpointId: string;
  eventType: string;
  url: string;
  headers: Record<string, string>;
  /** Secrets to sign with: the current one first, then any still in their grace period. */
  secrets: string[];
  payload: string;
  /** When the message was created (ms). */
  msgCreatedAt: number;
  payloadMode: PayloadMode;
  maxPayloadBytes: number | null;
  /** Attempts already made in this round. */
  attempts: number;
  /** The endpoint's limit in messages per second, if any. */
  throttleRate: number | null;
  trigger: TriggerCode;
  /** The ordering key this delivery went out under (it was the head of its key); null when unordered. */
  orderKey: string | null;
  /** For a backfill's notification, what its content link leads to; the link is added when sent. */
  backfill: BackfillRef | null;
  /** The lease expiry written when claimed. */
  leaseUntil: number;
  /** OAuth, client certificate or server CA of the endpoint; null when it has none of them. */
  auth: EndpointAuth | null;
  /** The message's trace context, sent on with each attempt; null: none. */
  trace: TraceContext | null;
}

export interface ClaimOptions {
  now: number;
  owner: string;
  leaseMs: number;
  /** Most deliveries in this claim, and most rows looked at. */
  limit: number;
  /** Most deliveries of one endpoint in this claim, for endpoints not in `allowance`. */
  perEndpoint: number;
  /** Per-endpoint limits that differ from `perEndpoint`; 0 excludes an endpoint. */
  allowance: Record<string, number>;
  /**
   * Stores shared by several processes: most deliveries of one endpoint leased at once
   * over all of them, this claim's included. Ignored where one process owns the store.
   */
  endpointLimit?: number;
  /** Called for each endpoint this claim took less of than was due, because of `endpointLimit`. */
  onCapped?: (endpointId: string) => void;
}

/**
 * Lets the writer of a new message hand its deliveries straight to a local dispatcher,
 * leased in the same commit, so fresh work needs no separate claim.
 */
export interface LeaseOffer {
  owner: string;
  leaseMs: number;
  /** Whether the dispatcher takes a delivery to this endpoint now. */
  take(endpointId: string): boolean;
}

export interface AttemptRecord {
  deliveryId: number;
  owner: string;
  /** Without an id, the store gives it one. */
  attempt: Omit<Attempt, 'id'> & { id?: string };
  /** What the delivery becomes: Success, Pending (retry at nextAttemptAt) or Fail. */
  next: StatusCode;
  nextAttemptAt: number | null;
  attempts: number;
  disableEndpoint: boolean;
}

/** One request for a message's content through a content link, allowed or not. */
export interface ContentFetch {
  appId: string;
  msgId: string;
  /** The endpoint the link was made for; null when the token could not be read. */
  endpointId: string | null;
  /** What was answered: 200, or 401 for a bad or expired token. */
  status: number;
  remoteAddr: string | null;
  createdAt: number;
}

/**
 * What skipping the head of an ordering key did: the message whose delivery was failed, or
 * null when nothing of that key was waiting; or, when the head is being sent at this moment
 * (its lease is live), nothing, naming that message.
 */
export type SkipOutcome = { skipped: string | null } | { sending: string };

/** A bearer scoped to one application (the app portal's); only its SHA-256 is kept. */
export interface PortalToken {
  /** SHA-256 of the token, hex. */
  tokenHash: string;
  appId: string;
  capabilities: string[];
  featureFlags: string[];
  sessionId: string | null;
  createdAt: number;
  expiresAt: number;
}

/** A bearer of the management API made by the admin token; only its SHA-256 is kept. */
export interface ApiToken {
  /** `tok_…`: how the audit log and the API name it. */
  id: string;
  name: string;
  /** SHA-256 of the token, hex. */
  tokenHash: string;
  /** The applications (ids) it may reach; null: every one, and creating new ones. */
  appIds: string[] | null;
  /** Only GET (and HEAD) requests. */
  readOnly: boolean;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

export type { AuditFilter } from './audit.js';
export type { QueueStats, EndpointQueue } from './insights.js';
/** A message that still holds its payload, as erasure's scan reads it. */
export interface StoredPayload {
  id: string;
  eventType: string;
  payload: string;
  dataId: string | null;
}

export type { ContentDeleted } from './retention.js';

export interface IdempotentResponse {
  bodyHash: string;
  statusCode: number;
  /**
   * The answer's body; null for the answer that created message `msgId` with its content,
   * which is that message rendered as it is now (see ReplayRecord): its payload is not kept
   * twice, and an answer replayed after the payload was deleted echoes none.
   */
  body: string | null;
  createdAt: number;
  /** The message whose creation this answered. */
  msgId?: string | null;
}

/**
 * createMessage's refusal when its request's idempotency-key already holds a live answer
 * (a store with `repeatsFoundInCommit`): nothing of the message was written.
 */
export class RepeatedRequest extends Error {
  constructor(readonly previous: IdempotentResponse) {
    super('this idempotency-key already holds an answer');
  }
}

/**
 * The answer to keep for repeats of the request that creates a message, written in the
 * message's own commit (createMessage's `replay`): durable with it, and no second write
 * for the client to wait for. `body` renders the answer from the message as stored.
 */
export interface ReplayRecord {
  scope: string;
  key: string;
  bodyHash: string;
  statusCode: number;
  /** The answer's body, or null when it is the message rendered with its content. */
  body: (message: Message) => string | null;
  /** Records created at or before this time (ms) are expired: the key is free again. */
  expiredAt: number;
}

/**
 * Everything Hookwell keeps. Implementations hold no business rules: what to retry and
 * when is decided in delivery/, what is valid in api/ and domain/.
 */
export interface Store {
  /**
   * Whether the server should offer createMessage a lease (see LeaseOffer). A store shared
   * by several processes says no: its claims enforce limits across them, offers cannot.
   */
  readonly leasesOnCreate: boolean;
  /**
   * Whether createMessage finds a live record under its `replay`'s key itself, in its
   * commit, and throws RepeatedRequest: the caller need not look the key up first. A store
   * used by this process alone (SQLite) can; a shared one looks first, as for other routes.
   */
  readonly repeatsFoundInCommit: boolean;
  /** The reads behind Svix's counting and statistics operations (see sending.ts). */
  readonly sending: SendingReads;
  close(): Promise<void>;
  /** Throws UnavailableError while the database cannot do its work (for GET /health). */
  checkHealth(): Promise<void>;
  /** The schema version the database is at, and the newest this code knows (for readiness). */
  schemaVersion(): Promise<{ version: number; latest: number }>;

  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;
  /** Stores `value` under `key` unless a value is there already; returns the stored one (first writer wins). */
  ensureMeta(key: string, value: string): Promise<string>;

  createApp(input: AppInput): Promise<Application>;
  getApp(ref: string): Promise<Application | null>;
  listApps(q: ListQuery, filter?: AppListFilter): Promise<Page<Application>>;
  updateApp(id: string, fields: Partial<AppInput>): Promise<Application>;
  deleteApp(id: string): Promise<void>;

  createEndpoint(appId: string, input: EndpointInput): Promise<Endpoint>;
  getEndpoint(appId: string, ref: string): Promise<Endpoint | null>;
  listEndpoints(appId: string, q: ListQuery): Promise<Page<Endpoint>>;
  updateEndpoint(appId: string, id: string, fields: EndpointFields): Promise<Endpoint>;
  deleteEndpoint(appId: string, id: string): Promise<void>;

  createEventType(input: EventTypeInput): Promise<EventType>;
  getEventType(name: string): Promise<EventType | null>;
  listEventTypes(q: ListQuery, includeArchived: boolean): Promise<Page<EventType>>;
  updateEventType(name: string, fields: Partial<EventTypeInput>): Promise<EventType>;
  deleteEventType(name: string): Promise<void>;
  /** The event type's own retry schedule (seconds between attempts); null when it follows the server's, undefined when there is no such type. */
  getRetrySchedule(name: string): Promise<number[] | null | undefined>;
  /** Sets (null: clears) the event type's retry schedule; false when there is no such type. */
  setRetrySchedule(name: string, schedule: number[] | null): Promise<boolean>;

  /**
   * Stores the message and one pending delivery per matching, enabled endpoint (or only
   * `onlyEndpointId`), in one durable commit. With `replay`, the idempotency record of the
   * request goes into that commit too (as putIdempotent would write it, with the message's id);
   * with `repeatsFoundInCommit`, a live record already under its key is thrown as RepeatedRequest.
   */
  createMessage(
    appId: string,
    input: MessageInput,
    options?: { onlyEndpointId?: string; lease?: LeaseOffer; replay?: ReplayRecord },
  ): Promise<{ message: Message; deliveries: number; leased: Work[] }>;
  getMessage(appId: string, ref: string): Promise<Message | null>;
  /** With `status`: only messages with at least one delivery in that status. */
  listMessages(appId: string, q: ListQuery, filter: DeliveryFilter): Promise<Page<Message>>;
  /** Deletes the message's content at once (as deleteContent). */
  expungeMessage(appId: string, msgId: string): Promise<void>;
  /**
   * In one commit, deletes the content of these messages of the application: payloads,
   * their attempts' response bodies, and the records of the backfills they are notifications
   * of. Their deliveries not yet made are canceled. Ids of other applications are untouched.
   */
  deleteContent(appId: string, msgIds: string[]): Promise<ContentDeleted>;
  /**
   * Deletes the content (as deleteContent) of at most `limit` messages whose payload expired
   * by `now`, in one commit; their deliveries not yet made fail, each with an attempt saying
   * why. Messages with a delivery being sent wait for a later call.
   */
  purgeExpiredContent(now: number, limit: number): Promise<ContentDeleted>;
  /** The application's messages that still hold a payload, in id order after `afterId` ('' for the first). */
  scanPayloads(appId: string, afterId: string, limit: number): Promise<StoredPayload[]>;
  /** The ids of the application's messages with this dataId that still hold a payload. */
  messagesWithDataId(appId: string, dataId: string): Promise<string[]>;
  /**
   * Deletes the records of the application's backfills of this user, in one commit.
   * Answers those backfills' ids, how many records went, and the ids of their
   * notifications that still hold a payload (for deleteContent).
   */
  deleteUserBackfillRecords(appId: string, userId: string): Promise<{ backfills: string[]; records: number; messages: string[] }>;

  listMessageDestinations(appId: string, msgId: string, q: ListQuery): Promise<Page<MessageDestination>>;
  listEndpointMessages(appId: string, endpointId: string, q: ListQuery, filter: DeliveryFilter): Promise<Page<EndpointMessage>>;
  endpointStats(appId: string, endpointId: string, since?: number, until?: number): Promise<EndpointStats>;
  /** The endpoint's successful and failed attempts in [since, until), per bucket of `bucketMs` from `since` and duration. */
  attemptDurations(appId: string, endpointId: string, since: number, until: number, bucketMs: number): Promise<DurationCount[]>;
  /** Over all applications: the queue, messages and attempt outcomes per bucket in [since, until), failing endpoints, totals. */
  overview(range: OverviewRange): Promise<Overview>;
  /** The queue alone, as overview reads it: cheap enough to sample every minute. */
  backlog(): Promise<Backlog>;
  /** The queue's totals at `now`, and the `topEndpoints` endpoints with the most due deliveries (for /metrics). */
  queueStats(now: number, topEndpoints: number): Promise<QueueStats>;
  /** Tells `observer` of each commit of the batched writes from now on (SQLite's group commit, PostgreSQL's message batches). */
  observeCommits(observer: CommitObserver): void;
  /** The connection pools' use at this moment; none for SQLite, which has one connection. */
  poolUsage(): PoolUsage[];
  /** Applications whose name or uid holds `search` (any case), with their counts; messages counted from `since`. */
  listAppSummaries(q: ListQuery, search: string | null, since: number): Promise<Page<AppSummary>>;

  /** Queues one manual attempt of the message to the endpoint, creating the delivery if needed. */
  resend(appId: string, msgId: string, endpointId: string): Promise<void>;
  /** Re-queues the endpoint's failed deliveries of messages created in [since, until), behind new traffic. */
  recover(appId: string, endpointId: string, since: number, until: number | null): Promise<number>;
  /** Re-queues every failed delivery of the application, oldest first, behind new traffic. */
  retryFailed(appId: string): Promise<number>;
  /** Per endpoint: deliveries not finished, deliveries failed, and the last attempt. */
  appStatus(appId: string): Promise<EndpointStatus[]>;
  /** Creates deliveries for messages in [since, until) that match the endpoint but never had one. */
  replayMissing(appId: string, endpointId: string, since: number, until: number | null): Promise<number>;
  /** recover, at most `limit` deliveries with ids after `afterId`, in one commit. */
  recoverBatch(appId: string, endpointId: string, since: number, until: number | null, afterId: number, limit: number): Promise<RequeueBatch>;
  /**
   * Re-queues, behind new traffic, at most `limit` of the endpoint's finished (sent or failed)
   * deliveries with ids after `afterId`, of messages in [since, until) that still hold content.
   */
  bulkReplay(appId: string, endpointId: string, since: number, until: number | null, filter: BulkReplayFilter, afterId: number, limit: number): Promise<RequeueBatch>;
  /** Cancels the endpoint's pending deliveries of messages created before `before` (ms); how many. */
  cancelPending(appId: string, endpointId: string, before: number): Promise<number>;

  createTask(task: BackgroundTask): Promise<void>;
  /** Records a running task's progress or end; a task no longer running is left as it is. */
  updateTask(id: string, status: TaskStatus, data: Record<string, unknown>, at: number): Promise<void>;
  getTask(id: string): Promise<BackgroundTask | null>;
  listTasks(q: ListQuery, filter: TaskFilter): Promise<Page<BackgroundTask>>;
  /** Fails running tasks not updated since `olderThan`, recording `data`; how many. */
  failStaleTasks(olderThan: number, data: Record<string, unknown>, at: number): Promise<number>;
  /** Deletes finished tasks last updated before `olderThan`; how many. */
  purgeFinishedTasks(olderThan: number): Promise<number>;

  getAttempt(appId: string, msgId: string, attemptId: string): Promise<Attempt | null>;
  listAttempts(appId: string, q: ListQuery, filter: AttemptFilter): Promise<Page<Attempt>>;
  expungeAttempt(appId: string, msgId: string, attemptId: string): Promise<void>;

  /**
   * Fails the head of an ordering key (its earliest unfinished delivery to the endpoint),
   * recording an attempt whose response is `note`, so the key's later deliveries can go.
   */
  skipOrderHead(appId: string, endpointId: string, orderKey: string, now: number, note: string): Promise<SkipOutcome>;

  /**
   * Leases due deliveries. A delivery with an ordering key is leased only while it is the
   * head of its key (no earlier delivery of its endpoint and key is pending or sending) and
   * no other delivery of that key holds a live lease; so at most one per key per claim.
   */
  claim(opts: ClaimOptions): Promise<Work[]>;
  renewLeases(owner: string, deliveryIds: number[], until: number): Promise<void>;
  /** Gives claimed but unstarted deliveries back, due at once. */
  release(owner: string, deliveryIds: number[]): Promise<void>;
  /**
   * Records attempts and keeps each endpoint's failing-since time: set at its first failure
   * after a success, cleared by a success. Disables, and returns, the endpoints that answered
   * 410 or whose attempts have all failed for `disableAfterMs` (null: never for that).
   */
  recordAttempts(records: AttemptRecord[], disableAfterMs?: number | null): Promise<DisabledEndpoint[]>;
  /**
   * When the earliest pending delivery falls due, or null when none waits. Deliveries held
   * back behind the head of their ordering key do not count: they move when the head does.
   */
  nextDueAt(): Promise<number | null>;

  /** Starts a backfill, "receiving" until completeBackfill. */
  createBackfill(appId: string, input: BackfillInput): Promise<Backfill>;
  /** Stores records of a receiving backfill. Not durable by itself: completeBackfill's commit is. */
  addBackfillRecords(backfillId: string, records: BackfillRecord[]): Promise<void>;
  /**
   * In one durable commit: records the chunks, creates the notifications (their
   * deliveries queued in the order given) and marks the backfill complete. With
   * notify "each", notices[i] is chunk i's notification; with "once", notices[0] is the
   * only one. Refused (ConflictError) unless the backfill is receiving.
   */
  completeBackfill(appId: string, backfillId: string, chunks: Omit<BackfillChunk, 'msgId'>[], notices: MessageInput[]): Promise<Backfill>;
  /** Removes a backfill, its chunks and its records; its notifications stay, their links then lead nowhere. */
  deleteBackfill(appId: string, backfillId: string): Promise<void>;
  getBackfill(appId: string, id: string): Promise<Backfill | null>;
  listBackfills(appId: string, q: ListQuery): Promise<Page<Backfill>>;
  listBackfillChunks(backfillId: string): Promise<BackfillChunk[]>;
  /** Records with fromSeq <= seq < toSeq, in order, at most `limit`. */
  readBackfillRecords(backfillId: string, fromSeq: number, toSeq: number, limit: number): Promise<BackfillRecord[]>;
  /** Removes backfills still receiving that have not moved since `olderThan` (uploads cut off by a crash). */
  purgeUnfinishedBackfills(olderThan: number): Promise<number>;

  /** Records a fetch and keeps only the newest `keep` of its message, so the record cannot be grown without bound. */
  recordContentFetch(fetch: ContentFetch, keep: number): Promise<void>;
  /** A message's content fetches, newest first. */
  listContentFetches(appId: string, msgId: string, limit: number): Promise<ContentFetch[]>;

  getIdempotent(scope: string, key: string): Promise<IdempotentResponse | null>;
  /** Stores the response, replacing an expired one under the same key. */
  putIdempotent(scope: string, key: string, value: IdempotentResponse): Promise<void>;
  purgeIdempotent(olderThan: number): Promise<void>;

  createPortalToken(token: PortalToken): Promise<void>;
  getPortalToken(tokenHash: string): Promise<PortalToken | null>;
  /** Sets the expiry of an application's live tokens (of those sessions, when given) to `at`; returns how many. */
  expirePortalTokens(appId: string, at: number, sessionIds?: string[]): Promise<number>;
  /** Ends one token now (logout). */
  expirePortalToken(tokenHash: string, at: number): Promise<void>;
  purgePortalTokens(expiredBefore: number): Promise<void>;

  createApiToken(token: ApiToken): Promise<void>;
  getApiTokenByHash(tokenHash: string): Promise<ApiToken | null>;
  listApiTokens(q: ListQuery): Promise<Page<ApiToken>>;
  /** Revokes it from `at`; false when there is no such token. A revoked one stays revoked. */
  revokeApiToken(id: string, at: number): Promise<boolean>;

  /**
   * Appends an entry to the audit log, chained to the last one (see domain/audit.ts).
   * Appends from concurrent callers, and on PostgreSQL from other processes, are made one
   * after another, so the chain stays one line. Durable before it resolves.
   */
  appendAudit(input: AuditInput): Promise<AuditEntry>;
  /** A page of the audit log by id (ascending by default), filtered. */
  listAudit(filter: AuditFilter, q: ListQuery): Promise<Page<AuditEntry>>;
  /** Seals every encrypted column under the ring's first key, `batch` rows a transaction (see rekeyTables). */
  rekey(batch: number, progress: (p: RekeyProgress) => void): Promise<void>;
}

/** Told of each batched commit: how long it took and how many writes it held. */
export interface CommitObserver {
  committed(seconds: number, writes: number): void;
  /** SQLite: a sync of the write-ahead log made (one sync may cover several commits). */
  synced(seconds: number): void;
}

export interface PoolUsage {
  pool: string;
  /** Callers waiting for a connection. */
  waiting: number;
  total: number;
  idle: number;
}

/** Svix's `exclude_apps_with_*` filters on the application list. */
export interface AppListFilter {
  /** Leave out applications without endpoints. */
  noEndpoints?: boolean;
  /** Leave out applications whose endpoints are all disabled. */
  disabledEndpoints?: boolean;
  /** Leave out applications whose endpoints all send to Svix Play (SVIX_PLAY_URL_PREFIX). */
  svixPlayEndpoints?: boolean;
}
