import { isUtf8 } from 'node:buffer';
import { hash } from 'node:crypto';
import type { Tracing } from '../tracing.js';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { PayloadValidator } from '../domain/payloads.js';
import type { Core } from '../core/index.js';
import type { Metrics } from '../metrics.js';
import type { Readiness } from './health.js';
import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  UnavailableError,
  UnsupportedMediaTypeError,
  ValidationError,
  type FieldProblem,
} from '../domain/errors.js';
import type { ListQuery } from '../domain/types.js';
import { pathAt, tooDeepAt, tooDeepInBytes, tooDeepMessage } from '../domain/json-limits.js';
import { LIMITS } from '../domain/limits.js';
import type { IdempotentResponse, Store } from '../store/store.js';
import { SCHEMAS } from './schemas.js';
import { splitMember } from './raw-json.js';
import { messageOutJson } from './present.js';

export interface Deps {
  store: Store;
  /** The protocols a request starts (create a message, rotate, recover, skip, erase…). */
  core: Core;
  payloads: PayloadValidator;
  cfg: Config;
  log: Logger;
  /** SHA-256 of each admin token (several while one is being rotated out). */
  adminHashes: Buffer[];
  /** Where browsers and receivers reach this server: HOOKWELL_PUBLIC_URL, else the listen address. */
  publicUrl: () => string;
  /** Whether the process is stopping, for /health/ready. */
  readiness: Readiness;
  /** What /metrics reports: the API counts the messages it accepts and refuses. */
  metrics: Metrics;
  /** Spans of message ingest; null or absent when tracing is off. */
  tracing?: Tracing | null;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route reads its body as a stream, and handles an idempotency-key itself. */
    streamedBody?: boolean;
    /** A large body's `payload` object is kept as text (`rawPayload`), not parsed; see parseBody. */
    payloadAsText?: boolean;
    /** The route hands its idempotency record to a commit that finds repeats (see Store.repeatsFoundInCommit). */
    repeatsInCommit?: boolean;
  }
  interface FastifyRequest {
    rawBody?: string;
    /** On a `payloadAsText` route, for a large body: the exact text of its payload; `body.payload` is then `{}`. */
    rawPayload?: string;
    /**
     * The idempotency-key this request holds; bodyHash null until a streamed body is read.
     * `stored`: the route wrote its answer's record in its own commit (message create), so
     * the onSend hook writes none.
     */
    idempotency?: { scope: string; key: string; bodyHash: string | null; done: () => void; msgId?: string; stored?: boolean };
  }
  interface FastifyInstance {
    idempotencyKeys: IdempotencyKeys;
  }
}

// --- validation -------------------------------------------------------------------------

function makeAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({ allErrors: true, coerceTypes: coerce ? 'array' : false, useDefaults: true, strict: false });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  for (const [name, schema] of Object.entries(SCHEMAS)) ajv.addSchema({ ...schema, $id: name });
  return ajv;
}

/**
 * Bodies are validated as sent (a number is not a string); query strings and paths are
 * text, so they are coerced to the declared types.
 */
export function installValidation(app: FastifyInstance): void {
  const body = makeAjv(false);
  const text = makeAjv(true);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? body : text).compile(schema));
}

function problemsFrom(errors: ErrorObject[], where: string): FieldProblem[] {
  return errors.map((e) => {
    const loc = [where, ...e.instancePath.split('/').filter((p) => p !== '')];
    if (e.keyword === 'required') {
      const field = (e.params as { missingProperty: string }).missingProperty;
      return { loc: [...loc, field], msg: `${field} is required`, type: 'value_error.missing' };
    }
    const name = loc.length > 1 ? loc.slice(1).join('.') : where;
    const type = e.keyword === 'type' ? 'type_error' : `value_error.${e.keyword}`;
    return { loc, msg: `${name} ${e.message ?? 'is invalid'}`, type };
  });
}

// --- errors -----------------------------------------------------------------------------

export function installErrors(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((err: FastifyError & { validation?: ErrorObject[]; validationContext?: string }, req, reply) => {
    if (err.validation) {
      // Svix names the parts of a request body, query and path.
      const where = err.validationContext === 'querystring' ? 'query' : err.validationContext === 'params' ? 'path' : (err.validationContext ?? 'body');
      return reply.code(422).send({ detail: problemsFrom(err.validation, where) });
    }
    if (err instanceof ValidationError) return reply.code(422).send({ detail: err.problems });
    if (err instanceof NotFoundError) return reply.code(404).send({ code: 'not_found', detail: capitalise(err.message) });
    if (err instanceof ConflictError) return reply.code(409).send({ code: err.code, detail: err.message });
    if (err instanceof PayloadTooLargeError) return reply.code(413).send({ code: 'payload_too_large', detail: err.message });
    if (err instanceof BadRequestError) return reply.code(400).send({ code: err.code, detail: err.message });
    if (err instanceof UnavailableError) {
      return reply.code(503).header('retry-after', String(err.retryAfterSeconds)).send({ code: 'unavailable', detail: err.message });
    }
    if (err instanceof UnsupportedMediaTypeError) return reply.code(415).send({ code: 'unsupported_media_type', detail: err.message });
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return reply.code(413).send({ code: 'payload_too_large', detail: 'the request body is larger than the limit' });
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return reply.code(415).send({ code: 'unsupported_media_type', detail: 'send the body as application/json' });
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return reply.code(400).send({ code: 'invalid_json', detail: 'the body is empty; send a JSON object' });
    }
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ code: 'bad_request', detail: err.message });
    }
    // The request as method and path (see logger.ts): its query string may hold a content link's token.
    log.error({ err, req, reqId: req.id }, 'request failed');
    return reply.code(500).send({ code: 'internal_error', detail: 'internal server error' });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ code: 'not_found', detail: `no route for ${req.method} ${req.url.split('?')[0]}` });
  });
}

const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

// --- bodies -----------------------------------------------------------------------------

/** JSON bodies are parsed here so the raw text stays available (payloads are kept byte for byte). */
export function installJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  // Read as bytes: decoding to a string would turn bytes that are not UTF-8 into U+FFFD
  // unnoticed, and a payload is delivered byte for byte.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const bytes = body as Buffer;
    const charset = notUtf8Charset(req.headers['content-type']);
    if (charset !== null) return done(new UnsupportedMediaTypeError(`the body's charset is ${charset}; send JSON in UTF-8 (charset=utf-8, or no charset)`), undefined);
    if (!isUtf8(bytes)) return done(new BadRequestError(notUtf8Detail(bytes, 'the body'), 'invalid_utf8'), undefined);
    const text = bytes.toString('utf8');
    req.rawBody = text;
    if (text.trim() === '') return done(null, undefined);
    let value: unknown;
    try {
      value = parseBody(req, text);
    } catch (err) {
      return done(new BadRequestError(`the body is not valid JSON: ${(err as Error).message}`, 'invalid_json'), undefined);
    }
    // Checked on the text that was parsed, so nothing downstream (the schema check, Ajv,
    // storage, the answer's serialiser) ever walks a value deeper than the limit.
    if (tooDeepInBytes(bytes) !== -1) return done(tooDeep(text, ['body'], 'the body'), undefined);
    done(null, value);
  });
  // A POST with no body at all (`curl -X POST`, an SDK call with no options) is an empty
  // object to a route whose body is one: its optional fields take their defaults, and a
  // missing required one is named, rather than "body must be object".
  app.addHook('preValidation', (req, _reply, done) => {
    if (req.body === undefined && req.routeOptions.schema?.body !== undefined && req.routeOptions.config.streamedBody !== true) req.body = {};
    done();
  });
  // Fastify's own text/plain parser would hand a JSON route a string, refused then as "body
  // must be object"; the type is what is wrong. An empty body is the route's to judge (a
  // bodiless POST from a client that labels every request).
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('text/plain', (req, _payload, done) => {
    if (req.headers['content-length'] === '0') return done(null, undefined);
    done(new UnsupportedMediaTypeError('send the body as application/json'), undefined);
  });
}

/** The charset a Content-Type names when it is not UTF-8 (JSON is UTF-8: RFC 8259 §8.1), else null. */
export function notUtf8Charset(contentType: string | undefined): string | null {
  const m = contentType === undefined ? null : /;\s*charset\s*=\s*("?)([^";\s]*)\1/i.exec(contentType);
  if (m === null) return null;
  const name = m[2]!.toLowerCase();
  return name === 'utf-8' || name === 'utf8' ? null : `"${m[2]}"`;
}

/** Where the first byte that is not UTF-8 is, for a 400's detail. */
export function notUtf8Detail(bytes: Buffer, what: string): string {
  // The first replacement character of the decoded text marks it; its byte offset is that
  // of the text before it (found only on this error path).
  const text = bytes.toString('utf8');
  const at = text.indexOf('\uFFFD');
  const offset = at === -1 ? 0 : Buffer.byteLength(text.slice(0, at));
  return `${what} is not valid UTF-8 (byte ${offset} is 0x${(bytes[offset] ?? 0).toString(16).padStart(2, '0')}); send JSON in UTF-8`;
}

/** A 422 naming where in a JSON document (`text`, under `loc`) its nesting goes past the limit. */
export function tooDeep(text: string, loc: string[], what: string): ValidationError {
  const at = tooDeepAt(text);
  return ValidationError.field([...loc, ...pathAt(text, at === -1 ? 0 : at)], tooDeepMessage(what), 'value_error.depth');
}

/**
 * Bodies shorter than this are parsed whole even on a `payloadAsText` route: their tree is
 * small, and a payload that must match a schema is then validated without a second parse
 * (splitting every body made schema validation cost 10% of ingest instead of 6%).
 */
const SPLIT_FROM_CHARS = 64 * 1024;

/**
 * The body's value. On a `payloadAsText` route a valid body's payload object is left as
 * text, so a large payload is not built as a tree (and serialised again) only to be stored
 * as the text it came as; any other body is parsed whole, errors included.
 */
function parseBody(req: FastifyRequest, text: string): unknown {
  if (req.routeOptions.config.payloadAsText === true && text.length >= SPLIT_FROM_CHARS) {
    const split = splitMember(text, 'payload');
    if (split !== null) {
      req.rawPayload = split.value;
      return JSON.parse(split.rest);
    }
  }
  return JSON.parse(text);
}

// --- authentication ---------------------------------------------------------------------

export function hashToken(token: string): Buffer {
  // The one-shot form: every request is checked, and a Hash object per call costs more than the hashing.
  return hash('sha256', token, 'buffer');
}

// --- idempotency ------------------------------------------------------------------------

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * A POST repeated with the same `idempotency-key` and body gets the first response again;
 * with another body it is refused. Concurrent repeats wait for the first to finish.
 * Only successful responses are kept, so a request that failed can be retried as is.
 */
/** Whether a stored response still answers repeats of its request. */
export function isLive(previous: IdempotentResponse | null): previous is IdempotentResponse {
  return previous !== null && previous.createdAt > Date.now() - IDEMPOTENCY_TTL_MS;
}

/**
 * The body of a stored answer: as kept, or for a message's creation the message rendered
 * as it is now (see IdempotentResponse). Null when that message no longer exists: the
 * key answers nothing then, and the request is done again.
 */
export async function replayBody(store: Store, appId: string | null, previous: IdempotentResponse): Promise<string | null> {
  if (previous.body !== null) return previous.body;
  if (previous.msgId == null || appId === null) return null;
  const m = await store.getMessage(appId, previous.msgId);
  return m === null ? null : messageOutJson(m, true).toString();
}

/** Answers a repeat of a request: the first response again (its body as replayBody gave it), or 409 when the body differs. */
export function answerRepeat(reply: FastifyReply, previous: IdempotentResponse, bodyHash: string, body: string | null = previous.body): FastifyReply {
  if (previous.bodyHash !== bodyHash) {
    return reply.code(409).send({ code: 'idempotency_conflict', detail: 'this idempotency-key was already used with a different request body' });
  }
  return reply.code(previous.statusCode).header('content-type', 'application/json; charset=utf-8').header('idempotent-replayed', 'true').send(body ?? '');
}

/**
 * The idempotency-keys held by requests of this process. A request holds its key from
 * before it looks for a stored answer until its own answer is stored and sent, so a repeat
 * that arrives meanwhile waits and then finds that answer, rather than doing the work too.
 * Shared by the hook below and the routes that read their body as a stream and handle the
 * key themselves (backfill uploads), through `app.idempotencyKeys`.
 */
export class IdempotencyKeys {
  private readonly held = new Map<string, Promise<void>>();

  constructor(private readonly store: Store) {}

  /**
   * Waits until no other request holds `key` in `scope`, then looks for the stored answer.
   * With a live one, lets the key go and returns it, its body rendered (see replayBody),
   * for answerRepeat. Without, `req` keeps the key until its response is sent or it is
   * aborted (installIdempotency's hooks store a 2xx answer under `bodyHash`, then let go)
   * and null is returned. A streamed body passes null and sets `req.idempotency.bodyHash`
   * once it has read the body.
   */
  async begin(req: FastifyRequest, scope: string, key: string, bodyHash: string | null): Promise<IdempotentResponse | null> {
    const waiting = this.hold(req, scope, key, bodyHash);
    if (waiting !== undefined) await waiting;
    let previous: IdempotentResponse | null;
    try {
      previous = await this.store.getIdempotent(scope, key);
      if (isLive(previous) && previous.body === null) {
        const app = await this.store.getApp((req.params as { app_id?: string }).app_id ?? '');
        const body = await replayBody(this.store, app?.id ?? null, previous);
        previous = body === null ? null : { ...previous, body };
      }
    } catch (err) {
      this.release(req);
      throw err;
    }
    if (!isLive(previous)) return null;
    this.release(req);
    return previous;
  }

  /**
   * Makes `req` hold `key` in `scope`, at once when no other request holds it (undefined
   * is returned, and nothing awaited: the route finds a repeat in its own commit, see
   * Store.repeatsFoundInCommit), else once the holder lets go (the promise returned).
   */
  hold(req: FastifyRequest, scope: string, key: string, bodyHash: string | null): Promise<void> | undefined {
    const slot = `${scope}\n${key}`;
    const waiting = this.held.get(slot);
    if (waiting !== undefined) return waiting.then(() => this.hold(req, scope, key, bodyHash));
    // The slot is taken with no await before it: a repeat that arrives while this request
    // is under way waits for it rather than doing the work too.
    let resolve!: () => void;
    const mine = new Promise<void>((r) => (resolve = r));
    this.held.set(slot, mine);
    const done = () => {
      if (this.held.get(slot) === mine) this.held.delete(slot);
      resolve();
    };
    req.idempotency = { scope, key, bodyHash, done };
    return undefined;
  }

  /** Lets `req`'s key go (after its answer is sent, or when it gives up). */
  release(req: FastifyRequest): void {
    req.idempotency?.done();
    req.idempotency = undefined;
  }
}

export function installIdempotency(app: FastifyInstance, store: Store): void {
  const keys = new IdempotencyKeys(store);
  app.decorate('idempotencyKeys', keys);

  app.addHook('preHandler', (req, reply, done) => {
    const key = req.headers['idempotency-key'];
    if (req.method !== 'POST' || typeof key !== 'string' || key === '') return done();
    // Checked here for the streamed routes too, which read the key themselves.
    if (key.length > LIMITS.idempotencyKey) {
      return done(
        ValidationError.field(['header', 'idempotency-key'], `idempotency-key is ${key.length} characters; at most ${LIMITS.idempotencyKey} are kept`, 'value_error.any_str.max_length'),
      );
    }
    const config = req.routeOptions.config;
    if (config.streamedBody === true) return done();
    // The route and its parameters, so a trailing slash or a query string is the same request.
    const scope = `${req.method} ${req.routeOptions.url} ${JSON.stringify(req.params)}`;
    const bodyHash = hash('sha256', req.rawBody ?? '', 'hex');
    if (config.repeatsInCommit === true && store.repeatsFoundInCommit) {
      // No look-up: the route's commit finds a repeat (the v2 SDK keys every message).
      const waiting = keys.hold(req, scope, key, bodyHash);
      if (waiting === undefined) return done();
      waiting.then(() => done(), done);
      return;
    }
    // A repeat answered here goes no further: done() is not called for it (the answer may
    // still be on its way through async onSend hooks, so Fastify would run the handler).
    keys.begin(req, scope, key, bodyHash).then((previous) => {
      if (previous === null) done();
      else answerRepeat(reply, previous, bodyHash);
    }, done);
  });

  app.addHook('onSend', (req, reply, payload, done) => {
    const idem = req.idempotency;
    if (idem === undefined || idem.stored === true || idem.bodyHash === null || reply.statusCode < 200 || reply.statusCode >= 300) return done(null, payload);
    store
      .putIdempotent(idem.scope, idem.key, {
        bodyHash: idem.bodyHash,
        statusCode: reply.statusCode,
        body: typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '',
        createdAt: Date.now(),
        msgId: idem.msgId ?? null,
      })
      .then(
        () => done(null, payload),
        (err: unknown) => {
          // The work is committed: answering 500 now would tell the client it failed, and
          // its retry would do it twice. Only the replay of this answer is lost.
          req.log.error({ err, reqId: req.id, idempotencyKey: idem.key }, 'storing the answer for idempotent replay failed; answering as done');
          done(null, payload);
        },
      );
  });

  app.addHook('onResponse', (req, _reply, done) => {
    keys.release(req);
    done();
  });
  app.addHook('onRequestAbort', (req, done) => {
    keys.release(req);
    done();
  });
}

// --- helpers for handlers ---------------------------------------------------------------

export function listQuery(q: { limit?: number; iterator?: string | null; order?: string }, defaultOrder: ListQuery['order']): ListQuery {
  return {
    limit: q.limit ?? 50,
    iterator: q.iterator ?? null,
    order: q.order === 'ascending' || q.order === 'descending' ? q.order : defaultOrder,
  };
}

/**
 * A date-time the schema let through, in milliseconds. The format admits a leap second
 * (23:59:60), which no JavaScript Date holds: refused here, naming `loc`, rather than kept as NaN.
 */
export function timeParam(value: string | undefined | null, loc: string[]): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw ValidationError.field(loc, `${loc[loc.length - 1]} "${value}" is not a time Hookwell can hold (a leap second?)`, 'value_error.datetime');
  return ms;
}

export type Reply = FastifyReply;
