// GET /metrics: a server is scraped after a known workload, and the numbers are checked
// (messages accepted and refused by reason, attempts by outcome, the queue, commits), on
// the API port, on a port of its own, and on a worker's health port; and who may scrape.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startHookwell } from '../src/server.js';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Metrics } from '../src/metrics.js';
import { SqliteStore } from '../src/store/sqlite/store.js';
import { endpointInput, eventually, freePort, messageInput, PG_URL, request, requirePostgres, startReceiver, startServer, tempDir, TOKEN, type Receiver, type TestServer } from './helpers.js';

const ON_POSTGRES = process.env.HOOKWELL_TEST_BACKEND === 'postgres';
const METRICS_TOKEN = 'metrics-token-0123456789';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Scrape {
  text: string;
  samples: Sample[];
  /** The names declared by # TYPE lines, with their types. */
  types: Map<string, string>;
}

/** The Prometheus text format, as far as prom-client writes it (label values hold no escaped quotes here). */
function parse(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name!, type!);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { text, samples, types };
}

/** The one sample of `name` whose labels include `labels`; fails when there is none or several. */
function value(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  const found = s.samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  assert.equal(found.length, 1, `${name} ${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0]!.value;
}

function series(s: Scrape, name: string): Sample[] {
  return s.samples.filter((x) => x.name === name);
}

async function scrape(url: string, token: string | null = TOKEN): Promise<Scrape> {
  const res = await fetch(`${url}/metrics`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parse(text);
}

describe('metrics', () => {
  let server: TestServer;
  let receiver: Receiver;

  before(async () => {
    receiver = await startReceiver();
    receiver.respond = (r) => {
      if (r.path === '/fail') return { status: 503 };
      // Held until the receiver closes: the slow endpoint's first attempt stays in flight.
      if (r.path === '/slow') return { status: 200, delayMs: 60_000 };
      return { status: 204 };
    };
    server = await startServer({
      // A failed attempt's retry waits an hour: it stays in the backlog, scheduled.
      HOOKWELL_RETRY_SCHEDULE: '3600',
      HOOKWELL_ENDPOINT_CONCURRENCY: '1',
      HOOKWELL_MAX_PAYLOAD_BYTES: '1000',
      HOOKWELL_DRAIN_TIMEOUT_MS: '200',
      HOOKWELL_REQUEST_TIMEOUT_MS: '120000',
    });
  });
  after(async () => {
    await receiver.close();
    await server.stop();
  });

  it('counts a known workload exactly and reports the queue it leaves', async () => {
    const app = 'metrics';
    assert.equal((await server.api('POST', '/api/v1/app', { name: app, uid: app })).status, 201);
    const endpoint = async (path: string, extra: Record<string, unknown> = {}) => {
      const res = await server.api('POST', `/api/v1/app/${app}/endpoint`, { url: `${receiver.url}/${path}`, channels: [path], ...extra });
      assert.equal(res.status, 201, res.text);
      return res.body.id as string;
    };
    await endpoint('ok');
    await endpoint('fail');
    const slow = await endpoint('slow');
    await endpoint('off', { disabled: true });
    const appId = (await server.api('GET', `/api/v1/app/${app}`)).body.id as string;

    const send = async (channel: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
      (await server.api('POST', `/api/v1/app/${app}/msg`, { eventType: 'metrics.test', payload: { n: 1 }, channels: [channel], ...extra }, headers)).status;

    // Accepted: 4 to ok (one with an idempotency-key), 3 to fail (one with an eventId), 6 to slow.
    for (let i = 0; i < 3; i++) assert.equal(await send('ok'), 202);
    assert.equal(await send('ok', {}, { 'idempotency-key': 'once' }), 202);
    for (let i = 0; i < 2; i++) assert.equal(await send('fail'), 202);
    assert.equal(await send('fail', { eventId: 'evt-1' }), 202);
    for (let i = 0; i < 6; i++) assert.equal(await send('slow'), 202);
    const accepted = 4 + 3 + 6;

    // Refused, by reason.
    // idempotency: the same key and body twice more (replayed), the same key with another body (409), the eventId again (409).
    for (let i = 0; i < 2; i++) assert.equal(await send('ok', {}, { 'idempotency-key': 'once' }), 202);
    assert.equal(await send('ok', { payload: { n: 2 } }, { 'idempotency-key': 'once' }), 409);
    assert.equal(await send('fail', { eventId: 'evt-1' }), 409);
    // validation: no eventType; a payload that is not an object; a body that is not JSON.
    assert.equal((await server.api('POST', `/api/v1/app/${app}/msg`, { payload: {} })).status, 422);
    assert.equal((await server.api('POST', `/api/v1/app/${app}/msg`, { eventType: 'metrics.test', payload: 'text' })).status, 422);
    assert.equal((await server.api('POST', `/api/v1/app/${app}/msg`, '{"eventType":')).status, 400);
    // size: a payload over HOOKWELL_MAX_PAYLOAD_BYTES.
    assert.equal(await send('ok', { payload: { big: 'x'.repeat(2000) } }), 413);
    // auth: no token, and a wrong one.
    const body = JSON.stringify({ eventType: 'metrics.test', payload: {} });
    assert.equal((await request(`${server.url}/api/v1/app/${app}/msg`, 'POST', { 'content-type': 'application/json' }, body)).status, 401);
    assert.equal((await request(`${server.url}/api/v1/app/${app}/msg`, 'POST', { 'content-type': 'application/json', authorization: 'Bearer wrong-token-0123456789' }, body)).status, 401);
    // other: an application that does not exist.
    assert.equal((await server.api('POST', '/api/v1/app/nowhere/msg', { eventType: 'metrics.test', payload: {} })).status, 404);
    // Not a message: counted nowhere.
    assert.equal((await server.api('GET', `/api/v1/app/${app}/msg`)).status, 200);

    // 4 to ok and 3 to fail answered; the first to slow arrives and is held.
    await receiver.waitFor(8);
    const s = await eventually(
      async () => {
        const s = await scrape(server.url);
        const made = series(s, 'hookwell_delivery_attempts_total').reduce((n, x) => n + x.value, 0);
        return made === 7 && value(s, 'hookwell_backlog_scheduled_deliveries') === 3 ? s : undefined;
      },
      15_000,
      'the attempts to be made and the failures scheduled',
    );

    assert.equal(value(s, 'hookwell_messages_accepted_total'), accepted);
    assert.deepEqual(
      Object.fromEntries(series(s, 'hookwell_messages_refused_total').map((x) => [x.labels.reason, x.value])),
      { validation: 3, size: 1, auth: 2, idempotency: 4, unavailable: 0, other: 1 },
    );

    assert.equal(value(s, 'hookwell_delivery_attempts_total', { outcome: 'success', status_class: '2xx' }), 4);
    assert.equal(value(s, 'hookwell_delivery_attempts_total', { outcome: 'failure', status_class: '5xx' }), 3);
    assert.equal(value(s, 'hookwell_delivery_attempts_total', { outcome: 'error', status_class: 'none' }), 0);
    assert.equal(value(s, 'hookwell_delivery_attempt_duration_seconds_count'), 7);
    assert.equal(value(s, 'hookwell_delivery_attempt_duration_seconds_bucket', { le: '+Inf' }), 7);
    const seconds = value(s, 'hookwell_delivery_attempt_duration_seconds_sum');
    assert.ok(seconds >= 0 && seconds < 30, `attempts took ${seconds} s in all`);

    // The queue: the failures wait an hour, the slow endpoint's first is in flight and the rest wait behind it.
    assert.equal(value(s, 'hookwell_backlog_retrying_deliveries'), 3);
    assert.equal(value(s, 'hookwell_deliveries_failed'), 0);
    assert.equal(value(s, 'hookwell_endpoints_disabled'), 1);
    assert.equal(value(s, 'hookwell_backlog_read_success'), 1);
    const due = value(s, 'hookwell_backlog_due_deliveries');
    const leased = value(s, 'hookwell_backlog_leased_deliveries');
    assert.equal(due + leased, 6, `due ${due} + leased ${leased}: the slow endpoint's six`);
    assert.ok(leased >= 1 && due >= 1, `due ${due}, leased ${leased}`);
    const age = value(s, 'hookwell_backlog_oldest_due_age_seconds');
    assert.ok(age > 0 && age < 60, `oldest due for ${age} s`);
    // Only the endpoint with due work is listed, under its application.
    assert.deepEqual(
      series(s, 'hookwell_endpoint_backlog_due_deliveries').map((x) => [x.labels, x.value]),
      [[{ app_id: appId, endpoint_id: slow }, due]],
    );
    assert.equal(value(s, 'hookwell_endpoint_backlog_oldest_due_age_seconds', { endpoint_id: slow }), age);

    // Store: every message was written in a batched commit.
    const commits = value(s, 'hookwell_store_commit_batch_size_count');
    assert.ok(commits >= 1 && commits <= value(s, 'hookwell_store_commit_batch_size_sum'));
    assert.ok(value(s, 'hookwell_store_commit_batch_size_sum') >= accepted);
    assert.equal(value(s, 'hookwell_store_commit_duration_seconds_count'), commits);
    if (ON_POSTGRES) {
      assert.deepEqual(series(s, 'hookwell_store_pool_waiting_clients').map((x) => x.labels.pool).sort(), ['main', 'queue']);
      assert.ok(value(s, 'hookwell_store_pool_connections', { pool: 'main' }) >= 1);
    } else {
      assert.ok(value(s, 'hookwell_store_sync_duration_seconds_count') >= 1, 'durable commits were synced');
    }

    // The process: prom-client's defaults.
    assert.ok(value(s, 'process_resident_memory_bytes') > 0);
    assert.ok(value(s, 'process_cpu_seconds_total') > 0);
    assert.equal(s.types.get('nodejs_eventloop_lag_p99_seconds'), 'gauge');
  });

  it('builds the Grafana dashboard only on metrics the server exports', async () => {
    const dashboard = JSON.parse(readFileSync(new URL('../../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as { panels: unknown[] };
    const exprs: string[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (typeof v === 'object' && v !== null) {
        for (const [k, x] of Object.entries(v)) {
          if ((k === 'expr' || k === 'query') && typeof x === 'string') exprs.push(x);
          else walk(x);
        }
      }
    };
    walk(dashboard);
    assert.ok(exprs.length >= 10, `${exprs.length} expressions`);
    const s = await scrape(server.url);
    // A histogram's series are its name with _bucket, _sum and _count.
    const declared = new Set([...s.types].flatMap(([name, type]) => (type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name])));
    const used = new Set(exprs.flatMap((e) => [...e.matchAll(/\b((?:hookwell|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1]!)));
    assert.ok([...used].filter((n) => n.startsWith('hookwell_')).length >= 10);
    assert.deepEqual([...used].filter((n) => !declared.has(n)), []);
  });
});

describe('metrics when the queue cannot be read', () => {
  it('says so with hookwell_backlog_read_success 0, keeps the last figures, and still answers', async () => {
    const { dir, cleanup } = tempDir();
    const store = SqliteStore.open(join(dir, 'q.db'));
    const failures: unknown[] = [];
    const metrics = new Metrics();
    metrics.watch(store, (err) => failures.push(err));
    try {
      const app = await store.createApp({ uid: null, name: 'q', throttleRate: null, metadata: {} });
      await store.createEndpoint(app.id, endpointInput());
      await store.createMessage(app.id, messageInput());
      const before = parse(await metrics.text());
      assert.equal(value(before, 'hookwell_backlog_read_success'), 1);
      assert.equal(value(before, 'hookwell_backlog_due_deliveries'), 1);
      await store.close();
      // A reading answers the scrapes of the next second.
      await sleep(1100);
      const after = parse(await metrics.text());
      assert.equal(value(after, 'hookwell_backlog_read_success'), 0);
      assert.equal(value(after, 'hookwell_backlog_due_deliveries'), 1, 'the last figure is kept');
      assert.equal(failures.length, 1);
      assert.ok(value(after, 'process_resident_memory_bytes') > 0, 'the rest is still reported');
    } finally {
      cleanup();
    }
  });
});

describe('metrics access', () => {
  it('asks for a token on the API port, and on its own port only when HOOKWELL_METRICS_TOKEN is set', async () => {
    const openPort = await freePort();
    const open = await startServer({ HOOKWELL_METRICS_PORT: String(openPort) });
    try {
      const refused = await request(`${open.url}/metrics`, 'GET', {});
      assert.equal(refused.status, 401);
      assert.equal((refused.body as { code: string }).code, 'authentication_failed');
      assert.match((refused.body as { detail: string }).detail, /admin token/);
      assert.equal((await request(`${open.url}/metrics`, 'GET', { authorization: 'Bearer not-the-admin-token-123' })).status, 401);
      await scrape(open.url, TOKEN);
      // Its own port is for a private network: open without a metrics token.
      const s = await scrape(`http://127.0.0.1:${openPort}`, null);
      assert.equal(value(s, 'hookwell_backlog_read_success'), 1);
      // Only /metrics is there.
      assert.equal((await request(`http://127.0.0.1:${openPort}/api/v1/app`, 'GET', { authorization: `Bearer ${TOKEN}` })).status, 404);
    } finally {
      await open.stop();
    }
    await assert.rejects(fetch(`http://127.0.0.1:${openPort}/metrics`), 'the metrics port closes with the server');

    const tokenPort = await freePort();
    const locked = await startServer({ HOOKWELL_METRICS_PORT: String(tokenPort), HOOKWELL_METRICS_TOKEN: METRICS_TOKEN });
    try {
      const port = `http://127.0.0.1:${tokenPort}`;
      assert.equal((await request(`${port}/metrics`, 'GET', {})).status, 401);
      assert.equal((await request(`${port}/metrics`, 'GET', { authorization: `Bearer ${TOKEN}` })).status, 401, 'the admin token is for the API port');
      assert.equal((await request(`${port}/metrics`, 'GET', { authorization: `Bearer ${METRICS_TOKEN}x` })).status, 401);
      await scrape(port, METRICS_TOKEN);
      assert.equal((await request(`${locked.url}/metrics`, 'GET', {})).status, 401);
      await scrape(locked.url, METRICS_TOKEN);
      await scrape(locked.url, TOKEN);
      // The metrics token opens nothing else.
      assert.equal((await request(`${locked.url}/api/v1/app`, 'GET', { authorization: `Bearer ${METRICS_TOKEN}` })).status, 401);
    } finally {
      await locked.stop();
    }
  });

  it('refuses a metrics token that is too short or a port that is not one', () => {
    assert.throws(() => loadConfig({}, { HOOKWELL_METRICS_TOKEN: 'short' }), /HOOKWELL_METRICS_TOKEN must be at least 16 characters/);
    assert.throws(() => loadConfig({}, { HOOKWELL_METRICS_PORT: 'nine' }), /HOOKWELL_METRICS_PORT must be a whole number/);
    assert.throws(() => loadConfig({}, { HOOKWELL_METRICS_PORT: '70000' }), /HOOKWELL_METRICS_PORT must be between 1 and 65535/);
  });

  it("serves a PostgreSQL worker's metrics on its health port and its metrics port, with the attempts it made", async () => {
    await requirePostgres();
    const schema = `hw_metrics_${randomBytes(5).toString('hex')}`;
    const [healthPort, metricsPort] = [await freePort(), await freePort()];
    const receiver = await startReceiver();
    receiver.respond = (r) => ({ status: r.path === '/gone' ? 410 : 200 });
    const common = { HOOKWELL_DB_SCHEMA: schema, HOOKWELL_LOG_LEVEL: 'silent', HOOKWELL_DB_POOL_SIZE: '2', HOOKWELL_ADMIN_TOKEN: TOKEN, HOOKWELL_ALLOW_PRIVATE_TARGETS: 'true' };
    const apiCfg = loadConfig({ db: PG_URL, role: 'api', port: '0' }, common);
    const api = await startHookwell(apiCfg, createLogger(apiCfg.logLevel));
    const workerCfg = loadConfig({ db: PG_URL, role: 'worker' }, { ...common, HOOKWELL_HEALTH_PORT: String(healthPort), HOOKWELL_METRICS_PORT: String(metricsPort) });
    const worker = await startHookwell(workerCfg, createLogger(workerCfg.logLevel));
    try {
      const call = (method: string, path: string, body: unknown) =>
        request(api.url! + path, method, { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, JSON.stringify(body));
      assert.equal((await call('POST', '/api/v1/app', { name: 'w', uid: 'w' })).status, 201);
      assert.equal((await call('POST', '/api/v1/app/w/endpoint', { url: `${receiver.url}/ok`, channels: ['ok'] })).status, 201);
      assert.equal((await call('POST', '/api/v1/app/w/endpoint', { url: `${receiver.url}/gone`, channels: ['gone'] })).status, 201);
      for (let i = 0; i < 3; i++) assert.equal((await call('POST', '/api/v1/app/w/msg', { eventType: 'w.e', payload: {}, channels: ['ok'] })).status, 202);
      assert.equal((await call('POST', '/api/v1/app/w/msg', { eventType: 'w.e', payload: {}, channels: ['gone'] })).status, 202);
      await receiver.waitFor(4);

      // The worker made the attempts; 410 Gone disabled its endpoint, which both processes see in the shared queue.
      const fromWorker = await eventually(async () => {
        const s = await scrape(`http://127.0.0.1:${healthPort}`, null);
        return value(s, 'hookwell_delivery_attempts_total', { status_class: '4xx' }) === 1 && value(s, 'hookwell_endpoints_disabled') === 1 ? s : undefined;
      }, 15_000, "the worker's attempts");
      assert.equal(value(fromWorker, 'hookwell_delivery_attempts_total', { outcome: 'success' }), 3);
      assert.equal(value(fromWorker, 'hookwell_messages_accepted_total'), 0, 'a worker accepts no messages');
      const own = await scrape(`http://127.0.0.1:${metricsPort}`, null);
      assert.equal(value(own, 'hookwell_delivery_attempts_total', { outcome: 'success' }), 3, 'the same registry on both ports');

      const fromApi = await scrape(api.url!);
      assert.equal(value(fromApi, 'hookwell_messages_accepted_total'), 4);
      assert.equal(value(fromApi, 'hookwell_delivery_attempts_total', { outcome: 'success' }), 0, 'an API process delivers nothing');
      assert.equal(value(fromApi, 'hookwell_store_commit_batch_size_sum'), 4, "the API's four messages, in its batches");
      assert.equal(value(fromApi, 'hookwell_endpoints_disabled'), 1);
    } finally {
      await Promise.all([worker.close(), api.close()]);
      await receiver.close();
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => admin.end());
    }
  });
});
