import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { completeDocument } from './api/openapi.js';
import type { Logger } from 'pino';
import { httpOrigin, isPostgresUrl, redactUrl, type Config } from './config.js';
import { Dispatcher, type DeliveryEvents, type WorkSignals } from './delivery/dispatcher.js';
import { Sender } from './delivery/sender.js';
import { BacklogWatch } from './delivery/backlog-watch.js';
import type { Store } from './store/store.js';
import { isConnectionError, PostgresStore, type DatabaseHealth } from './store/postgres/store.js';
import { WorkNotifier, workChannel } from './store/postgres/notifier.js';
import { PayloadValidator } from './domain/payloads.js';
import { SqliteStore } from './store/sqlite/store.js';
import { importEventTypes, type ImportResult } from './api/event-types.js';
import { fromCatalog } from './domain/event-type-import.js';
import { loadCatalog } from './catalog.js';
import {
  hashToken,
  IDEMPOTENCY_TTL_MS,
  installErrors,
  installIdempotency,
  installJsonParser,
  installValidation,
  type Deps,
} from './api/http.js';
import { SCHEMAS } from './api/schemas.js';
import { authRoutes, installAuth } from './api/auth.js';
import { installBodyDeadline, limitConnections, serverLimits } from './api/limits.js';
import { applicationRoutes } from './api/applications.js';
import { endpointRoutes } from './api/endpoints.js';
import { endpointAuthRoutes } from './api/endpoint-auth.js';
import { operationalRoutes } from './api/operational.js';
import { installIngestTracing, messageRoutes } from './api/messages.js';
import { erasureRoutes } from './api/erasure.js';
import { attemptRoutes } from './api/attempts.js';
import { eventTypeRoutes } from './api/event-types.js';
import { sendingRoutes } from './api/sending.js';
import { statisticsRoutes } from './api/statistics.js';
import { healthRoutes, probeRoutes, type Readiness } from './api/health.js';
import { metricsRoutes, type ScrapeAccess } from './api/metrics.js';
import { Metrics } from './metrics.js';
import { checkRoutes } from './api/checks.js';
import { contentRoutes } from './api/content.js';
import { backfillReadRoutes, backfillRoutes } from './api/backfills.js';
import { dashboardRoutes, type DashboardOptions } from './api/dashboard.js';
import { ContentLinks } from './delivery/content-links.js';
import { ThinPayloads } from './delivery/thin.js';
import { uiRoutes } from './api/ui.js';
import { installRequestLog, requestId } from './api/request-log.js';
import { auditRoutes, installAudit } from './api/audit.js';
import { tokenRoutes } from './api/tokens.js';
import { taskRoutes } from './api/tasks.js';
import { auditEntries, recordAudit, verifyAudit, type Verification } from './core/audit.js';
import type { AuditFilter } from './store/store.js';
import type { AuditEntry } from './domain/audit.js';
import { buildCore } from './core/index.js';
import { TASK_STALE_MS, type Tasks } from './core/tasks.js';
import { Sealer } from './domain/sealing.js';
import type { RekeyProgress } from './store/rekey.js';
import { Messages } from './core/messages.js';
import { Operational } from './core/operational.js';
import { RetentionPurge } from './core/retention.js';
import type { Tracing } from './tracing.js';

/**
 * The package's own version, read from its package.json (one level up from both src/ and the
 * built dist/), so `--version`, the health answer and the published package cannot disagree.
 */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export interface Hookwell {
  /** The management API's address; null for a worker, which serves none. */
  url: string | null;
  app: FastifyInstance | null;
  store: Store;
  /** null for an API process, which delivers nothing. */
  dispatcher: Dispatcher | null;
  /** Set only when this start generated the admin token: it is shown this once. */
  generatedToken: string | null;
  /** Deletes content past its retention period, on a timer; runOnce for a run now. */
  retention: RetentionPurge;
  close(): Promise<void>;
}

const TOKEN_META_KEY = 'admin_token_sha256';
const LINK_KEY_META_KEY = 'content_link_key';
/** How long a finished background task stays readable (ms): 30 days. */
export const TASK_KEEP_MS = 30 * 24 * 60 * 60 * 1000;

/** The admin tokens' hashes: from configuration, else stored, else a new token generated and stored. */
async function resolveTokens(store: Store, cfg: Config): Promise<{ hashes: Buffer[]; generated: string | null }> {
  if (cfg.adminTokens.length > 0) return { hashes: cfg.adminTokens.map(hashToken), generated: null };
  const stored = await store.getMeta(TOKEN_META_KEY);
  if (stored !== null) return { hashes: [Buffer.from(stored, 'hex')], generated: null };
  const token = `hwk_${randomBytes(24).toString('base64url')}`;
  const hash = hashToken(token);
  await store.setMeta(TOKEN_META_KEY, hash.toString('hex'));
  return { hashes: [hash], generated: token };
}

/** What a caller may set beside the configuration: timings a test shortens. */
export interface ApiOptions {
  dashboard?: DashboardOptions;
  /** How often expired idempotency records, stalled uploads, portal tokens and old finished tasks are purged (ms); hourly by default. */
  housekeepingIntervalMs?: number;
  /** How often a delivering process looks at the backlog (ms); see delivery/backlog-watch.ts. */
  backlogCheckMs?: number;
}

export async function buildApi(deps: Deps, options: ApiOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    // Fastify's own two lines per request are replaced by one, levelled by status (api/request-log.ts).
    logController: new LogController({ disableRequestLogging: true }),
    // One logger for all requests: a child per request costs more than it tells here; the
    // lines about a request carry its reqId themselves.
    childLoggerFactory: (logger) => logger,
    genReqId: requestId,
    bodyLimit: 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
    // Header, body and idle time of the API's clients (see api/limits.ts).
    ...serverLimits(deps.cfg, deps.log),
  });
  limitConnections(app.server, deps.cfg, deps.log);
  installRequestLog(app, deps.log);
  if (deps.tracing) installIngestTracing(app, deps.tracing);
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
    transformObject: (doc) => ('openapiObject' in doc ? completeDocument(doc.openapiObject) : doc.swaggerObject),
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });

  installAuth(app, deps.adminHashes, deps.store);
  installAudit(app, deps.store, deps.log);
  installBodyDeadline(app, deps.cfg);
  installIdempotency(app, deps.store);

  healthRoutes(app, deps);
  authRoutes(app, deps);
  tokenRoutes(app, deps);
  auditRoutes(app, deps);
  applicationRoutes(app, deps);
  endpointRoutes(app, deps);
  endpointAuthRoutes(app, deps);
  operationalRoutes(app, deps);
  messageRoutes(app, deps);
  taskRoutes(app, deps);
  erasureRoutes(app, deps);
  attemptRoutes(app, deps);
  eventTypeRoutes(app, deps);
  sendingRoutes(app, deps);
  statisticsRoutes(app, deps);
  checkRoutes(app, deps);
  contentRoutes(app, deps);
  await backfillRoutes(app, deps);
  backfillReadRoutes(app, deps);
  dashboardRoutes(app, deps, options.dashboard);
  metricsRoutes(app, deps.metrics, apiScrapeAccess(deps.cfg, deps.adminHashes));
  await uiRoutes(app, deps);
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
  return app;
}

/** Says in the log once when the database starts failing, and once when it works again. */
function outageLog(log: Logger, failedMsg: string, recoveredMsg: string): { failed(err: unknown): void; succeeded(): void } {
  let failing = false;
  return {
    failed: (err) => {
      if (failing) return;
      failing = true;
      log.error({ err }, failedMsg);
    },
    succeeded: () => {
      if (!failing) return;
      failing = false;
      log.info(recoveredMsg);
    },
  };
}

/**
 * Opens the configured store, waiting with back-off while PostgreSQL cannot be reached.
 * `tool`: for commands that run beside a serving process (they open SQLite in-process and
 * leave its leases alone).
 */
async function openStore(cfg: Config, log: Logger, tool = false): Promise<{ store: Store; notifier: WorkNotifier | null }> {
  const sealer = cfg.encryptionKeys.length === 0 ? Sealer.none : new Sealer(cfg.encryptionKeys);
  if (!isPostgresUrl(cfg.db)) {
    const store = SqliteStore.open(cfg.db, {
      sealer,
      releaseLeases: !tool,
      probeBytes: cfg.maxPayloadBytes,
      tightened: ({ file, was }) => log.warn({ file, was, now: '0600' }, 'a database file was readable by other users; made it owner-only'),
      health: outageLog(log, 'the database cannot write; writes are answered 503 and health fails until one succeeds', 'the database writes again'),
    });
    return { store, notifier: null };
  }
  const health: DatabaseHealth = outageLog(log, 'the database is unavailable; the API answers 503 and delivery waits until it is back', 'the database is reachable again');
  for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
    try {
      const store = await PostgresStore.open(cfg.db, { sealer, schema: cfg.dbSchema ?? undefined, poolSize: cfg.dbPoolSize, health, workChannel: workChannel(cfg.dbSchema) });
      return { store, notifier: new WorkNotifier(cfg.db, store.pool, cfg.dbSchema, log) };
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      if (delay === 250) log.warn({ err, db: redactUrl(cfg.db) }, 'waiting for the database to accept connections');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * Seals everything stored under the ring's first key: `hookwell rekey`. Runs beside serving
 * processes (as a tool, like migrate), `batch` rows a transaction.
 */
export async function rekey(cfg: Config, log: Logger, batch: number, progress: (p: RekeyProgress) => void): Promise<void> {
  const { store } = await openStore(cfg, log, true);
  try {
    await store.rekey(batch, progress);
    await recordAudit(store, { actor: 'system', action: 'rekey', outcome: 'ok' });
  } catch (err) {
    // Recorded with a fixed reason: an error's text may hold what the log must not.
    await recordAudit(store, { actor: 'system', action: 'rekey', outcome: 'failed', reason: 'error' }).catch(() => undefined);
    throw err;
  } finally {
    await store.close();
  }
}

/** Applies the store's migrations and closes it: `hookwell migrate`. */
export async function migrateOnly(cfg: Config, log: Logger): Promise<void> {
  const { store } = await openStore(cfg, log, true);
  await store.close();
}

/** Creates or updates the event types of a built-in catalogue: `hookwell catalog import`. */
export async function importCatalog(cfg: Config, log: Logger, name: string): Promise<ImportResult> {
  const entries = fromCatalog(loadCatalog(name));
  const { store } = await openStore(cfg, log, true);
  try {
    return await importEventTypes(store, entries);
  } finally {
    await store.close();
  }
}

/** On the API's port /metrics always takes a token: the metrics token, or an admin token. */
function apiScrapeAccess(cfg: Config, adminHashes: readonly Buffer[]): ScrapeAccess {
  const metricsHashes = cfg.metricsToken === null ? [] : [hashToken(cfg.metricsToken)];
  return { open: false, hashes: [...metricsHashes, ...adminHashes], tokens: cfg.metricsToken === null ? 'an admin token' : 'the metrics token or an admin token' };
}

/** On a port of its own (metrics or health), /metrics is open unless HOOKWELL_METRICS_TOKEN is set. */
function portScrapeAccess(cfg: Config): ScrapeAccess {
  return cfg.metricsToken === null ? { open: true, hashes: [], tokens: '' } : { open: false, hashes: [hashToken(cfg.metricsToken)], tokens: 'the metrics token (HOOKWELL_METRICS_TOKEN)' };
}

/** A small listener of its own, on the listen address: the probes (HOOKWELL_HEALTH_PORT) and /metrics, or /metrics alone (HOOKWELL_METRICS_PORT). */
async function sideServer(cfg: Config, port: number, log: Logger, metrics: Metrics, probes: { store: Store; readiness: Readiness } | null): Promise<FastifyInstance> {
  const side = Fastify({ loggerInstance: log as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
  if (probes !== null) probeRoutes(side, probes.store, probes.readiness);
  metricsRoutes(side, metrics, portScrapeAccess(cfg));
  await side.listen({ port, host: cfg.host });
  return side;
}

/** Checks the audit log's chain: `hookwell audit verify`. */
export async function verifyAuditLog(cfg: Config, log: Logger): Promise<Verification> {
  const { store } = await openStore(cfg, log, true);
  try {
    return await verifyAudit(store);
  } finally {
    await store.close();
  }
}

/** Hands each audit entry matching `filter` to `each`, oldest first: `hookwell audit export`. Returns how many. */
export async function exportAuditLog(cfg: Config, log: Logger, filter: AuditFilter, each: (e: AuditEntry) => Promise<void> | void): Promise<number> {
  const { store } = await openStore(cfg, log, true);
  let n = 0;
  try {
    for await (const e of auditEntries(store, filter)) {
      await each(e);
      n++;
    }
    return n;
  } finally {
    await store.close();
  }
}

export async function startHookwell(cfg: Config, log: Logger, api: ApiOptions = {}): Promise<Hookwell> {
  const { store, notifier } = await openStore(cfg, log);
  // One registry per start: several servers in one process count apart.
  const metrics = new Metrics();
  metrics.watch(store, (err) => log.debug({ err }, 'reading the queue for /metrics failed'));
  if (cfg.encryptionKeys.length === 0) {
    log.warn('payloads, responses and endpoint secrets are stored unencrypted; set HOOKWELL_ENCRYPTION_KEYS to encrypt them at rest');
  }
  const delivering = cfg.role !== 'api';
  const serving = cfg.role !== 'worker';
  const sender = new Sender(cfg);
  // Loaded only when on: without tracing no part of OpenTelemetry is imported.
  const tracing: Tracing | null = cfg.tracing === null ? null : await (await import('./tracing.js')).startTracing(cfg.tracing, VERSION, log);
  // One key for every process sharing the database: a link made by a worker is read by an API process.
  const linkKey = await store.ensureMeta(LINK_KEY_META_KEY, randomBytes(32).toString('hex'));
  let url: string | null = null;
  const publicUrl = () => cfg.publicUrl ?? url ?? `http://${cfg.host}:${cfg.port}`;
  const links = new ContentLinks(Buffer.from(linkKey, 'hex'), publicUrl, cfg.contentLinkTtlMs);
  const thin = new ThinPayloads(links, (name) => store.getEventType(name));
  // The dispatcher reports recorded attempts to the operational webhooks, which send through it.
  let operational: Operational | null = null;
  const events: DeliveryEvents = {
    recorded: (attempts, disabled) => operational?.recorded(attempts, disabled),
    attempted: (statusCode, durationMs) => metrics.attempted(statusCode, durationMs),
  };
  const dispatcher = delivering ? new Dispatcher(store, sender, cfg, log, notifier !== null, thin, events, tracing) : null;
  // Other processes sharing the database hear of new work through the notifier.
  const signals: WorkSignals = {
    leaseOffer: () => dispatcher?.leaseOffer(),
    settle: (offer, leased) => dispatcher?.settle(offer, leased),
    notify: () => {
      dispatcher?.notify();
      notifier?.signal();
    },
    forget: (msgIds) => dispatcher?.forget(msgIds),
  };

  operational = new Operational(store, new Messages(store, signals, cfg.payloadRetentionMs), log);

  let app: FastifyInstance | null = null;
  let tasks: Tasks | null = null;
  let generated: string | null = null;
  const readiness: Readiness = { draining: false };
  if (serving) {
    const token = await resolveTokens(store, cfg);
    generated = token.generated;
    // Another process (a worker, `hookwell catalog import`) may change an event type: each is read again after a second.
    const payloads = new PayloadValidator((name) => store.getEventType(name), cfg.validatePayloads, 1000, (name, err) =>
      log.warn({ eventType: name, err: err.message }, "the event type's schema cannot be compiled; its messages are not validated"),
    );
    const core = buildCore({ store, signals, sender, links, log, operational, retentionMs: cfg.payloadRetentionMs });
    tasks = core.tasks;
    // Before any request: a task still running here was left by a process that is gone.
    await tasks.failAbandoned(store.leasesOnCreate);
    app = await buildApi({ store, core, payloads, cfg, log, adminHashes: token.hashes, publicUrl, readiness, metrics, tracing }, api);
    await app.listen({ port: cfg.port, host: cfg.host });
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : cfg.port;
    url = httpOrigin(cfg.host, port);
  }
  const probes = cfg.healthPort === null ? null : await sideServer(cfg, cfg.healthPort, log, metrics, { store, readiness });
  const scrapes = cfg.metricsPort === null ? null : await sideServer(cfg, cfg.metricsPort, log, metrics, null);
  // Only where work is delivered: a process that only serves the API cannot fall behind.
  const backlogWatch = dispatcher === null ? null : new BacklogWatch(() => store.backlog(), log, api.backlogCheckMs);
  if (dispatcher !== null) {
    dispatcher.start();
    notifier?.listen(() => dispatcher.notify());
    backlogWatch?.start();
  }

  // On every role: a worker-only or API-only deployment deletes expired content all the same.
  const retention = new RetentionPurge(store, signals, log);
  retention.start(cfg.payloadPurgeIntervalMs);

  // Expired idempotency records (one per POST that carried a key: the v2 SDK sends one with
  // every POST), stalled uploads, expired portal tokens and old finished background tasks.
  // Once at start as well as hourly: a process restarted more often than hourly would
  // otherwise never purge, and the tables would grow without bound.
  let sweeping: Promise<unknown> = Promise.resolve();
  const housekeeping = () => {
    const now = Date.now();
    sweeping = Promise.all([
      store.purgeIdempotent(now - IDEMPOTENCY_TTL_MS).catch((err: unknown) => log.error({ err }, 'purging idempotency keys failed')),
      // Uploads that stopped moving an hour ago were cut off with their process.
      store.purgeUnfinishedBackfills(now - 60 * 60 * 1000).catch((err: unknown) => log.error({ err }, 'purging unfinished backfills failed')),
      store.purgePortalTokens(now - 24 * 60 * 60 * 1000).catch((err: unknown) => log.error({ err }, 'purging expired portal tokens failed')),
      // A finished background task is kept for its caller to read, a month.
      store.purgeFinishedTasks(now - TASK_KEEP_MS).catch((err: unknown) => log.error({ err }, 'purging finished background tasks failed')),
    ]);
  };
  housekeeping();
  const purge = setInterval(housekeeping, api.housekeepingIntervalMs ?? 60 * 60 * 1000);
  purge.unref();
  // Where processes share the store, one may die while others serve: its tasks are found by their age.
  const sweep = tasks !== null && !store.leasesOnCreate
    ? setInterval(() => {
        tasks?.failAbandoned(false).catch((err: unknown) => log.error({ err }, 'checking background tasks failed'));
      }, TASK_STALE_MS / 2)
    : null;
  sweep?.unref();

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      readiness.draining = true;
      clearInterval(purge);
      if (sweep !== null) clearInterval(sweep);
      await sweeping;
      backlogWatch?.stop();
      await retention.stop();
      await Promise.all([app?.close(), scrapes?.close(), dispatcher?.stop(cfg.drainTimeoutMs), notifier?.close()]);
      // Background tasks end in this process: what they record must reach the store before it closes.
      await tasks?.drain();
      await sender.close();
      // After the last attempt: its span is exported with the rest.
      await tracing?.close();
      // Probes hear "stopping" until the last attempt is recorded.
      await probes?.close();
      await store.close();
    })();
    return closing;
  };
  return { url, app, store, dispatcher, generatedToken: generated, retention, close };
}
