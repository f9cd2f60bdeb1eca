import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

/**
 * A caller's own request id is kept when it is a plain token (a UUID, a proxy's or a
 * tracer's id): anything else could forge or break log lines, or carry what a log must not.
 */
const CALLER_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export const REQUEST_ID_HEADER = 'x-request-id';

/** The id of a request: the caller's `x-request-id` when it is a plain token, else a new UUID. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && CALLER_ID.test(given) ? given : randomUUID();
}

/**
 * One line per finished request, echoing its id in the response so a caller can quote it.
 * Levels: a 5xx at error (something here went wrong), a 4xx at info (a caller's mistake,
 * worth seeing while a client is being written, rare once it works), anything else at debug:
 * at webhook volumes a line per accepted message would be most of the log and tell nothing
 * the message's id and its attempts do not. The level is checked before the line is built,
 * so the accepted-message path costs one comparison.
 */
export function installRequestLog(app: FastifyInstance, log: Logger): void {
  app.addHook('onRequest', (req, reply, done) => {
    reply.header(REQUEST_ID_HEADER, req.id);
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    const status = reply.statusCode;
    const level = status >= 500 ? 'error' : status >= 400 ? 'info' : 'debug';
    if (level === 'debug' ? log.isLevelEnabled('debug') : log.isLevelEnabled(level)) {
      log[level](
        {
          reqId: req.id,
          method: req.method,
          // No query string: a content link's token is in it.
          path: req.url.split('?')[0],
          status,
          durationMs: Math.round(reply.elapsedTime * 10) / 10,
          remoteAddress: req.ip,
        },
        'request',
      );
    }
    done();
  });
}
