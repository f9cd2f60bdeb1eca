import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ConflictError, NotFoundError, PayloadTooLargeError, ValidationError } from '../domain/errors.js';
import { idFloor } from '../domain/ids.js';
import { LIMITS } from '../domain/limits.js';
import { checkName } from '../domain/names.js';
import { Status, type Message, type StatusCode } from '../domain/types.js';
import type { MessageFilter, ReplayRecord } from '../store/store.js';
import { RepeatedRequest } from '../store/store.js';
import { errorResponses, listQuery, messageFilterQuery, ref } from './schemas.js';
import { answerRepeat, IDEMPOTENCY_TTL_MS, listQuery as toListQuery, replayBody, timeParam, type Deps } from './http.js';
import { messageOutJson, presentMessage, presentTask } from './present.js';
import { appInput, requireApp, type ApplicationBody } from './applications.js';
import { rawMember } from './raw-json.js';
import { retentionMs } from '../domain/erasure.js';
import { traceContextOf } from '../domain/trace-context.js';
import type { IngestSpan, Tracing } from '../tracing.js';

interface MessageBody {
  eventType: string;
  eventId?: string | null;
  /** `{}` in the create route's handler when the body was large: the payload is then `req.rawPayload`, kept as text. */
  payload: Record<string, unknown>;
  channels?: string[] | null;
  tags?: string[] | null;
  application?: ApplicationBody;
  deliverAt?: string | null;
  dataId?: string | null;
  payloadRetentionPeriod?: number | null;
  payloadRetentionHours?: number | null;
}

interface MessageSearchBody {
  limit?: number;
  iterator?: string | null;
  channel?: string | null;
  before?: string | null;
  after?: string | null;
  with_content?: boolean;
  tag?: string | null;
  event_types?: string[] | null;
}

export interface MessageFilterQuery {
  channel?: string;
  tag?: string;
  before?: string;
  after?: string;
  event_types?: string[];
  data_id?: string;
  with_content?: boolean;
}

export function messageFilter(q: MessageFilterQuery): MessageFilter {
  return {
    channel: q.channel,
    tag: q.tag,
    eventTypes: q.event_types?.flatMap((t) => t.split(',')).filter((t) => t !== ''),
    dataId: q.data_id,
    before: timeParam(q.before, ['query', 'before']),
    after: timeParam(q.after, ['query', 'after']),
  };
}

/**
 * When to send a message, in ms. From 1970 on (an earlier time, like any past one, would
 * mean now), and at most LIMITS.deliverAheadMs ahead: a time years off holds its ordering
 * key and its row for as long, and outlives the payload's retention.
 */
function deliverAtOf(value: string | null | undefined): number | null {
  const loc = ['body', 'deliverAt'];
  const ms = timeParam(value, loc);
  if (ms === undefined) return null;
  if (ms < 0) throw ValidationError.field(loc, `deliverAt ${value} is before 1970`, 'value_error.datetime');
  if (ms > Date.now() + LIMITS.deliverAheadMs) {
    throw ValidationError.field(loc, `deliverAt ${value} is more than ${LIMITS.deliverAheadMs / 86_400_000} days ahead`, 'value_error.datetime');
  }
  return ms;
}

const hours = (ms: number): string => {
  const h = Number((ms / 3_600_000).toFixed(3));
  return h === 1 ? '1 hour' : `${h} hours`;
};

const appParams = { type: 'object', properties: { app_id: { type: 'string' } }, required: ['app_id'] };
const msgParams = {
  type: 'object',
  properties: { app_id: { type: 'string' }, msg_id: { type: 'string', description: 'Message id or eventId' } },
  required: ['app_id', 'msg_id'],
};
const tags = ['Message'];

const MSG_ROUTE = '/api/v1/app/:app_id/msg';

/** Each traced ingest's span, from its first hook to its answer. */
const ingestSpans = new WeakMap<FastifyRequest, IngestSpan>();

/**
 * Spans for `POST …/msg` when tracing is on. Installed before authentication, so a request
 * refused there has its span too; ended with whatever status the answer had.
 */
export function installIngestTracing(app: FastifyInstance, tracing: Tracing): void {
  app.addHook('onRequest', (req, _reply, done) => {
    if (req.method === 'POST' && req.routeOptions.url === MSG_ROUTE) {
      ingestSpans.set(req, tracing.ingest(traceContextOf(req.headers.traceparent, req.headers.tracestate)));
    }
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    ingestSpans.get(req)?.end(reply.statusCode);
    done();
  });
}

export function messageRoutes(app: FastifyInstance, d: Deps): void {
  const bodyLimit = d.cfg.maxPayloadBytes + 64 * 1024;

  app.get<{ Params: { app_id: string }; Querystring: MessageFilterQuery & { limit?: number; iterator?: string; status?: StatusCode } }>(
    '/api/v1/app/:app_id/msg',
    {
      schema: {
        operationId: 'v1.message.list',
        summary: 'List messages, newest first',
        tags,
        params: appParams,
        querystring: listQuery(
          {
            ...messageFilterQuery(),
            status: {
              type: 'integer',
              enum: Object.values(Status),
              description: 'Hookwell: only messages with at least one delivery in this status (0 success, 1 pending, 2 fail, 3 sending, 4 canceled).',
            },
          },
          false,
        ),
        response: { 200: ref('ListResponse_MessageOut_'), ...errorResponses() },
      },
    },
    async (req) => {
      const a = await requireApp(d, req);
      const page = await d.store.listMessages(a.id, toListQuery(req.query, 'descending'), { ...messageFilter(req.query), status: req.query.status });
      return { ...page, data: page.data.map((m) => presentMessage(m, req.query.with_content !== false)) };
    },
  );

  app.post<{ Params: { app_id: string }; Body: MessageBody; Querystring: { with_content?: boolean } }>(
    MSG_ROUTE,
    {
      bodyLimit,
      // The payload is stored, delivered and echoed as its text: a large one is never built
      // as a tree (see splitMember).
      config: { payloadAsText: true, repeatsInCommit: true },
      // Every answer of this route, its refusals by the auth hook and the body parser included.
      onResponse: (_req, reply, done) => {
        d.metrics.messageAnswered(reply.statusCode, reply.getHeader('idempotent-replayed') === 'true');
        done();
      },
      schema: {
        operationId: 'v1.message.create',
        summary: 'Send a message to every endpoint that subscribes to it',
        description:
          'Answers 202 once the message and its deliveries are durably stored. The payload is delivered byte for byte as sent.',
        tags,
        params: appParams,
        querystring: { type: 'object', properties: { with_content: { type: 'boolean', default: true } } },
        body: ref('MessageIn'),
        response: { 202: ref('MessageOut'), 413: ref('HttpErrorOut'), ...errorResponses() },
      },
    },
    async (req, reply) => {
      const span = d.tracing == null ? undefined : ingestSpans.get(req);
      const payload = req.rawPayload ?? rawMember(req.rawBody!, 'payload')!;
      const size = Buffer.byteLength(payload);
      if (size > d.cfg.maxPayloadBytes) throw new PayloadTooLargeError(size, d.cfg.maxPayloadBytes);
      const deliverAt = deliverAtOf(req.body.deliverAt);
      const b = req.body;
      const retention = retentionMs(b.payloadRetentionHours, b.payloadRetentionPeriod, d.cfg.payloadRetentionMs);
      // Sent after its payload was deleted, a message would go out empty, or not at all.
      if (deliverAt !== null && deliverAt >= Date.now() + retention) {
        throw ValidationError.field(
          ['body', 'deliverAt'],
          `deliverAt ${b.deliverAt} is after the payload's retention period ends (${hours(retention)} from now); send it sooner or keep the payload longer`,
          'value_error.datetime',
        );
      }
      // Before an application is created for it: a refused message leaves nothing behind.
      if (req.rawPayload === undefined) await d.payloads.check(b.eventType, b.payload);
      else await d.payloads.checkText(b.eventType, payload);
      let a = await d.store.getApp(req.params.app_id);
      if (a === null) {
        if (req.body.application === undefined) throw new NotFoundError('application', req.params.app_id);
        checkName(req.params.app_id, ['path', 'app_id']);
        a = await d.store.createApp(appInput(req.body.application, req.params.app_id));
      }
      const input = {
        eventId: b.eventId ?? null,
        eventType: b.eventType,
        payload,
        channels: b.channels && b.channels.length > 0 ? b.channels : null,
        tags: b.tags && b.tags.length > 0 ? b.tags : null,
        deliverAt,
        dataId: b.dataId ?? null,
        retentionMs: retention,
        // Traced, the message carries its ingest span's context (a child of the request's);
        // otherwise the request's own, kept as sent.
        trace: span !== undefined ? span.trace : req.headers.traceparent === undefined ? null : traceContextOf(req.headers.traceparent, req.headers.tracestate),
      };
      const withContent = req.query.with_content !== false;
      // With an idempotency-key, the record kept for repeats is written in the message's
      // commit (the hook then writes none): a separate write after it was a second durable
      // commit every keyed message waited for. The answer with content is the message
      // itself, rendered again for a repeat; only the answer without it is kept as text.
      const idem = req.idempotency;
      const replay: ReplayRecord | undefined =
        idem === undefined || idem.bodyHash === null
          ? undefined
          : {
              scope: idem.scope,
              key: idem.key,
              bodyHash: idem.bodyHash,
              statusCode: 202,
              body: (m: Message) => (withContent ? null : messageOutJson(m, false).toString()),
              expiredAt: Date.now() - IDEMPOTENCY_TTL_MS,
            };
      try {
        return await d.core.messages.create(
          a.id,
          input,
          (message) => {
            span?.message({ appId: a.id, msgId: message.id, eventType: message.eventType });
            if (idem !== undefined) {
              idem.msgId = message.id;
              idem.stored = replay !== undefined;
            }
            return reply.code(202).header('content-type', 'application/json; charset=utf-8').send(messageOutJson(message, withContent));
          },
          replay,
        );
      } catch (err) {
        // A repeat found in the commit (SQLite; see Store.repeatsFoundInCommit).
        if (!(err instanceof RepeatedRequest) || idem === undefined || replay === undefined) throw err;
        // The answer replayed is the kept one's: the hook must not keep it again.
        idem.stored = true;
        const body = await replayBody(d.store, a.id, err.previous);
        // Its message was deleted meanwhile: the commit would have taken the key over.
        if (body === null) throw new ConflictError('this idempotency-key answered a message that no longer exists; send again', 'idempotency_conflict');
        return answerRepeat(reply, err.previous, replay.bodyHash, body);
      }
    },
  );

  app.get<{ Params: { app_id: string; msg_id: string }; Querystring: { with_content?: boolean } }>(
    '/api/v1/app/:app_id/msg/:msg_id',
    {
      schema: {
        operationId: 'v1.message.get',
        summary: 'Get a message',
        tags,
        params: msgParams,
        querystring: { type: 'object', properties: { with_content: { type: 'boolean', default: true } } },
        response: { 200: ref('MessageOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const a = await requireApp(d, req);
      const m = await d.store.getMessage(a.id, req.params.msg_id);
      if (m === null) throw new NotFoundError('message', req.params.msg_id);
      return presentMessage(m, req.query.with_content !== false);
    },
  );

  app.post<{ Params: { app_id: string }; Body: MessageSearchBody }>(
    '/api/v1/app/:app_id/msg/search',
    {
      schema: {
        operationId: 'v1.message.search',
        summary: 'Search messages, newest first',
        description: 'The filters of the message list, in the body. Payloads come back only with with_content: true.',
        tags,
        params: appParams,
        body: ref('MessageSearchIn'),
        response: { 200: ref('ListResponse_MessageOut_'), ...errorResponses() },
      },
    },
    async (req) => {
      const a = await requireApp(d, req);
      const b = req.body;
      const filter: MessageFilter = {
        channel: b.channel ?? undefined,
        tag: b.tag ?? undefined,
        eventTypes: b.event_types ?? undefined,
        before: timeParam(b.before, ['body', 'before']),
        after: timeParam(b.after, ['body', 'after']),
      };
      const page = await d.store.listMessages(a.id, { limit: b.limit ?? 50, iterator: b.iterator ?? null, order: 'descending' }, filter);
      return { ...page, data: page.data.map((m) => presentMessage(m, b.with_content === true)) };
    },
  );

  app.get<{ Params: { app_id: string }; Querystring: { limit?: number; iterator?: string; event_types?: string[]; channels?: string[]; after?: string } }>(
    '/api/v1/app/:app_id/events',
    {
      schema: {
        operationId: 'v1.message.events',
        summary: "Read the stream of the application's messages, oldest first",
        description:
          'Messages in the order they were created. `iterator` is where the next call goes on from: with no new messages it stays where it was, ' +
          'so calling again with it reads what was created since.',
        tags,
        params: appParams,
        querystring: listQuery(
          {
            event_types: { type: 'array', items: { type: 'string', maxLength: 2560, pattern: '^[a-zA-Z0-9\\-_.,]+$' }, maxItems: 100 },
            channels: { type: 'array', items: { type: 'string', maxLength: 128, pattern: '^[a-zA-Z0-9\\-_.:+,]+$' }, maxItems: 10 },
            after: { type: 'string', format: 'date-time' },
          },
          false,
        ),
        response: { 200: ref('MessageEventsOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const a = await requireApp(d, req);
      const q = req.query;
      const split = (v: string[] | undefined) => v?.flatMap((t) => t.split(',')).filter((t) => t !== '');
      const filter: MessageFilter = { eventTypes: split(q.event_types), channels: split(q.channels), after: timeParam(q.after, ['query', 'after']) };
      const page = await d.store.listMessages(a.id, { limit: q.limit ?? 50, iterator: q.iterator ?? null, order: 'ascending' }, filter);
      // With nothing to read, the iterator marks where reading stopped: at `after`, or the start.
      const from = filter.after === undefined ? '' : idFloor('msg', filter.after + 1);
      return { data: page.data.map((m) => presentMessage(m)), iterator: page.iterator ?? q.iterator ?? from, done: page.done };
    },
  );

  app.post<{ Params: { app_id: string }; Body: { ids?: string[] } }>(
    '/api/v1/app/:app_id/msg/bulk-expunge',
    {
      schema: {
        operationId: 'v1.message.bulk-expunge-content',
        summary: 'Delete the payloads of these messages (ids or eventIds); their deliveries not yet made are canceled',
        description: 'As DELETE …/msg/{msg_id}/content for each, at most 1000 a request. `results` says, per id as sent, expunged or not-found.',
        tags,
        params: appParams,
        body: ref('BulkExpungeContentsIn'),
        response: { 200: ref('BulkExpungeContentsOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const a = await requireApp(d, req);
      return { results: await d.core.erasure.expungeMany(a.id, req.body.ids ?? []) };
    },
  );

  app.post<{ Params: { app_id: string } }>(
    '/api/v1/app/:app_id/msg/expunge-all-contents',
    {
      schema: {
        operationId: 'v1.message.expunge-all-contents',
        summary: "Delete the payloads of every message of the application",
        description:
          'Answers a background task (application.purge_content) that deletes the content of every message, as an expunge each, ' +
          'a batch a commit; GET /api/v1/background-task/{task_id} reports data.messagesPurged as it goes.',
        tags,
        params: appParams,
        response: { 202: ref('ExpungeAllContentsOut'), ...errorResponses() },
      },
    },
    async (req, reply) => {
      const a = await requireApp(d, req);
      return reply.code(202).send(presentTask(await d.core.erasure.purgeAllTask(a.id)));
    },
  );

  app.delete<{ Params: { app_id: string; msg_id: string } }>(
    '/api/v1/app/:app_id/msg/:msg_id/content',
    {
      schema: {
        operationId: 'v1.message.expunge-content',
        summary: "Delete a message's payload; deliveries not yet made are canceled",
        tags,
        params: msgParams,
        response: { 204: { type: 'null', description: 'Done' }, ...errorResponses() },
      },
    },
    async (req, reply) => {
      const a = await requireApp(d, req);
      const m = await d.store.getMessage(a.id, req.params.msg_id);
      if (m === null) throw new NotFoundError('message', req.params.msg_id);
      await d.core.messages.expunge(a.id, m.id);
      return reply.code(204).send();
    },
  );
}
