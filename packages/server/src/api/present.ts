// Records to API shapes. Both Svix SDK generations read these, so renamed fields appear
// under both names (eventTypes/filterTypes, throttleRate/rateLimit).
import { STATUS_TEXT, type Application, type Attempt, type BackgroundTask, type Delivery, type Endpoint, type EventType, type Message, type StatusCode } from '../domain/types.js';
import { Status } from '../domain/types.js';
import { depthExceeds, MAX_JSON_DEPTH, tooDeepAt } from '../domain/json-limits.js';

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function presentApp(a: Application) {
  return {
    id: a.id,
    uid: a.uid,
    name: a.name,
    throttleRate: a.throttleRate,
    rateLimit: a.throttleRate,
    metadata: a.metadata,
    createdAt: iso(a.createdAt),
    updatedAt: iso(a.updatedAt),
  };
}

export function presentEndpoint(e: Endpoint) {
  return {
    id: e.id,
    uid: e.uid,
    url: e.url,
    description: e.description,
    version: e.version,
    disabled: e.disabled,
    eventTypes: e.eventTypes,
    filterTypes: e.eventTypes,
    channels: e.channels,
    throttleRate: e.throttleRate,
    rateLimit: e.throttleRate,
    metadata: e.metadata,
    lastPing: e.ping === null ? null : { ok: e.ping.ok, detail: e.ping.detail, at: iso(e.ping.at) },
    webhookKeyHeader: e.webhookKey?.header ?? null,
    payloadMode: e.payloadMode,
    maxPayloadBytes: e.maxPayloadBytes,
    ordering: e.ordering,
    disabledReason: e.disabledReason,
    disabledAt: e.disabledAt === null ? null : iso(e.disabledAt),
    createdAt: iso(e.createdAt),
    updatedAt: iso(e.updatedAt),
  };
}

/** An endpoint of the operational webhook application, with Svix's OperationalWebhookEndpointOut fields. */
export function presentOperationalEndpoint(e: Endpoint) {
  return {
    id: e.id,
    uid: e.uid,
    url: e.url,
    description: e.description,
    disabled: e.disabled,
    eventTypes: e.eventTypes,
    filterTypes: e.eventTypes,
    throttleRate: e.throttleRate,
    rateLimit: e.throttleRate,
    metadata: e.metadata,
    createdAt: iso(e.createdAt),
    updatedAt: iso(e.updatedAt),
  };
}

/**
 * A stored payload as a value to answer with. One stored before JSON input was held to
 * MAX_JSON_DEPTH may nest deeper than a serialiser can walk (thousands of levels): it is
 * shown as `{}`, as without content, rather than fail every listing that includes it. It
 * is still delivered as stored.
 */
function storedPayload(text: string): unknown {
  return tooDeepAt(text) === -1 ? JSON.parse(text) : {};
}

/** An event type's schemas as stored, but for a version nested too deep to answer with (as storedPayload). */
function storedSchemas(schemas: Record<string, unknown> | null): Record<string, unknown> | null {
  // The schemas object sits at level 2 of a request body; the versions below it at 3.
  if (schemas === null || !depthExceeds(schemas, MAX_JSON_DEPTH - 1)) return schemas;
  return Object.fromEntries(Object.entries(schemas).map(([v, schema]) => [v, depthExceeds(schema, MAX_JSON_DEPTH - 2) ? {} : schema]));
}

/** `payload` may be given already parsed, to spare a parse on the hot path. */
export function presentMessage(m: Message, withContent = true, parsed?: unknown) {
  return {
    id: m.id,
    eventId: m.eventId,
    eventType: m.eventType,
    payload: withContent && m.payload !== null ? (parsed ?? storedPayload(m.payload)) : {},
    channels: m.channels,
    tags: m.tags,
    dataId: m.dataId,
    timestamp: iso(m.createdAt),
    deliverAt: iso(m.deliverAt),
    // Only on a message whose payload is gone, so Svix's MessageOut is unchanged otherwise.
    ...(m.payload === null ? { payloadDeleted: true } : {}),
  };
}

/**
 * A message as MessageOut JSON with its payload's stored text spliced in, rather than parsed
 * and serialised again: for a large payload a tree and a second string of it are spared.
 * The fields come in the order the MessageOut serialiser writes them. A large one is
 * written into a Buffer, so the payload is copied once, outside the JavaScript heap.
 */
export function messageOutJson(m: Message, withContent = true): string | Buffer {
  const head = `{"id":${JSON.stringify(m.id)},"eventType":${JSON.stringify(m.eventType)},"payload":`;
  const tail =
    `,"timestamp":${JSON.stringify(iso(m.createdAt))},"eventId":${JSON.stringify(m.eventId ?? null)},"channels":${JSON.stringify(m.channels ?? null)}` +
    `,"tags":${JSON.stringify(m.tags ?? null)},"dataId":${JSON.stringify(m.dataId ?? null)},"deliverAt":${JSON.stringify(iso(m.deliverAt))}}`;
  const payload = withContent && m.payload !== null ? m.payload : '{}';
  if (payload.length < 16 * 1024) return head + payload + tail;
  const size = Buffer.byteLength(head) + Buffer.byteLength(payload) + Buffer.byteLength(tail);
  const out = Buffer.allocUnsafe(size);
  let at = out.write(head, 0, 'utf8');
  at += out.write(payload, at, 'utf8');
  out.write(tail, at, 'utf8');
  return out;
}

/**
 * A status as Svix answers it: Canceled (4) only when the caller asks for `expanded_statuses`;
 * otherwise, for clients that predate it, as Success (0), as Svix does.
 */
export function shownStatus(status: StatusCode, expanded: boolean): StatusCode {
  return status === Status.Canceled && !expanded ? Status.Success : status;
}

function deliveryStatus(d: Delivery, expanded: boolean) {
  const status = shownStatus(d.status, expanded);
  return {
    status,
    statusText: STATUS_TEXT[status],
    nextAttempt: d.status === Status.Pending ? iso(d.nextAttemptAt) : null,
  };
}

export function presentEndpointMessage(m: Message, d: Delivery, withContent: boolean, expandedStatuses = true) {
  return { ...presentMessage(m, withContent), ...deliveryStatus(d, expandedStatuses) };
}

export function presentMessageEndpoint(e: Endpoint, d: Delivery) {
  return { ...presentEndpoint(e), ...deliveryStatus(d, true) };
}

export interface AttemptView {
  /** The recorded response body; without it `response` is `{}`, as Svix answers. Default true. */
  withContent?: boolean;
  /** Canceled (4) as itself rather than as Success (0). Default true. */
  expandedStatuses?: boolean;
  /** The attempt's message, shown without its payload (`{}`), as Svix never embeds it. */
  msg?: Message;
}

export function presentAttempt(a: Attempt, view: AttemptView = {}) {
  const status = shownStatus(a.status, view.expandedStatuses ?? true);
  const msg = view.msg;
  return {
    id: a.id,
    msgId: a.msgId,
    endpointId: a.endpointId,
    url: a.url,
    response: view.withContent === false ? '{}' : a.response,
    responseStatusCode: a.responseStatusCode,
    responseDurationMs: a.responseDurationMs,
    status,
    statusText: STATUS_TEXT[status],
    triggerType: a.triggerType,
    timestamp: iso(a.createdAt),
    ...(msg ? { msg: presentMessage(msg, false) } : {}),
  };
}

export function presentEventType(t: EventType) {
  return {
    name: t.name,
    description: t.description,
    archived: t.archived,
    deprecated: t.deprecated,
    schemas: storedSchemas(t.schemas),
    featureFlags: t.featureFlags,
    featureFlag: t.featureFlags?.[0] ?? null,
    groupName: t.groupName,
    validate: t.validate,
    createdAt: iso(t.createdAt),
    updatedAt: iso(t.updatedAt),
  };
}

/** A background task as Svix's RecoverOut, ReplayOut and ExpungeAllContentsOut show it. */
export function presentTask(t: BackgroundTask) {
  return { id: t.id, status: t.status, task: t.task, updatedAt: iso(t.updatedAt) };
}

/** A background task as Svix's BackgroundTaskOut, with what it did so far. */
export function presentTaskWithData(t: BackgroundTask) {
  return { ...presentTask(t), data: t.data };
}
