// Hookwell benchmark: `npm run bench` (BENCH_QUICK=1 for a short smoke run).
//
// Prints one JSON line per figure to stdout, then a summary line; everything else goes to
// stderr. Every server, receiver and baseline runs as a child process of this one, on
// 127.0.0.1, and all of them (and the temporary directory, and the PostgreSQL schemas the
// run created) are gone when this exits.
//
// Figures on embedded SQLite (one process, a fresh database file each):
//   ingest   — 202s per second from POST /api/v1/app/{app}/msg with 64 requests in flight
//              (deliveries due after the run; also reported with live delivery)
//              (the app has one endpoint, so each message is also delivered to a local
//              receiver meanwhile), against the same client code on a bare Node http
//              server answering 202. The two take turns in windows of a quarter of the
//              measured time, bare, hookwell, hookwell, bare, twice over, each pooled.
//   ingest-validated — as ingest (deliveries due later, no live delivery), with a realistic
//              payload: the last example of catalogue event type daily.data.workouts.created,
//              sent once to an event type that validates it against that type's JSON Schema
//              ("validate": true) and once to one with no schema, on one server, in the
//              order plain, validated, validated, plain (half the window each) so that drift
//              on the machine falls on both alike. Reports validationCost = 1 - validated/plain
//              (target below 0.10), and each against the bare baseline as for ingest.
//   delivery — how fast a backlog of accepted messages reaches a local receiver, against
//              bare undici POSTs of the same payloads at the same concurrency.
//   latency  — POST …/msg start → receipt at the receiver, open loop at 500 msg/s (target:
//              p99 at most 5 ms); latency-2000, the same at 2,000 msg/s.
//   message-log — the message log's pages (GET …/msg: first, deep, and each filter) with
//              100,000 messages in one application, p50/p99 server-side; see message-log.ts.
//   e2e      — end to end in one process: 64 producers POST the same payloads as ingest and
//              delivery to …/msg (each durable before its 202) and Hookwell delivers them,
//              signed, to a local receiver (endpoint concurrency 64); events per second from
//              the first POST to the last receipt, over 20,000 events after 2,000 to warm up.
//   bullmq   — what a Node user would build instead, measured the same way beside it: BullMQ
//              on the Redis at BENCH_REDIS_URL (default redis://127.0.0.1:6379), one
//              `queue.add` per event from 64 producers, a Worker in this process (concurrency
//              64) POSTing each job with undici, signed per Standard Webhooks with node:crypto;
//              see lib/bullmq-webhooks.ts. The summary gives e2eOverBullmq (target 1.5). Redis
//              keeps jobs in memory, so an added event is not durable as a 202 from Hookwell is.
//              When Redis cannot be reached, its line has "error" and "skipped", as for PostgreSQL.
//
// Every line also gives peakRssMb, this process's peak resident memory during the figure
// (sampled every 50 ms), and childPeakRssMb, the peak of each child process (Hookwell servers,
// receivers, bare servers) seen meanwhile, by label. Not included: PostgreSQL's backends, and
// Redis (the bullmq line gives Redis's used_memory_rss before and at its peak instead).
//
// Figures on PostgreSQL (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/test), each
// on a fresh schema (HOOKWELL_DB_SCHEMA) that is dropped afterwards, measured the same way
// and against the same baselines (run before and after, as for the SQLite figures):
//   pg-ingest     — as ingest, with one process of HOOKWELL_ROLE=all.
//   pg-delivery-1 — as delivery, but to 8 endpoints on the one receiver, the messages spread
//                   evenly over them (by channel): the backlog is written through the API by a
//                   process of role api (which delivers nothing, so it stays due), that process
//                   is stopped, and one process of role worker delivers it.
//   pg-message-log — as message-log.
//   pg-delivery-2 — the same on a fresh schema with two worker processes at once; each
//                   endpoint's concurrency limit (64, as for delivery) holds over both.
//                   Also reports twoOverOne, its rate over pg-delivery-1's.
// The delivery lines also give the CPU use meanwhile (all cores busy, and the share of the
// Hookwell processes, their PostgreSQL backends, the receiver and everything else), and the
// PostgreSQL ones the deliveries by status afterwards and the index scans on the queue.
// When PostgreSQL cannot be reached, its figures print a line with "error" and "skipped"
// and the rest of the run goes on (the exit status stays 0 for that alone).
//
//   encryption      SQLite ingest as `ingest-validated` measures it, with HOOKWELL_ENCRYPTION_KEYS
//                   set and without, two servers side by side (each its own file), in eight
//                   windows (plain, encrypted, encrypted, plain, twice over); reported as
//                   encryptionCost = 1 - encrypted / plain msg/s, and beside it each server's CPU
//                   per accepted message inside its windows (encryptionCpuShare, what keys add).
//   encryption-delivery
//                   SQLite delivery as `delivery` measures it (a backlog of the same payloads, due
//                   at once, delivered by a fresh server at endpoint concurrency 64), with
//                   HOOKWELL_ENCRYPTION_KEYS set and without, four runs in turns (plain, encrypted,
//                   encrypted, plain), each on a backlog of its own; every body the receiver gets
//                   is checked byte for byte against the payload sent, and the encrypted runs'
//                   databases to hold their payloads sealed. Reported as encryptionDeliveryCost =
//                   1 - encrypted / plain msg/s, and beside it the server's CPU per delivery.
//   ingest-idempotent
//                   SQLite ingest as `ingest-validated` measures it, every message with a
//                   random idempotency-key of its own (`auto_<uuid>`, as the svix 2.x SDK sends
//                   with every POST: each then stores a record for replay) and without, in
//                   alternating windows on one server; reported as idempotencyCost = 1 - keyed /
//                   plain msg/s.
// Optional environment: BENCH_QUICK=1; BENCH_ONLY=ingest,ingest-validated,ingest-idempotent,encryption,encryption-delivery,delivery,latency,latency-2000,message-log,e2e,bullmq,pg-ingest,pg-delivery-1,pg-delivery-2,pg-message-log
// (a subset; "pg" stands for the four PostgreSQL figures, "pg-delivery" for both deliveries;
// default: all of them); BENCH_PG_URL; BENCH_REDIS_URL; BENCH_E2E_CONCURRENCY (deliveries in
// flight for e2e and bullmq, default 64);
// BENCH_SERVER_NODE_ARGS (node flags of every Hookwell child, e.g. "--cpu-prof --cpu-prof-dir=DIR");
// BENCH_SERVER_NODE_OPTIONS (their NODE_OPTIONS).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Sqlite from 'better-sqlite3';
import { Agent, Pool, request } from 'undici';
import { log, percentile, round, sleep, wallNow } from './lib/clock.ts';
import { closedLoop, sendCount, type ClosedLoopResult } from './lib/load.ts';
import { Helper, killAllSync, startServer, startWorker, stopChild, type ServerHandle, type WorkerHandle } from './lib/procs.ts';
import { backendsOf, dropSchema, dropSchemasSync, newSchema, PG_URL, PgUnreachable, pgVersion, querySchema, redacted } from './lib/pg.ts';
import { busyShare, machineCpu, processCpuSec, processCpuTimes } from './lib/cpu.ts';
import { messageLogFigure } from './message-log.ts';
import { peakRssOf, RssSampler } from './lib/rss.ts';
import { REDIS_URL, RedisRssSampler, RedisUnreachable, redisVersion, WebhookQueue } from './lib/bullmq-webhooks.ts';

const QUICK = process.env.BENCH_QUICK === '1';
const ALIASES: Record<string, string[]> = {
  pg: ['pg-ingest', 'pg-delivery-1', 'pg-delivery-2', 'pg-message-log'],
  'pg-delivery': ['pg-delivery-1', 'pg-delivery-2'],
};
const ONLY = new Set(
  (process.env.BENCH_ONLY ?? 'ingest,ingest-validated,ingest-idempotent,encryption,encryption-delivery,delivery,latency,latency-2000,message-log,e2e,bullmq,pg')
    .split(',')
    .map((s) => s.trim())
    .flatMap((s) => ALIASES[s] ?? [s]),
);
const FIGURES = ['ingest', 'ingest-validated', 'ingest-idempotent', 'encryption', 'encryption-delivery', 'delivery', 'latency', 'latency-2000', 'message-log', 'e2e', 'bullmq', 'pg-ingest', 'pg-delivery-1', 'pg-delivery-2', 'pg-message-log'];
for (const name of ONLY) if (!FIGURES.includes(name)) log(`BENCH_ONLY: no figure "${name}" (there are ${FIGURES.join(', ')}, pg, pg-delivery)`);

const P = {
  ingestConcurrency: 64,
  ingestWarmupMs: QUICK ? 1_000 : 3_000,
  ingestMeasureMs: QUICK ? 2_000 : 10_000,
  backlog: QUICK ? 2_000 : 20_000,
  deliveryConcurrency: 64,
  // The PostgreSQL delivery figures' endpoints, on the one receiver, messages spread evenly:
  // two workers share each endpoint's limit but not one endpoint's worth of work.
  pgDeliveryEndpoints: 8,
  /** Open-loop rates of the latency figures: `latency`, then `latency-2000`. */
  latencyRates: [500, 2_000],
  latencyWarmupMs: QUICK ? 1_000 : 2_000,
  latencyMeasureMs: QUICK ? 3_000 : 20_000,
  latencyConnections: 64,
  /** Messages in the application of the message-log figures, and timed calls per query. */
  logMessages: QUICK ? 10_000 : 100_000,
  logCalls: QUICK ? 10 : 50,
  /** HOOKWELL_DB_POOL_SIZE of every PostgreSQL process (Hookwell's default). */
  pgPoolSize: 10,
  /** End to end (e2e, bullmq): events measured (after a tenth as many to warm up), producers, deliveries in flight. */
  e2eEvents: QUICK ? 2_000 : 20_000,
  e2eProducers: 64,
  e2eInFlight: Number(process.env.BENCH_E2E_CONCURRENCY ?? 64),
};
/**
 * Each figure's least ratio to its baseline in the same run. SQLite ingest is acceptance
 * alone; with live delivery the same process also sends every message. PostgreSQL's are
 * lower: each statement crosses to another process.
 */
const TARGETS = {
  ingest: 0.5,
  ingestWithLiveDelivery: 0.4,
  delivery: 0.4,
  pgIngest: 0.25,
  pgDelivery: 0.4,
  /** Two workers' rate over one's: a worker must add, never subtract. */
  pgTwoOverOne: 1.0,
} as const;
/** Most of ingest throughput that validating payloads may cost. */
const TARGET_VALIDATION_COST = 0.1;
/** Most ingest throughput an idempotency-key on every message (the v2 SDK's) may cost. */
const TARGET_IDEMPOTENCY_COST = 0.15;
/** Most ingest (encryption) or delivery (encryption-delivery) throughput encryption at rest may cost. */
const TARGET_ENCRYPTION_COST = 0.1;
/** At the first latency rate; the second is reported beside it, with no target. */
const TARGET_P99_MS = 5;
/** Most a message log page may take server-side, at p99, with 100,000 messages in the application. */
const TARGET_LOG_MS = 50;
/** Hookwell end to end over BullMQ + Redis, in the same run. */
const TARGET_E2E_OVER_BULLMQ = 1.5;

const TOKEN = `bench_${randomBytes(18).toString('base64url')}`;
const AUTH = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const PAD = 'x'.repeat(256);
/** A payload as the server stores and delivers it (the bench sends it compact, so byte for byte). */
const payloadText = (seq: number): string => JSON.stringify({ seq, data: PAD });

// --- housekeeping -----------------------------------------------------------------------

const tmp = mkdtempSync(path.join(os.tmpdir(), 'hookwell-bench-'));
let cleaned = false;
function cleanupSync(): void {
  if (cleaned) return;
  cleaned = true;
  killAllSync();
  rmSync(tmp, { recursive: true, force: true });
  dropSchemasSync();
}
process.on('exit', cleanupSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    log(`${sig}: stopping`);
    cleanupSync();
    process.exit(130);
  });
}
process.on('uncaughtException', (err) => {
  log('uncaught exception:', String(err?.stack ?? err));
  cleanupSync();
  process.exit(1);
});
process.on('unhandledRejection', (err) => {
  log('unhandled rejection:', String((err as Error)?.stack ?? err));
  cleanupSync();
  process.exit(1);
});
// Whatever happens, the run ends.
const watchdogMs = QUICK ? 6 * 60_000 : 25 * 60_000;
setTimeout(() => {
  log(`watchdog: the run took longer than ${watchdogMs / 1000} s; aborting`);
  cleanupSync();
  process.exit(1);
}, watchdogMs).unref();

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

let dbCounter = 0;
const newDb = (): string => path.join(tmp, `hookwell-${++dbCounter}.db`);
/** A figure's database (and its WAL) is removed once the figure is done with it. */
const dropDb = (db: string): void => {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(db + suffix, { force: true });
};

type Backend = 'sqlite' | 'postgres';

/** Where one figure's Hookwell keeps its data: a fresh SQLite file, or a fresh PostgreSQL schema. */
interface Database {
  backend: Backend;
  /** --db of its processes. */
  db: string;
  /** HOOKWELL_* settings that go with it. */
  env: Record<string, string>;
  /** PostgreSQL: the schema; null for SQLite. */
  schema: string | null;
  /** Removes it; never throws (a schema left over is dropped again on exit). */
  drop(): Promise<void>;
}

function newDatabase(backend: Backend, label: string): Database {
  if (backend === 'sqlite') {
    const db = newDb();
    return { backend, db, env: {}, schema: null, drop: async () => dropDb(db) };
  }
  const schema = newSchema(label);
  return {
    backend,
    db: PG_URL,
    env: { HOOKWELL_DB_SCHEMA: schema, HOOKWELL_DB_POOL_SIZE: String(P.pgPoolSize) },
    schema,
    drop: () => dropSchema(schema).catch((err: unknown) => log(`dropping schema ${schema} failed:`, String(err))),
  };
}

/** The PostgreSQL server's version, asked once; rejects with PgUnreachable when it is not there. */
let pgChecked: Promise<string> | null = null;
function pgReady(): Promise<string> {
  pgChecked ??= pgVersion().then((v) => {
    log(`postgres: ${redacted(PG_URL)} is PostgreSQL ${v}`);
    return v;
  });
  return pgChecked;
}

/** What a PostgreSQL figure adds to its line. */
async function pgInfo(database: Database): Promise<Record<string, unknown>> {
  if (database.backend !== 'postgres') return { backend: 'sqlite' };
  return { backend: 'postgres', postgres: await pgReady(), schema: database.schema, dbPoolSize: P.pgPoolSize };
}

/**
 * Index scans on the deliveries table since the schema was made (backlog written, then
 * delivered), by index: deliveries_due counts the claims' queue scans, deliveries_leased the
 * counts of leases held over all processes. Read after the processes have exited (a backend
 * reports its counts when it ends), so it waits a moment first.
 */
async function deliveryIndexScans(schema: string): Promise<Record<string, number>> {
  await sleep(1_000);
  const rows = await querySchema<{ index: string; n: number }>(
    schema,
    `SELECT indexrelname AS index, idx_scan::int AS n FROM pg_stat_user_indexes WHERE schemaname = $1 AND relname = 'deliveries' ORDER BY 1`,
    [schema],
  );
  return Object.fromEntries(rows.map((r) => [r.index, r.n]));
}

/** Deliveries of a PostgreSQL figure's schema by status name. */
async function deliveryStatuses(schema: string): Promise<Record<string, number>> {
  const names = ['success', 'pending', 'fail', 'sending', 'canceled'];
  const rows = await querySchema<{ status: number; n: number }>(schema, 'SELECT status, count(*)::int AS n FROM deliveries GROUP BY status ORDER BY status');
  return Object.fromEntries(rows.map((r) => [names[r.status] ?? String(r.status), r.n]));
}

// --- management API -------------------------------------------------------------------------

class Api {
  private readonly pool: Pool;
  constructor(readonly url: string) {
    this.pool = new Pool(url, { connections: 2 });
  }

  async call<T>(method: 'POST' | 'GET', p: string, body?: unknown): Promise<T> {
    const res = await this.pool.request({ path: p, method, headers: AUTH, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`${method} ${p}: ${res.statusCode} ${text}`);
    return (text === '' ? null : JSON.parse(text)) as T;
  }

  /** An application with one endpoint pointing at `target`. */
  async appWithEndpoint(uid: string, target: string): Promise<string> {
    const app = await this.call<{ id: string }>('POST', '/api/v1/app', { name: `bench ${uid}`, uid });
    await this.call('POST', `/api/v1/app/${app.id}/endpoint`, { url: `${target}/webhook`, description: 'bench receiver' });
    return app.id;
  }

  /** An application with `n` endpoints pointing at `target`, endpoint k subscribed to channel `e<k>` only. */
  async appWithEndpoints(uid: string, target: string, n: number): Promise<string> {
    const app = await this.call<{ id: string }>('POST', '/api/v1/app', { name: `bench ${uid}`, uid });
    for (let k = 0; k < n; k++) {
      await this.call('POST', `/api/v1/app/${app.id}/endpoint`, { url: `${target}/webhook/${k}`, description: `bench receiver ${k}`, channels: [`e${k}`] });
    }
    return app.id;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

async function stopServer(s: ServerHandle): Promise<void> {
  await stopChild(s.proc, 'SIGTERM', 60_000);
}

// --- figure 1: ingest -------------------------------------------------------------------------

/** ingest (SQLite) or pg-ingest (PostgreSQL, one process of role all): the same run. */
async function ingestFigure(backend: Backend): Promise<Record<string, unknown>> {
  const figure = backend === 'sqlite' ? 'ingest' : 'pg-ingest';
  if (backend === 'postgres') await pgReady();
  const receiver = await Helper.start('receiver.ts', 'receiver');
  const bare = await Helper.start('bare-server.ts', 'bare-server');
  const database = newDatabase(backend, 'ingest');
  const serverEnv = { ...database.env, ...(backend === 'postgres' ? { HOOKWELL_ROLE: 'all' } : {}) };
  let server: ServerHandle | null = null;
  try {
    server = await startServer({ db: database.db, token: TOKEN, env: serverEnv, label: `hookwell-${figure}` });
    const api = new Api(server.url);
    const appId = await api.appWithEndpoint('bench-ingest', receiver.url);
    await api.close();

    const client = {
      path: `/api/v1/app/${appId}/msg`,
      headers: AUTH,
      body: (i: number) => JSON.stringify({ eventType: 'bench.ingest', payload: { seq: i, data: PAD } }),
      concurrency: P.ingestConcurrency,
      expectStatus: 202,
      warmupMs: P.ingestWarmupMs,
      measureMs: P.ingestMeasureMs,
    };
    // Hookwell and the bare baseline take turns, in short windows in the order bare, hookwell,
    // hookwell, bare (twice over), so that the machine's speed drifting during the run falls
    // on both alike. Acceptance alone: each message and its delivery row are stored durably
    // as usual, but the delivery falls due after the run, so sending does not share the CPU.
    const later = new Date(Date.now() + 24 * 3600_000).toISOString();
    const windowMs = P.ingestMeasureMs / 4;
    const hwClient = {
      ...client,
      origin: server.url,
      body: (i: number) => JSON.stringify({ eventType: 'bench.ingest', payload: { seq: i, data: PAD }, deliverAt: later }),
    };
    log(`${figure}: hookwell (deliveries due later) and the bare http baseline in turn, ${P.ingestConcurrency} in flight, ${windowMs} ms windows`);
    const windows = { bare: [] as ClosedLoopResult[], hookwell: [] as ClosedLoopResult[] };
    // Each server's first window follows the full warm-up (its code compiled, its caches
    // filled), as a steady state is what is measured; the windows after it, a short one.
    const warmed = new Set<string>();
    for (const kind of ['bare', 'hookwell', 'hookwell', 'bare', 'bare', 'hookwell', 'hookwell', 'bare'] as const) {
      const opts = kind === 'bare' ? { ...client, origin: bare.url } : hwClient;
      const warmupMs = warmed.has(kind) ? Math.min(P.ingestWarmupMs, 500) : P.ingestWarmupMs;
      warmed.add(kind);
      const r = await closedLoop({ ...opts, measureMs: windowMs, warmupMs });
      log(`${figure}: ${kind} ${round(r.perSec)} req/s`, r.failures);
      windows[kind].push(r);
    }
    const pooled = (rs: ClosedLoopResult[]) => {
      const ok = rs.reduce((n, r) => n + r.ok, 0);
      const seconds = rs.reduce((n, r) => n + r.seconds, 0);
      const failures: Record<string, number> = {};
      for (const r of rs) for (const [k, n] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + n;
      return { ok, seconds, perSec: ok / seconds, failures };
    };
    const hw = pooled(windows.hookwell);
    const base = pooled(windows.bare);
    log(`${figure}: hookwell ${round(hw.perSec)} msg/s accepted, baseline ${round(base.perSec)} req/s`, hw.failures, base.failures);
    // The same with each message also delivered at once, in the same process.
    log(`${figure}: hookwell with live delivery`);
    const live = await closedLoop({ ...client, origin: server.url });
    const delivered = (await receiver.request({ type: 'stats' }, 'stats')).count as number;
    log(`${figure}: hookwell ${round(live.perSec)} msg/s with live delivery; receiver has ${delivered} deliveries so far`, live.failures);
    await stopServer(server);

    const ratio = hw.perSec / base.perSec;
    return {
      figure,
      msgPerSec: round(hw.perSec),
      baselineReqPerSec: round(base.perSec),
      windows: { bare: windows.bare.map((r) => round(r.perSec)), hookwell: windows.hookwell.map((r) => round(r.perSec)) },
      ratio: round(ratio, 3),
      target: backend === 'postgres' ? TARGETS.pgIngest : TARGETS.ingest,
      meetsTarget: ratio >= (backend === 'postgres' ? TARGETS.pgIngest : TARGETS.ingest),
      concurrency: P.ingestConcurrency,
      measuredSec: round(hw.seconds, 2),
      accepted: hw.ok,
      failures: hw.failures,
      baselineFailures: base.failures,
      withLiveDeliveryMsgPerSec: round(live.perSec),
      withLiveDeliveryRatio: round(live.perSec / base.perSec, 3),
      ...(backend === 'sqlite' ? { withLiveDeliveryTarget: TARGETS.ingestWithLiveDelivery } : {}),
      deliveredDuringLiveIngest: delivered,
      ...(await pgInfo(database)),
    };
  } finally {
    if (server !== null) await stopServer(server);
    await Promise.all([receiver.stop(), bare.stop()]);
    await database.drop();
  }
}

// --- figure 1b: ingest with payload validation -------------------------------------------------

const VALIDATED_TYPE = 'daily.data.workouts.created';

/** The catalogue entry of VALIDATED_TYPE: its schemas, and the last example of its newest one. */
function workoutsEntry(): { description: string; schemas: Record<string, { examples?: unknown[] }>; example: string } {
  const file = new URL(`../packages/health/catalog/${VALIDATED_TYPE}.json`, import.meta.url);
  const entry = JSON.parse(readFileSync(file, 'utf8')) as { description: string; schemas: Record<string, { examples?: unknown[] }> };
  const newest = Object.keys(entry.schemas).sort((a, b) => Number(b) - Number(a))[0]!;
  const examples = entry.schemas[newest]!.examples ?? [];
  if (examples.length === 0) throw new Error(`${VALIDATED_TYPE}: the catalogue has no example payload`);
  return { ...entry, example: JSON.stringify(examples[examples.length - 1]) };
}

/** What the windows of one kind measured, summed. */
interface Turns {
  ok: number;
  seconds: number;
  failures: Record<string, number>;
}

/**
 * Measures each kind's window in `order` (kinds alternating, so drift over the run falls on
 * all alike) and sums each kind's windows: an A/B figure's rate is then ok / seconds.
 */
async function inTurns<K extends string>(figure: string, order: readonly K[], measure: (kind: K) => Promise<ClosedLoopResult>): Promise<Record<K, Turns>> {
  const runs = {} as Record<K, Turns>;
  for (const kind of order) {
    const r = await measure(kind);
    log(`${figure}: ${kind} ${round(r.perSec)} msg/s`, r.failures);
    const acc = (runs[kind] ??= { ok: 0, seconds: 0, failures: {} });
    acc.ok += r.ok;
    acc.seconds += r.seconds;
    for (const [k, n] of Object.entries(r.failures)) acc.failures[k] = (acc.failures[k] ?? 0) + n;
  }
  return runs;
}

async function ingestValidatedFigure(): Promise<Record<string, unknown>> {
  const figure = 'ingest-validated';
  const entry = workoutsEntry();
  const receiver = await Helper.start('receiver.ts', 'receiver');
  const bare = await Helper.start('bare-server.ts', 'bare-server');
  const database = newDatabase('sqlite', 'ingest-validated');
  let server: ServerHandle | null = null;
  try {
    server = await startServer({ db: database.db, token: TOKEN, label: `hookwell-${figure}` });
    const api = new Api(server.url);
    const appId = await api.appWithEndpoint('bench-ingest-validated', receiver.url);
    await api.call('POST', '/api/v1/event-type', { name: VALIDATED_TYPE, description: entry.description, schemas: entry.schemas, validate: true });
    // A validated message must really be checked: a payload breaking the schema is refused.
    const refused = await api
      .call('POST', `/api/v1/app/${appId}/msg`, { eventType: VALIDATED_TYPE, payload: { event_type: VALIDATED_TYPE, data: {} } })
      .then(
        () => false,
        (err: Error) => / 422 /.test(err.message),
      );
    await api.close();
    if (!refused) throw new Error(`${figure}: a payload that breaks the ${VALIDATED_TYPE} schema was not refused with 422`);

    // As ingest's acceptance run: each delivery falls due after the run.
    const later = new Date(Date.now() + 24 * 3600_000).toISOString();
    const bodyOf = (eventType: string) => {
      const body = `{"eventType":${JSON.stringify(eventType)},"payload":${entry.example},"deliverAt":"${later}"}`;
      return () => body;
    };
    const client = {
      path: `/api/v1/app/${appId}/msg`,
      headers: AUTH,
      concurrency: P.ingestConcurrency,
      expectStatus: 202,
      warmupMs: P.ingestWarmupMs,
      measureMs: P.ingestMeasureMs,
    };
    const half = { ...client, origin: server.url, measureMs: P.ingestMeasureMs / 2 };

    log(`${figure}: bare http baseline, same client and payload (before)`);
    const baseBefore = await closedLoop({ ...client, origin: bare.url, body: bodyOf('bench.ingest') });
    log(`${figure}: baseline ${round(baseBefore.perSec)} req/s`, baseBefore.failures);
    log(`${figure}: hookwell, ${entry.example.length}-byte payload, plain / validated / validated / plain, ${P.ingestMeasureMs / 2} ms each`);
    const runs = await inTurns(figure, ['plain', 'validated', 'validated', 'plain'] as const, (kind) =>
      closedLoop({ ...half, body: bodyOf(kind === 'plain' ? 'bench.ingest' : VALIDATED_TYPE) }),
    );
    await stopServer(server);
    log(`${figure}: bare http baseline, same client and payload (after)`);
    const baseAfter = await closedLoop({ ...client, origin: bare.url, body: bodyOf('bench.ingest') });
    log(`${figure}: baseline ${round(baseAfter.perSec)} req/s`, baseAfter.failures);

    const base = (baseBefore.perSec + baseAfter.perSec) / 2;
    const plain = runs.plain.ok / runs.plain.seconds;
    const validated = runs.validated.ok / runs.validated.seconds;
    const cost = 1 - validated / plain;
    return {
      figure,
      eventType: VALIDATED_TYPE,
      payloadBytes: Buffer.byteLength(entry.example),
      msgPerSec: round(validated),
      plainMsgPerSec: round(plain),
      validationCost: round(cost, 3),
      targetValidationCost: TARGET_VALIDATION_COST,
      meetsTarget: cost < TARGET_VALIDATION_COST,
      ratio: round(validated / base, 3),
      plainRatio: round(plain / base, 3),
      baselineReqPerSec: round(base),
      baselineBeforeAfter: [round(baseBefore.perSec), round(baseAfter.perSec)],
      concurrency: P.ingestConcurrency,
      measuredSec: { plain: round(runs.plain.seconds, 2), validated: round(runs.validated.seconds, 2) },
      accepted: { plain: runs.plain.ok, validated: runs.validated.ok },
      failures: { plain: runs.plain.failures, validated: runs.validated.failures },
      baselineFailures: { ...baseBefore.failures, ...baseAfter.failures },
      backend: 'sqlite',
    };
  } finally {
    if (server !== null) await stopServer(server);
    await Promise.all([receiver.stop(), bare.stop()]);
    await database.drop();
  }
}

// --- figure 1c: ingest with an idempotency-key on every message --------------------------------

async function ingestIdempotentFigure(): Promise<Record<string, unknown>> {
  const figure = 'ingest-idempotent';
  const entry = workoutsEntry();
  const receiver = await Helper.start('receiver.ts', 'receiver');
  const database = newDatabase('sqlite', figure);
  let server: ServerHandle | null = null;
  try {
    server = await startServer({ db: database.db, token: TOKEN, label: `hookwell-${figure}` });
    const api = new Api(server.url);
    const appId = await api.appWithEndpoint('bench-ingest-idempotent', receiver.url);
    await api.close();
    // As ingest's acceptance run: each delivery falls due after the run.
    const later = new Date(Date.now() + 24 * 3600_000).toISOString();
    const body = `{"eventType":"bench.ingest","payload":${entry.example},"deliverAt":"${later}"}`;
    const run = randomBytes(6).toString('hex');
    const client = {
      origin: server.url,
      path: `/api/v1/app/${appId}/msg`,
      headers: AUTH,
      body: () => body,
      concurrency: P.ingestConcurrency,
      expectStatus: 202,
      warmupMs: P.ingestWarmupMs,
      measureMs: P.ingestMeasureMs / 4,
    };
    // A fresh random key per request, as the svix 2.x SDK makes its automatic ones (random
    // keys, unlike counted ones, land all over an index of them). The first is known, to be sent again.
    let window = 0;
    const keyed = () => {
      const w = window++;
      return (i: number) => ({ 'idempotency-key': i === 0 && w === 0 ? `auto_${run}-first` : `auto_${randomUUID()}` });
    };
    // Twice over, so drift over the run (the server warming, the WAL checkpointing) falls on both alike.
    const order = ['plain', 'keyed', 'keyed', 'plain', 'plain', 'keyed', 'keyed', 'plain'] as const;
    log(`${figure}: ${entry.example.length}-byte payload, ${order.join(' / ')}, ${P.ingestMeasureMs / 4} ms each`);
    const runs = await inTurns(figure, order, (kind) => closedLoop(kind === 'plain' ? client : { ...client, headersOf: keyed() }));
    // The keys were kept: the first one sent again gets its first answer replayed.
    const again = await request(`${server.url}/api/v1/app/${appId}/msg`, { method: 'POST', headers: { ...AUTH, 'idempotency-key': `auto_${run}-first` }, body });
    await again.body.dump();
    const replayed = again.statusCode === 202 && again.headers['idempotent-replayed'] === 'true';
    if (!replayed) throw new Error(`${figure}: a key sent again was not replayed (${again.statusCode})`);
    const plain = runs.plain.ok / runs.plain.seconds;
    const withKeys = runs.keyed.ok / runs.keyed.seconds;
    const cost = 1 - withKeys / plain;
    return {
      figure,
      payloadBytes: Buffer.byteLength(entry.example),
      msgPerSec: round(withKeys),
      plainMsgPerSec: round(plain),
      idempotencyCost: round(cost, 3),
      ratio: round(withKeys / plain, 3),
      targetIdempotencyCost: TARGET_IDEMPOTENCY_COST,
      meetsTarget: cost < TARGET_IDEMPOTENCY_COST,
      replayedFirstKey: replayed,
      concurrency: P.ingestConcurrency,
      measuredSec: { plain: round(runs.plain.seconds, 2), keyed: round(runs.keyed.seconds, 2) },
      accepted: { plain: runs.plain.ok, keyed: runs.keyed.ok },
      failures: { plain: runs.plain.failures, keyed: runs.keyed.failures },
      backend: 'sqlite',
    };
  } finally {
    if (server !== null) await stopServer(server);
    await receiver.stop();
    await database.drop();
  }
}

// --- figure 2: delivery ---------------------------------------------------------------------

/**
 * A SQLite backlog of P.backlog messages (payloadText(i), i = 0 … N-1) for one endpoint on
 * `receiver`, all due at one instant after they are accepted (see deliveryFigure), on a fresh
 * database written by a server with `env`, which is stopped before this resolves. Throws when
 * the receiver got any delivery early three times over.
 */
async function sqliteBacklog(
  figure: string,
  receiver: Helper,
  env: Record<string, string>,
  ingestRate: number | null,
): Promise<{ database: Database; dueAt: number; ingest: Awaited<ReturnType<typeof sendCount>> }> {
  const N = P.backlog;
  // Time to accept N, judged from the ingest figure (which also delivered meanwhile, so is
  // slower than this), with room to spare; a run that does not finish in time is repeated.
  let marginMs = Math.max(5_000, (1.5 * N * 1000) / Math.max(ingestRate ?? 300, 300) + 3_000);
  let database: Database | null = null;
  for (let tryNo = 1; ; tryNo++) {
    if (database !== null) await database.drop();
    database = newDatabase('sqlite', 'delivery');
    const server = await startServer({ db: database.db, token: TOKEN, env, label: `hookwell-backlog` });
    let ingest: Awaited<ReturnType<typeof sendCount>>;
    let dueAt: number;
    try {
      const api = new Api(server.url);
      const appId = await api.appWithEndpoint('bench-delivery', receiver.url);
      await api.close();
      dueAt = Date.now() + marginMs;
      const deliverAt = new Date(dueAt).toISOString();
      log(`${figure}: accepting ${N} messages due at ${deliverAt} (in ${round(marginMs / 1000)} s)`);
      ingest = await sendCount({
        origin: server.url,
        path: `/api/v1/app/${appId}/msg`,
        headers: AUTH,
        body: (i) => `{"eventType":"bench.delivery","deliverAt":"${deliverAt}","payload":${payloadText(i)}}`,
        concurrency: P.ingestConcurrency,
        expectStatus: 202,
        total: N,
        deadline: performance.now() + marginMs - 1_000,
      });
    } finally {
      await stopServer(server);
    }
    const early = (await receiver.request({ type: 'stats' }, 'stats')).count as number;
    if (!ingest.timedOut && early === 0) return { database, dueAt, ingest };
    if (tryNo >= 3) {
      await database.drop();
      throw new Error(`could not build the backlog before it fell due (early deliveries: ${early})`);
    }
    log(`${figure}: the backlog was not ready before it fell due; again with twice the margin`);
    marginMs *= 2;
    receiver.send({ type: 'reset' });
  }
}

/**
 * How the backlog is built without being delivered early.
 *
 * SQLite: every message is sent through the ordinary API with `deliverAt` = T, one instant
 * chosen to fall after the ingest ends. The server is then stopped (SIGTERM), and once T has
 * passed a fresh server process is started on the same SQLite file: all N deliveries are due
 * at once, never attempted (attempts = 0), created by the normal message path. The receiver
 * is up all along, so an early delivery would be seen (and the run repeated with a later T).
 *
 * PostgreSQL: the same messages go through the API of a process of role api, which
 * delivers nothing, so they need no `deliverAt`: all N are due as soon as they are stored.
 * That process is stopped; the schema is checked to hold N pending deliveries; then
 * `workers` processes of role worker are started at once and deliver them.
 *
 * The rate is N over the time from the first receipt to the last.
 */
async function deliveryFigure(ingestRate: number | null, backend: Backend, workers = 1): Promise<Record<string, unknown>> {
  const figure = backend === 'sqlite' ? 'delivery' : `pg-delivery-${workers}`;
  if (backend === 'postgres') await pgReady();
  const N = P.backlog;
  const E = P.deliveryConcurrency;
  // The endpoint's limit; on PostgreSQL it holds over all worker processes together.
  const serverEnv = { HOOKWELL_ENDPOINT_CONCURRENCY: String(E) };
  const receiver = await Helper.start('receiver.ts', 'receiver');
  let server: ServerHandle | null = null;
  let running: WorkerHandle[] = [];
  let database: Database | null = null;
  const stopAll = async () => {
    const procs = [...(server !== null ? [server.proc] : []), ...running.map((w) => w.proc)];
    server = null;
    running = [];
    await Promise.all(procs.map((p) => stopChild(p, 'SIGTERM', 60_000)));
  };
  try {
    // 1. The backlog.
    let dueAt = 0;
    let ingest: Awaited<ReturnType<typeof sendCount>> | null = null;
    if (backend === 'sqlite') {
      const built = await sqliteBacklog(figure, receiver, serverEnv, ingestRate);
      database = built.database;
      dueAt = built.dueAt;
      ingest = built.ingest;
    } else {
      database = newDatabase(backend, `delivery${workers}`);
      server = await startServer({ db: database.db, token: TOKEN, env: { ...database.env, ...serverEnv, HOOKWELL_ROLE: 'api' }, label: 'hookwell-backlog' });
      const api = new Api(server.url);
      const appId = await api.appWithEndpoints('bench-delivery', receiver.url, P.pgDeliveryEndpoints);
      await api.close();
      log(`${figure}: accepting ${N} messages for ${P.pgDeliveryEndpoints} endpoints through a process of role api (nothing delivers them yet)`);
      ingest = await sendCount({
        origin: server.url,
        path: `/api/v1/app/${appId}/msg`,
        headers: AUTH,
        body: (i) => `{"eventType":"bench.delivery","channels":["e${i % P.pgDeliveryEndpoints}"],"payload":${payloadText(i)}}`,
        concurrency: P.ingestConcurrency,
        expectStatus: 202,
        total: N,
      });
      await stopAll();
      const early = (await receiver.request({ type: 'stats' }, 'stats')).count as number;
      const statuses = await deliveryStatuses(database.schema!);
      if (early !== 0 || statuses.pending !== N) {
        throw new Error(`the backlog is not ${N} pending deliveries: ${JSON.stringify(statuses)}, ${early} already received`);
      }
      dueAt = Date.now();
    }
    const db = database!;
    log(`${figure}: ${N} accepted in ${round(ingest!.seconds, 2)} s (${round(ingest!.perSec)} msg/s); server stopped`);

    // Baseline: bare undici POSTs of the same payloads, same concurrency, same receiver. It
    // runs once before and once after Hookwell's run, and the ratio uses their mean, so a
    // slow or fast spell of this shared machine weighs on both sides alike.
    const bodies = Array.from({ length: N }, (_, i) => Buffer.from(payloadText(i), 'utf8'));
    let baseErrors = 0;
    const baseline = async (): Promise<number> => {
      receiver.send({ type: 'reset' });
      receiver.send({ type: 'expect', n: N });
      const baseReachedP = receiver.next('reached', Math.max(300_000, N * 20));
      const agent = new Agent({ keepAliveTimeout: 30_000, connections: E });
      const target = `${receiver.url}/webhook`;
      let next = 0;
      const t0 = wallNow();
      await Promise.all(
        Array.from({ length: E }, async () => {
          while (next < N) {
            const i = next++;
            const res = await request(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[i], dispatcher: agent });
            await res.body.dump();
            if (res.statusCode !== 204) baseErrors++;
          }
        }),
      );
      const t1 = wallNow();
      const baseReached = await baseReachedP;
      await agent.close();
      const baseRate = N / (((baseReached.lastAt as number) - (baseReached.firstAt as number)) / 1000);
      log(`${figure}: baseline ${round(baseRate)} POST/s (client wall ${round((t1 - t0) / 1000, 2)} s)`);
      return baseRate;
    };
    const baseBefore = await baseline();

    const wait = dueAt + 100 - Date.now();
    if (wait > 0) {
      log(`${figure}: waiting ${round(wait / 1000)} s until the backlog is due`);
      await sleep(wait);
    }

    // 2. Fresh processes on the same database deliver it: one server (SQLite), or the
    //    worker processes (PostgreSQL), started at once.
    const offset = await receiver.clockOffset();
    receiver.send({ type: 'reset' });
    receiver.send({ type: 'expect', n: N });
    const reachedP = receiver.next('reached', Math.max(300_000, N * 20));
    const cpu0 = machineCpu();
    const self0 = process.cpuUsage();
    const receiver0 = processCpuSec(receiver.proc.pid);
    let spawnedAt: number;
    let readyAt: number;
    let hookwellPids: (number | undefined)[];
    if (backend === 'sqlite') {
      server = await startServer({ db: db.db, token: TOKEN, env: serverEnv, label: `hookwell-${figure}` });
      spawnedAt = server.spawnedAt;
      readyAt = server.listeningAt;
      hookwellPids = [server.proc.pid];
    } else {
      const started = await Promise.allSettled(
        Array.from({ length: workers }, (_, k) => startWorker({ db: db.db, token: TOKEN, env: { ...db.env, ...serverEnv }, label: `hookwell-${figure}-w${k + 1}` })),
      );
      for (const r of started) if (r.status === 'fulfilled') running.push(r.value);
      const failedStart = started.find((r) => r.status === 'rejected');
      if (failedStart !== undefined) throw (failedStart as PromiseRejectedResult).reason;
      spawnedAt = Math.min(...running.map((w) => w.spawnedAt));
      readyAt = Math.max(...running.map((w) => w.startedAt));
      hookwellPids = running.map((w) => w.proc.pid);
    }
    const reached = await reachedP;
    const cpu1 = machineCpu();
    const self1 = process.cpuUsage(self0);
    const receiver1 = processCpuSec(receiver.proc.pid);
    const hookwellCpu = hookwellPids.map((pid) => processCpuSec(pid));
    // The backends serving the Hookwell processes started after cpu0, so their whole
    // lifetime falls in the window.
    const backendPids = backend === 'postgres' ? await backendsOf(hookwellPids).catch(() => []) : [];
    const backendCpu = backendPids.reduce((sum, pid) => sum + (processCpuSec(pid) ?? 0), 0);
    const first = (reached.firstAt as number) - offset.offsetMs;
    const last = (reached.lastAt as number) - offset.offsetMs;
    await sleep(500);
    const receivedTotal = (await receiver.request({ type: 'stats' }, 'stats')).count as number;
    await stopAll();
    const statusesAfter = db.schema !== null ? await deliveryStatuses(db.schema) : null;
    const indexScans = db.schema !== null ? await deliveryIndexScans(db.schema) : null;
    const startupMs = readyAt - spawnedAt;
    const rate = N / ((last - first) / 1000);
    const rateInclStartup = N / ((last - spawnedAt) / 1000);
    log(`${figure}: hookwell ${round(rate)} msg/s first→last receipt, ${round(rateInclStartup)} msg/s from spawn`);
    // CPU seconds from the spawn to the last receipt (start-up included): the machine's
    // busy time over all cores, and who used it; "otherSec" is the rest (other processes on
    // the machine, PostgreSQL's own background processes, the kernel's share not charged
    // to a process).
    const sec = (a: number | null, b: number | null) => (a === null || b === null ? null : b - a);
    const busy = busyShare(cpu0, cpu1);
    const busySec = cpu0 === null || cpu1 === null ? null : (cpu1.busy - cpu0.busy) / 100;
    const parts = {
      hookwellSec: hookwellCpu.reduce<number>((a, c) => a + (c ?? 0), 0),
      postgresBackendsSec: backendCpu,
      receiverSec: sec(receiver0, receiver1) ?? 0,
      benchSec: (self1.user + self1.system) / 1e6,
    };
    const r2 = (n: number | null) => (n === null ? null : round(n, 2));
    const cpu = {
      cores: os.cpus().length,
      wallSec: r2((last - spawnedAt) / 1000),
      busyShareAllCores: busy === null ? null : round(busy, 3),
      busySec: r2(busySec),
      hookwellSec: hookwellCpu.map(r2),
      ...(backend === 'postgres' ? { postgresBackends: backendPids.length, postgresBackendsSec: r2(backendCpu) } : {}),
      receiverSec: r2(parts.receiverSec),
      benchSec: r2(parts.benchSec),
      otherSec: busySec === null ? null : r2(busySec - Object.values(parts).reduce((a, b) => a + b, 0)),
    };
    log(`${figure}: cpu while delivering`, cpu);

    // 3. The baseline again, after.
    const baseAfter = await baseline();
    const baseRate = (baseBefore + baseAfter) / 2;
    const ratio = rate / baseRate;
    return {
      figure,
      messages: N,
      msgPerSec: round(rate),
      msgPerSecInclStartup: round(rateInclStartup),
      startupMs: round(startupMs),
      firstReceiptAfterSpawnMs: round(first - spawnedAt),
      firstReceiptAfterListeningMs: round(first - readyAt),
      deliverySec: round((last - first) / 1000, 2),
      baselinePostPerSec: round(baseRate),
      baselineBeforeAfter: [round(baseBefore), round(baseAfter)],
      ratio: round(ratio, 3),
      target: backend === 'postgres' ? TARGETS.pgDelivery : TARGETS.delivery,
      meetsTarget: ratio >= (backend === 'postgres' ? TARGETS.pgDelivery : TARGETS.delivery),
      endpointConcurrency: E,
      ...(backend === 'postgres' ? { endpoints: P.pgDeliveryEndpoints } : {}),
      receivedTotal,
      baselineErrors: baseErrors,
      backlogIngestMsgPerSec: round(ingest!.perSec),
      clockOffsetMs: round(offset.offsetMs, 3),
      cpu,
      ...(backend === 'postgres' ? { workers, deliveriesAfter: statusesAfter, deliveriesIndexScans: indexScans } : {}),
      ...(await pgInfo(db)),
    };
  } finally {
    await stopAll();
    await receiver.stop();
    if (database !== null) await database.drop();
  }
}

// --- figure 3: latency ----------------------------------------------------------------------

async function latencyFigure(rate: number): Promise<Record<string, unknown>> {
  const figure = rate === P.latencyRates[0] ? 'latency' : `latency-${rate}`;
  const receiver = await Helper.start('receiver.ts', 'receiver');
  const db = newDb();
  let server: ServerHandle | null = null;
  let pool: Pool | null = null;
  try {
    server = await startServer({ db, token: TOKEN, label: `hookwell-${figure}` });
    pool = new Pool(server.url, { connections: P.latencyConnections, pipelining: 1, keepAliveTimeout: 60_000 });
    const client = pool;
    const api = new Api(server.url);
    const appId = await api.appWithEndpoint('bench-latency', receiver.url);
    await api.close();
    const offset = await receiver.clockOffset();
    log(`${figure}: receiver clock offset ${round(offset.offsetMs, 3)} ms (rtt ${round(offset.rttMs, 3)} ms)`);

    const interval = 1000 / rate;
    const warm = Math.round(P.latencyWarmupMs / interval);
    const total = warm + Math.round(P.latencyMeasureMs / interval);
    const sentAt = new Float64Array(total);
    const ackAt = new Float64Array(total);
    const gotAt = new Float64Array(total);
    let received = 0;
    let failed = 0;
    let maxLagMs = 0;
    receiver.on('receipts', (m) => {
      const d = m.data as number[];
      for (let k = 0; k < d.length; k += 2) {
        const seq = d[k]!;
        if (seq >= 0 && seq < total && gotAt[seq] === 0) {
          gotAt[seq] = d[k + 1]! - offset.offsetMs;
          received++;
        }
      }
    });
    receiver.send({ type: 'latency', on: true });
    const path_ = `/api/v1/app/${appId}/msg`;
    const fire = (i: number) => {
      const body = JSON.stringify({ eventType: 'bench.latency', payload: { seq: i, data: PAD } });
      sentAt[i] = wallNow();
      client.request({ path: path_, method: 'POST', headers: AUTH, body }).then(
        async (res) => {
          ackAt[i] = wallNow();
          await res.body.dump();
          if (res.statusCode !== 202) failed++;
        },
        () => {
          failed++;
        },
      );
    };

    // Open loop: request i starts at t0 + i·interval whether or not earlier ones finished.
    // The bench's own event-loop delay is reported too: a stall here delays sends and so
    // shows up as latency that is not the server's.
    const clientLoop = monitorEventLoopDelay({ resolution: 1 });
    log(`${figure}: ${rate} msg/s, ${P.latencyWarmupMs} ms warm-up + ${P.latencyMeasureMs} ms measured`);
    await new Promise<void>((resolve) => {
      const t0 = performance.now() + 20;
      let next = 0;
      const tick = () => {
        const now = performance.now();
        while (next < total && t0 + next * interval <= now) {
          if (next === warm) clientLoop.enable();
          if (next >= warm) maxLagMs = Math.max(maxLagMs, now - (t0 + next * interval));
          fire(next++);
        }
        if (next >= total) return resolve();
        setTimeout(tick, Math.max(0, t0 + next * interval - performance.now()));
      };
      setTimeout(tick, 20);
    });
    clientLoop.disable();
    // Wait for the stragglers.
    const deadline = performance.now() + 30_000;
    while (received < total - failed && performance.now() < deadline) {
      await sleep(50);
      receiver.send({ type: 'flush' });
    }

    const lat: number[] = [];
    const ack: number[] = [];
    let missing = 0;
    for (let i = warm; i < total; i++) {
      if (gotAt[i] === 0) missing++;
      else lat.push(gotAt[i]! - sentAt[i]!);
      if (ackAt[i] !== 0) ack.push(ackAt[i]! - sentAt[i]!);
    }
    lat.sort((a, b) => a - b);
    ack.sort((a, b) => a - b);
    const p99 = percentile(lat, 0.99);
    log(`${figure}: p50 ${round(percentile(lat, 0.5), 2)} ms, p99 ${round(p99, 2)} ms over ${lat.length} messages`);
    return {
      figure,
      ratePerSec: rate,
      measuredSec: P.latencyMeasureMs / 1000,
      messages: total - warm,
      p50Ms: round(percentile(lat, 0.5), 2),
      p90Ms: round(percentile(lat, 0.9), 2),
      p99Ms: round(p99, 2),
      maxMs: round(lat[lat.length - 1] ?? NaN, 2),
      ...(figure === 'latency' ? { targetP99Ms: TARGET_P99_MS, meetsTarget: p99 <= TARGET_P99_MS && missing === 0 } : {}),
      ackP50Ms: round(percentile(ack, 0.5), 2),
      ackP99Ms: round(percentile(ack, 0.99), 2),
      missing,
      failed,
      maxScheduleLagMs: round(maxLagMs, 2),
      clientLoopDelayP99Ms: round(clientLoop.percentile(99) / 1e6, 2),
      clientLoopDelayMaxMs: round(clientLoop.max / 1e6, 2),
      clockOffsetMs: round(offset.offsetMs, 3),
    };
  } finally {
    await pool?.close().catch(() => {});
    if (server !== null) await stopServer(server);
    await receiver.stop();
    dropDb(db);
  }
}

// --- figure 4: the message log -----------------------------------------------------------------

async function logFigure(backend: Backend): Promise<Record<string, unknown>> {
  if (backend === 'postgres') await pgReady();
  const database = newDatabase(backend, 'log');
  try {
    return {
      ...(await messageLogFigure({ backend, db: database.db, schema: database.schema, messages: P.logMessages, calls: P.logCalls })),
      ...(await pgInfo(database)),
    };
  } finally {
    await database.drop();
  }
}

// --- figure 5: end to end, Hookwell and BullMQ ----------------------------------------------

/**
 * Events from 64 producers to their receipt at the receiver, N of them after a warm-up of
 * N/10 through the same path: `send` starts producing event i for i in [from, from + n) and
 * resolves when all are handed over; the rate is n over the time from the first hand-over's
 * start to the last receipt.
 */
async function endToEnd(
  figure: string,
  receiver: Helper,
  send: (from: number, n: number) => Promise<void>,
): Promise<{ rate: number; producedSec: number; totalSec: number; warmupRate: number }> {
  const N = P.e2eEvents;
  const offset = await receiver.clockOffset();
  const round1 = async (from: number, n: number) => {
    receiver.send({ type: 'reset' });
    receiver.send({ type: 'expect', n });
    const reachedP = receiver.next('reached', Math.max(300_000, n * 20));
    const t0 = wallNow();
    await send(from, n);
    const produced = wallNow();
    const reached = await reachedP;
    const last = (reached.lastAt as number) - offset.offsetMs;
    return { rate: n / ((last - t0) / 1000), producedSec: (produced - t0) / 1000, totalSec: (last - t0) / 1000 };
  };
  const warm = Math.max(1, Math.round(N / 10));
  const w = await round1(0, warm);
  log(`${figure}: warm-up, ${warm} events at ${round(w.rate)} events/s`);
  const m = await round1(warm, N);
  log(`${figure}: ${N} events at ${round(m.rate)} events/s (produced in ${round(m.producedSec, 2)} s, last receipt at ${round(m.totalSec, 2)} s)`);
  return { ...m, warmupRate: w.rate };
}

/** 64 producers, each taking the next event until `n` are handed over. */
async function produce(from: number, n: number, one: (i: number) => Promise<unknown>): Promise<void> {
  let next = from;
  const end = from + n;
  await Promise.all(
    Array.from({ length: P.e2eProducers }, async () => {
      while (next < end) await one(next++);
    }),
  );
}

/**
 * e2e: Hookwell on SQLite, one process as the other figures start it, its endpoint allowed
 * P.e2eInFlight deliveries at once; each event is one POST …/msg (durable before its 202),
 * delivered signed to the receiver.
 */
async function e2eFigure(): Promise<Record<string, unknown>> {
  const figure = 'e2e';
  const receiver = await Helper.start('receiver.ts', 'receiver');
  const db = newDb();
  let server: ServerHandle | null = null;
  try {
    server = await startServer({ db, token: TOKEN, env: { HOOKWELL_ENDPOINT_CONCURRENCY: String(P.e2eInFlight) }, label: `hookwell-${figure}` });
    const api = new Api(server.url);
    const appId = await api.appWithEndpoint('bench-e2e', receiver.url);
    await api.close();
    const pool = new Pool(server.url, { connections: P.e2eProducers, pipelining: 1, keepAliveTimeout: 60_000 });
    let refused = 0;
    const path_ = `/api/v1/app/${appId}/msg`;
    const post = async (i: number): Promise<void> => {
      for (;;) {
        const res = await pool.request({ path: path_, method: 'POST', headers: AUTH, body: `{"eventType":"bench.e2e","payload":${payloadText(i)}}` });
        await res.body.dump();
        if (res.statusCode === 202) return;
        if (++refused > 1000) throw new Error(`more than 1000 requests refused (last: ${res.statusCode})`);
        await sleep(5);
      }
    };
    log(`${figure}: hookwell, ${P.e2eProducers} producers, endpoint concurrency ${P.e2eInFlight}`);
    const r = await endToEnd(figure, receiver, (from, n) => produce(from, n, post));
    await pool.close();
    const hookwellPeak = peakRssOf(server.proc.pid);
    await sleep(300);
    const receivedTotal = (await receiver.request({ type: 'stats' }, 'stats')).count as number;
    return {
      figure,
      backend: 'sqlite',
      messages: P.e2eEvents,
      msgPerSec: round(r.rate),
      warmupMsgPerSec: round(r.warmupRate),
      acceptedSec: round(r.producedSec, 2),
      lastReceiptSec: round(r.totalSec, 2),
      producers: P.e2eProducers,
      endpointConcurrency: P.e2eInFlight,
      refused,
      receivedTotal,
      hookwellPeakRssMb: hookwellPeak === null ? null : round(hookwellPeak / 1024 / 1024),
    };
  } finally {
    if (server !== null) await stopServer(server);
    await receiver.stop();
    dropDb(db);
  }
}

/**
 * bullmq: what a Node user would build instead (see lib/bullmq-webhooks.ts): producers and
 * Worker in this process, on the Redis at BENCH_REDIS_URL; jobs in Redis memory only, so an
 * event is not durable when `add` resolves (unless Redis is set to fsync every write).
 */
async function bullmqFigure(concurrency = P.e2eInFlight): Promise<Record<string, unknown>> {
  const figure = 'bullmq';
  const version = await redisVersion();
  log(`${figure}: ${REDIS_URL} is Redis ${version}`);
  const receiver = await Helper.start('receiver.ts', 'receiver');
  let wq: WebhookQueue | null = null;
  const redisRss = new RedisRssSampler();
  try {
    wq = await WebhookQueue.open({ name: `hookwell-bench-${randomBytes(6).toString('hex')}`, url: `${receiver.url}/webhook`, concurrency });
    const q = wq;
    log(`${figure}: BullMQ ${P.e2eProducers} producers, Worker concurrency ${concurrency}`);
    const r = await endToEnd(figure, receiver, (from, n) => produce(from, n, (i) => q.add({ seq: i, data: PAD })));
    await sleep(300);
    const receivedTotal = (await receiver.request({ type: 'stats' }, 'stats')).count as number;
    await redisRss.stop();
    return {
      figure,
      redis: version,
      messages: P.e2eEvents,
      msgPerSec: round(r.rate),
      warmupMsgPerSec: round(r.warmupRate),
      addedSec: round(r.producedSec, 2),
      lastReceiptSec: round(r.totalSec, 2),
      producers: P.e2eProducers,
      workerConcurrency: concurrency,
      failedAttempts: wq.failed,
      receivedTotal,
      redisRssMb: { before: redisRss.before === null ? null : round(redisRss.before / 1024 / 1024), peak: round(redisRss.peak / 1024 / 1024) },
    };
  } finally {
    await redisRss.stop();
    await wq?.close();
    await receiver.stop();
  }
}

/**
 * Ingest with encryption at rest against ingest without, in one run: a server of each on its
 * own SQLite file, both up throughout, measured in turns (plain, encrypted, encrypted, plain,
 * twice over) so drift on a shared machine falls on both alike. The payload is the health catalogue's
 * workout example, as ingest-validated sends.
 */
async function encryptionFigure(): Promise<Record<string, unknown>> {
  const figure = 'encryption';
  const entry = workoutsEntry();
  const receiver = await Helper.start('receiver.ts', 'receiver');
  const kinds = ['plain', 'encrypted'] as const;
  const databases = { plain: newDatabase('sqlite', `${figure}-plain`), encrypted: newDatabase('sqlite', `${figure}-encrypted`) };
  const servers: Partial<Record<(typeof kinds)[number], ServerHandle>> = {};
  try {
    const ring = `bench:${randomBytes(32).toString('base64')}`;
    const paths: Record<string, string> = {};
    for (const kind of kinds) {
      const server = await startServer({
        db: databases[kind].db,
        token: TOKEN,
        label: `hookwell-${figure}-${kind}`,
        env: kind === 'encrypted' ? { HOOKWELL_ENCRYPTION_KEYS: ring } : {},
      });
      servers[kind] = server;
      const api = new Api(server.url);
      paths[kind] = `/api/v1/app/${await api.appWithEndpoint(`bench-${figure}-${kind}`, receiver.url)}/msg`;
      await api.close();
    }
    // As ingest's acceptance run: each delivery falls due after the run.
    const later = new Date(Date.now() + 24 * 3600_000).toISOString();
    const body = `{"eventType":"bench.ingest","payload":${entry.example},"deliverAt":"${later}"}`;
    // Twice over, in windows of a quarter of the measured time, so drift over the run falls on both alike.
    const order = ['plain', 'encrypted', 'encrypted', 'plain', 'plain', 'encrypted', 'encrypted', 'plain'] as const;
    log(`${figure}: ${entry.example.length}-byte payload, ${order.join(' / ')}, ${P.ingestMeasureMs / 4} ms each`);
    // Each server's processor time inside its measured windows, against the messages it accepted
    // there: steadier than the rates on a shared machine, as waiting is left out.
    const cpuSec = { plain: 0, encrypted: 0 };
    const sysSec = { plain: 0, encrypted: 0 };
    let cpuKnown = true;
    const warmed = new Set<string>();
    const runs = await inTurns(figure, order, (kind) => {
      const pid = servers[kind]!.proc.pid;
      let at: { user: number; system: number } | null = null;
      const warmupMs = warmed.has(kind) ? Math.min(P.ingestWarmupMs, 500) : P.ingestWarmupMs;
      warmed.add(kind);
      return closedLoop({
        origin: servers[kind]!.url,
        path: paths[kind]!,
        headers: AUTH,
        body: () => body,
        concurrency: P.ingestConcurrency,
        expectStatus: 202,
        warmupMs,
        measureMs: P.ingestMeasureMs / 4,
        onWindow: (edge) => {
          const now = processCpuTimes(pid);
          if (edge === 'start') at = now;
          else if (now === null || at === null) cpuKnown = false;
          else {
            cpuSec[kind] += now.user + now.system - at.user - at.system;
            sysSec[kind] += now.system - at.system;
          }
        },
      });
    });
    const plain = runs.plain.ok / runs.plain.seconds;
    const encrypted = runs.encrypted.ok / runs.encrypted.seconds;
    const cost = 1 - encrypted / plain;
    const cpuUs = (kind: 'plain' | 'encrypted', sec = cpuSec) => (cpuKnown && runs[kind].ok > 0 ? (sec[kind] * 1e6) / runs[kind].ok : null);
    const sysUs = (kind: 'plain' | 'encrypted') => {
      const us = cpuUs(kind, sysSec);
      return us === null ? null : round(us, 1);
    };
    const cpuPlain = cpuUs('plain');
    const cpuEncrypted = cpuUs('encrypted');
    return {
      figure,
      payloadBytes: Buffer.byteLength(entry.example),
      msgPerSec: round(encrypted),
      plainMsgPerSec: round(plain),
      encryptedOverPlain: round(encrypted / plain, 3),
      encryptionCost: round(cost, 3),
      serverCpuUsPerMsg: { plain: cpuPlain === null ? null : round(cpuPlain, 1), encrypted: cpuEncrypted === null ? null : round(cpuEncrypted, 1) },
      // Of which in the kernel (system time: writes, syncs, the socket).
      serverSystemCpuUsPerMsg: { plain: sysUs('plain'), encrypted: sysUs('encrypted') },
      encryptionCpuShare: cpuPlain === null || cpuEncrypted === null ? null : round(cpuEncrypted / cpuPlain - 1, 3),
      targetEncryptionCost: TARGET_ENCRYPTION_COST,
      meetsTarget: cost < TARGET_ENCRYPTION_COST,
      concurrency: P.ingestConcurrency,
      measuredSec: { plain: round(runs.plain.seconds, 2), encrypted: round(runs.encrypted.seconds, 2) },
      accepted: { plain: runs.plain.ok, encrypted: runs.encrypted.ok },
      failures: { plain: runs.plain.failures, encrypted: runs.encrypted.failures },
      backend: 'sqlite',
    };
  } finally {
    for (const kind of kinds) if (servers[kind] !== undefined) await stopServer(servers[kind]!);
    await receiver.stop();
    for (const kind of kinds) await databases[kind].drop();
  }
}

/**
 * Delivery with encryption at rest against delivery without, in one run: the delivery figure's
 * measurement (a SQLite backlog of P.backlog messages, all due at once, delivered by a fresh
 * server to the receiver at endpoint concurrency P.deliveryConcurrency, timed from the first
 * receipt to the last) four times, in turns (plain, encrypted, encrypted, plain), each on a
 * backlog of its own written by a server with the same settings as the one delivering it. The
 * receiver checks every body byte for byte against the payload sent, and the encrypted runs'
 * databases are checked to hold their payloads and responses sealed.
 */
async function encryptionDeliveryFigure(ingestRate: number | null): Promise<Record<string, unknown>> {
  const figure = 'encryption-delivery';
  const N = P.backlog;
  const E = P.deliveryConcurrency;
  const ring = `bench:${randomBytes(32).toString('base64')}`;
  const envOf = (kind: 'plain' | 'encrypted'): Record<string, string> => ({
    HOOKWELL_ENDPOINT_CONCURRENCY: String(E),
    ...(kind === 'encrypted' ? { HOOKWELL_ENCRYPTION_KEYS: ring } : {}),
  });
  const receiver = await Helper.start('receiver.ts', 'receiver');
  // Every body must be the payload of its seq, as sent: payloadText(seq).
  receiver.send({ type: 'verify', data: JSON.stringify(PAD) });
  let server: ServerHandle | null = null;
  let database: Database | null = null;
  type Run = { kind: 'plain' | 'encrypted'; perSec: number; seconds: number; cpuSec: number | null; firstAfterListeningMs: number };
  const runs: Run[] = [];
  const stored: Record<string, ReturnType<typeof storedForm>> = {};
  // The time allowed to write a backlog goes by the last one's rate (the ingest figure's before
  // the first, or a modest guess when it did not run).
  let backlogRate = ingestRate ?? 2_000;
  try {
    for (const kind of ['plain', 'encrypted', 'encrypted', 'plain'] as const) {
      receiver.send({ type: 'reset' });
      const built = await sqliteBacklog(`${figure} ${kind}`, receiver, envOf(kind), backlogRate);
      backlogRate = built.ingest.perSec;
      database = built.database;
      const wait = built.dueAt + 100 - Date.now();
      if (wait > 0) await sleep(wait);
      const offset = await receiver.clockOffset();
      receiver.send({ type: 'reset' });
      receiver.send({ type: 'expect', n: N });
      const reachedP = receiver.next('reached', Math.max(300_000, N * 20));
      server = await startServer({ db: database.db, token: TOKEN, env: envOf(kind), label: `hookwell-${figure}-${kind}` });
      // Processor time from listening to the last receipt (start-up left out, as from the rate).
      const cpu0 = processCpuSec(server.proc.pid);
      const listeningAt = server.listeningAt;
      const reached = await reachedP;
      const cpu1 = processCpuSec(server.proc.pid);
      const first = (reached.firstAt as number) - offset.offsetMs;
      const last = (reached.lastAt as number) - offset.offsetMs;
      await sleep(300);
      const stats = await receiver.request({ type: 'stats' }, 'stats');
      await stopServer(server);
      server = null;
      if (stats.count !== N || stats.verified !== N || stats.mismatched !== 0 || stats.distinct !== N) {
        throw new Error(
          `${figure} ${kind}: the receiver got ${stats.count} bodies for ${N} messages: ${stats.verified} as sent (${stats.distinct} distinct), ` +
            `${stats.mismatched} not${stats.firstMismatch === null ? '' : ` (first: ${JSON.stringify(stats.firstMismatch)})`}`,
        );
      }
      // With keys every payload is sealed, and every response but an empty one; without, none.
      const form = storedForm(database.db);
      stored[kind] = form;
      const asExpected =
        form.payloads.n === N &&
        form.responses.n === N &&
        (kind === 'encrypted'
          ? form.payloads.sealed === N && form.responses.sealed + form.responses.empty === N
          : form.payloads.sealed === 0 && form.responses.sealed === 0);
      if (!asExpected) throw new Error(`${figure} ${kind}: the database holds ${JSON.stringify(form)} (payloads, responses: in all, sealed, empty)`);
      await database.drop();
      database = null;
      const seconds = (last - first) / 1000;
      const run: Run = { kind, perSec: N / seconds, seconds, cpuSec: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0, firstAfterListeningMs: first - listeningAt };
      runs.push(run);
      log(`${figure}: ${kind} ${round(run.perSec)} msg/s first→last receipt, ${run.cpuSec === null ? '?' : round(run.cpuSec, 2)} s of the server's CPU; all ${N} bodies as sent`);
    }
    const pooled = (kind: 'plain' | 'encrypted') => {
      const rs = runs.filter((r) => r.kind === kind);
      const seconds = rs.reduce((a, r) => a + r.seconds, 0);
      const cpu = rs.every((r) => r.cpuSec !== null) ? rs.reduce((a, r) => a + r.cpuSec!, 0) : null;
      return { perSec: (rs.length * N) / seconds, seconds, cpuUsPerMsg: cpu === null ? null : (cpu * 1e6) / (rs.length * N) };
    };
    const plain = pooled('plain');
    const encrypted = pooled('encrypted');
    const cost = 1 - encrypted.perSec / plain.perSec;
    return {
      figure,
      messages: N,
      payloadBytes: Buffer.byteLength(payloadText(0)),
      msgPerSec: round(encrypted.perSec),
      plainMsgPerSec: round(plain.perSec),
      runs: runs.map((r) => ({ kind: r.kind, msgPerSec: round(r.perSec), deliverySec: round(r.seconds, 2), serverCpuSec: r.cpuSec === null ? null : round(r.cpuSec, 2), firstReceiptAfterListeningMs: round(r.firstAfterListeningMs) })),
      encryptedOverPlain: round(encrypted.perSec / plain.perSec, 3),
      encryptionDeliveryCost: round(cost, 3),
      targetEncryptionCost: TARGET_ENCRYPTION_COST,
      meetsTarget: cost < TARGET_ENCRYPTION_COST,
      // The server's processor time per delivery, and what encryption adds to it: steadier
      // than the rates on a shared machine, as time spent waiting is left out.
      serverCpuUsPerMsg: { plain: plain.cpuUsPerMsg === null ? null : round(plain.cpuUsPerMsg, 1), encrypted: encrypted.cpuUsPerMsg === null ? null : round(encrypted.cpuUsPerMsg, 1) },
      encryptionDeliveryCpuShare: plain.cpuUsPerMsg === null || encrypted.cpuUsPerMsg === null ? null : round(encrypted.cpuUsPerMsg / plain.cpuUsPerMsg - 1, 3),
      endpointConcurrency: E,
      bodiesChecked: runs.length * N,
      stored,
      backend: 'sqlite',
    };
  } finally {
    if (server !== null) await stopServer(server);
    await receiver.stop();
    if (database !== null) await database.drop();
  }
}

/** How many of a column's values are stored: in all, sealed (`hwe1:…`), and empty. */
interface StoredCount {
  n: number;
  sealed: number;
  empty: number;
}

/** How a delivered SQLite database keeps its payloads and attempt responses; read after its server has stopped. */
function storedForm(file: string): { payloads: StoredCount; responses: StoredCount } {
  const db = new Sqlite(file, { readonly: true, fileMustExist: true });
  try {
    const count = (table: string, column: string): StoredCount => {
      const r = db
        .prepare(`SELECT count(*) AS n, sum(${column} LIKE 'hwe1:%') AS sealed, sum(${column} = '') AS empty FROM ${table} WHERE ${column} IS NOT NULL`)
        .get() as { n: number; sealed: number | null; empty: number | null };
      return { n: r.n, sealed: r.sealed ?? 0, empty: r.empty ?? 0 };
    };
    return { payloads: count('messages', 'payload'), responses: count('attempts', 'response') };
  } finally {
    db.close();
  }
}

// --- main -----------------------------------------------------------------------------------

async function main(): Promise<number> {
  const started = performance.now();
  log(`quick=${QUICK}; temporary files in ${tmp}; ${os.cpus().length} CPUs; figures: ${[...ONLY].join(', ')}`);
  const results: Record<string, Record<string, unknown>> = {};
  let failed = false;
  const run = async (name: string, fn: () => Promise<Record<string, unknown>>) => {
    if (!ONLY.has(name)) return;
    const rss = new RssSampler();
    try {
      results[name] = await fn();
    } catch (err) {
      // PostgreSQL or Redis not being there skips their figures; anything else is a failure.
      const skipped = err instanceof PgUnreachable || err instanceof RedisUnreachable;
      if (!skipped) failed = true;
      log(`${name} ${skipped ? 'skipped' : 'failed'}:`, String((skipped ? (err as Error).message : (err as Error)?.stack) ?? err));
      results[name] = { figure: name, error: (err as Error)?.message ?? String(err), ...(skipped ? { skipped: true } : {}) };
    }
    results[name] = { ...results[name], ...rss.stop() };
    emit(results[name]!);
  };
  const num = (fig: string, key: string): number | null => {
    const v = results[fig]?.[key];
    return typeof v === 'number' ? v : null;
  };
  await run('ingest', () => ingestFigure('sqlite'));
  await run('ingest-validated', ingestValidatedFigure);
  await run('ingest-idempotent', ingestIdempotentFigure);
  await run('encryption', encryptionFigure);
  await run('encryption-delivery', () => encryptionDeliveryFigure(num('ingest', 'msgPerSec')));
  await run('delivery', () => deliveryFigure(num('ingest', 'msgPerSec'), 'sqlite'));
  await run('latency', () => latencyFigure(P.latencyRates[0]));
  await run('latency-2000', () => latencyFigure(P.latencyRates[1]));
  await run('message-log', () => logFigure('sqlite'));
  await run('e2e', e2eFigure);
  await run('bullmq', () => bullmqFigure());
  await run('pg-ingest', () => ingestFigure('postgres'));
  await run('pg-delivery-1', () => deliveryFigure(null, 'postgres', 1));
  await run('pg-delivery-2', async () => {
    const two = await deliveryFigure(null, 'postgres', 2);
    const one = results['pg-delivery-1'];
    const ratioOf = (key: string) => {
      const a = two[key];
      const b = one?.[key];
      return typeof a === 'number' && typeof b === 'number' && b > 0 ? round(a / b, 3) : null;
    };
    // Rate with two workers over the rate with one; also with each against its own baseline.
    return { ...two, twoOverOne: ratioOf('msgPerSec'), twoOverOneOfRatios: ratioOf('ratio') };
  });

  await run('pg-message-log', () => logFigure('postgres'));

  const ingestRatio = num('ingest', 'ratio');
  const validationCost = num('ingest-validated', 'validationCost');
  const deliveryRatio = num('delivery', 'ratio');
  const p99 = num('latency', 'p99Ms');
  const pgIngestRatio = num('pg-ingest', 'ratio');
  const pgDelivery1Ratio = num('pg-delivery-1', 'ratio');
  const pgDelivery2Ratio = num('pg-delivery-2', 'ratio');
  const meets = (r: number | null, target: number) => (r === null ? null : r >= target);
  const ingestLiveRatio = num('ingest', 'withLiveDeliveryRatio');
  const pgTwoOverOne = num('pg-delivery-2', 'twoOverOne');
  const e2e = num('e2e', 'msgPerSec');
  const bullmq = num('bullmq', 'msgPerSec');
  const e2eOverBullmq = e2e === null || bullmq === null || bullmq === 0 ? null : round(e2e / bullmq, 3);
  emit({
    figure: 'summary',
    quick: QUICK,
    ingestMsgPerSec: num('ingest', 'msgPerSec'),
    ingestRatio,
    ingestWithLiveDeliveryRatio: ingestLiveRatio,
    ingestValidatedMsgPerSec: num('ingest-validated', 'msgPerSec'),
    validationCost,
    idempotencyCost: num('ingest-idempotent', 'idempotencyCost'),
    encryptionCost: num('encryption', 'encryptionCost'),
    encryptionCpuShare: num('encryption', 'encryptionCpuShare'),
    encryptionDeliveryCost: num('encryption-delivery', 'encryptionDeliveryCost'),
    encryptionDeliveryCpuShare: num('encryption-delivery', 'encryptionDeliveryCpuShare'),
    deliveryMsgPerSec: num('delivery', 'msgPerSec'),
    deliveryRatio,
    latencyP50Ms: num('latency', 'p50Ms'),
    latencyP99Ms: p99,
    latency2000P50Ms: num('latency-2000', 'p50Ms'),
    latency2000P99Ms: num('latency-2000', 'p99Ms'),
    pgIngestMsgPerSec: num('pg-ingest', 'msgPerSec'),
    pgIngestRatio,
    pgDelivery1MsgPerSec: num('pg-delivery-1', 'msgPerSec'),
    pgDelivery1Ratio,
    pgDelivery2MsgPerSec: num('pg-delivery-2', 'msgPerSec'),
    pgDelivery2Ratio,
    pgTwoOverOne,
    messageLogWorstP99Ms: num('message-log', 'worstP99Ms'),
    e2eMsgPerSec: e2e,
    bullmqMsgPerSec: bullmq,
    e2eOverBullmq,
    e2eHookwellPeakRssMb: num('e2e', 'hookwellPeakRssMb'),
    bullmqPeakRssMb: num('bullmq', 'peakRssMb'),
    pgMessageLogWorstP99Ms: num('pg-message-log', 'worstP99Ms'),
    targets: { ...TARGETS, p99Ms: TARGET_P99_MS, validationCost: TARGET_VALIDATION_COST, idempotencyCost: TARGET_IDEMPOTENCY_COST, encryptionCost: TARGET_ENCRYPTION_COST, encryptionDeliveryCost: TARGET_ENCRYPTION_COST, messageLogP99Ms: TARGET_LOG_MS, e2eOverBullmq: TARGET_E2E_OVER_BULLMQ },
    meetsTargets: {
      ingest: meets(ingestRatio, TARGETS.ingest),
      ingestWithLiveDelivery: meets(ingestLiveRatio, TARGETS.ingestWithLiveDelivery),
      ingestValidated: validationCost === null ? null : validationCost < TARGET_VALIDATION_COST,
      ingestIdempotent: num('ingest-idempotent', 'idempotencyCost') === null ? null : num('ingest-idempotent', 'idempotencyCost')! < TARGET_IDEMPOTENCY_COST,
      encryption: num('encryption', 'encryptionCost') === null ? null : num('encryption', 'encryptionCost')! < TARGET_ENCRYPTION_COST,
      encryptionDelivery: num('encryption-delivery', 'encryptionDeliveryCost') === null ? null : num('encryption-delivery', 'encryptionDeliveryCost')! < TARGET_ENCRYPTION_COST,
      delivery: meets(deliveryRatio, TARGETS.delivery),
      latency: p99 === null ? null : p99 <= TARGET_P99_MS,
      pgIngest: meets(pgIngestRatio, TARGETS.pgIngest),
      pgDelivery1: meets(pgDelivery1Ratio, TARGETS.pgDelivery),
      pgTwoOverOne: meets(pgTwoOverOne, TARGETS.pgTwoOverOne),
      messageLog: num('message-log', 'worstP99Ms') === null ? null : num('message-log', 'worstP99Ms')! < TARGET_LOG_MS,
      pgMessageLog: num('pg-message-log', 'worstP99Ms') === null ? null : num('pg-message-log', 'worstP99Ms')! < TARGET_LOG_MS,
      e2eOverBullmq: e2eOverBullmq === null ? null : e2eOverBullmq >= TARGET_E2E_OVER_BULLMQ,
    },
    errors: Object.values(results).filter((r) => 'error' in r).map((r) => r.figure),
    totalSec: round((performance.now() - started) / 1000, 1),
  });
  return failed ? 1 : 0;
}

const code = await main().catch((err: unknown) => {
  log('bench failed:', String((err as Error)?.stack ?? err));
  return 1;
});
cleanupSync();
process.exit(code);
