import { randomBytes } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { Dispatcher } from './delivery/dispatcher.js';
import { Sender } from './delivery/sender.js';
import { openThreadedSqlite } from './store/sqlite/threaded.js';
import type { Store } from './store/store.js';
import {
  hashToken,
  IDEMPOTENCY_TTL_MS,
  installAuth,
  installErrors,
  installIdempotency,
  installJsonParser,
  installValidation,
  type Deps,
} from './api/http.js';
import { SCHEMAS } from './api/schemas.js';
import { applicationRoutes } from './api/applications.js';
import { endpointRoutes } from './api/endpoints.js';
import { messageRoutes } from './api/messages.js';
import { attemptRoutes } from './api/attempts.js';
import { eventTypeRoutes } from './api/event-types.js';
import { healthRoutes } from './api/health.js';
import { checkRoutes } from './api/checks.js';

export const VERSION = '0.1.0';

export interface Hookwell {
  url: string;
  app: FastifyInstance;
  store: Store;
  dispatcher: Dispatcher;
  /** Set only when this start generated the admin token: it is shown this once. */
  generatedToken: string | null;
  close(): Promise<void>;
}

const TOKEN_META_KEY = 'admin_token_sha256';

/** The token's hash: from configuration, else stored, else a new token generated and stored. */
async function resolveToken(store: Store, cfg: Config): Promise<{ hash: Buffer; generated: string | null }> {
  if (cfg.adminToken !== null) return { hash: hashToken(cfg.adminToken), generated: null };
  const stored = await store.getMeta(TOKEN_META_KEY);
  if (stored !== null) return { hash: Buffer.from(stored, 'hex'), generated: null };
  const token = `hwk_${randomBytes(24).toString('base64url')}`;
  const hash = hashToken(token);
  await store.setMeta(TOKEN_META_KEY, hash.toString('hex'));
  return { hash, generated: token };
}

export async function buildApi(deps: Deps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    // Per-request lines would dominate the log at webhook volumes; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    // One logger for all requests: a child per request costs more than it tells here.
    childLoggerFactory: (logger) => logger,
    bodyLimit: 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
  });
  installValidation(app);
  installErrors(app, deps.log);
  installJsonParser(app);
  for (const [name, schema] of Object.entries(SCHEMAS)) app.addSchema({ ...schema, $id: name });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Hookwell',
        version: VERSION,
        description: 'Self-hosted webhook delivery. The management API follows the Svix API.',
      },
      components: { securitySchemes: { HTTPBearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ HTTPBearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });

  installAuth(app, deps.tokenHash);
  installIdempotency(app, deps.store);

  healthRoutes(app, deps);
  applicationRoutes(app, deps);
  endpointRoutes(app, deps);
  messageRoutes(app, deps);
  attemptRoutes(app, deps);
  eventTypeRoutes(app, deps);
  checkRoutes(app, deps);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}

export async function startHookwell(cfg: Config, log: Logger): Promise<Hookwell> {
  const store = await openThreadedSqlite(cfg.db);
  const { hash, generated } = await resolveToken(store, cfg);
  const sender = new Sender(cfg);
  const dispatcher = new Dispatcher(store, sender, cfg, log);
  const app = await buildApi({ store, dispatcher, sender, cfg, log, tokenHash: hash });
  await app.listen({ port: cfg.port, host: cfg.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : cfg.port;
  const host = cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host;
  const url = `http://${host}:${port}`;
  dispatcher.start();

  const purge = setInterval(() => {
    store.purgeIdempotent(Date.now() - IDEMPOTENCY_TTL_MS).catch((err: unknown) => log.error({ err }, 'purging idempotency keys failed'));
  }, 60 * 60 * 1000);
  purge.unref();

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      clearInterval(purge);
      await Promise.all([app.close(), dispatcher.stop(cfg.drainTimeoutMs)]);
      await sender.close();
      await store.close();
    })();
    return closing;
  };
  return { url, app, store, dispatcher, generatedToken: generated, close };
}
