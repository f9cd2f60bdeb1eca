import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../domain/errors.js';
import { errorResponses } from './schemas.js';
import type { Deps } from './http.js';
import { requireApp } from './applications.js';
import { recordRange } from '../domain/backfill.js';
import { CONTENT_DELETED } from '../core/content.js';
import type { BackfillRef } from '../domain/types.js';
import { recordAudit } from '../core/audit.js';
import type { RefusalReason } from '../core/content.js';
import { sourceOf } from './audit.js';

/** Content links: the full payload of a thin delivery, for the bearer of a valid link. */
export const CONTENT_ROUTE = '/api/v1/content/:msg_id';

/**
 * Fetches kept per message, newest first (older ones are pruned as new ones are recorded):
 * enough to see who read a message and when, and a bound on what a link's holder can make
 * the store keep by fetching it over and over. The list route shows up to 250.
 */
export const CONTENT_FETCHES_KEPT = 100;

/** A page holds at most `limit` records, and stops early once it has this many bytes. */
const PAGE_BYTES = 8 * 1024 * 1024;

/**
 * One page of the records a backfill notification leads to, as JSON text with each record
 * exactly as uploaded; null when the backfill was deleted.
 */
async function backfillPage(d: Deps, appId: string, ref: BackfillRef, iterator: string | undefined, limit: number): Promise<string | null> {
  const bf = await d.store.getBackfill(appId, ref.id);
  if (bf === null || bf.status !== 'complete') return null;
  const range = recordRange(bf, ref.chunk);
  const from = iterator === undefined ? range.from : Math.max(range.from, Number(iterator));
  const rows = from >= range.to ? [] : await d.store.readBackfillRecords(bf.id, from, range.to, limit);
  let bytes = 0;
  let kept = 0;
  while (kept < rows.length && (kept === 0 || bytes + rows[kept]!.record.length <= PAGE_BYTES)) bytes += rows[kept++]!.record.length;
  const next = kept === 0 ? range.to : rows[kept - 1]!.seq + 1;
  const done = next >= range.to;
  const meta = { backfill_id: bf.id, chunk: ref.chunk, user_id: bf.userId, provider: bf.provider, resource: bf.resource };
  return `{"data":[${rows.slice(0, kept).map((r) => r.record).join(',')}],"iterator":${done ? 'null' : `"${next}"`},"done":${done},${JSON.stringify(meta).slice(1)}`;
}

export function contentRoutes(app: FastifyInstance, d: Deps): void {
  app.get<{ Params: { msg_id: string }; Querystring: { token?: string; iterator?: string; limit?: number } }>(
    CONTENT_ROUTE,
    {
      // The link is the credential, not a token.
      config: { public: true },
      schema: {
        operationId: 'hookwell.content.get',
        summary: "A message's payload, exactly as sent, for the holder of a content link from a thin delivery",
        description:
          'Needs no bearer token: the link is the credential, valid for one message and one endpoint until it expires, ' +
          'or until the endpoint is deleted, disabled or its secret rotated. ' +
          "For a backfill's notification, the records of its chunk (or of the whole backfill), oldest last, a page at a time: " +
          '{"data": [...], "iterator": "...", "done": false}; pass iterator back for the next page.',
        tags: ['Content'],
        security: [],
        params: { type: 'object', properties: { msg_id: { type: 'string' } }, required: ['msg_id'] },
        querystring: {
          type: 'object',
          properties: {
            token: { type: 'string' },
            iterator: { type: 'string', pattern: '^[0-9]{1,15}$', description: 'Backfills: where the next page starts, from the previous page.' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100, description: 'Backfills: most records in a page.' },
          },
        },
        response: {
          200: { description: 'The payload', type: 'object', additionalProperties: true },
          401: { $ref: 'HttpErrorOut#' },
          410: { $ref: 'HttpErrorOut#' },
        },
      },
    },
    async (req, reply) => {
      const msgId = req.params.msg_id;
      const refuse = (detail: string) => reply.code(401).send({ code: 'invalid_content_link', detail });
      // The link was good; what it led to is gone for good, which a retry will not change.
      const gone = () => reply.code(410).send({ code: 'content_deleted', detail: CONTENT_DELETED });
      const opening = await d.core.content.open(msgId, req.query.token ?? '');
      const { fetch } = opening;
      const record = (status: number, reason: RefusalReason | null): Promise<unknown> => {
        // Every fetch is audited, a refused one by its reason's code; a link whose MAC fails
        // names no record, as its ids are the caller's words. Both are written before the
        // answer goes out; a failure to write is logged and the answer sent all the same
        // (a fetch changes nothing the caller would have to retry).
        const audit = recordAudit(d.store, {
          actor: 'link',
          ...sourceOf(req),
          action: 'content.fetch',
          appId: fetch?.appId,
          endpointId: fetch?.endpointId,
          msgId: fetch?.msgId,
          outcome: status === 200 ? 'ok' : 'refused',
          reason,
        }).catch((err: unknown) => d.log.error({ err }, 'recording an audit entry failed'));
        const kept =
          fetch === null
            ? undefined
            : d.store
                .recordContentFetch({ ...fetch, status, remoteAddr: req.ip ?? null, createdAt: Date.now() }, CONTENT_FETCHES_KEPT)
                .catch((err: unknown) => d.log.error({ err }, 'recording a content fetch failed'));
        return Promise.all([audit, kept]);
      };
      if (!opening.granted) {
        await record(opening.deleted === true ? 410 : 401, opening.reason);
        return opening.deleted === true ? gone() : refuse(opening.why);
      }
      const { message } = opening;
      if (message.backfill !== null) {
        const page = await backfillPage(d, message.appId, message.backfill, req.query.iterator, req.query.limit ?? 100);
        if (page === null) {
          await record(410, 'content_deleted');
          return gone();
        }
        await record(200, null);
        return reply.code(200).header('cache-control', 'no-store').type('application/json').serializer((x: unknown) => x as string).send(page);
      }
      await record(200, null);
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
      const a = await requireApp(d, req);
      const m = await d.store.getMessage(a.id, req.params.msg_id);
      if (m === null) throw new NotFoundError('message', req.params.msg_id);
      const fetches = await d.store.listContentFetches(a.id, m.id, 250);
      return {
        data: fetches.map((f) => ({ endpointId: f.endpointId, status: f.status, remoteAddr: f.remoteAddr, createdAt: new Date(f.createdAt).toISOString() })),
      };
    },
  );
}
