// Svix's sending operations that read rather than change: precheck, raw payloads, a test
// attempt, throttling status, attempt counts and headers. Their answers use Svix's shapes.
import type { FastifyInstance } from 'fastify';
import { EVENT_TYPE_HEADER } from '@hookwell/receiver';
import { ConflictError, NotFoundError, UnavailableError } from '../domain/errors.js';
import { endpointMatches } from '../domain/routing.js';
import { USER_AGENT } from '../domain/signing.js';
import { Status, type Attempt, type Endpoint, type StatusCode } from '../domain/types.js';
import { errorResponses, messageFilterQuery, ref } from './schemas.js';
import { iso, presentAttempt } from './present.js';
import { requireApp } from './applications.js';
import { isSensitiveHeader, MASK, requireEndpoint } from './endpoints.js';
import { messageFilter, type MessageFilterQuery } from './messages.js';
import type { Deps } from './http.js';
import type { Config } from '../config.js';

/** Attempt counts stop here and say `approximated`: counting is bounded by this, not by the table. */
export const ATTEMPT_COUNT_CEILING = 10_000;

const appParams = { type: 'object', properties: { app_id: { type: 'string' } }, required: ['app_id'] };
const endpointParams = {
  type: 'object',
  properties: { app_id: { type: 'string' }, endpoint_id: { type: 'string' } },
  required: ['app_id', 'endpoint_id'],
};
const msgParams = { type: 'object', properties: { app_id: { type: 'string' }, msg_id: { type: 'string' } }, required: ['app_id', 'msg_id'] };

interface CountQuery extends MessageFilterQuery {
  status?: StatusCode;
  status_code_class?: number;
}

/** The Standard Webhooks (or Svix) headers that carried an attempt's id, time and signature. */
function signatureHeaderNames(mode: Config['signatureHeaders']): { id: string; timestamp: string; signature: string }[] {
  const out = [];
  if (mode !== 'svix') out.push({ id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' });
  if (mode !== 'webhook') out.push({ id: 'svix-id', timestamp: 'svix-timestamp', signature: 'svix-signature' });
  return out;
}

/**
 * The headers an attempt went out with, rebuilt from what is stored rather than stored with
 * each attempt (an attempt row stays small, and no credential is written twice): the
 * endpoint's own headers as they are now, its webhook key, and those Hookwell sets. The
 * signature and credentials are masked and named in `sensitive`; the timestamp is the
 * attempt's start to the second.
 */
export function attemptHeaders(attempt: Attempt, eventType: string, endpoint: Endpoint | null, cfg: Config) {
  const sent: Record<string, string> = {};
  const sensitive: string[] = [];
  const mask = (name: string) => {
    sent[name] = MASK;
    sensitive.push(name);
  };
  for (const [name, value] of Object.entries(endpoint?.headers ?? {})) {
    if (isSensitiveHeader(name)) mask(name);
    else sent[name] = value;
  }
  if (endpoint?.webhookKey) mask(endpoint.webhookKey.header);
  sent['content-type'] = 'application/json';
  sent['user-agent'] = USER_AGENT;
  const timestamp = String(Math.floor((attempt.createdAt - attempt.responseDurationMs) / 1000));
  for (const h of signatureHeaderNames(cfg.signatureHeaders)) {
    sent[h.id] = attempt.msgId;
    sent[h.timestamp] = timestamp;
    mask(h.signature);
  }
  sent[EVENT_TYPE_HEADER] = eventType;
  return { sentHeaders: sent, responseHeaders: null, sensitive };
}

export function sendingRoutes(app: FastifyInstance, d: Deps): void {
  app.get<{ Params: { app_id: string; endpoint_id: string } }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/rate-limit-status',
    {
      schema: {
        operationId: 'v1.endpoint.get-throttling-status',
        summary: 'Whether deliveries to this endpoint are held back by its throttle rate',
        description:
          'RateLimited while the endpoint has a `throttleRate` and more deliveries are due than it lets out in a second; `throttledSince` is when the oldest of them fell due.',
        tags: ['Endpoint'],
        params: endpointParams,
        response: { 200: ref('EndpointThrottleRateStatusOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const { endpoint } = await requireEndpoint(d, req);
      if (endpoint.throttleRate === null || endpoint.disabled) return { status: 'Ok', throttledSince: null };
      const backlog = await d.store.sending.dueBacklog(endpoint.id, Date.now());
      if (backlog.count <= endpoint.throttleRate) return { status: 'Ok', throttledSince: null };
      return { status: 'RateLimited', throttledSince: iso(backlog.oldestDueAt) };
    },
  );

  app.post<{ Params: { app_id: string }; Body: { eventType: string; channels?: string[] | null } }>(
    '/api/v1/app/:app_id/msg/precheck/active',
    {
      schema: {
        operationId: 'v1.message.precheck',
        summary: 'Whether a message of this type (and channels) would reach any enabled endpoint',
        tags: ['Message'],
        params: appParams,
        body: ref('MessagePrecheckIn'),
        response: { 200: ref('MessagePrecheckOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const a = await requireApp(d, req);
      const msg = { eventType: req.body.eventType, channels: req.body.channels && req.body.channels.length > 0 ? req.body.channels : null };
      const filters = await d.store.sending.routeFilters(a.id);
      return { active: filters.some((ep) => endpointMatches(ep, msg)) };
    },
  );

  app.get<{ Params: { app_id: string; msg_id: string } }>(
    '/api/v1/app/:app_id/msg/:msg_id/raw',
    {
      schema: {
        operationId: 'v1.message.get-raw-payload',
        summary: "A message's payload exactly as it was sent, as a string",
        tags: ['Message'],
        params: msgParams,
        response: { 200: ref('MessageRawPayloadOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const a = await requireApp(d, req);
      const m = await d.store.getMessage(a.id, req.params.msg_id);
      if (m === null) throw new NotFoundError('message', req.params.msg_id);
      if (m.payload === null) throw new NotFoundError('message payload (deleted)', m.id);
      return { payload: m.payload };
    },
  );

  app.post<{
    Params: { app_id: string; endpoint_id: string };
    Body: { eventType: string; payload: unknown; eventId?: string | null; channels?: string[] | null; tags?: string[] | null };
  }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/msg/test-attempt',
    {
      schema: {
        operationId: 'v1.message.test-attempt',
        summary: 'Send a message to this endpoint alone and answer its first attempt',
        description:
          'The message is stored and sent to this endpoint only (whatever its filters), as a scheduled delivery; the answer waits for its first attempt, up to the request timeout. A disabled endpoint is refused (409): its deliveries are not sent.',
        tags: ['Message'],
        params: endpointParams,
        body: ref('MessageIn'),
        response: { 201: ref('MessageAttemptOut'), 503: ref('HttpErrorOut'), ...errorResponses() },
      },
    },
    async (req, reply) => {
      const { app: a, endpoint } = await requireEndpoint(d, req);
      if (endpoint.disabled) throw new ConflictError(`endpoint ${endpoint.id} is disabled: enable it to send it a test attempt`);
      const b = req.body;
      await d.payloads.check(b.eventType, b.payload);
      const input = {
        eventId: null,
        eventType: b.eventType,
        payload: JSON.stringify(b.payload),
        channels: b.channels && b.channels.length > 0 ? b.channels : null,
        tags: b.tags && b.tags.length > 0 ? b.tags : null,
        deliverAt: null,
      };
      const waitMs = d.cfg.requestTimeoutMs + 5000;
      const { message, attempt } = await d.core.messages.testAttempt(a.id, endpoint.id, input, waitMs);
      req.auditIds = { ...req.auditIds, msgId: message.id };
      if (attempt === null) {
        throw new UnavailableError(`no attempt of message ${message.id} was recorded within ${Math.round(waitMs / 1000)} s; it stays queued and its attempts can be listed`);
      }
      return reply.code(201).send(presentAttempt(attempt));
    },
  );

  app.get<{ Params: { app_id: string; endpoint_id: string }; Querystring: CountQuery }>(
    '/api/v1/app/:app_id/attempt/endpoint/:endpoint_id/count',
    {
      schema: {
        operationId: 'v1.message-attempt.count-by-endpoint',
        summary: "Count an endpoint's attempts, with the filters of its attempt list",
        description: `Counts stop at ${ATTEMPT_COUNT_CEILING}, with \`approximated\` true.`,
        tags: ['Message Attempt'],
        params: endpointParams,
        querystring: {
          type: 'object',
          properties: {
            ...messageFilterQuery(),
            status: { type: 'integer', enum: Object.values(Status) },
            status_code_class: { type: 'integer', enum: [0, 100, 200, 300, 400, 500] },
          },
        },
        response: { 200: ref('CountOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const { app: a, endpoint } = await requireEndpoint(d, req);
      const n = await d.store.sending.countAttempts(
        a.id,
        { ...messageFilter(req.query), status: req.query.status, statusCodeClass: req.query.status_code_class, endpointId: endpoint.id },
        ATTEMPT_COUNT_CEILING,
      );
      return { count: Math.min(n, ATTEMPT_COUNT_CEILING), approximated: n > ATTEMPT_COUNT_CEILING };
    },
  );

  app.get<{ Params: { app_id: string; msg_id: string; attempt_id: string } }>(
    '/api/v1/app/:app_id/msg/:msg_id/attempt/:attempt_id/headers',
    {
      schema: {
        operationId: 'v1.message-attempt.get-headers',
        summary: 'The request headers an attempt was sent with; signatures and credentials masked',
        description:
          "Rebuilt from the endpoint's headers as they are now and the attempt's time; response headers are not kept (null).",
        tags: ['Message Attempt'],
        response: { 200: ref('MessageAttemptHeadersOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const a = await requireApp(d, req);
      const m = await d.store.getMessage(a.id, req.params.msg_id);
      if (m === null) throw new NotFoundError('message', req.params.msg_id);
      const attempt = await d.store.getAttempt(a.id, m.id, req.params.attempt_id);
      if (attempt === null) throw new NotFoundError('attempt', req.params.attempt_id);
      return attemptHeaders(attempt, m.eventType, await d.store.getEndpoint(a.id, attempt.endpointId), d.cfg);
    },
  );
}
