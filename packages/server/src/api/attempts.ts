import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../domain/errors.js';
import { Status, type Message, type StatusCode } from '../domain/types.js';
import type { AttemptFilter } from '../store/store.js';
import { errorResponses, listQuery, messageFilterQuery, ref } from './schemas.js';
import { listQuery as toListQuery, type Deps } from './http.js';
import { presentAttempt, presentEndpointMessage, presentMessageEndpoint } from './present.js';
import { requireApp } from './applications.js';
import { requireEndpoint, requireEndpointOf } from './endpoints.js';
import { messageFilter, type MessageFilterQuery } from './messages.js';

const tags = ['Message Attempt'];
const statusQuery = { type: 'integer', enum: Object.values(Status) };

interface AttemptQuery extends MessageFilterQuery {
  limit?: number;
  iterator?: string;
  status?: StatusCode;
  status_code_class?: number;
  endpoint_id?: string;
  with_msg?: boolean;
  expanded_statuses?: boolean;
}

/** How Svix's list query flags shape each attempt: content by default, Canceled only when asked. */
function attemptView(q: AttemptQuery) {
  return { withContent: q.with_content !== false, expandedStatuses: q.expanded_statuses === true };
}

function attemptFilter(q: AttemptQuery): AttemptFilter {
  return { ...messageFilter(q), status: q.status, statusCodeClass: q.status_code_class };
}

async function requireMessage(d: Deps, appId: string, ref: string): Promise<Message> {
  const m = await d.store.getMessage(appId, ref);
  if (m === null) throw new NotFoundError('message', ref);
  return m;
}

const attemptQuery = (extra: Record<string, unknown> = {}) =>
  listQuery(
    {
      ...messageFilterQuery(),
      status: statusQuery,
      status_code_class: { type: 'integer', enum: [0, 100, 200, 300, 400, 500] },
      expanded_statuses: { type: 'boolean', default: false },
      ...extra,
    } as Record<string, Record<string, unknown>>,
    false,
  );

export function attemptRoutes(app: FastifyInstance, d: Deps): void {
  app.get<{ Params: { app_id: string; endpoint_id: string }; Querystring: AttemptQuery }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/msg',
    {
      schema: {
        operationId: 'v1.message-attempt.list-attempted-messages',
        summary: 'List the messages sent to an endpoint, with their delivery status',
        tags,
        querystring: listQuery({ ...messageFilterQuery(), status: statusQuery, expanded_statuses: { type: 'boolean', default: false } }, false),
        response: { 200: ref('ListResponse_EndpointMessageOut_'), ...errorResponses() },
      },
    },
    async (req) => {
      const { app: a, endpoint } = await requireEndpoint(d, req);
      const page = await d.store.listEndpointMessages(a.id, endpoint.id, toListQuery(req.query, 'descending'), {
        ...messageFilter(req.query),
        status: req.query.status,
      });
      const withContent = req.query.with_content !== false;
      return { ...page, data: page.data.map((x) => presentEndpointMessage(x.message, x.delivery, withContent, req.query.expanded_statuses === true)) };
    },
  );

  app.get<{ Params: { app_id: string; msg_id: string }; Querystring: { limit?: number; iterator?: string } }>(
    '/api/v1/app/:app_id/msg/:msg_id/endpoint',
    {
      schema: {
        operationId: 'v1.message-attempt.list-attempted-destinations',
        summary: 'List the endpoints a message is sent to, with its status at each',
        tags,
        querystring: listQuery({}, false),
        response: { 200: ref('ListResponse_MessageEndpointOut_'), ...errorResponses() },
      },
    },
    async (req) => {
      const a = await requireApp(d, req);
      const m = await requireMessage(d, a.id, req.params.msg_id);
      const page = await d.store.listMessageDestinations(a.id, m.id, toListQuery(req.query, 'ascending'));
      return { ...page, data: page.data.map((x) => presentMessageEndpoint(x.endpoint, x.delivery)) };
    },
  );

  app.post<{ Params: { app_id: string; msg_id: string; endpoint_id: string } }>(
    '/api/v1/app/:app_id/msg/:msg_id/endpoint/:endpoint_id/resend',
    {
      schema: {
        operationId: 'v1.message-attempt.resend',
        summary: 'Send a message to an endpoint again, now',
        tags,
        response: { 202: ref('EmptyResponse'), ...errorResponses() },
      },
    },
    async (req, reply) => {
      const { app: a, endpoint } = await requireEndpoint(d, req);
      const m = await requireMessage(d, a.id, req.params.msg_id);
      await d.core.requeue.resend(a.id, m, endpoint.id);
      return reply.code(202).send({});
    },
  );

  app.get<{ Params: { app_id: string; msg_id: string; attempt_id: string }; Querystring: { expanded_statuses?: boolean } }>(
    '/api/v1/app/:app_id/msg/:msg_id/attempt/:attempt_id',
    {
      schema: {
        operationId: 'v1.message-attempt.get',
        summary: 'Get one attempt',
        tags,
        querystring: { type: 'object', properties: { expanded_statuses: { type: 'boolean', default: false } } },
        response: { 200: ref('MessageAttemptOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const a = await requireApp(d, req);
      const m = await requireMessage(d, a.id, req.params.msg_id);
      const attempt = await d.store.getAttempt(a.id, m.id, req.params.attempt_id);
      if (attempt === null) throw new NotFoundError('attempt', req.params.attempt_id);
      return presentAttempt(attempt, { expandedStatuses: req.query.expanded_statuses === true });
    },
  );

  app.delete<{ Params: { app_id: string; msg_id: string; attempt_id: string } }>(
    '/api/v1/app/:app_id/msg/:msg_id/attempt/:attempt_id/content',
    {
      schema: {
        operationId: 'v1.message-attempt.expunge-content',
        summary: "Delete an attempt's recorded response body",
        tags,
        response: { 204: { type: 'null', description: 'Done' }, ...errorResponses() },
      },
    },
    async (req, reply) => {
      const a = await requireApp(d, req);
      const m = await requireMessage(d, a.id, req.params.msg_id);
      const attempt = await d.store.getAttempt(a.id, m.id, req.params.attempt_id);
      if (attempt === null) throw new NotFoundError('attempt', req.params.attempt_id);
      await d.store.expungeAttempt(a.id, m.id, attempt.id);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { app_id: string; endpoint_id: string }; Querystring: AttemptQuery }>(
    '/api/v1/app/:app_id/attempt/endpoint/:endpoint_id',
    {
      schema: {
        operationId: 'v1.message-attempt.list-by-endpoint',
        summary: "List an endpoint's attempts, newest first",
        tags,
        querystring: attemptQuery({ with_msg: { type: 'boolean', default: false } }),
        response: { 200: ref('ListResponse_MessageAttemptOut_'), ...errorResponses() },
      },
    },
    async (req) => {
      const { app: a, endpoint } = await requireEndpoint(d, req);
      const page = await d.store.listAttempts(a.id, toListQuery(req.query, 'descending'), {
        ...attemptFilter(req.query),
        endpointId: endpoint.id,
      });
      const messages = new Map<string, Message | null>();
      if (req.query.with_msg) {
        for (const at of page.data) if (!messages.has(at.msgId)) messages.set(at.msgId, await d.store.getMessage(a.id, at.msgId));
      }
      return { ...page, data: page.data.map((at) => presentAttempt(at, { ...attemptView(req.query), msg: messages.get(at.msgId) ?? undefined })) };
    },
  );

  app.get<{ Params: { app_id: string; msg_id: string }; Querystring: AttemptQuery }>(
    '/api/v1/app/:app_id/attempt/msg/:msg_id',
    {
      schema: {
        operationId: 'v1.message-attempt.list-by-msg',
        summary: "List a message's attempts, newest first",
        tags,
        querystring: attemptQuery({ endpoint_id: { type: 'string' } }),
        response: { 200: ref('ListResponse_MessageAttemptOut_'), ...errorResponses() },
      },
    },
    async (req) => {
      const a = await requireApp(d, req);
      const m = await requireMessage(d, a.id, req.params.msg_id);
      let endpointId: string | undefined;
      if (req.query.endpoint_id !== undefined) endpointId = (await requireEndpointOf(d, a, req.query.endpoint_id)).id;
      const page = await d.store.listAttempts(a.id, toListQuery(req.query, 'descending'), {
        ...attemptFilter(req.query),
        msgId: m.id,
        endpointId,
      });
      return { ...page, data: page.data.map((at) => presentAttempt(at, attemptView(req.query))) };
    },
  );
}
