// Rows to records (and a new message to its row), shared by the SQLite and PostgreSQL
// stores: both name their columns alike and keep JSON as text, so only how a flag reads
// differs (1 or true).
import { Trigger, type Application, type Attempt, type Backfill, type BackfillChunk, type BackfillRef, type Delivery, type Endpoint, type EndpointAuth, type EndpointOauth, NO_ENDPOINT_AUTH, type EventType, type Message, type SecretVersion, type StatusCode, type TriggerCode } from '../domain/types.js';
import { signingSecrets } from '../domain/signing.js';
import type { ContentFetch, MessageInput, StoredPayload, Work } from './store.js';
import { newIdAt } from '../domain/ids.js';
import { ConflictError } from '../domain/errors.js';
import type { Sealer } from '../domain/sealing.js';
import type { TraceContext } from '../domain/trace-context.js';

export const flag = (v: unknown): boolean => v === 1 || v === true;

export type Row = Record<string, unknown>;

export const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));
export const parse = <T>(v: unknown, fallback: T): T => (typeof v === 'string' ? (JSON.parse(v) as T) : fallback);

export function appFrom(r: Row): Application {
  return {
    id: r.id as string,
    uid: (r.uid as string | null) ?? null,
    name: r.name as string,
    throttleRate: (r.throttle_rate as number | null) ?? null,
    metadata: parse(r.metadata, {}),
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
  };
}

/** The endpoint columns sealed at rest (see Sealer), as endpointFrom and workFrom read them. */
const SEALED_ENDPOINT_COLUMNS = ['secret', 'previous_secrets', 'headers', 'key_value', 'oauth', 'mtls_identity'] as const;

/**
 * A copy of an endpoint row (or a row holding its WORK_ENDPOINT_COLUMNS) with its sealed
 * columns opened. They are read again with every delivery claimed for the endpoint, so each
 * is opened once and kept (Sealer.openShared).
 */
export function openEndpointColumns(r: Row, s: Sealer): Row {
  const out = { ...r };
  for (const c of SEALED_ENDPOINT_COLUMNS) if (c in out) out[c] = s.openShared(out[c]);
  return out;
}

/** A claimed delivery's row with its payload and endpoint columns opened, for workFrom. */
export function openWorkRow(r: Row, s: Sealer): Row {
  const out = openEndpointColumns(r, s);
  out.payload = s.openNullable(out.payload);
  return out;
}

export function endpointFrom(sealed: Row, s: Sealer): Endpoint {
  const r = openEndpointColumns(sealed, s);
  return {
    id: r.id as string,
    appId: r.app_id as string,
    uid: (r.uid as string | null) ?? null,
    url: r.url as string,
    description: r.description as string,
    version: r.version as number,
    disabled: flag(r.disabled),
    disabledReason: (r.disabled_reason as string | null | undefined) ?? null,
    disabledAt: (r.disabled_at as number | null | undefined) ?? null,
    eventTypes: parse(r.event_types, null),
    channels: parse(r.channels, null),
    throttleRate: (r.throttle_rate as number | null) ?? null,
    metadata: parse(r.metadata, {}),
    headers: parse(r.headers, {}),
    secret: r.secret as string,
    previousSecrets: parse(r.previous_secrets, []),
    ping: r.ping_at === null || r.ping_at === undefined ? null : { ok: flag(r.ping_ok), detail: r.ping_detail as string, at: r.ping_at as number },
    webhookKey: typeof r.key_header === 'string' ? { header: r.key_header, key: r.key_value as string } : null,
    payloadMode: r.payload_mode === 'thin' ? 'thin' : 'full',
    maxPayloadBytes: (r.max_payload_bytes as number | null) ?? null,
    ordering: parse(r.ordering, null),
    auth: endpointAuthFrom(r) ?? NO_ENDPOINT_AUTH,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
  };
}

/** An opened row's authentication columns, or null when it has none set. */
function endpointAuthFrom(r: Row): EndpointAuth | null {
  const oauth = typeof r.oauth === 'string' ? (JSON.parse(r.oauth) as EndpointOauth) : null;
  const mtlsIdentity = (r.mtls_identity as string | null | undefined) ?? null;
  const serverCa = (r.server_ca as string | null | undefined) ?? null;
  return oauth === null && mtlsIdentity === null && serverCa === null ? null : { oauth, mtlsIdentity, serverCa };
}

export function contentFetchFrom(r: Row): ContentFetch {
  return {
    appId: r.app_id as string,
    msgId: r.msg_id as string,
    endpointId: (r.endpoint_id as string | null) ?? null,
    status: r.status as number,
    remoteAddr: (r.remote_addr as string | null) ?? null,
    createdAt: r.created_at as number,
  };
}

export function eventTypeFrom(r: Row): EventType {
  return {
    name: r.name as string,
    description: r.description as string,
    archived: flag(r.archived),
    deprecated: flag(r.deprecated),
    schemas: parse(r.schemas, null),
    featureFlags: parse(r.feature_flags, null),
    groupName: (r.group_name as string | null) ?? null,
    validate: flag(r.validate),
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
  };
}

export function messageFrom(r: Row, s: Sealer, prefix = ''): Message {
  return {
    id: r[`${prefix}id`] as string,
    appId: r[`${prefix}app_id`] as string,
    eventId: (r[`${prefix}event_id`] as string | null) ?? null,
    eventType: r[`${prefix}event_type`] as string,
    payload: (s.openNullable(r[`${prefix}payload`]) as string | null) ?? null,
    channels: parse(r[`${prefix}channels`], null),
    tags: parse(r[`${prefix}tags`], null),
    dataId: (r[`${prefix}data_id`] as string | null | undefined) ?? null,
    backfill: backfillRefFrom(r[`${prefix}backfill_id`], r[`${prefix}backfill_chunk`]),
    trace: traceFrom(r[`${prefix}traceparent`], r[`${prefix}tracestate`]),
    payloadExpiresAt: r[`${prefix}payload_expires_at`] === null || r[`${prefix}payload_expires_at`] === undefined ? null : Number(r[`${prefix}payload_expires_at`]),
    deliverAt: r[`${prefix}deliver_at`] === null || r[`${prefix}deliver_at`] === undefined ? null : Number(r[`${prefix}deliver_at`]),
    createdAt: r[`${prefix}created_at`] as number,
  };
}

export function storedPayloadFrom(r: Row, s: Sealer): StoredPayload {
  return { id: r.id as string, eventType: r.event_type as string, payload: s.open(r.payload as string), dataId: (r.data_id as string | null) ?? null };
}

function traceFrom(traceparent: unknown, tracestate: unknown): TraceContext | null {
  return typeof traceparent === 'string' ? { traceparent, tracestate: typeof tracestate === 'string' ? tracestate : null } : null;
}

function backfillRefFrom(id: unknown, chunk: unknown): BackfillRef | null {
  return typeof id === 'string' ? { id, chunk: chunk === null || chunk === undefined ? null : Number(chunk) } : null;
}

/** A message about to be stored: both stores insert it with INSERT_MESSAGE and messageParams. */
export function newMessage(appId: string, input: MessageInput, now: number): Message {
  // created_at is the id's own time, so the log's time filters are ranges of ids (filters.ts).
  const { id, ms } = newIdAt('msg', now);
  return {
    id,
    appId,
    eventId: input.eventId,
    eventType: input.eventType,
    payload: input.payload,
    channels: input.channels,
    tags: input.tags,
    dataId: input.dataId ?? null,
    backfill: input.backfill ?? null,
    trace: input.trace ?? null,
    payloadExpiresAt: input.retentionMs === null || input.retentionMs === undefined ? null : ms + input.retentionMs,
    deliverAt: input.deliverAt ?? null,
    createdAt: ms,
  };
}

// Lookups by id or by the caller's own key (uid, eventId), written once for both stores.
// The id wins: another row's uid or eventId may be spelt like an id, and must not shadow it.
export const SELECT_APP_BY_REF = 'SELECT * FROM applications WHERE id = ? OR uid = ? ORDER BY (id = ?) DESC LIMIT 1';
export const SELECT_ENDPOINT_BY_REF = 'SELECT * FROM endpoints WHERE app_id = ? AND (id = ? OR uid = ?) ORDER BY (id = ?) DESC LIMIT 1';
export const SELECT_MESSAGE_BY_REF = 'SELECT * FROM messages WHERE app_id = ? AND (id = ? OR event_id = ?) ORDER BY (id = ?) DESC LIMIT 1';

/** A message row's columns, in the order messageParams gives their values. */
export const MESSAGE_COLUMNS = 'id, app_id, event_id, event_type, payload, channels, tags, data_id, backfill_id, backfill_chunk, created_at, payload_expires_at, traceparent, tracestate, deliver_at';

export const INSERT_MESSAGE = `INSERT INTO messages (${MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

export function messageParams(m: Message, s: Sealer): unknown[] {
  return [m.id, m.appId, m.eventId, m.eventType, s.sealNullable(m.payload), json(m.channels), json(m.tags), m.dataId, m.backfill?.id ?? null, m.backfill?.chunk ?? null, m.createdAt, m.payloadExpiresAt, m.trace?.traceparent ?? null, m.trace?.tracestate ?? null, m.deliverAt];
}

/** What inserting a message whose eventId the application already has throws. */
export const duplicateEventId = (eventId: string | null): ConflictError =>
  new ConflictError(`a message with eventId "${eventId}" already exists in this application`, 'duplicate_event_id');

export function backfillFrom(r: Row): Backfill {
  return {
    id: r.id as string,
    appId: r.app_id as string,
    userId: r.user_id as string,
    resource: r.resource as string,
    provider: r.provider as string,
    chunkSize: r.chunk_size as number,
    notify: r.notify === 'once' ? 'once' : 'each',
    status: r.status === 'complete' ? 'complete' : 'receiving',
    records: Number(r.records),
    chunks: r.chunks as number,
    msgId: (r.msg_id as string | null) ?? null,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
  };
}

export function backfillChunkFrom(r: Row): BackfillChunk {
  return {
    index: r.idx as number,
    startDate: r.start_date as number,
    endDate: r.end_date as number,
    records: r.records as number,
    msgId: (r.msg_id as string | null) ?? null,
  };
}

export function deliveryFrom(r: Row, prefix = ''): Delivery {
  return {
    id: r[`${prefix}id`] as number,
    msgId: r[`${prefix}msg_id`] as string,
    endpointId: r[`${prefix}endpoint_id`] as string,
    appId: r[`${prefix}app_id`] as string,
    status: r[`${prefix}status`] as StatusCode,
    attempts: r[`${prefix}attempts`] as number,
    nextAttemptAt: (r[`${prefix}next_attempt_at`] as number | null) ?? null,
    lastAttemptAt: (r[`${prefix}last_attempt_at`] as number | null) ?? null,
    trigger: r[`${prefix}trigger_type`] as TriggerCode,
    orderKey: (r[`${prefix}order_key`] as string | null | undefined) ?? null,
    createdAt: r[`${prefix}created_at`] as number,
  };
}

export function attemptFrom(r: Row, s: Sealer): Attempt {
  return {
    id: r.id as string,
    msgId: r.msg_id as string,
    endpointId: r.endpoint_id as string,
    appId: r.app_id as string,
    url: r.url as string,
    status: r.status as StatusCode,
    responseStatusCode: r.response_status_code as number,
    response: s.open(r.response as string),
    responseDurationMs: r.response_duration_ms as number,
    triggerType: r.trigger_type as TriggerCode,
    error: (r.error as string | null) ?? null,
    createdAt: r.created_at as number,
  };
}

// The endpoint columns a delivery attempt needs, aliased as workFrom reads them.
export const WORK_ENDPOINT_COLUMNS =
  'e.id AS endpoint_id, e.url, e.headers, e.secret, e.previous_secrets, e.throttle_rate, e.key_header, e.key_value, e.payload_mode, e.max_payload_bytes, e.oauth, e.mtls_identity, e.server_ca';

/** The headers sent with each delivery: the endpoint's own, plus its webhook key if it has one. `r` is opened (openEndpointColumns). */
export function deliveryHeaders(r: Row): Record<string, string> {
  const headers = parse<Record<string, string>>(r.headers, {});
  if (typeof r.key_header === 'string') headers[r.key_header] = r.key_value as string;
  return headers;
}

/** A new message's delivery as work leased to its writer in the message's own commit (see LeaseOffer); `route` is its endpoint's route row, opened. */
export function offeredWork(route: Row, deliveryId: number, message: Message, orderKey: string | null, now: number, leaseUntil: number): Work {
  return workFrom(
    {
      ...route,
      delivery_id: deliveryId,
      msg_id: message.id,
      app_id: message.appId,
      attempts: 0,
      trigger_type: Trigger.Scheduled,
      event_type: message.eventType,
      payload: message.payload,
      msg_created_at: now,
      order_key: orderKey,
      backfill_id: message.backfill?.id ?? null,
      backfill_chunk: message.backfill?.chunk ?? null,
      traceparent: message.trace?.traceparent ?? null,
      tracestate: message.trace?.tracestate ?? null,
    },
    now,
    leaseUntil,
  );
}

/** `r` is opened (openWorkRow). */
export function workFrom(r: Row, now: number, leaseUntil: number): Work {
  return {
    deliveryId: r.delivery_id as number,
    msgId: r.msg_id as string,
    appId: r.app_id as string,
    endpointId: r.endpoint_id as string,
    eventType: r.event_type as string,
    url: r.url as string,
    headers: deliveryHeaders(r),
    secrets: signingSecrets(r.secret as string, parse<SecretVersion[]>(r.previous_secrets, []), now),
    payload: r.payload as string,
    msgCreatedAt: r.msg_created_at as number,
    payloadMode: r.payload_mode === 'thin' ? 'thin' : 'full',
    maxPayloadBytes: (r.max_payload_bytes as number | null) ?? null,
    attempts: r.attempts as number,
    throttleRate: (r.throttle_rate as number | null) ?? null,
    trigger: r.trigger_type as TriggerCode,
    orderKey: (r.order_key as string | null | undefined) ?? null,
    backfill: backfillRefFrom(r.backfill_id, r.backfill_chunk),
    leaseUntil,
    auth: endpointAuthFrom(r),
    trace: traceFrom(r.traceparent, r.tracestate),
  };
}
