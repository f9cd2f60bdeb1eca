// How long a client may take, and how many may be connected: a connection costs a file
// descriptor and memory, and nothing should let a client, least of all one without the
// token, hold one for longer than an honest slow client needs.
//
// - headers: Node's `headersTimeout`, from the connection (or the end of the previous
//   request) to the end of the headers; it also closes a connection that sends nothing.
// - body: `installBodyDeadline` below, from the end of the headers to the end of the body.
//   Node's own `requestTimeout` would cover this, but it covers every request alike, and a
//   backfill upload of hundreds of MB legitimately takes longer: that route is held to a
//   minimum progress instead (`uploadProgress`).
// - idle: Node's `keepAliveTimeout`, between requests on a kept connection.
// - connections: Node's `maxConnections`; past it, new connections are closed at once.
// A request whose body is not read (401, 404, a refused upload) closes its connection
// after the answer rather than reading the rest, at whatever pace it comes.
import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.js';

declare module 'fastify' {
  interface FastifyRequest {
    bodyDeadline?: NodeJS.Timeout;
  }
}

/**
 * A streamed upload must bring at least this many bytes in every window of the body
 * timeout spent waiting for it (time the server spends storing what it has is not
 * counted): 32 KiB in the default 20 s is 1.6 KB/s, which a phone on a poor GPRS link
 * still beats.
 */
export const MIN_PROGRESS_BYTES = 32 * 1024;

/** Fastify's server options for the limits above. */
export function serverLimits(
  cfg: Config,
  log: Logger,
): Pick<FastifyServerOptions, 'keepAliveTimeout' | 'requestTimeout' | 'connectionTimeout' | 'clientErrorHandler'> & { http: ServerOptions } {
  return {
    http: {
      headersTimeout: cfg.httpHeadersTimeoutMs,
      // Node sets its own default again unless it is given here; the body deadline is ours.
      requestTimeout: 0,
      // How often Node looks for connections past their header time: a fraction of it,
      // so one is cut off close to its time (Node's default looks every 30 s).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(cfg.httpHeadersTimeoutMs / 4))),
    },
    keepAliveTimeout: cfg.httpIdleTimeoutMs,
    requestTimeout: 0,
    // No inactivity timer on the socket itself: it would also cut a request whose handler
    // takes long (a large backfill's commit), and the limits above cover the client's side.
    connectionTimeout: 0,
    clientErrorHandler: clientErrorHandler(log),
  };
}

/**
 * Past `httpMaxConnections`, Node closes new connections as they arrive; that is said in the
 * log at most once a minute, with how many were closed, so a flood does not flood the log.
 */
export function limitConnections(server: Server, cfg: Config, log: Logger): void {
  server.maxConnections = cfg.httpMaxConnections;
  let dropped = 0;
  let quietUntil = 0;
  server.on('drop', () => {
    dropped++;
    const now = Date.now();
    if (now < quietUntil) return;
    log.warn({ dropped, limit: cfg.httpMaxConnections }, 'closed new connections: the connection limit is reached (HOOKWELL_HTTP_MAX_CONNECTIONS)');
    dropped = 0;
    quietUntil = now + 60_000;
  });
}

const STATUS: Record<string, [number, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
};

/**
 * A request Node could not parse, or that took too long. Fastify's default handler logs the
 * error, whose `rawPacket` holds the request's bytes (headers, token and body included):
 * here only its code is logged.
 */
function clientErrorHandler(log: Logger): (err: NodeJS.ErrnoException, socket: Socket) => void {
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, text] = STATUS[err.code ?? ''] ?? [400, 'Bad Request'];
    log.trace({ code: err.code, status }, 'client error');
    // Nothing is written over a response already under way.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && inFlight?.headersSent !== true) socket.write(plainAnswer(status, text, err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'the request took too long' : 'the request is malformed'));
    socket.destroy();
  };
}

function plainAnswer(status: number, text: string, detail: string): string {
  const code = status === 408 ? 'request_timeout' : status === 431 ? 'headers_too_large' : 'bad_request';
  const body = JSON.stringify({ code, detail });
  return `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/**
 * Ends a request whose client stopped sending: a 408 written straight to the socket (no
 * response has started: the body is still being read), then the connection is closed. The
 * request's body stream fails, as on a client hang-up, and whatever reads it cleans up.
 */
export function cutOff(req: FastifyRequest, detail: string): void {
  const socket = req.raw.socket;
  if (socket.destroyed) return;
  if (socket.writable && !req.raw.complete && !(socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
    socket.write(plainAnswer(408, 'Request Timeout', detail));
  }
  req.raw.destroy(Object.assign(new Error(detail), { statusCode: 408, code: 'request_timeout' }));
}

/**
 * The body deadline of every route that reads its body whole (a streamed route is held to
 * `uploadProgress` instead), and the closing of connections whose body is left unread. Run
 * after authentication, so a request refused there is answered and closed without a timer.
 */
export function installBodyDeadline(app: FastifyInstance, cfg: Config): void {
  const ms = cfg.httpBodyTimeoutMs;
  app.addHook('onRequest', (req, _reply, done) => {
    if (req.raw.complete || req.routeOptions.config.streamedBody === true) return done();
    req.bodyDeadline = setTimeout(() => {
      if (!req.raw.complete) cutOff(req, `the request body did not arrive within ${ms} ms`);
    }, ms);
    done();
  });
  app.addHook('onSend', (req, reply, payload, done) => {
    if (req.bodyDeadline !== undefined) clearTimeout(req.bodyDeadline);
    // Answered before its body was read: the rest is not waited for.
    if (!req.raw.complete) reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onRequestAbort', (req, done) => {
    if (req.bodyDeadline !== undefined) clearTimeout(req.bodyDeadline);
    done();
  });
}

/**
 * The body of a streamed upload, cut off (`cutOff`) when a window of the body timeout spent
 * waiting for the client brings less than MIN_PROGRESS_BYTES. The time the reader spends
 * on what it was given (writing a batch) is not the client's and is not counted.
 */
export async function* uploadProgress(req: FastifyRequest, body: Readable, cfg: Config, minBytes = MIN_PROGRESS_BYTES): AsyncGenerator<Buffer> {
  const windowMs = cfg.httpBodyTimeoutMs;
  let waited = 0;
  let bytes = 0;
  let since = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    since = Date.now();
    timer = setTimeout(() => cutOff(req, `the upload brought less than ${minBytes} bytes in ${windowMs} ms`), Math.max(0, windowMs - waited));
  };
  try {
    arm();
    for await (const buf of body as AsyncIterable<Buffer>) {
      clearTimeout(timer);
      waited += Date.now() - since;
      bytes += buf.length;
      if (bytes >= minBytes) {
        waited = 0;
        bytes = 0;
      }
      yield buf;
      arm();
    }
  } finally {
    clearTimeout(timer);
  }
}
