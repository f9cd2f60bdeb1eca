// Svix's operational webhook endpoints: where Hookwell sends its own events. They are the
// endpoints of one internal application (core/operational.ts), shown with Svix's fields.
import type { FastifyInstance } from 'fastify';
import { generateSecret } from '@hookwell/receiver';
import { NotFoundError } from '../domain/errors.js';
import { checkName } from '../domain/names.js';
import type { Endpoint } from '../domain/types.js';
import type { EndpointFields } from '../store/store.js';
import { errorResponses, listQuery, ref } from './schemas.js';
import { listQuery as toListQuery, type Deps } from './http.js';
import { presentOperationalEndpoint } from './present.js';
import { checkHeaders, checkHeaderSize, checkUrl, presentHeaders, replaceHeaders } from './endpoints.js';

interface OperationalEndpointBody {
  url: string;
  description?: string;
  throttleRate?: number | null;
  rateLimit?: number | null;
  uid?: string | null;
  disabled?: boolean;
  eventTypes?: string[] | null;
  filterTypes?: string[] | null;
  metadata?: Record<string, string>;
  secret?: string | null;
  headers?: Record<string, string> | null;
}

const PATH = '/api/v1/operational-webhook/endpoint';
const tags = ['Webhook Endpoint'];
const params = { type: 'object', properties: { endpoint_id: { type: 'string', description: 'Endpoint id or uid' } }, required: ['endpoint_id'] };
const noContent = { 204: { type: 'null', description: 'Done' }, ...errorResponses() };
type P = { Params: { endpoint_id: string } };

/** Every field an operational endpoint body sets, absent ones at their defaults (as Svix's create and upsert do). */
function fieldsOf(b: OperationalEndpointBody): Required<Pick<EndpointFields, 'url' | 'description' | 'throttleRate' | 'disabled' | 'eventTypes' | 'metadata'>> {
  checkUrl(b.url);
  // Svix's reference names them eventTypes and throttleRate; its 1.x SDK sends filterTypes and rateLimit.
  const types = b.eventTypes ?? b.filterTypes;
  return {
    url: b.url,
    description: b.description ?? '',
    throttleRate: b.throttleRate ?? b.rateLimit ?? null,
    disabled: b.disabled ?? false,
    eventTypes: types && types.length > 0 ? types : null,
    metadata: b.metadata ?? {},
  };
}

export function operationalRoutes(app: FastifyInstance, d: Deps): void {
  const find = async (ref: string): Promise<Endpoint | null> => {
    const ops = await d.core.operational.app(false);
    return ops === null ? null : d.store.getEndpoint(ops.id, ref);
  };
  const require = async (ref: string): Promise<Endpoint> => {
    const endpoint = await find(ref);
    if (endpoint === null) throw new NotFoundError('endpoint', ref);
    return endpoint;
  };
  const create = async (b: OperationalEndpointBody, uid: string | null) => {
    if (b.headers) {
      checkHeaders(b.headers);
      checkHeaderSize(b.headers);
    }
    const fields = fieldsOf(b);
    const ops = (await d.core.operational.app(true))!;
    return d.core.endpoints.create(
      ops.id,
      { ...fields, uid, version: 1, channels: null, headers: b.headers ?? {}, secret: b.secret ?? generateSecret(), ping: null },
      false,
    );
  };

  app.get<{ Querystring: { limit?: number; iterator?: string; order?: string } }>(
    PATH,
    {
      schema: {
        operationId: 'v1.operational-webhook.endpoint.list',
        summary: 'List operational webhook endpoints',
        tags,
        querystring: listQuery(),
        response: { 200: ref('ListResponse_OperationalWebhookEndpointOut_'), ...errorResponses() },
      },
    },
    async (req) => {
      const ops = await d.core.operational.app(false);
      if (ops === null) return { data: [], iterator: null, prevIterator: null, done: true };
      const page = await d.store.listEndpoints(ops.id, toListQuery(req.query, 'ascending'));
      return { ...page, data: page.data.map(presentOperationalEndpoint) };
    },
  );
  app.post<{ Body: OperationalEndpointBody }>(
    PATH,
    {
      schema: {
        operationId: 'v1.operational-webhook.endpoint.create',
        summary: 'Create an operational webhook endpoint',
        description: "Hookwell's own events (endpoint.created, endpoint.disabled, message.attempt.exhausted…) are sent to it, signed with its secret.",
        tags,
        body: ref('OperationalWebhookEndpointIn'),
        response: { 201: ref('OperationalWebhookEndpointOut'), ...errorResponses() },
      },
    },
    async (req, reply) => reply.code(201).send(presentOperationalEndpoint(await create(req.body, req.body.uid ?? null))),
  );
  app.get<P>(
    `${PATH}/:endpoint_id`,
    {
      schema: {
        operationId: 'v1.operational-webhook.endpoint.get',
        summary: 'Get an operational webhook endpoint',
        tags,
        params,
        response: { 200: ref('OperationalWebhookEndpointOut'), ...errorResponses() },
      },
    },
    async (req) => presentOperationalEndpoint(await require(req.params.endpoint_id)),
  );
  app.put<P & { Body: OperationalEndpointBody }>(
    `${PATH}/:endpoint_id`,
    {
      schema: {
        operationId: 'v1.operational-webhook.endpoint.upsert',
        summary: 'Create or replace an operational webhook endpoint',
        tags,
        params,
        body: ref('OperationalWebhookEndpointUpsertIn'),
        response: { 200: ref('OperationalWebhookEndpointOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const existing = await find(req.params.endpoint_id);
      if (existing === null) {
        checkName(req.params.endpoint_id, ['path', 'endpoint_id']);
        return presentOperationalEndpoint(await create(req.body, req.body.uid ?? req.params.endpoint_id));
      }
      const fields: EndpointFields = { ...fieldsOf(req.body), uid: req.body.uid ?? existing.uid };
      return presentOperationalEndpoint(await d.core.endpoints.update(existing, fields));
    },
  );
  app.delete<P>(
    `${PATH}/:endpoint_id`,
    { schema: { operationId: 'v1.operational-webhook.endpoint.delete', summary: 'Delete an operational webhook endpoint', tags, params, response: noContent } },
    async (req, reply) => {
      await d.core.endpoints.delete(await require(req.params.endpoint_id));
      return reply.code(204).send();
    },
  );
  app.get<P>(
    `${PATH}/:endpoint_id/secret`,
    {
      schema: {
        operationId: 'v1.operational-webhook.endpoint.get-secret',
        summary: "Get an operational webhook endpoint's signing secret",
        tags,
        params,
        response: { 200: ref('EndpointSecretOut'), ...errorResponses() },
      },
    },
    async (req) => ({ key: (await require(req.params.endpoint_id)).secret }),
  );
  app.post<P & { Body: { key?: string | null; gracePeriodSeconds?: number | null } | undefined }>(
    `${PATH}/:endpoint_id/secret/rotate`,
    {
      schema: {
        operationId: 'v1.operational-webhook.endpoint.rotate-secret',
        summary: "Rotate an operational webhook endpoint's signing secret; the old one keeps signing for the grace period",
        tags,
        params,
        body: ref('EndpointSecretRotateIn'),
        response: noContent,
      },
    },
    async (req, reply) => {
      const endpoint = await require(req.params.endpoint_id);
      await d.core.endpoints.rotateSecret(endpoint, req.body?.key ?? null, (req.body?.gracePeriodSeconds ?? 86400) * 1000);
      return reply.code(204).send();
    },
  );
  app.get<P>(
    `${PATH}/:endpoint_id/headers`,
    {
      schema: {
        operationId: 'v1.operational-webhook.endpoint.get-headers',
        summary: 'Get the headers sent to an operational webhook endpoint; sensitive values are masked',
        tags,
        params,
        response: { 200: ref('EndpointHeadersOut'), ...errorResponses() },
      },
    },
    async (req) => presentHeaders((await require(req.params.endpoint_id)).headers),
  );
  app.put<P & { Body: { headers: Record<string, string> } }>(
    `${PATH}/:endpoint_id/headers`,
    {
      schema: {
        operationId: 'v1.operational-webhook.endpoint.set-headers',
        summary: 'Replace the headers sent to an operational webhook endpoint',
        tags,
        params,
        body: ref('EndpointHeadersIn'),
        response: noContent,
      },
    },
    async (req, reply) => {
      await replaceHeaders(d, await require(req.params.endpoint_id), req.body.headers);
      return reply.code(204).send();
    },
  );
}
