// What the seed platforms offer around delivery: the ping/pong check of an endpoint, a
// webhook key in a header, and the status / retry view of an application's failures.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { NotFoundError, ValidationError } from '../domain/errors.js';
import { errorResponses, ref } from './schemas.js';
import type { Deps } from './http.js';
import { iso } from './present.js';
import { requireApp } from './applications.js';
import { headerProblem, requireEndpoint } from './endpoints.js';

const params = {
  type: 'object',
  properties: { app_id: { type: 'string' }, endpoint_id: { type: 'string' } },
  required: ['app_id', 'endpoint_id'],
};
const appParams = { type: 'object', properties: { app_id: { type: 'string' } }, required: ['app_id'] };
const tags = ['Endpoint checks'];
type P = { Params: { app_id: string; endpoint_id: string } };

export const DEFAULT_KEY_HEADER = 'x-webhook-key';

export function checkRoutes(app: FastifyInstance, d: Deps): void {
  app.post<P>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/ping',
    {
      schema: {
        operationId: 'hookwell.endpoint.ping',
        summary: 'Send a signed {"ping": "<random>"} and check for {"pong": "<same>"} within two seconds',
        tags,
        params,
        response: { 200: ref('PingOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const { endpoint } = await requireEndpoint(d, req);
      const ping = await d.core.endpoints.ping(endpoint);
      return { ...ping, at: iso(ping.at) };
    },
  );

  app.post<P & { Body: { header?: string } | undefined }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/key',
    {
      schema: {
        operationId: 'hookwell.endpoint.rotate-key',
        summary: 'Generate a webhook key sent with every delivery; calling it again replaces the key',
        tags,
        params,
        body: ref('WebhookKeyIn'),
        response: { 200: ref('WebhookKeyOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const { app: a, endpoint } = await requireEndpoint(d, req);
      const header = req.body?.header ?? DEFAULT_KEY_HEADER;
      const problem = headerProblem(header, null);
      if (problem !== null) throw ValidationError.field(['body', 'header'], problem);
      const webhookKey = { header, key: randomBytes(32).toString('base64url') };
      await d.store.updateEndpoint(a.id, endpoint.id, { webhookKey });
      return webhookKey;
    },
  );

  app.get<P>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/key',
    {
      config: { audit: 'always' },
      schema: {
        operationId: 'hookwell.endpoint.get-key',
        summary: "Get the endpoint's webhook key and its header",
        tags,
        params,
        response: { 200: ref('WebhookKeyOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const { endpoint } = await requireEndpoint(d, req);
      if (endpoint.webhookKey === null) throw new NotFoundError('webhook key of endpoint', endpoint.id);
      return endpoint.webhookKey;
    },
  );

  app.delete<P>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/key',
    {
      schema: {
        operationId: 'hookwell.endpoint.delete-key',
        summary: 'Stop sending a webhook key',
        tags,
        params,
        response: { 204: { type: 'null', description: 'Done' }, ...errorResponses() },
      },
    },
    async (req, reply) => {
      const { app: a, endpoint } = await requireEndpoint(d, req);
      await d.store.updateEndpoint(a.id, endpoint.id, { webhookKey: null });
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { app_id: string } }>(
    '/api/v1/app/:app_id/status',
    {
      schema: {
        operationId: 'hookwell.application.status',
        summary: 'Deliveries processing and failed, per endpoint, as a dashboard shows them',
        tags,
        params: appParams,
        response: { 200: ref('AppStatusOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const a = await requireApp(d, req);
      const rows = await d.store.appStatus(a.id);
      const endpoints = [];
      for (const r of rows) {
        const ep = await d.store.getEndpoint(a.id, r.endpointId);
        if (ep === null) continue;
        endpoints.push({
          id: ep.id,
          url: ep.url,
          disabled: ep.disabled,
          lastAttemptAt: iso(r.lastAttemptAt),
          lastStatus: r.lastStatus,
          processing: r.processing,
          failed: r.failed,
        });
      }
      const processing = endpoints.reduce((n, e) => n + e.processing, 0);
      const failed = endpoints.reduce((n, e) => n + e.failed, 0);
      const enabled = endpoints.filter((e) => !e.disabled).length;
      const statusDetail =
        endpoints.length === 0
          ? 'no endpoints'
          : `${enabled} of ${endpoints.length} endpoints enabled; ${processing} processing, ${failed} failed`;
      return { enabled: enabled > 0, statusDetail, processing, failed, endpoints };
    },
  );

  app.post<{ Params: { app_id: string } }>(
    '/api/v1/app/:app_id/retry-failed',
    {
      schema: {
        operationId: 'hookwell.application.retry-failed',
        summary: 'Send every failed delivery of the application again, oldest first, behind new traffic',
        tags,
        params: appParams,
        response: { 202: ref('RetryFailedOut'), ...errorResponses() },
      },
    },
    async (req, reply) => {
      const a = await requireApp(d, req);
      const queued = await d.core.requeue.retryFailed(a.id);
      return reply.code(202).send({ queued });
    },
  );
}
