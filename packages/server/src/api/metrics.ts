import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';
import { hashToken } from './http.js';

/**
 * Who may scrape: the bearer tokens whose SHA-256 is one of `hashes`, or anyone when `open`.
 * On the API's port the admin tokens and HOOKWELL_METRICS_TOKEN are accepted, and one is
 * always needed; on the metrics and health ports only HOOKWELL_METRICS_TOKEN, and nothing
 * when it is unset (those ports are for a private network, as the probes are).
 */
export interface ScrapeAccess {
  open: boolean;
  hashes: readonly Buffer[];
  /** Which tokens a refusal asks for. */
  tokens: string;
}

function allowed(access: ScrapeAccess, authorization: string | undefined): boolean {
  if (access.open) return true;
  if (authorization === undefined || !authorization.startsWith('Bearer ')) return false;
  const hash = hashToken(authorization.slice('Bearer '.length).trim());
  let found = false;
  for (const h of access.hashes) found = timingSafeEqual(hash, h) || found;
  return found;
}

/** GET /metrics: the Prometheus text format. */
export function metricsRoutes(app: FastifyInstance, metrics: Metrics, access: ScrapeAccess): void {
  app.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
    if (!allowed(access, req.headers.authorization)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ code: 'authentication_failed', detail: `send ${access.tokens} as "Authorization: Bearer <token>"` });
    }
    const text = await metrics.text();
    return reply.header('content-type', metrics.contentType).send(text);
  });
}
