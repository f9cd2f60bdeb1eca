// Scale-out on PostgreSQL with real processes: one API process and several worker processes
// share a schema (or a database of their own), and a receiver in this process counts what
// arrives, by message id and by the worker process that sent it. PostgreSQL is reached at
// HOOKWELL_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test); every test works
// in a schema or database of its own, dropped at the end. When no server answers there,
// the suite is skipped, saying why.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Agent, request } from 'undici';
import { PG_URL, requirePostgres, TOKEN } from './helpers.js';

const RUN = randomBytes(4).toString('hex');
const BIN = fileURLToPath(new URL('../bin/hookwell.js', import.meta.url));
const SERVER_DIR = fileURLToPath(new URL('..', import.meta.url));
/** The application_name of this file's own connections, which terminations leave alone. */
const ADMIN_APP = 'hookwell-test-admin';
const UNAVAILABLE_LINE = 'the database is unavailable; the API answers 503';

/** The same server and credentials, another database. */
function urlOf(database: string): string {
  const u = new URL(PG_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

// --- clean-up, also when the run dies ------------------------------------------------------

const children = new Set<ChildProcess>();
const schemas = new Set<string>();
const databases = new Set<string>();

const DROP_SCRIPT = `
import pg from 'pg';
const c = new pg.Client({ connectionString: process.env.PG_URL, application_name: process.env.ADMIN_APP });
await c.connect();
for (const s of JSON.parse(process.env.SCHEMAS)) await c.query('DROP SCHEMA IF EXISTS ' + s + ' CASCADE').catch(() => undefined);
for (const d of JSON.parse(process.env.DATABASES)) await c.query('DROP DATABASE IF EXISTS ' + d + ' WITH (FORCE)').catch(() => undefined);
await c.end();
`;

// Runs only if the hooks did not get to it (the run was cut short): nothing async works
// here, so the children are killed at once and a short-lived process drops what is left.
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (schemas.size === 0 && databases.size === 0) return;
  spawnSync(process.execPath, ['--input-type=module', '-e', DROP_SCRIPT], {
    cwd: SERVER_DIR,
    env: { ...process.env, PG_URL, ADMIN_APP, SCHEMAS: JSON.stringify([...schemas]), DATABASES: JSON.stringify([...databases]) },
    stdio: 'ignore',
    timeout: 15_000,
  });
});
// A signal would end the process without 'exit': made an exit, so the above runs.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => process.exit(1));

// --- Hookwell processes --------------------------------------------------------------------

interface Proc {
  role: 'api' | 'worker';
  proc: ChildProcess;
  pid: number;
  /** The API's address; null for a worker. */
  url: string | null;
  /** What it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code, or the signal that ended it. */
  exited: Promise<number | string | null>;
}

/** Starts `hookwell serve --role <role>` and waits for the line saying it is up. */
function spawnHookwell(role: 'api' | 'worker', env: Record<string, string>): Promise<Proc> {
  const proc = spawn(process.execPath, [BIN, 'serve', '--role', role], {
    cwd: SERVER_DIR,
    env: {
      ...process.env,
      HOOKWELL_HOST: '127.0.0.1',
      HOOKWELL_PORT: '0',
      HOOKWELL_ADMIN_TOKEN: TOKEN,
      HOOKWELL_ALLOW_PRIVATE_TARGETS: 'true',
      HOOKWELL_LOG_LEVEL: 'info',
      HOOKWELL_DRAIN_TIMEOUT_MS: '1000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  let out = '';
  proc.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  proc.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | string | null>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal)));
  const ready = role === 'api' ? /"msg":"hookwell listening on (http:\/\/127\.0\.0\.1:\d+)"/ : /"msg":"hookwell worker started"/;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`the ${role} did not start within 30 s:\n${out}`)), 30_000);
    const check = () => {
      const m = ready.exec(out);
      if (m) done(null, m[1] ?? null);
    };
    const early = () => done(new Error(`the ${role} exited before it was up:\n${out}`));
    function done(err: Error | null, url: string | null = null) {
      clearTimeout(timer);
      proc.stdout!.off('data', check);
      proc.off('exit', early);
      if (err) reject(err);
      else {
        const p: Proc = { role, proc, pid: proc.pid!, url, output: () => out, exited };
        running.push(p);
        resolve(p);
      }
    }
    proc.stdout!.on('data', check);
    proc.on('exit', early);
  });
}

/** The processes of the running test, whose logs are shown when it fails. */
let running: Proc[] = [];
/** Processes the running test ended on purpose. */
const killedOnPurpose = new Set<Proc>();

function lastLines(p: Proc, n = 15): string[] {
  return p.output().trimEnd().split('\n').slice(-n);
}

/** Throws, saying which and how, if a process of the running test ended without being told to. */
function failIfDied(): void {
  const dead = running.find((p) => !alive(p) && !killedOnPurpose.has(p));
  if (dead === undefined) return;
  const how = dead.proc.exitCode !== null ? `exit code ${dead.proc.exitCode}` : `signal ${dead.proc.signalCode}`;
  throw new Error(`the ${dead.role} process ${dead.pid} ended on its own (${how}); it last logged:\n${lastLines(dead, 40).join('\n')}`);
}

/** Runs a test body; when it fails, the last lines each process logged are shown with it. */
async function showingLogs(t: { diagnostic(message: string): void }, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    for (const p of running) {
      t.diagnostic(`--- ${p.role} ${p.pid} (${alive(p) ? 'running' : `ended: ${p.proc.exitCode ?? p.proc.signalCode}`}), last lines:`);
      for (const line of lastLines(p)) t.diagnostic(line.slice(0, 400));
    }
    throw err;
  }
}

function alive(p: Proc): boolean {
  return p.proc.exitCode === null && p.proc.signalCode === null;
}

async function killAll(): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      waits.push(new Promise((resolve) => c.once('exit', resolve)));
      c.kill('SIGKILL');
    }
  }
  await Promise.all(waits);
  children.clear();
}

/** One API process and `workers` worker processes, started together. */
async function cluster(workers: number, env: Record<string, string>): Promise<{ api: Proc; workers: Proc[] }> {
  const procs = await Promise.all([spawnHookwell('api', env), ...Array.from({ length: workers }, () => spawnHookwell('worker', env))]);
  return { api: procs[0]!, workers: procs.slice(1) };
}

// --- which process a connection comes from -------------------------------------------------

const CAN_ATTRIBUTE = existsSync('/proc/net/tcp');

/**
 * The pid among `pids` owning the client end of a loopback TCP connection from
 * `clientPort` to `serverPort`, or 0: Linux lists the socket's inode in /proc/net/tcp and
 * the owner has a descriptor linking to it.
 */
function ownerOf(clientPort: number, serverPort: number, pids: Iterable<number>): number {
  if (!CAN_ATTRIBUTE) return 0;
  let inode: string | undefined;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !f[1]!.includes(':')) continue;
    if (parseInt(f[1]!.split(':')[1]!, 16) === clientPort && parseInt(f[2]!.split(':')[1]!, 16) === serverPort) {
      inode = f[9];
      break;
    }
  }
  if (inode === undefined || inode === '0') return 0;
  const target = `socket:[${inode}]`;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return 0;
}

// --- the receiver --------------------------------------------------------------------------

interface Receipt {
  id: string;
  /** The sending process, 0 when it could not be told. */
  pid: number;
  at: number;
}

interface CountingReceiver {
  url: string;
  /** Requests received per webhook-id. */
  counts: Map<string, number>;
  receipts: Receipt[];
  /** Requests being answered now, per sending process. */
  inFlight: Map<number, number>;
  /** Each answer (204) waits this long. */
  delayMs: number;
  close(): Promise<void>;
}

async function startCountingReceiver(): Promise<CountingReceiver> {
  // Connections are attributed to the Hookwell processes this file started.
  const pids = () => [...children].map((c) => c.pid!).filter((pid) => pid !== undefined);
  const ownerOfSocket = new WeakMap<object, number>();
  let port = 0;
  const r: CountingReceiver = {
    url: '',
    counts: new Map(),
    receipts: [],
    inFlight: new Map(),
    delayMs: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      let pid = ownerOfSocket.get(req.socket) ?? 0;
      if (pid === 0 && req.socket.remotePort !== undefined) {
        pid = ownerOf(req.socket.remotePort, port, pids());
        ownerOfSocket.set(req.socket, pid);
      }
      r.counts.set(id, (r.counts.get(id) ?? 0) + 1);
      r.receipts.push({ id, pid, at: Date.now() });
      r.inFlight.set(pid, (r.inFlight.get(pid) ?? 0) + 1);
      let answered = false;
      const finish = () => {
        if (answered) return;
        answered = true;
        r.inFlight.set(pid, r.inFlight.get(pid)! - 1);
      };
      res.on('close', finish);
      const send = () => {
        if (!res.destroyed) res.writeHead(204).end();
        finish();
      };
      if (r.delayMs > 0) setTimeout(send, r.delayMs);
      else send();
    });
  });
  // Attributed when accepted: the client's descriptor exists from then until it closes.
  server.on('connection', (socket) => {
    socket.on('error', () => undefined);
    ownerOfSocket.set(socket, ownerOf(socket.remotePort!, port, pids()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  r.url = `http://127.0.0.1:${port}`;
  return r;
}

// --- the management API --------------------------------------------------------------------

const agent = new Agent({ connections: 128, keepAliveTimeout: 10_000 });

async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any; text: string }> {
  const res = await request(base + path, {
    method: method as 'POST',
    dispatcher: agent,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.statusCode, body: parsed, text };
}

/** An application with one endpoint at `url`; returns the application's id. */
async function appWithEndpoint(base: string, uid: string, url: string): Promise<string> {
  const app = await call(base, 'POST', '/api/v1/app', { name: uid, uid });
  assert.equal(app.status, 201, app.text);
  const ep = await call(base, 'POST', `/api/v1/app/${app.body.id}/endpoint`, { url });
  assert.equal(ep.status, 201, ep.text);
  return app.body.id as string;
}

interface SendStats {
  /** Ids of the messages answered 202, in order of the answers. */
  accepted: string[];
  unavailable: number;
  networkErrors: number;
  /** Answers other than 202 (and, when retrying, 503), as "status body". */
  unexpected: string[];
}

/**
 * Sends `count` messages with at most `concurrency` requests in flight. With `retry`, a
 * message answered 503 or cut off by a network error is sent again until it gets 202.
 */
async function sendMessages(base: string, appId: string, count: number, concurrency: number, retry: boolean, stats: SendStats): Promise<void> {
  let next = 0;
  const deadline = Date.now() + 45_000;
  const sender = async () => {
    while (next < count) {
      if (running.some((p) => !alive(p) && !killedOnPurpose.has(p))) return; // failIfDied() tells the rest
      const n = next++;
      for (;;) {
        let res: { status: number; body: any; text: string };
        try {
          res = await call(base, 'POST', `/api/v1/app/${appId}/msg`, { eventType: 'load.test', payload: { n, run: RUN } });
        } catch (err) {
          stats.networkErrors++;
          if (retry && Date.now() < deadline) {
            await sleep(50);
            continue;
          }
          stats.unexpected.push(`network error: ${(err as Error).message}`);
          break;
        }
        if (res.status === 202) {
          stats.accepted.push(res.body.id as string);
          break;
        }
        if (res.status === 503 && retry && Date.now() < deadline) {
          stats.unavailable++;
          await sleep(50);
          continue;
        }
        stats.unexpected.push(`${res.status} ${res.text}`);
        break;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, sender));
}

function newStats(): SendStats {
  return { accepted: [], unavailable: 0, networkErrors: 0, unexpected: [] };
}

/** Polls `check` every 100 ms until it is true; on time-out the error says `progress()`. */
async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, progress: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    failIfDied();
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${progress()}`);
    await sleep(100);
  }
}

/** Polls `get` until it returns a value, failing early if a process died. */
async function until<T>(get: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  let value: T | undefined;
  await waitUntil(async () => (value = await get()) !== undefined, timeoutMs, () => `waiting for ${what}`);
  return value!;
}

/** Ids of `accepted` the receiver has not seen yet. */
function missingOf(accepted: string[], r: CountingReceiver): string[] {
  return accepted.filter((id) => !r.counts.has(id));
}

/** Deliveries not yet finished successfully, and all of them, in `schema`. */
async function openDeliveries(db: pg.Pool, schema: string): Promise<{ open: number; total: number }> {
  const row = (await db.query(`SELECT count(*) FILTER (WHERE status <> 0)::int AS open, count(*)::int AS total FROM ${schema}.deliveries`)).rows[0];
  return { open: row.open as number, total: row.total as number };
}

/** Every accepted message arrived and the store holds no unfinished delivery. */
async function waitDelivered(accepted: string[], r: CountingReceiver, db: pg.Pool, schema: string, timeoutMs: number): Promise<void> {
  let last = { open: -1, total: -1 };
  await waitUntil(
    async () => {
      if (missingOf(accepted, r).length > 0) return false;
      last = await openDeliveries(db, schema);
      return last.open === 0;
    },
    timeoutMs,
    () => `${missingOf(accepted, r).length} of ${accepted.length} accepted messages not received; deliveries open in the store: ${last.open}/${last.total}`,
  );
}

function repeatedIds(r: CountingReceiver): string[] {
  return [...r.counts].filter(([, n]) => n > 1).map(([id]) => id);
}

function share(r: CountingReceiver, procs: Proc[]): string {
  const by = new Map<number, number>();
  for (const x of r.receipts) by.set(x.pid, (by.get(x.pid) ?? 0) + 1);
  return [...procs.map((p) => `pid ${p.pid}: ${by.get(p.pid) ?? 0}`), `unattributed: ${by.get(0) ?? 0}`].join(', ');
}

describe('PostgreSQL scale-out with several processes', () => {
  let admin: pg.Pool;
  /** What the running test made, undone after it. */
  let mine: { schemas: string[]; databases: string[]; pools: pg.Pool[]; receivers: CountingReceiver[] } = { schemas: [], databases: [], pools: [], receivers: [] };

  before(async () => {
    await requirePostgres();
    admin = new pg.Pool({ connectionString: PG_URL, max: 3, application_name: ADMIN_APP });
    admin.on('error', () => undefined);
  });

  after(async () => {
    await killAll();
    await admin?.end();
    await agent.close();
  });

  afterEach(async () => {
    await killAll();
    running = [];
    killedOnPurpose.clear();
    for (const r of mine.receivers) await r.close();
    for (const p of mine.pools) await p.end().catch(() => undefined);
    // What cannot be dropped now stays listed for the handler on 'exit'.
    for (const s of mine.schemas) {
      await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`).then(() => schemas.delete(s), () => undefined);
    }
    for (const d of mine.databases) {
      await admin.query(`DROP DATABASE IF EXISTS ${d} WITH (FORCE)`).then(() => databases.delete(d), () => undefined);
    }
    mine = { schemas: [], databases: [], pools: [], receivers: [] };
  });

  async function receiverForTest(): Promise<CountingReceiver> {
    const r = await startCountingReceiver();
    mine.receivers.push(r);
    return r;
  }

  /** A schema of its own in the shared test database. */
  function freshSchema(n: number): string {
    const s = `hw_mp_${RUN}_${n}`;
    schemas.add(s);
    mine.schemas.push(s);
    return s;
  }

  /** A database of its own, for tests that cut every connection to it. */
  async function freshDatabase(n: number): Promise<{ name: string; url: string; pool: pg.Pool }> {
    const name = `hookwell_mp_${RUN}_${n}`;
    databases.add(name);
    mine.databases.push(name);
    await admin.query(`CREATE DATABASE ${name}`);
    const pool = new pg.Pool({ connectionString: urlOf(name), max: 2, application_name: ADMIN_APP });
    pool.on('error', () => undefined);
    mine.pools.push(pool);
    return { name, url: urlOf(name), pool };
  }

  /** Ends every connection to `database` except this file's own; returns how many. */
  async function terminateBackends(database: string): Promise<number> {
    const r = await admin.query(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
       WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name <> $2`,
      [database, ADMIN_APP],
    );
    return r.rows[0].n as number;
  }

  it('three workers and one API process deliver 10,000 messages, each exactly once', { timeout: 150_000 }, (t) =>
    showingLogs(t, async () => {
      const schema = freshSchema(1);
      const receiver = await receiverForTest();
      const started = Date.now();
      const { api, workers } = await cluster(3, { HOOKWELL_DB: PG_URL, HOOKWELL_DB_SCHEMA: schema });
      t.diagnostic(`1 api + 3 workers up in ${Date.now() - started} ms`);

      const appId = await appWithEndpoint(api.url!, 'mp-exactly-once', `${receiver.url}/hook`);
      const total = 10_000;
      const stats = newStats();
      const sendStart = Date.now();
      await sendMessages(api.url!, appId, total, 64, false, stats);
      failIfDied();
      t.diagnostic(`sent ${total} messages in ${Date.now() - sendStart} ms; ${receiver.receipts.length} received by then`);
      assert.deepEqual(stats.unexpected.slice(0, 5), [], `every message is answered 202 (${stats.unexpected.length} were not)`);
      assert.equal(new Set(stats.accepted).size, total, 'each 202 names a new message');

      await waitDelivered(stats.accepted, receiver, admin, schema, 60_000);
      t.diagnostic(`all delivered ${Date.now() - sendStart} ms after the first send`);
      // A second copy from a double claim would follow right behind the first.
      await sleep(500);

      const accepted = new Set(stats.accepted);
      const strangers = [...receiver.counts.keys()].filter((id) => !accepted.has(id));
      assert.deepEqual(strangers, [], 'nothing arrives that was not sent');
      const repeats = repeatedIds(receiver);
      assert.deepEqual(repeats.slice(0, 5), [], `no message arrives twice (${repeats.length} did)`);
      assert.equal(receiver.receipts.length, total);

      const rows = (
        await admin.query(
          `SELECT (SELECT count(*)::int FROM ${schema}.attempts) AS attempts,
                  (SELECT count(DISTINCT msg_id)::int FROM ${schema}.attempts) AS messages,
                  (SELECT count(*)::int FROM ${schema}.deliveries WHERE status = 0) AS succeeded`,
        )
      ).rows[0];
      assert.deepEqual(rows, { attempts: total, messages: total, succeeded: total }, 'one successful attempt recorded per message');

      t.diagnostic(`requests per worker: ${share(receiver, workers)}`);
      if (!CAN_ATTRIBUTE) {
        t.diagnostic('no /proc/net/tcp here: which worker sent what is not checked');
      } else {
        for (const w of workers) {
          assert.ok(
            receiver.receipts.some((x) => x.pid === w.pid),
            `worker ${w.pid} delivered some of the messages (${share(receiver, workers)})`,
          );
        }
      }
      failIfDied();
    }),
  );

  it('a worker killed by SIGKILL mid-run: every message still arrives; repeats only for its in-flight deliveries', { timeout: 90_000 }, (t) =>
    showingLogs(t, async () => {
      const schema = freshSchema(2);
      const endpointConcurrency = 16;
      const receiver = await receiverForTest();
      receiver.delayMs = 25;
      const env = {
        HOOKWELL_DB: PG_URL,
        HOOKWELL_DB_SCHEMA: schema,
        HOOKWELL_LEASE_MS: '3000',
        HOOKWELL_ENDPOINT_CONCURRENCY: String(endpointConcurrency),
      };
      // The messages are stored first, so the workers start on a backlog: the endpoint's
      // slots are full when one of them is killed.
      const { api } = await cluster(0, env);
      const appId = await appWithEndpoint(api.url!, 'mp-kill', `${receiver.url}/hook`);
      const total = 3000;
      const stats = newStats();
      await sendMessages(api.url!, appId, total, 64, false, stats);
      failIfDied();
      assert.deepEqual(stats.unexpected.slice(0, 5), [], `every message is answered 202 (${stats.unexpected.length} were not)`);
      assert.equal(stats.accepted.length, total);

      const workers = await Promise.all([1, 2, 3].map(() => spawnHookwell('worker', env)));
      await waitUntil(() => receiver.receipts.length >= total / 3, 45_000, () => `${receiver.receipts.length} received`);
      // Then, at a moment a worker has requests open at the receiver, the one with the most.
      const open = (w: Proc) => receiver.inFlight.get(w.pid) ?? 0;
      const busiest = () => workers.reduce((a, b) => (open(b) > open(a) ? b : a));
      const lookUntil = Date.now() + 10_000;
      while (open(busiest()) === 0 && Date.now() < lookUntil) await sleep(1);
      const victim = busiest();
      const openAtKill = open(victim);
      assert.ok(openAtKill > 0, 'a worker had deliveries in flight to kill');
      killedOnPurpose.add(victim);
      victim.proc.kill('SIGKILL');
      const killedAt = Date.now();
      assert.equal(await victim.exited, 'SIGKILL');
      t.diagnostic(`killed worker ${victim.pid} after ${receiver.receipts.length} receipts, with ${openAtKill} of its requests open at the receiver`);

      await waitDelivered(stats.accepted, receiver, admin, schema, 45_000);
      t.diagnostic(`all delivered ${Date.now() - killedAt} ms after the kill`);

      const repeats = repeatedIds(receiver);
      t.diagnostic(`repeated deliveries: ${repeats.length} (endpoint concurrency ${endpointConcurrency}); requests per worker: ${share(receiver, workers)}`);
      // Leases to one endpoint are capped over all processes, so the dead worker held at
      // most that many: only those can have reached the receiver without being recorded.
      assert.ok(repeats.length <= endpointConcurrency, `at most ${endpointConcurrency} deliveries are sent again; ${repeats.length} were`);
      for (const id of repeats) assert.equal(receiver.counts.get(id), 2, `${id} arrived at most twice`);
      if (CAN_ATTRIBUTE) {
        for (const id of repeats) {
          const copies = receiver.receipts.filter((x) => x.id === id);
          assert.equal(copies[0]!.pid, victim.pid, `the first copy of repeated ${id} came from the killed worker`);
          assert.ok(
            workers.some((w) => w !== victim && w.pid === copies[1]!.pid),
            `the second copy of ${id} came from a live worker (pid ${copies[1]!.pid})`,
          );
        }
      }
      failIfDied();
    }),
  );

  it('connections terminated with pg_terminate_backend mid-run: processes recover on their own and nothing is lost', { timeout: 90_000 }, (t) =>
    showingLogs(t, async () => {
      const db = await freshDatabase(3);
      const schema = 'hookwell';
      const receiver = await receiverForTest();
      receiver.delayMs = 5;
      const { api, workers } = await cluster(2, { HOOKWELL_DB: db.url, HOOKWELL_DB_SCHEMA: schema, HOOKWELL_LEASE_MS: '4000' });

      const appId = await appWithEndpoint(api.url!, 'mp-terminate', `${receiver.url}/hook`);
      const total = 1200;
      const stats = newStats();
      const sending = sendMessages(api.url!, appId, total, 32, true, stats);
      const terminated: string[] = [];
      for (const at of [0.25, 0.6]) {
        await waitUntil(
          () => stats.accepted.length >= total * at,
          40_000,
          () => `${stats.accepted.length} accepted, ${stats.unavailable} answered 503, ${stats.networkErrors} network errors, other answers: ${stats.unexpected.slice(0, 3).join(' | ')}`,
        );
        const n = await terminateBackends(db.name);
        terminated.push(`${n} backends at ${stats.accepted.length} accepted / ${receiver.receipts.length} received`);
        await sleep(300);
      }
      await sending;
      failIfDied();
      t.diagnostic(`terminated ${terminated.join('; then ')}`);
      t.diagnostic(`sends answered 503: ${stats.unavailable}; network errors: ${stats.networkErrors}`);
      assert.deepEqual(stats.unexpected.slice(0, 5), [], `only 202 or 503 is answered (${stats.unexpected.length} other answers)`);
      assert.equal(stats.accepted.length, total, 'every message is accepted in the end');

      await waitDelivered(stats.accepted, receiver, db.pool, schema, 45_000);
      const accepted = new Set(stats.accepted);
      const strangers = [...receiver.counts.keys()].filter((id) => !accepted.has(id));
      const repeats = repeatedIds(receiver);
      t.diagnostic(
        `repeated deliveries: ${repeats.length}; delivered messages whose send was answered 503 but committed: ${strangers.length}; requests per worker: ${share(receiver, workers)}`,
      );
      // Each worker's LISTEN connection was among those cut, and came back by itself.
      for (const w of workers) assert.match(w.output(), /listening for new work again/, `worker ${w.pid} listens again`);
      // The workers keep delivering new messages afterwards.
      const later = await call(api.url!, 'POST', `/api/v1/app/${appId}/msg`, { eventType: 'load.test', payload: { later: true } });
      assert.equal(later.status, 202, later.text);
      await waitUntil(() => receiver.counts.has(later.body.id), 15_000, () => 'a message sent after the terminations is not delivered');
      failIfDied();
    }),
  );

  it('the API answers 503 while the database refuses connections, and 202 again after', { timeout: 90_000 }, (t) =>
    showingLogs(t, async () => {
      const db = await freshDatabase(4);
      const schema = 'hookwell';
      const receiver = await receiverForTest();
      const { api } = await cluster(1, { HOOKWELL_DB: db.url, HOOKWELL_DB_SCHEMA: schema });
      const appId = await appWithEndpoint(api.url!, 'mp-refuse', `${receiver.url}/hook`);
      const send = () => call(api.url!, 'POST', `/api/v1/app/${appId}/msg`, { eventType: 'outage.test', payload: { at: Date.now() } });

      const first = await send();
      assert.equal(first.status, 202, first.text);
      await waitUntil(() => receiver.counts.has(first.body.id), 15_000, () => 'the first message is not delivered');

      await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`);
      try {
        t.diagnostic(`terminated ${await terminateBackends(db.name)} backends`);
        // Pooled connections that were busy die first; then every request needs a new one.
        const refused = await until(
          async () => {
            const r = await send();
            return r.status === 503 ? r : undefined;
          },
          15_000,
          'a 503 while the database refuses connections',
        );
        assert.equal(refused.body?.code, 'unavailable', refused.text);
        for (let i = 0; i < 5; i++) {
          const r = await send();
          assert.equal(r.status, 503, r.text);
          assert.equal(r.body?.code, 'unavailable');
        }
        const health = await call(api.url!, 'GET', '/api/v1/health');
        assert.equal(health.status, 503, 'health says so too');
        // Long enough for the worker to have lost and retried its connections.
        await sleep(1500);
        failIfDied();
      } finally {
        await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`);
      }

      const back = await until(
        async () => {
          const r = await send();
          return r.status === 202 ? r : undefined;
        },
        15_000,
        '202 once the database accepts connections again',
      );
      await waitUntil(() => receiver.counts.has(back.body.id), 15_000, () => 'the message sent after the outage is not delivered');
      assert.equal(receiver.counts.size, 2, 'only the two accepted messages arrived');

      await waitUntil(() => api.output().includes('the database is reachable again'), 5000, () => 'the api did not log that the database is back');
      const unavailableLines = api.output().split('\n').filter((l) => l.includes(UNAVAILABLE_LINE));
      assert.equal(unavailableLines.length, 1, `the outage is logged once, not per request:\n${unavailableLines.join('\n')}`);
      failIfDied();
    }),
  );
});
