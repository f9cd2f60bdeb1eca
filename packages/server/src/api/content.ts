import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../domain/errors.js';
import { errorResponses } from './schemas.js';
import type { Deps } from './http.js';
import { requireApp } from './applications.js';

/** Content links: the full payload of a thin delivery, for the bearer of a valid link. */
export const CONTENT_ROUTE = '/api/v1/content/:msg_id';

export function contentRoutes(app: FastifyInstance, d: Deps): void {
  app.get<{ Params: { msg_id: string }; Querystring: { token?: string } }>(
    CONTENT_ROUTE,
    {
      schema: {
        operationId: 'hookwell.content.get',
        summary: "A message's payload, exactly as sent, for the holder of a content link from a thin delivery",
        description: 'Needs no bearer token: the link is the credential, valid for one message and one endpoint until it expires.',
        tags: ['Content'],
        security: [],
        params: { type: 'object', properties: { msg_id: { type: 'string' } }, required: ['msg_id'] },
        querystring: { type: 'object', properties: { token: { type: 'string' } } },
        response: { 200: { description: 'The payload', type: 'object', additionalProperties: true }, 401: { $ref: 'HttpErrorOut#' } },
      },
    },
    async (req, reply) => {
      const msgId = req.params.msg_id;
      const grant = d.links.read(msgId, req.query.token ?? '');
      const message = grant.appId === undefined ? null : await d.store.getMessage(grant.appId, msgId);
      const record = (status: number) =>
        message === null
          ? Promise.resolve()
          : d.store
              .recordContentFetch({ appId: message.appId, msgId, endpointId: grant.endpointId ?? null, status, remoteAddr: req.ip ?? null, createdAt: Date.now() })
              .catch((err: unknown) => d.log.error({ err }, 'recording a content fetch failed'));
      if (!grant.ok || message === null || message.payload === null || message.id !== msgId) {
        await record(401);
        const detail = !grant.ok ? grant.why : message === null || message.id !== msgId ? 'the content link is not valid for this message' : 'the content was deleted';
        return reply.code(401).send({ code: 'invalid_content_link', detail });
      }
      await record(200);
      // The payload as stored, byte for byte, not re-serialised.
      return reply.code(200).header('cache-control', 'no-store').type('application/json').serializer((x: unknown) => x as string).send(message.payload);
    },
  );

  app.get<{ Params: { app_id: string; msg_id: string } }>(
    '/api/v1/app/:app_id/msg/:msg_id/content-fetches',
    {
      schema: {
        operationId: 'hookwell.message.content-fetches',
        summary: "Every request for a message's content through a content link, newest first",
        tags: ['Message'],
        params: { type: 'object', properties: { app_id: { type: 'string' }, msg_id: { type: 'string' } }, required: ['app_id', 'msg_id'] },
        response: {
          200: {
            type: 'object',
            properties: {
              data: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    endpointId: { type: ['string', 'null'] },
                    status: { type: 'integer' },
                    remoteAddr: { type: ['string', 'null'] },
                    createdAt: { type: 'string', format: 'date-time' },
                  },
                },
              },
            },
          },
          ...errorResponses(),
        },
      },
    },
    async (req) => {
      const a = await requireApp(d, req.params.app_id);
      const m = await d.store.getMessage(a.id, req.params.msg_id);
      if (m === null) throw new NotFoundError('message', req.params.msg_id);
      const fetches = await d.store.listContentFetches(a.id, m.id, 250);
      return {
        data: fetches.map((f) => ({ endpointId: f.endpointId, status: f.status, remoteAddr: f.remoteAddr, createdAt: new Date(f.createdAt).toISOString() })),
      };
    },
  );
}
