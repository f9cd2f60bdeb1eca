import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BadRequestError, ConflictError, NotFoundError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../domain/errors.js';
import { tooDeepAt, tooDeepMessage } from '../domain/json-limits.js';
import { ChunkPlan, dateReader, notices, recordProblem } from '../domain/backfill.js';
import { RecordSplitter } from '../domain/record-stream.js';
import type { Backfill, BackfillChunk } from '../domain/types.js';
import type { BackfillRecord } from '../store/store.js';
import { errorResponses } from './schemas.js';
import { answerRepeat, listQuery as toListQuery, notUtf8Charset, type Deps } from './http.js';
import { requireApp } from './applications.js';
import { uploadProgress } from './limits.js';

/** Content types of a streamed upload; application/json is a JSON array of records. */
const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines'];

/**
 * Records are written in batches of at most this many, or this many bytes: with one record
 * being read, that is what an upload holds in memory, whatever its size.
 */
const BATCH_RECORDS = 500;
const BATCH_BYTES = 4 * 1024 * 1024;

interface BackfillQuery {
  userId: string;
  resource: string;
  provider: string;
  chunkSize: number;
  notify: 'each' | 'once';
  dateField?: string;
}

const tags = ['Backfill'];
const appParams = { type: 'object', properties: { app_id: { type: 'string' } }, required: ['app_id'] };
const backfillParams = {
  type: 'object',
  properties: { app_id: { type: 'string' }, backfill_id: { type: 'string' } },
  required: ['app_id', 'backfill_id'],
};
const backfillOut = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    userId: { type: 'string' },
    resource: { type: 'string' },
    provider: { type: 'string' },
    chunkSize: { type: 'integer' },
    notify: { type: 'string', enum: ['each', 'once'] },
    status: { type: 'string', enum: ['receiving', 'complete'] },
    records: { type: 'integer' },
    chunks: { type: 'integer' },
    eventType: { type: 'string' },
    msgId: { type: ['string', 'null'], description: 'The single notification of a backfill that notifies once.' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
};
const chunkOut = {
  type: 'object',
  properties: {
    index: { type: 'integer' },
    startDate: { type: 'string', format: 'date-time', description: "The newest record's date." },
    endDate: { type: 'string', format: 'date-time', description: "The oldest record's date." },
    records: { type: 'integer' },
    msgId: { type: ['string', 'null'], description: "The chunk's notification (notify each)." },
  },
};

function presentBackfill(b: Backfill) {
  return {
    id: b.id,
    userId: b.userId,
    resource: b.resource,
    provider: b.provider,
    chunkSize: b.chunkSize,
    notify: b.notify,
    status: b.status,
    records: b.records,
    chunks: b.chunks,
    eventType: `historical.data.${b.resource}.created`,
    msgId: b.msgId,
    createdAt: new Date(b.createdAt).toISOString(),
    updatedAt: new Date(b.updatedAt).toISOString(),
  };
}

function presentChunk(c: BackfillChunk) {
  return { index: c.index, startDate: new Date(c.startDate).toISOString(), endDate: new Date(c.endDate).toISOString(), records: c.records, msgId: c.msgId };
}

export async function backfillRoutes(app: FastifyInstance, d: Deps): Promise<void> {
  // A plugin of its own, so that its body parsers (the request stream, unread) apply to the
  // upload route only.
  await app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser(['application/json', ...NDJSON_TYPES], (_req, payload, done) => done(null, payload));
    scope.post<{ Params: { app_id: string }; Querystring: BackfillQuery }>(
      '/api/v1/app/:app_id/backfill',
      {
        config: { streamedBody: true },
        // Before the body is read: any other type would reach the handler as something other
        // than the request stream.
        onRequest: (req, _reply, done) => done(uploadTypeProblem(req.headers['content-type'])),
        schema: {
          operationId: 'hookwell.backfill.create',
          summary: "Upload a user's history of one resource; Hookwell keeps it in chunks and notifies historical.data.<resource>.created",
          description:
            'The body is the records, newest first: NDJSON (application/x-ndjson) or a JSON array (application/json), streamed. ' +
            'Answers 202 once every record is stored and the notifications are queued, in one commit: a body that breaks off or ' +
            'holds a bad record leaves nothing behind. Each notification carries a content link to its chunk, paginated.',
          tags,
          params: appParams,
          querystring: {
            type: 'object',
            properties: {
              userId: { type: 'string', minLength: 1, maxLength: 256 },
              resource: { type: 'string', pattern: '^[a-z0-9_]+$', maxLength: 64, example: 'workouts' },
              provider: { type: 'string', minLength: 1, maxLength: 64, example: 'garmin' },
              chunkSize: { type: 'integer', minimum: 1, maximum: 100_000, default: 1000 },
              notify: { type: 'string', enum: ['each', 'once'], default: 'each' },
              dateField: { type: 'string', minLength: 2, maxLength: 256, description: 'A simple JSON path to each record\'s date, e.g. "$.time_start".' },
            },
            required: ['userId', 'resource', 'provider'],
          },
          response: { 202: backfillOut, 413: { $ref: 'HttpErrorOut#' }, ...errorResponses() },
        },
      },
      (req, reply) => upload(d, req, reply),
    );
  });
}

/** Why an upload's Content-Type is refused (415), or undefined when it is one taken. */
function uploadTypeProblem(contentType: string | undefined): UnsupportedMediaTypeError | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && !NDJSON_TYPES.includes(type)) {
    return new UnsupportedMediaTypeError(
      `send the records as NDJSON (${NDJSON_TYPES.join(', ')}) or as a JSON array (application/json); ${type === '' ? 'the request has no Content-Type' : `not ${type}`}`,
    );
  }
  const charset = notUtf8Charset(contentType);
  if (charset !== null) return new UnsupportedMediaTypeError(`the body's charset is ${charset}; send the records in UTF-8 (charset=utf-8, or no charset)`);
  return undefined;
}

/** The upload, read as it arrives (see BATCH_RECORDS for what it holds in memory). */
async function upload(d: Deps, req: FastifyRequest<{ Params: { app_id: string }; Querystring: BackfillQuery }>, reply: FastifyReply) {
  const q = req.query;
  const body = req.body as Readable;
  const a = await requireApp(d, req);
  const readDate = dateReader(q.dateField);
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const splitter = new RecordSplitter(type === 'application/json' ? 'json' : 'ndjson', d.cfg.maxPayloadBytes);
  const hash = createHash('sha256');
  // The body as it arrives, hashed for idempotency and held to the upload limit.
  const limit = d.cfg.maxBackfillBytes;
  let bytes = 0;
  async function* pieces(): AsyncGenerator<Buffer> {
    // A client that stops sending is cut off there; the upload then fails as on a hang-up.
    for await (const buf of uploadProgress(req, body, d.cfg)) {
      bytes += buf.length;
      if (bytes > limit) throw new PayloadTooLargeError(bytes, limit, `the backfill is over the limit of ${limit} bytes (HOOKWELL_MAX_BACKFILL_BYTES)`);
      hash.update(buf);
      yield buf;
    }
  }

  // Idempotency: the key is held from here until the answer is sent, so a concurrent
  // repeat waits for this upload and then gets its answer (see IdempotencyKeys). The body's
  // hash is known only once it is read, so a repeat is read too (and not stored) before it
  // is answered with the first response, or refused.
  const key = typeof req.headers['idempotency-key'] === 'string' && req.headers['idempotency-key'] !== '' ? req.headers['idempotency-key'] : null;
  const scope = `POST /api/v1/app/:app_id/backfill ${JSON.stringify({ app_id: a.id, ...q })}`;
  const previous = key === null ? null : await req.server.idempotencyKeys.begin(req, scope, key, null);
  if (previous !== null) {
    for await (const _ of pieces());
    return answerRepeat(reply, previous, hash.digest('hex'));
  }

  const bf = await d.store.createBackfill(a.id, { userId: q.userId, resource: q.resource, provider: q.provider, chunkSize: q.chunkSize, notify: q.notify });
  try {
    const plan = new ChunkPlan(q.chunkSize);
    let batch: BackfillRecord[] = [];
    let batchBytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      const rows = batch;
      batch = [];
      batchBytes = 0;
      await d.store.addBackfillRecords(bf.id, rows);
    };
    const accept = async (text: string) => {
      const n = plan.count + 1;
      let record: unknown;
      try {
        record = JSON.parse(text);
      } catch (err) {
        throw new BadRequestError(`record ${n} is not valid JSON: ${(err as Error).message}`, 'invalid_json');
      }
      if (typeof record !== 'object' || record === null || Array.isArray(record)) throw recordProblem(n, `record ${n} is not a JSON object`, 'type_error');
      // Records are served again as they are, but a reader walks them (see MAX_JSON_DEPTH).
      if (tooDeepAt(text) !== -1) throw recordProblem(n, tooDeepMessage(`record ${n}`), 'value_error.depth');
      plan.add(readDate(record, n));
      batch.push({ seq: n - 1, record: text });
      batchBytes += text.length;
      if (batch.length >= BATCH_RECORDS || batchBytes >= BATCH_BYTES) await flush();
    };
    // Reading waits while a batch is written, so the client is slowed to the store's pace.
    for await (const buf of pieces()) {
      for (const text of splitter.push(buf)) await accept(text);
    }
    for (const text of splitter.end()) await accept(text);
    await flush();
    if (plan.count === 0) throw recordProblem(1, 'the backfill has no records', 'value_error.missing');
    const done: Backfill = { ...bf, records: plan.count };
    const messages = notices(done, plan.chunks);
    // A type that requires valid payloads must accept these too; they are built, not sent.
    for (const m of messages) await d.payloads.check(m.eventType, JSON.parse(m.payload));
    const stored = await d.core.backfills.complete(a.id, bf.id, plan.chunks, messages);
    const out = JSON.stringify(presentBackfill({ ...stored, records: plan.count }));
    // The idempotency hook stores this answer under the body's hash as it is sent.
    if (req.idempotency !== undefined) req.idempotency.bodyHash = hash.digest('hex');
    return reply.code(202).type('application/json; charset=utf-8').send(out);
  } catch (err) {
    // The rest of the body is not read: the connection closes after the answer, which a
    // client still sending sees as soon as it arrives.
    reply.header('connection', 'close');
    // Nothing of a refused or broken-off upload stays.
    await d.store.deleteBackfill(a.id, bf.id).catch((e: unknown) => d.log.error({ err: e, backfill: bf.id }, 'removing a failed backfill failed'));
    throw err;
  }
}

export function backfillReadRoutes(app: FastifyInstance, d: Deps): void {
  app.get<{ Params: { app_id: string }; Querystring: { limit?: number; iterator?: string } }>(
    '/api/v1/app/:app_id/backfill',
    {
      schema: {
        operationId: 'hookwell.backfill.list',
        summary: "An application's backfills, newest first",
        tags,
        params: appParams,
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 250, default: 50 }, iterator: { type: ['string', 'null'] } },
        },
        response: {
          200: { type: 'object', properties: { data: { type: 'array', items: backfillOut }, iterator: { type: ['string', 'null'] }, prevIterator: { type: ['string', 'null'] }, done: { type: 'boolean' } } },
          ...errorResponses(),
        },
      },
    },
    async (req) => {
      const a = await requireApp(d, req);
      const page = await d.store.listBackfills(a.id, toListQuery(req.query, 'descending'));
      return { ...page, data: page.data.map(presentBackfill) };
    },
  );

  app.get<{ Params: { app_id: string; backfill_id: string } }>(
    '/api/v1/app/:app_id/backfill/:backfill_id',
    {
      schema: {
        operationId: 'hookwell.backfill.get',
        summary: 'A backfill and its chunks, most recent first',
        tags,
        params: backfillParams,
        response: { 200: { ...backfillOut, properties: { ...backfillOut.properties, chunkList: { type: 'array', items: chunkOut } } }, ...errorResponses() },
      },
    },
    async (req) => {
      const a = await requireApp(d, req);
      const b = await d.store.getBackfill(a.id, req.params.backfill_id);
      if (b === null) throw new NotFoundError('backfill', req.params.backfill_id);
      return { ...presentBackfill(b), chunkList: (await d.store.listBackfillChunks(b.id)).map(presentChunk) };
    },
  );

  app.delete<{ Params: { app_id: string; backfill_id: string } }>(
    '/api/v1/app/:app_id/backfill/:backfill_id',
    {
      schema: {
        operationId: 'hookwell.backfill.delete',
        summary: "Delete a backfill's records; links in its notifications then lead nowhere",
        tags,
        params: backfillParams,
        response: { 204: { type: 'null', description: 'Deleted' }, ...errorResponses() },
      },
    },
    async (req, reply) => {
      const a = await requireApp(d, req);
      const b = await d.store.getBackfill(a.id, req.params.backfill_id);
      if (b === null) throw new NotFoundError('backfill', req.params.backfill_id);
      // An upload in progress is removed by its own request if it fails; its records are not
      // pulled from under it.
      if (b.status !== 'complete') throw new ConflictError(`backfill ${b.id} is still being uploaded`, 'backfill_receiving');
      await d.store.deleteBackfill(a.id, b.id);
      return reply.code(204).send();
    },
  );
}

