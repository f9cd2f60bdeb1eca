import type { FastifyInstance } from 'fastify';
import { generateSecret, publicKeyOf } from '@hookwell/receiver';
import { NotFoundError, ValidationError, type FieldProblem } from '../domain/errors.js';
import { LIMITS } from '../domain/limits.js';
import { checkName } from '../domain/names.js';
import { parseKeyPath } from '../domain/ordering.js';
import { attemptSeries, BUCKET_MS, bucketRange, MAX_BUCKETS, type BucketName } from '../domain/series.js';
import type { Application, Endpoint, Ordering, StatusCode } from '../domain/types.js';
import type { EndpointFields, EndpointInput } from '../store/store.js';
import { errorResponses, listQuery, ref } from './schemas.js';
import { listQuery as toListQuery, timeParam, type Deps } from './http.js';
import { iso, presentEndpoint, presentMessage, presentTask } from './present.js';
import { requireApp, type AppRequest } from './applications.js';

interface BulkReplayBody {
  since: string;
  until?: string | null;
  eventTypes?: string[] | null;
  channel?: string | null;
  tag?: string | null;
  status?: StatusCode | null;
  statusCodeClass?: number | null;
}

/** A request's [since, until) in ms; until null for now on. */
function windowOf(body: { since: string; until?: string | null }): { since: number; until: number | null } {
  const since = timeParam(body.since, ['body', 'since'])!;
  const until = timeParam(body.until, ['body', 'until']) ?? null;
  if (until !== null && until <= since) throw ValidationError.field(['body', 'until'], 'until must be after since', 'value_error');
  return { since, until };
}

export interface EndpointBody {
  url?: string;
  description?: string;
  uid?: string | null;
  disabled?: boolean;
  version?: number | null;
  eventTypes?: string[] | null;
  filterTypes?: string[] | null;
  channels?: string[] | null;
  throttleRate?: number | null;
  rateLimit?: number | null;
  metadata?: Record<string, string>;
  secret?: string | null;
  headers?: Record<string, string> | null;
  /** Ping the URL first and refuse the change if it does not pong. */
  verify?: boolean;
  payloadMode?: 'full' | 'thin';
  maxPayloadBytes?: number | null;
  ordering?: Ordering | null;
}

// Headers the delivery itself sets, or that would break HTTP framing if overridden, or that
// undici refuses to send at all (expect, keep-alive, upgrade): any of them fails every delivery.
const RESERVED_HEADERS = new Set([
  'content-type',
  'content-length',
  'transfer-encoding',
  'host',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'svix-id',
  'svix-timestamp',
  'svix-signature',
  // Names the message's event type on every delivery (the sender sets it); a receiver
  // dispatches on it, so an endpoint may not send another value.
  'x-hookwell-event-type',
]);
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// What undici sends in a header value (its isValidHeaderValue): tab, printable ASCII and the
// rest of Latin-1, sent as single bytes. Control characters, DEL and anything past U+00FF it
// refuses, and the delivery fails before it is sent.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
export const MASK = '********';

/** Values of these headers are never shown back: credentials live in them. */
export function isSensitiveHeader(name: string): boolean {
  const n = name.toLowerCase();
  return n === 'authorization' || n.includes('key') || n.includes('token') || n.includes('secret');
}

export function checkUrl(url: string, loc: string[] = ['body', 'url']): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw ValidationError.field(loc, `"${url}" is not a valid URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw ValidationError.field(loc, `URL must use http or https, not ${parsed.protocol.replace(':', '')}`);
  }
}

/** Why a delivery could not send this header (see HEADER_NAME, HEADER_VALUE, RESERVED_HEADERS), or null. */
export function headerProblem(name: string, value: string | null): string | null {
  if (!HEADER_NAME.test(name)) return `"${name}" is not a valid header name`;
  if (RESERVED_HEADERS.has(name.toLowerCase())) return `"${name}" is set by Hookwell or refused by its HTTP client, and cannot be set`;
  if (value !== null && !HEADER_VALUE.test(value)) {
    const bad = [...value].find((ch) => !HEADER_VALUE.test(ch))!;
    const code = `U+${bad.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    return `the value of "${name}" holds ${code}, which cannot be sent in a header: use tab, printable ASCII and Latin-1 characters only`;
  }
  return null;
}

/** Refuses (422, naming each header) what a delivery could not send. */
export function checkHeaders(headers: Record<string, string | null>, loc: string[] = ['body', 'headers']): void {
  const problems: FieldProblem[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const msg = headerProblem(name, value);
    if (msg !== null) problems.push({ loc: [...loc, name], msg, type: 'value_error' });
  }
  if (problems.length > 0) throw new ValidationError(problems);
}

/** The headers an endpoint keeps, all together, must fit what a receiver takes (LIMITS.headerBytes). */
export function checkHeaderSize(headers: Record<string, string>, loc: string[] = ['body', 'headers']): void {
  let bytes = 0;
  for (const [name, value] of Object.entries(headers)) bytes += name.length + value.length + 4; // "name: value\r\n", one byte a character
  if (bytes > LIMITS.headerBytes) {
    throw ValidationError.field(loc, `the headers come to ${bytes} bytes; at most ${LIMITS.headerBytes} bytes of headers can be sent with each delivery`);
  }
}

async function checkEventTypes(d: Deps, names: string[] | null | undefined, field: string): Promise<void> {
  if (!names) return;
  const problems: FieldProblem[] = [];
  for (const [i, name] of names.entries()) {
    if ((await d.store.getEventType(name)) === null) {
      problems.push({ loc: ['body', field, String(i)], msg: `event type "${name}" does not exist`, type: 'value_error' });
    }
  }
  if (problems.length > 0) throw new ValidationError(problems);
}

/** The endpoint `ref` of an application; 404 when it has none such. */
export async function requireEndpointOf(d: Deps, app: Application, ref: string): Promise<Endpoint> {
  const endpoint = await d.store.getEndpoint(app.id, ref);
  if (endpoint === null) throw new NotFoundError('endpoint', ref);
  return endpoint;
}

/** The application and endpoint the request's path names. */
export async function requireEndpoint(d: Deps, req: AppRequest & { params: { endpoint_id: string } }): Promise<{ app: Application; endpoint: Endpoint }> {
  const app = await requireApp(d, req);
  const endpoint = await requireEndpointOf(d, app, req.params.endpoint_id);
  req.auditIds = { ...req.auditIds, endpointId: endpoint.id };
  return { app, endpoint };
}

/** Header values as shown back: sensitive ones masked. */
export function presentHeaders(headers: Record<string, string>) {
  const out: Record<string, string> = {};
  const sensitive: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (isSensitiveHeader(name)) {
      out[name] = MASK;
      sensitive.push(name);
    } else out[name] = value;
  }
  return { headers: out, sensitive };
}

/** A masked value sent back unchanged keeps the stored one, so read-modify-write is safe. */
function mergeMasked(next: Record<string, string>, current: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(next)) {
    const existing = Object.entries(current).find(([n]) => n.toLowerCase() === name.toLowerCase());
    out[name] = value === MASK && existing !== undefined ? existing[1] : value;
  }
  return out;
}

/** Replaces the headers sent with the endpoint's deliveries; masked values sent back keep the stored ones. */
export async function replaceHeaders(d: Deps, endpoint: Endpoint, next: Record<string, string>): Promise<void> {
  checkHeaders(next);
  const headers = mergeMasked(next, endpoint.headers);
  checkHeaderSize(headers);
  await d.store.updateEndpoint(endpoint.appId, endpoint.id, { headers });
}

/** An ordering's key must be a path orderKeyOf can follow; a 422 names the field otherwise. */
export function checkOrdering(ordering: Ordering | null | undefined, loc: string[] = ['body', 'ordering', 'key']): void {
  if (ordering === null || ordering === undefined) return;
  const parsed = parseKeyPath(ordering.key);
  if ('error' in parsed) throw ValidationError.field(loc, parsed.error);
}

async function endpointFields(d: Deps, b: EndpointBody, full: boolean): Promise<EndpointFields> {
  if (b.url !== undefined) checkUrl(b.url);
  if (b.headers) {
    checkHeaders(b.headers);
    checkHeaderSize(b.headers);
  }
  checkOrdering(b.ordering);
  const types = b.eventTypes !== undefined ? b.eventTypes : b.filterTypes;
  await checkEventTypes(d, types, b.eventTypes !== undefined ? 'eventTypes' : 'filterTypes');
  const f: EndpointFields = {};
  if (b.url !== undefined) f.url = b.url;
  if (b.description !== undefined || full) f.description = b.description ?? '';
  if (b.uid !== undefined || full) f.uid = b.uid ?? null;
  if (b.disabled !== undefined || full) f.disabled = b.disabled ?? false;
  if ((b.version !== undefined && b.version !== null) || full) f.version = b.version ?? 1;
  if (types !== undefined || full) f.eventTypes = types && types.length > 0 ? types : null;
  if (b.channels !== undefined || full) f.channels = b.channels && b.channels.length > 0 ? b.channels : null;
  if (b.throttleRate !== undefined || b.rateLimit !== undefined || full) f.throttleRate = b.throttleRate ?? b.rateLimit ?? null;
  if (b.metadata !== undefined || full) f.metadata = b.metadata ?? {};
  if (b.payloadMode !== undefined || full) f.payloadMode = b.payloadMode ?? 'full';
  if (b.maxPayloadBytes !== undefined || full) f.maxPayloadBytes = b.maxPayloadBytes ?? null;
  // A change applies to messages created after it: deliveries already queued keep the key
  // they were given (or none).
  if (b.ordering !== undefined || full) f.ordering = b.ordering ? { key: b.ordering.key } : null;
  return f;
}

const params = {
  type: 'object',
  properties: { app_id: { type: 'string' }, endpoint_id: { type: 'string', description: 'Endpoint id or uid' } },
  required: ['app_id', 'endpoint_id'],
};
const appParams = { type: 'object', properties: { app_id: { type: 'string' } }, required: ['app_id'] };
const tags = ['Endpoint'];
const noContent = { 204: { type: 'null', description: 'Done' }, ...errorResponses() };

type P = { Params: { app_id: string; endpoint_id: string } };

export function endpointRoutes(app: FastifyInstance, d: Deps): void {
  app.get<{ Params: { app_id: string }; Querystring: { limit?: number; iterator?: string; order?: string } }>(
    '/api/v1/app/:app_id/endpoint',
    {
      schema: {
        operationId: 'v1.endpoint.list',
        summary: 'List endpoints',
        tags,
        params: appParams,
        querystring: listQuery(),
        response: { 200: ref('ListResponse_EndpointOut_'), ...errorResponses() },
      },
    },
    async (req) => {
      const a = await requireApp(d, req);
      const page = await d.store.listEndpoints(a.id, toListQuery(req.query, 'ascending'));
      return { ...page, data: page.data.map(presentEndpoint) };
    },
  );

  const create = async (a: Application, b: EndpointBody & { url: string }, uidFallback: string | null = null) => {
    const fields = await endpointFields(d, b, true);
    const input: EndpointInput = {
      ...(fields as Required<Omit<EndpointFields, 'headers' | 'secret' | 'previousSecrets' | 'ping' | 'webhookKey'>>),
      uid: fields.uid ?? uidFallback,
      url: b.url,
      headers: b.headers ?? {},
      secret: b.secret ?? generateSecret(),
      ping: null,
    };
    return d.core.endpoints.create(a.id, input, b.verify === true);
  };

  app.post<{ Params: { app_id: string }; Body: EndpointBody & { url: string } }>(
    '/api/v1/app/:app_id/endpoint',
    {
      schema: {
        operationId: 'v1.endpoint.create',
        summary: 'Create an endpoint',
        tags,
        params: appParams,
        body: ref('EndpointIn'),
        response: { 201: ref('EndpointOut'), ...errorResponses() },
      },
    },
    async (req, reply) => {
      const a = await requireApp(d, req);
      return reply.code(201).send(presentEndpoint(await create(a, req.body)));
    },
  );

  app.get<P>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id',
    { schema: { operationId: 'v1.endpoint.get', summary: 'Get an endpoint', tags, params, response: { 200: ref('EndpointOut'), ...errorResponses() } } },
    async (req) => presentEndpoint((await requireEndpoint(d, req)).endpoint),
  );

  app.put<P & { Body: EndpointBody & { url: string } }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id',
    {
      schema: {
        operationId: 'v1.endpoint.upsert',
        summary: 'Create or replace an endpoint',
        tags,
        params,
        body: ref('EndpointUpsertIn'),
        response: { 200: ref('EndpointOut'), 201: ref('EndpointOut'), ...errorResponses() },
      },
    },
    async (req, reply) => {
      const a = await requireApp(d, req);
      const existing = await d.store.getEndpoint(a.id, req.params.endpoint_id);
      if (existing === null) {
        checkName(req.params.endpoint_id, ['path', 'endpoint_id']);
        return reply.code(201).send(presentEndpoint(await create(a, req.body, req.params.endpoint_id)));
      }
      const fields = await endpointFields(d, { ...req.body, uid: req.body.uid ?? existing.uid }, true);
      return reply.code(200).send(presentEndpoint(await d.core.endpoints.update(existing, fields, req.body.verify === true)));
    },
  );

  app.patch<P & { Body: EndpointBody }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id',
    {
      schema: {
        operationId: 'v1.endpoint.patch',
        summary: 'Update some fields of an endpoint',
        tags,
        params,
        body: ref('EndpointPatch'),
        response: { 200: ref('EndpointOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const { endpoint } = await requireEndpoint(d, req);
      const fields = await endpointFields(d, req.body, false);
      if (req.body.secret) fields.secret = req.body.secret;
      return presentEndpoint(await d.core.endpoints.update(endpoint, fields, req.body.verify === true));
    },
  );

  app.delete<P>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id',
    { schema: { operationId: 'v1.endpoint.delete', summary: 'Delete an endpoint', tags, params, response: noContent } },
    async (req, reply) => {
      const { endpoint } = await requireEndpoint(d, req);
      await d.core.endpoints.delete(endpoint);
      return reply.code(204).send();
    },
  );

  app.get<P>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/secret',
    {
      config: { audit: 'always' },
      schema: {
        operationId: 'v1.endpoint.get-secret',
        summary: "Get the endpoint's signing secret",
        tags,
        params,
        response: { 200: ref('EndpointSecretOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const key = (await requireEndpoint(d, req)).endpoint.secret;
      return key.startsWith('whsk_') ? { key, publicKey: publicKeyOf(key) } : { key };
    },
  );

  app.post<P & { Body: { key?: string | null; gracePeriodSeconds?: number | null } | undefined }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/secret/rotate',
    {
      schema: {
        operationId: 'v1.endpoint.rotate-secret',
        summary: 'Rotate the signing secret; the old one keeps signing for the grace period',
        tags,
        params,
        body: ref('EndpointSecretRotateIn'),
        response: noContent,
      },
    },
    async (req, reply) => {
      const { endpoint } = await requireEndpoint(d, req);
      // The old secret keeps signing for the grace period; with a grace of 0 it stops now.
      await d.core.endpoints.rotateSecret(endpoint, req.body?.key ?? null, (req.body?.gracePeriodSeconds ?? 86400) * 1000);
      return reply.code(204).send();
    },
  );

  app.get<P>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/headers',
    {
      config: { audit: 'always' },
      schema: {
        operationId: 'v1.endpoint.get-headers',
        summary: 'Get the headers sent with each delivery; sensitive values are masked',
        tags,
        params,
        response: { 200: ref('EndpointHeadersOut'), ...errorResponses() },
      },
    },
    async (req) => presentHeaders((await requireEndpoint(d, req)).endpoint.headers),
  );

  app.put<P & { Body: { headers: Record<string, string> } }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/headers',
    {
      schema: {
        operationId: 'v1.endpoint.set-headers',
        summary: 'Replace the headers sent with each delivery',
        tags,
        params,
        body: ref('EndpointHeadersIn'),
        response: noContent,
      },
    },
    async (req, reply) => {
      await replaceHeaders(d, (await requireEndpoint(d, req)).endpoint, req.body.headers);
      return reply.code(204).send();
    },
  );

  app.patch<P & { Body: { headers: Record<string, string | null>; deleteHeaders?: string[] } }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/headers',
    {
      schema: {
        operationId: 'v1.endpoint.patch-headers',
        summary: 'Add, change or remove some headers (null or deleteHeaders removes)',
        tags,
        params,
        body: ref('EndpointHeadersPatchIn'),
        response: noContent,
      },
    },
    async (req, reply) => {
      const { app: a, endpoint } = await requireEndpoint(d, req);
      checkHeaders(req.body.headers);
      const removed = new Set([
        ...(req.body.deleteHeaders ?? []).map((h) => h.toLowerCase()),
        ...Object.entries(req.body.headers)
          .filter(([, v]) => v === null)
          .map(([n]) => n.toLowerCase()),
      ]);
      const changed = Object.fromEntries(Object.entries(req.body.headers).filter(([, v]) => v !== null)) as Record<string, string>;
      const changedLower = new Set(Object.keys(changed).map((n) => n.toLowerCase()));
      const kept = Object.fromEntries(
        Object.entries(endpoint.headers).filter(([n]) => !removed.has(n.toLowerCase()) && !changedLower.has(n.toLowerCase())),
      );
      const headers = { ...kept, ...mergeMasked(changed, endpoint.headers) };
      checkHeaderSize(headers);
      await d.store.updateEndpoint(a.id, endpoint.id, { headers });
      return reply.code(204).send();
    },
  );

  app.post<P & { Body: { since: string; until?: string | null } }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/recover',
    {
      schema: {
        operationId: 'v1.endpoint.recover',
        summary: 'Send again every failed delivery to this endpoint since a time',
        description: 'Answers a background task; GET /api/v1/background-task/{task_id} reports it, with data.messagesSent once finished.',
        tags,
        params,
        body: ref('RecoverIn'),
        response: { 202: ref('RecoverOut'), ...errorResponses() },
      },
    },
    async (req, reply) => {
      const { app: a, endpoint } = await requireEndpoint(d, req);
      const { since, until } = windowOf(req.body);
      return reply.code(202).send(presentTask(await d.core.requeue.recoverTask(a.id, endpoint.id, since, until)));
    },
  );

  app.post<P & { Body: { since: string; until?: string | null } }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/replay-missing',
    {
      schema: {
        operationId: 'v1.endpoint.replay-missing',
        summary: 'Send messages since a time that this endpoint never received',
        description: 'Answers a background task; GET /api/v1/background-task/{task_id} reports it, with data.messagesSent once finished.',
        tags,
        params,
        body: ref('ReplayIn'),
        response: { 202: ref('ReplayOut'), ...errorResponses() },
      },
    },
    async (req, reply) => {
      const { app: a, endpoint } = await requireEndpoint(d, req);
      const { since, until } = windowOf(req.body);
      return reply.code(202).send(presentTask(await d.core.requeue.replayMissingTask(a.id, endpoint.id, since, until)));
    },
  );

  app.post<P & { Body: BulkReplayBody }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/bulk-replay',
    {
      schema: {
        operationId: 'v1.endpoint.bulk-replay',
        summary: 'Send again the messages since a time that this endpoint was sent, successfully or not',
        description:
          'Queues again, behind new traffic, the deliveries to this endpoint that ended (sent or failed) of messages created in [since, until) ' +
          'that still hold their payload, narrowed by the filters. Deliveries still pending or being sent are not touched. ' +
          "statusCodeClass is that of the delivery's last attempt. Answers a background task (data.messagesSent once finished).",
        tags,
        params,
        body: ref('BulkReplayIn'),
        response: { 202: ref('ReplayOut'), ...errorResponses() },
      },
    },
    async (req, reply) => {
      const { app: a, endpoint } = await requireEndpoint(d, req);
      const { since, until } = windowOf(req.body);
      const b = req.body;
      const filter = {
        eventTypes: b.eventTypes ?? undefined,
        channel: b.channel ?? undefined,
        tag: b.tag ?? undefined,
        status: b.status ?? undefined,
        statusCodeClass: b.statusCodeClass ?? undefined,
      };
      return reply.code(202).send(presentTask(await d.core.requeue.bulkReplayTask(a.id, endpoint.id, since, until, filter)));
    },
  );

  app.post<P & { Body: { createdBefore: string } }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/cancel-msgs',
    {
      schema: {
        operationId: 'v1.endpoint.cancel-msgs',
        summary: 'Cancel the pending deliveries to this endpoint of messages created before a time',
        description:
          'Pending deliveries (waiting for their first attempt or a retry) of messages created before createdBefore end with status 4 (canceled) ' +
          'and no further attempt; their attempts so far stay. A delivery being sent at this moment finishes that attempt, and is not canceled. ' +
          'Done when answered: nothing is left to happen later.',
        tags,
        params,
        body: ref('CancelMsgsIn'),
        response: { 204: { type: 'null', description: 'Canceled' }, ...errorResponses() },
      },
    },
    async (req, reply) => {
      const { app: a, endpoint } = await requireEndpoint(d, req);
      await d.core.requeue.cancelPending(a.id, endpoint.id, timeParam(req.body.createdBefore, ['body', 'createdBefore'])!);
      return reply.code(204).send();
    },
  );

  app.post<P & { Body: { key: string } }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/ordering/skip',
    {
      schema: {
        operationId: 'hookwell.endpoint.ordering-skip',
        summary: "Give up on the head of an ordering key, so the key's later messages can go",
        description:
          'Fails the earliest unfinished delivery of the key to this endpoint (status 2, with an attempt recording the skip) ' +
          'and lets the next one go. `skipped` is its message id, or null when nothing of that key was waiting. ' +
          'A head being sent at this moment is not skipped (409 head_sending): call again once that attempt has ended.',
        tags,
        params,
        body: ref('OrderingSkipIn'),
        response: { 200: ref('OrderingSkipOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const { app: a, endpoint } = await requireEndpoint(d, req);
      return { skipped: await d.core.requeue.skipOrderHead(a.id, endpoint.id, req.body.key) };
    },
  );

  app.post<P & { Body: { eventType: string; exampleIndex?: number } }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/send-example',
    {
      schema: {
        operationId: 'v1.endpoint.send-example',
        summary: "Send the event type schema's example to this endpoint",
        tags,
        params,
        body: ref('EventExampleIn'),
        response: { 202: ref('MessageOut'), ...errorResponses() },
      },
    },
    async (req, reply) => {
      const { app: a, endpoint } = await requireEndpoint(d, req);
      const et = await d.store.getEventType(req.body.eventType);
      if (et === null) throw new NotFoundError('event type', req.body.eventType);
      const example = exampleOf(et.schemas, req.body.exampleIndex ?? 0);
      if (example === undefined) {
        throw ValidationError.field(['body', 'eventType'], `event type "${et.name}" has no example in its schema`);
      }
      const payload = JSON.stringify(example);
      const message = await d.core.messages.sendTo(a.id, endpoint.id, { eventId: null, eventType: et.name, payload, channels: null, tags: null, deliverAt: null });
      return reply.code(202).send(presentMessage(message, true, example));
    },
  );

  app.get<P & { Querystring: { since?: string; until?: string } }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/stats',
    {
      schema: {
        operationId: 'v1.endpoint.get-stats',
        summary: "Count this endpoint's deliveries by status",
        tags,
        params,
        querystring: {
          type: 'object',
          properties: { since: { type: 'string', format: 'date-time' }, until: { type: 'string', format: 'date-time' } },
        },
        response: { 200: ref('EndpointStats'), ...errorResponses() },
      },
    },
    async (req) => {
      const { app: a, endpoint } = await requireEndpoint(d, req);
      return d.store.endpointStats(a.id, endpoint.id, timeParam(req.query.since, ['query', 'since']), timeParam(req.query.until, ['query', 'until']));
    },
  );

  app.get<P & { Querystring: { since?: string; until?: string; bucket?: BucketName } }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/stats/series',
    {
      schema: {
        operationId: 'hookwell.endpoint.get-stats-series',
        summary: "This endpoint's successful and failed attempts, and their latency, per hour or day",
        description: `Hookwell: one point per bucket from \`since\` (rounded down to a whole hour or day, UTC) to \`until\`, oldest first, empty buckets included; at most ${MAX_BUCKETS} buckets.`,
        tags,
        params,
        querystring: {
          type: 'object',
          properties: {
            since: { type: 'string', format: 'date-time', description: 'Default: 24 hours before until.' },
            until: { type: 'string', format: 'date-time', description: 'Default: now.' },
            bucket: { type: 'string', enum: Object.keys(BUCKET_MS), default: 'hour' },
          },
        },
        response: { 200: ref('EndpointStatsSeriesOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const { app: a, endpoint } = await requireEndpoint(d, req);
      const bucket = req.query.bucket ?? 'hour';
      const bucketMs = BUCKET_MS[bucket];
      const until = timeParam(req.query.until, ['query', 'until']) ?? Date.now();
      const since = timeParam(req.query.since, ['query', 'since']) ?? until - 86_400_000;
      if (since >= until) throw ValidationError.field(['query', 'since'], 'since must be before until', 'value_error');
      const range = bucketRange(since, until, bucketMs);
      if (range.count > MAX_BUCKETS) {
        throw ValidationError.field(
          ['query', 'since'],
          `since to until spans ${range.count} buckets of a ${bucket}; at most ${MAX_BUCKETS} (take a larger bucket or a shorter range)`,
          'value_error.range',
        );
      }
      const rows = await d.store.attemptDurations(a.id, endpoint.id, range.start, until, bucketMs);
      const data = attemptSeries(range.start, range.count, bucketMs, rows).map((p) => ({ ...p, start: iso(p.start) }));
      return { bucket, data };
    },
  );
}

/** The example at `index` of a schema's `examples`, looking in the newest schema version. */
export function exampleOf(schemas: Record<string, unknown> | null, index: number): unknown {
  if (schemas === null) return undefined;
  const candidates: unknown[] = [];
  const versions = Object.keys(schemas).sort((x, y) => Number(y) - Number(x));
  const top = schemas as { examples?: unknown };
  if (Array.isArray(top.examples)) candidates.push(top);
  for (const v of versions) candidates.push(schemas[v]);
  for (const c of candidates) {
    const ex = (c as { examples?: unknown } | null)?.examples;
    if (Array.isArray(ex) && ex.length > 0) return ex[Math.min(index, ex.length - 1)];
  }
  return undefined;
}
