// Records as the store keeps them; times are epoch milliseconds.
import type { TraceContext } from './trace-context.js';

export interface Application {
  id: string;
  uid: string | null;
  name: string;
  throttleRate: number | null;
  metadata: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

export interface SecretVersion {
  key: string;
  /** When the secret stops being used to sign; null for the current one. */
  expiresAt: number | null;
}

export interface Endpoint {
  id: string;
  appId: string;
  uid: string | null;
  url: string;
  description: string;
  version: number;
  disabled: boolean;
  /** Why the endpoint is disabled (by Hookwell after failing, by a 410, or through the API); null while enabled. */
  disabledReason: string | null;
  /** When it was disabled (ms); null while enabled. */
  disabledAt: number | null;
  eventTypes: string[] | null;
  channels: string[] | null;
  throttleRate: number | null;
  metadata: Record<string, string>;
  headers: Record<string, string>;
  secret: string;
  previousSecrets: SecretVersion[];
  /** The last ping/pong check of the URL. */
  ping: PingResult | null;
  /** A shared key sent in `header` with every delivery. */
  webhookKey: { header: string; key: string } | null;
  /** thin: deliveries carry identifiers and a link to the content instead of the payload. */
  payloadMode: PayloadMode;
  /** Payloads larger than this are sent thin even in full mode; null for no limit. */
  maxPayloadBytes: number | null;
  /** Deliveries with the same value at `key` (a JSON path into the payload) go one at a time, in order. */
  ordering: Ordering | null;
  /** How deliveries authenticate to the endpoint beyond the signature: OAuth, a client certificate, a server CA. */
  auth: EndpointAuth;
  createdAt: number;
  updatedAt: number;
}

/**
 * OAuth 2 client credentials (RFC 6749, 4.4): a token is fetched from `tokenUrl` and sent as
 * `Authorization: Bearer …` with each delivery. The secret is kept sealed and never shown.
 */
export interface EndpointOauth {
  grantType: 'clientCredentials';
  authMethod: 'clientSecretBasic' | 'clientSecretPost';
  clientId: string;
  clientSecret: string;
  tokenUrl: string;
  scopes: string[] | null;
  extraParams: Record<string, string> | null;
  extraHeaders: Record<string, string> | null;
}

export interface EndpointAuth {
  oauth: EndpointOauth | null;
  /** PEM: the private key and certificate (chain) presented to the endpoint (mTLS); kept sealed. */
  mtlsIdentity: string | null;
  /** PEM: the certificate(s) the endpoint's server certificate must chain to, in place of the public roots. */
  serverCa: string | null;
}

export const NO_ENDPOINT_AUTH: EndpointAuth = Object.freeze({ oauth: null, mtlsIdentity: null, serverCa: null });

export type PayloadMode = 'full' | 'thin';
export interface Ordering {
  /** A simple JSON path into the payload, as `$.data.user_id` or `$.items[0].id`. */
  key: string;
}

export interface PingResult {
  ok: boolean;
  /** What happened, in words: "pong received", or why not. */
  detail: string;
  at: number;
}

export interface EventType {
  name: string;
  description: string;
  archived: boolean;
  deprecated: boolean;
  schemas: Record<string, unknown> | null;
  featureFlags: string[] | null;
  groupName: string | null;
  /** Messages of this type must match its newest schema (a Hookwell extension of Svix's event type). */
  validate: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface Message {
  id: string;
  appId: string;
  eventId: string | null;
  eventType: string;
  /** The payload exactly as the caller sent it; null once expunged. */
  payload: string | null;
  channels: string[] | null;
  tags: string[] | null;
  /** The stable id of the record the message is about (a workout, a meal log), if given. */
  dataId: string | null;
  /**
   * For a backfill's notification: the records its content link leads to, those of one
   * chunk or (chunk null) of the whole backfill. Null for every other message.
   */
  backfill: BackfillRef | null;
  /** The trace context it was created under (see domain/trace-context.ts); null: none. */
  trace: TraceContext | null;
  /** When its payload, its attempts' response bodies and its backfill's records are deleted (ms); null: kept. */
  payloadExpiresAt: number | null;
  /** The time the caller asked it be sent at (ms), as given; null when sent on creation. */
  deliverAt: number | null;
  createdAt: number;
}

export interface MessageInput {
  eventId: string | null;
  eventType: string;
  /** Raw JSON text of the payload, exactly as received. */
  payload: string;
  channels: string[] | null;
  tags: string[] | null;
  /** First attempt not before this time (ms); null for now. */
  deliverAt: number | null;
  /** The stable id of the record the message is about, for finding its messages again. */
  dataId?: string | null;
  /**
   * A backfill's notification. Its deliveries to an endpoint that orders by a key take
   * that key (from the payload) and otherwise the backfill's own, so each endpoint gets a
   * backfill's notifications one at a time, in the order they were made.
   */
  backfill?: BackfillRef | null;
  /** How long its content is kept from its creation (ms); absent or null: kept until erased. */
  retentionMs?: number | null;
  /** The trace context it was created under, sent on with its deliveries; absent or null: none. */
  trace?: TraceContext | null;
}

export interface BackfillRef {
  id: string;
  chunk: number | null;
}

/** A user's history of one resource from one provider, uploaded at once, kept in chunks. */
export interface Backfill {
  id: string;
  appId: string;
  userId: string;
  resource: string;
  provider: string;
  chunkSize: number;
  /** "each": one notification per chunk; "once": one after the last chunk. */
  notify: 'each' | 'once';
  /** "receiving" while the records are being uploaded; "complete" once stored and notified. */
  status: 'receiving' | 'complete';
  records: number;
  chunks: number;
  /** The single notification of a backfill that notifies once, when made. */
  msgId: string | null;
  createdAt: number;
  updatedAt: number;
}

/** One chunk of a backfill: records [index * chunkSize, …), newest first. */
export interface BackfillChunk {
  index: number;
  /** The dates of the chunk's newest and oldest records (ms). */
  startDate: number;
  endDate: number;
  records: number;
  /** Its notification; null when the backfill notifies once. */
  msgId: string | null;
}

/** Delivery status, numbered as the Svix API numbers MessageStatus. */
export const Status = { Success: 0, Pending: 1, Fail: 2, Sending: 3, Canceled: 4 } as const;
export type StatusCode = (typeof Status)[keyof typeof Status];
export const STATUS_TEXT = ['success', 'pending', 'fail', 'sending', 'canceled'] as const;

export const Trigger = { Scheduled: 0, Manual: 1 } as const;
export type TriggerCode = (typeof Trigger)[keyof typeof Trigger];

export interface Delivery {
  id: number;
  msgId: string;
  endpointId: string;
  appId: string;
  status: StatusCode;
  /** Attempts made in the current round; a manual resend starts a new round. */
  attempts: number;
  nextAttemptAt: number | null;
  lastAttemptAt: number | null;
  trigger: TriggerCode;
  /** The ordering key this delivery waits its turn under; null when unordered. */
  orderKey: string | null;
  createdAt: number;
}

export interface Attempt {
  id: string;
  msgId: string;
  endpointId: string;
  appId: string;
  url: string;
  status: StatusCode;
  responseStatusCode: number;
  response: string;
  responseDurationMs: number;
  triggerType: TriggerCode;
  error: string | null;
  createdAt: number;
}

export interface Page<T> {
  data: T[];
  iterator: string | null;
  prevIterator: string | null;
  done: boolean;
}

export interface ListQuery {
  limit: number;
  iterator: string | null;
  order: 'ascending' | 'descending';
}

/** Svix's BackgroundTaskType: what a background task does. */
export const TASK_KINDS = ['endpoint.replay', 'endpoint.recover', 'endpoint.bulk-replay', 'application.purge_content', 'application.stats', 'event-type.aggregate', 'sdk.generate'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];
export const TASK_STATUSES = ['running', 'finished', 'failed'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** A bulk operation done after its request was answered (Svix's QueueBackgroundTask). */
export interface BackgroundTask {
  /** `qtask_…` */
  id: string;
  /** The application it works on. */
  appId: string | null;
  task: TaskKind;
  status: TaskStatus;
  /** What it did so far (e.g. messagesSent), and `error` once failed. */
  data: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}
