import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';

/** json: one JSON object a line, for machines; pretty: coloured text, for a developer's terminal. */
export type LogFormat = 'json' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/**
 * No log line, at any level, holds a credential or a request's or response's body.
 *
 * - Errors are logged through `safeError`: their kind, code, message and stack, and the
 *   fields that name what failed (a table, a syscall), never the fields where libraries
 *   keep input: Node's `rawPacket` (the request's bytes, admin token included, on a client
 *   error), PostgreSQL's `detail`/`where`/`hint` (values of rows and parameters), bodies,
 *   headers, queries.
 * - In messages, a double-quoted span is cut out: that is where JSON.parse and PostgreSQL
 *   echo the input they refused (`Unexpected token …, "{"a": …" is not valid JSON`,
 *   `invalid input syntax for type integer: "…"`). A quoted name (a constraint, a relation)
 *   goes with it; the code and the kept fields still say what failed.
 * - Requests are logged as method and path: no headers, no query string (a content link's
 *   token is in it).
 * - Headers that carry credentials are redacted wherever they are logged anyway.
 */
export function createLogger(level: string, destination?: pino.DestinationStream, format: LogFormat = 'json'): Logger {
  return pino(
    {
      level,
      base: { service: 'hookwell' },
      // ISO-8601 in UTC: read by people and by every log store alike.
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: safeError, req: safeRequest, res: safeResponse },
      hooks: {
        // log.error(err) logs the error under `err` and its message as the line's message.
        logMethod(args, method) {
          const [first, ...rest] = args as unknown[];
          if (first instanceof Error) {
            const msg = typeof rest[0] === 'string' ? scrub(rest[0]) : scrub(first.message);
            return method.apply(this, [{ err: first }, msg, ...rest.slice(1)] as Parameters<typeof method>);
          }
          const strings = (args as unknown[]).map((a) => (typeof a === 'string' ? scrub(a) : a));
          return method.apply(this, strings as Parameters<typeof method>);
        },
      },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'headers.authorization',
          'headers.cookie',
          '*.headers.authorization',
          '*.headers.cookie',
          'headers["x-webhook-key"]',
          '*.headers["x-webhook-key"]',
        ],
        censor: '[redacted]',
      },
    },
    format === 'pretty' ? prettyStream(destination) : destination,
  );
}

/**
 * pino-pretty as a plain synchronous stream in this process, loaded only when asked for: a
 * worker-thread transport would add a thread and lose the last lines of a crash, which is
 * when a developer reads them.
 */
function prettyStream(destination?: pino.DestinationStream): pino.DestinationStream {
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  return pretty.build({
    sync: true,
    destination: (destination as NodeJS.WritableStream | undefined) ?? 1,
    colorize: destination === undefined && process.stdout.isTTY === true,
    ignore: 'service',
    translateTime: 'SYS:HH:MM:ss.l',
    singleLine: true,
  });
}

/** The fields of an error kept in the log: they name a failure, they never hold input. */
const KEPT_FIELDS = ['code', 'errno', 'syscall', 'statusCode', 'severity', 'routine', 'schema', 'table', 'column', 'constraint'] as const;

/** A quoted span in a message, first quote to last: input echoed back may hold quotes itself. */
const QUOTED = /"[\s\S]*"/g;

/** Text safe to log: a double-quoted span and a URL's query string are cut out. */
export function scrub(text: string): string {
  return text.replace(QUOTED, '"…"').replace(/(\/[^\s?"']*)\?[^\s"']*/g, '$1?…');
}

interface LoggedError {
  type: string;
  message: string;
  stack?: string;
  cause?: LoggedError;
  errors?: LoggedError[];
  [field: string]: unknown;
}

export function safeError(err: unknown, depth = 0): LoggedError | unknown {
  if (!(err instanceof Error)) return typeof err === 'string' ? scrub(err) : err;
  const message = scrub(err.message);
  const out: LoggedError = { type: err.constructor?.name ?? err.name, message };
  if (typeof err.stack === 'string') {
    // The stack's first line repeats the message.
    out.stack = err.message === '' ? err.stack : err.stack.split(err.message).join(message);
  }
  const fields = err as unknown as Record<string, unknown>;
  for (const f of KEPT_FIELDS) {
    const v = fields[f];
    if (typeof v === 'string' || typeof v === 'number') out[f] = typeof v === 'string' ? scrub(v) : v;
  }
  if (depth < 4) {
    if (err.cause !== undefined) out.cause = safeError(err.cause, depth + 1) as LoggedError;
    if (err instanceof AggregateError) out.errors = err.errors.slice(0, 10).map((e) => safeError(e, depth + 1) as LoggedError);
  }
  return out;
}

/** Method and path of a request (a Fastify request or Node's). */
function safeRequest(req: { method?: string; url?: string; ip?: string; socket?: { remoteAddress?: string } }): Record<string, unknown> {
  return { method: req.method, path: req.url?.split('?')[0], remoteAddress: req.ip ?? req.socket?.remoteAddress };
}

function safeResponse(res: { statusCode?: number }): Record<string, unknown> {
  return { statusCode: res.statusCode };
}
