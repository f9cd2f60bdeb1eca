// Node adapters (node:http, Express, Fastify) around the runtime-neutral handler. Framework types
// are described structurally, so the package needs neither express nor fastify installed.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import {
  BodyTooLargeError,
  createHandler as createWebHandler,
  METHOD_NOT_ALLOWED,
  readBody,
  responseHeaders,
  runAfter,
  TOO_LARGE,
  type HandlerOptions,
  type HandlerResponse,
  type WebhookHandler,
} from './handler.js';

/** What the middleware needs of an Express request: body parsers leave `body`, some apps `rawBody`. */
export type ExpressLikeRequest = IncomingMessage & { body?: unknown; rawBody?: unknown };
export type ExpressLikeNext = (error?: unknown) => void;

export interface FastifyLikeReply {
  code(statusCode: number): FastifyLikeReply;
  header(name: string, value: string): FastifyLikeReply;
  send(payload?: string): FastifyLikeReply;
}
export interface FastifyLikeRequest {
  body: unknown;
  headers: IncomingHttpHeaders;
}
export interface FastifyLikeInstance {
  removeAllContentTypeParsers(): void;
  addContentTypeParser(
    contentType: string,
    options: { parseAs: 'buffer'; bodyLimit: number },
    parser: (request: unknown, body: Buffer, done: (error: Error | null, body?: Buffer) => void) => void,
  ): void;
  post(path: string, handler: (request: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<FastifyLikeReply>): unknown;
}
export interface FastifyPluginOptions {
  /** Route path inside the plugin's prefix. Default `/`, so `register(h.fastify, { prefix: '/webhooks' })` works. */
  path?: string;
}

export interface NodeWebhookHandler extends WebhookHandler {
  /** `http.createServer(handler.node)` or inside your own listener. Reads the raw request stream. */
  node(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Express middleware; see README for where to mount it relative to body parsers. */
  express(req: ExpressLikeRequest, res: ServerResponse, next: ExpressLikeNext): Promise<void>;
  /** Fastify plugin: `app.register(handler.fastify, { prefix: '/webhooks' })`. Its buffer parser is scoped to this plugin. */
  fastify(instance: FastifyLikeInstance, options: FastifyPluginOptions): Promise<void>;
}

function writeNode(res: ServerResponse, result: HandlerResponse): void {
  for (const [name, value] of Object.entries(responseHeaders(result))) res.setHeader(name, value);
  res.statusCode = result.status;
  res.end(result.body);
  if (result.after) void runAfter(result.after);
}

async function handleNode(handler: WebhookHandler, req: IncomingMessage, res: ServerResponse, body?: string | Uint8Array): Promise<void> {
  if (req.method !== 'POST') return writeNode(res, METHOD_NOT_ALLOWED);
  try {
    body ??= await readBody(req, handler.maxBodyBytes);
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) throw error;
    // The rest of the upload is unread, so this connection cannot be reused.
    return writeNode(res, { ...TOO_LARGE, headers: { connection: 'close' } });
  }
  writeNode(res, await handler.handle(body, req.headers));
}

const PARSED_BODY_MESSAGE =
  '@hookwell/receiver: the request body was already parsed (e.g. by express.json()) and no raw body is available. ' +
  'Signatures cover the exact bytes sent, and re-serialised JSON differs from them, so this request cannot be verified. ' +
  "Mount the webhook route before any JSON parser, or with express.raw({ type: '*/*' }).";

/** The exact bytes, wherever an earlier middleware left them; undefined when the stream is still unread. */
function rawBodyOf(req: ExpressLikeRequest): string | Uint8Array | undefined | Error {
  if (req.body instanceof Uint8Array) return req.body; // express.raw()
  if (req.rawBody instanceof Uint8Array) return req.rawBody; // express.json({ verify: (req, _res, buf) => { req.rawBody = buf } })
  if (typeof req.body === 'string') return req.body; // express.text(): UTF-8 decoding round-trips valid JSON exactly
  // body-parser leaves `{}` when it skipped a request, so the stream, not `body`, says whether bytes remain.
  if (!req.readableDidRead && !req.readableEnded) return undefined;
  return new Error(PARSED_BODY_MESSAGE);
}

export function createHandler(options: HandlerOptions): NodeWebhookHandler {
  const handler = createWebHandler(options);
  return {
    ...handler,
    // Only reading the request can fail here (the client went away): there is no one to answer,
    // and a rejected promise from an http.createServer listener would be unhandled.
    node: (req, res) => handleNode(handler, req, res).catch(() => void res.destroy()),
    express: async (req, res, next) => {
      const body = rawBodyOf(req);
      // Fail loudly (500 via Express's error handler, so the sender retries) rather than 401 every delivery.
      if (body instanceof Error) return next(body);
      try {
        await handleNode(handler, req, res, body);
      } catch (error) {
        next(error);
      }
    },
    fastify: async (instance, pluginOptions) => {
      // Without fastify-plugin this runs in its own encapsulation context, so replacing the
      // parsers affects this route only and the app's JSON routes keep parsing as before.
      instance.removeAllContentTypeParsers();
      instance.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: handler.maxBodyBytes }, (_request, body, done) => done(null, body));
      instance.post(pluginOptions.path ?? '/', async (request, reply) => {
        const body = request.body instanceof Uint8Array ? request.body : new Uint8Array();
        const result = await handler.handle(body, request.headers);
        reply.code(result.status);
        for (const [name, value] of Object.entries(responseHeaders(result))) reply.header(name, value);
        reply.send(result.body);
        if (result.after) void runAfter(result.after);
        return reply;
      });
    },
  };
}

export { verify, verifyKey } from './verify.js';
export {
  memoryDedupeStore,
  type DedupeStore,
  type EventHandler,
  type FetchContext,
  type HandlerOptions,
  type HandlerResponse,
  type WebhookEvent,
  type WebhookHandler,
} from './handler.js';
export {
  WebhookVerificationError,
  DEFAULT_TOLERANCE_SECONDS,
  type VerifyOptions,
  type WebhookHeaders,
  type WebhookVerificationErrorCode,
} from './core.js';
