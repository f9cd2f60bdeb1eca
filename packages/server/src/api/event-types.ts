import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../domain/errors.js';
import { checkName } from '../domain/names.js';
import type { EventTypeInput } from '../store/store.js';
import { errorResponses, listQuery, ref } from './schemas.js';
import { listQuery as toListQuery, type Deps } from './http.js';
import { presentEventType } from './present.js';

interface EventTypeBody {
  name?: string;
  description?: string;
  archived?: boolean;
  deprecated?: boolean;
  schemas?: Record<string, unknown> | null;
  featureFlags?: string[] | null;
  featureFlag?: string | null;
  groupName?: string | null;
}

const params = { type: 'object', properties: { event_type_name: { type: 'string' } }, required: ['event_type_name'] };
const tags = ['Event Type'];

function fields(b: EventTypeBody): Partial<EventTypeInput> {
  const f: Partial<EventTypeInput> = {};
  if (b.description !== undefined) f.description = b.description;
  if (b.archived !== undefined) f.archived = b.archived;
  if (b.deprecated !== undefined) f.deprecated = b.deprecated;
  if (b.schemas !== undefined) f.schemas = b.schemas;
  if (b.featureFlags !== undefined) f.featureFlags = b.featureFlags;
  else if (b.featureFlag !== undefined) f.featureFlags = b.featureFlag === null ? null : [b.featureFlag];
  if (b.groupName !== undefined) f.groupName = b.groupName;
  return f;
}

function fullInput(name: string, b: EventTypeBody): EventTypeInput {
  return {
    name,
    description: b.description ?? '',
    archived: b.archived ?? false,
    deprecated: b.deprecated ?? false,
    schemas: b.schemas ?? null,
    featureFlags: b.featureFlags ?? (b.featureFlag ? [b.featureFlag] : null),
    groupName: b.groupName ?? null,
  };
}

export function eventTypeRoutes(app: FastifyInstance, d: Deps): void {
  app.get<{ Querystring: { limit?: number; iterator?: string; order?: string; include_archived?: boolean; with_content?: boolean } }>(
    '/api/v1/event-type',
    {
      schema: {
        operationId: 'v1.event-type.list',
        summary: 'List event types',
        tags,
        querystring: listQuery({ include_archived: { type: 'boolean', default: false }, with_content: { type: 'boolean', default: false } }),
        response: { 200: ref('ListResponse_EventTypeOut_'), ...errorResponses() },
      },
    },
    async (req) => {
      const page = await d.store.listEventTypes(toListQuery(req.query, 'ascending'), req.query.include_archived === true);
      return {
        ...page,
        data: page.data.map((t) => ({ ...presentEventType(t), schemas: req.query.with_content ? t.schemas : null })),
      };
    },
  );

  app.post<{ Body: EventTypeBody & { name: string } }>(
    '/api/v1/event-type',
    {
      schema: {
        operationId: 'v1.event-type.create',
        summary: 'Create an event type',
        tags,
        body: ref('EventTypeIn'),
        response: { 201: ref('EventTypeOut'), ...errorResponses() },
      },
    },
    async (req, reply) => reply.code(201).send(presentEventType(await d.store.createEventType(fullInput(req.body.name, req.body)))),
  );

  app.get<{ Params: { event_type_name: string } }>(
    '/api/v1/event-type/:event_type_name',
    { schema: { operationId: 'v1.event-type.get', summary: 'Get an event type', tags, params, response: { 200: ref('EventTypeOut'), ...errorResponses() } } },
    async (req) => {
      const t = await d.store.getEventType(req.params.event_type_name);
      if (t === null) throw new NotFoundError('event type', req.params.event_type_name);
      return presentEventType(t);
    },
  );

  app.put<{ Params: { event_type_name: string }; Body: EventTypeBody }>(
    '/api/v1/event-type/:event_type_name',
    {
      schema: {
        operationId: 'v1.event-type.upsert',
        summary: 'Create or replace an event type',
        tags,
        params,
        body: ref('EventTypeUpsertIn'),
        response: { 200: ref('EventTypeOut'), 201: ref('EventTypeOut'), ...errorResponses() },
      },
    },
    async (req, reply) => {
      const name = req.params.event_type_name;
      const existing = await d.store.getEventType(name);
      if (existing === null) checkName(name, ['path', 'event_type_name']);
      if (existing === null) return reply.code(201).send(presentEventType(await d.store.createEventType(fullInput(name, req.body))));
      const { name: _ignored, ...replacement } = fullInput(name, req.body);
      return reply.code(200).send(presentEventType(await d.store.updateEventType(name, replacement)));
    },
  );

  app.patch<{ Params: { event_type_name: string }; Body: EventTypeBody }>(
    '/api/v1/event-type/:event_type_name',
    {
      schema: {
        operationId: 'v1.event-type.patch',
        summary: 'Update some fields of an event type',
        tags,
        params,
        body: ref('EventTypePatch'),
        response: { 200: ref('EventTypeOut'), ...errorResponses() },
      },
    },
    async (req) => {
      if ((await d.store.getEventType(req.params.event_type_name)) === null) {
        throw new NotFoundError('event type', req.params.event_type_name);
      }
      return presentEventType(await d.store.updateEventType(req.params.event_type_name, fields(req.body)));
    },
  );

  app.delete<{ Params: { event_type_name: string }; Querystring: { expunge?: boolean } }>(
    '/api/v1/event-type/:event_type_name',
    {
      schema: {
        operationId: 'v1.event-type.delete',
        summary: 'Archive an event type, or delete it for good with expunge=true',
        tags,
        params,
        querystring: { type: 'object', properties: { expunge: { type: 'boolean', default: false } } },
        response: { 204: { type: 'null', description: 'Done' }, ...errorResponses() },
      },
    },
    async (req, reply) => {
      const name = req.params.event_type_name;
      if ((await d.store.getEventType(name)) === null) throw new NotFoundError('event type', name);
      if (req.query.expunge) await d.store.deleteEventType(name);
      else await d.store.updateEventType(name, { archived: true });
      return reply.code(204).send();
    },
  );
}
