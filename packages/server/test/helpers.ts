// Shared by the server's tests: a real Hookwell on a temporary SQLite file and port 0,
// and a real HTTP receiver on loopback that records what it is sent.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { loadConfig, type Config } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import type { EndpointInput, MessageInput } from '../src/store/store.js';
import { startHookwell, type ApiOptions, type Hookwell } from '../src/server.js';

export const TOKEN = 'test-admin-token-0123456789';

/** Runs a query on a Hookwell SQLite file, opened read-only beside the running server. */
export function query<T>(dbPath: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'hookwell-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface ApiResponse {
  status: number;
  /** The body parsed as JSON; undefined when empty or not JSON. */
  body: any;
  text: string;
  headers: Headers;
}

/** One request with exactly the given headers and body, its answer read whole. */
export async function request(url: string, method: string, headers: Record<string, string>, body?: string | Uint8Array): Promise<ApiResponse> {
  const res = await fetch(url, { method, headers, body: typeof body === 'object' ? new Uint8Array(body) : body });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

export interface TestServer {
  hw: Hookwell;
  url: string;
  cfg: Config;
  dbPath: string;
  /** Calls the management API with the admin token. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  stop(): Promise<void>;
}

/** The PostgreSQL server the tests use; HOOKWELL_TEST_PG_URL overrides it. */
export const PG_URL = process.env.HOOKWELL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** false when PostgreSQL answers at PG_URL, else why not (for a suite's skip reason). */
export async function pgReachable(): Promise<string | false> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return false;
  } catch (err) {
    return `PostgreSQL not reachable at ${PG_URL}: ${(err as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

let pgChecked: Promise<string | false> | undefined;

/**
 * Fails (once per file, at once) when the PostgreSQL the tests use does not answer, naming it
 * and how to start one: a server started on it would wait for the database without end, its
 * logs silenced, and the suite would hang instead of failing. CI has PostgreSQL, so a missing
 * one is an error, never a skip.
 */
export async function requirePostgres(): Promise<void> {
  const why = await (pgChecked ??= pgReachable());
  if (why === false) return;
  throw new Error(
    `${why}\nThese tests need PostgreSQL. Start one, e.g.\n` +
      `  docker run -d --name hookwell-pg -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:16\n` +
      `or point HOOKWELL_TEST_PG_URL at one (a database the user may create schemas and databases in).`,
  );
}

/**
 * With HOOKWELL_TEST_BACKEND=postgres, startServer runs Hookwell on PostgreSQL (a schema of
 * its own per server, dropped on stop), so the same API tests check both stores.
 */
const ON_POSTGRES = process.env.HOOKWELL_TEST_BACKEND === 'postgres';

/**
 * Starts Hookwell in this process. `env` overrides settings as HOOKWELL_* variables would;
 * `options`, what configuration does not set (e.g. a backlog sampled more often than once a minute).
 */
export async function startServer(env: Record<string, string> = {}, options: ApiOptions = {}): Promise<TestServer> {
  if (ON_POSTGRES) await requirePostgres();
  const { dir, cleanup: removeDir } = tempDir();
  const dbPath = join(dir, 'hookwell.db');
  const schema = `hw_api_${randomBytes(5).toString('hex')}`;
  const cfg = loadConfig(
    { port: '0', db: ON_POSTGRES ? PG_URL : dbPath },
    {
      HOOKWELL_ADMIN_TOKEN: TOKEN,
      HOOKWELL_ALLOW_PRIVATE_TARGETS: 'true',
      HOOKWELL_LOG_LEVEL: 'silent',
      ...(ON_POSTGRES ? { HOOKWELL_DB_SCHEMA: schema, HOOKWELL_DB_POOL_SIZE: '4' } : {}),
      // The same API suites over sealed stores: `npm run test:api-encrypted`.
      ...(process.env.HOOKWELL_TEST_ENCRYPTION_KEYS ? { HOOKWELL_ENCRYPTION_KEYS: process.env.HOOKWELL_TEST_ENCRYPTION_KEYS } : {}),
      ...env,
    },
  );
  const cleanup = async () => {
    removeDir();
    if (!ON_POSTGRES) return;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    } finally {
      await admin.end();
    }
  };
  const hw = await startHookwell(cfg, createLogger(cfg.logLevel), options);
  const url = hw.url!;
  const api: TestServer['api'] = (method, path, body, headers = {}) =>
    request(url + path, method, {
      authorization: `Bearer ${TOKEN}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    }, body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
  return {
    hw,
    url,
    cfg,
    dbPath,
    api,
    stop: async () => {
      await hw.close();
      await cleanup();
    },
  };
}

/** A port nothing listens on at the moment, on loopback (for a server that must be told its port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Decides the answer to each request; 200 with an empty body by default. */
  respond: (r: Received, n: number) => { status: number; body?: string; headers?: Record<string, string>; delayMs?: number };
  /** Resolves when `n` requests have arrived (or rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const delayed = new Set<NodeJS.Timeout>();
  let server: Server;
  const receiver: Receiver = {
    url: '',
    received,
    respond: () => ({ status: 200 }),
    waitFor(n, timeoutMs = 10_000) {
      if (received.length >= n) return Promise.resolve(received.slice());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`receiver got ${received.length} of ${n} requests in ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve(received.slice());
          },
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        // Answers still being held are never sent: their connections close now.
        for (const timer of delayed) clearTimeout(timer);
        delayed.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), at: Date.now() };
      received.push(r);
      const answer = receiver.respond(r, received.length);
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(answer.status, answer.headers ?? {});
        res.end(answer.body ?? '');
      };
      if (answer.delayMs) {
        const timer = setTimeout(() => {
          delayed.delete(timer);
          send();
        }, answer.delayMs);
        delayed.add(timer);
      }
      else send();
      for (const w of waiters.slice()) {
        if (received.length >= w.n) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}

/** Polls `check` until it returns a value other than undefined. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * The fixture the input suites share: event type `user.created`, application `acme` and its
 * endpoint `main` pointing at `receiverUrl` + `/hook`. Returns the endpoint's id.
 */
export async function acmeWithEndpoint(server: TestServer, receiverUrl: string): Promise<string> {
  const type = await server.api('POST', '/api/v1/event-type', { name: 'user.created', description: 'A user signed up' });
  if (type.status !== 201) throw new Error(`creating the event type answered ${type.status}: ${type.text}`);
  const app = await server.api('POST', '/api/v1/app', { name: 'Acme', uid: 'acme' });
  if (app.status !== 201) throw new Error(`creating the application answered ${app.status}: ${app.text}`);
  const ep = await server.api('POST', '/api/v1/app/acme/endpoint', { url: receiverUrl + '/hook', uid: 'main' });
  if (ep.status !== 201) throw new Error(`creating the endpoint answered ${ep.status}: ${ep.text}`);
  return ep.body.id as string;
}

/** The README, for tests that run its examples as written. */
export const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** The body of the README's `curl … /app/acme/msg -d '…'` in "Sending a message". */
export function readmeMessage(): { eventType: string; eventId: string; payload: unknown } {
  const section = README.slice(README.indexOf('## Sending a message'), README.indexOf('## Receiving'));
  const m = /\/api\/v1\/app\/acme\/msg \\\n\s+-d '([^']+)'/.exec(section);
  if (m === null) throw new Error("the README's curl example no longer sends a message to /api/v1/app/acme/msg");
  return JSON.parse(m[1]!) as { eventType: string; eventId: string; payload: unknown };
}

/** A store's endpoint input: an enabled endpoint taking every message, with `fields` changed. */
export function endpointInput(fields: Partial<EndpointInput> = {}): EndpointInput {
  return {
    uid: null,
    url: 'https://example.com/hook',
    description: '',
    version: 1,
    disabled: false,
    eventTypes: null,
    channels: null,
    throttleRate: null,
    metadata: {},
    headers: {},
    secret: 'whsec_current',
    ping: null,
    ...fields,
  };
}

/** A store's message input, with `fields` changed. */
export function messageInput(fields: Partial<MessageInput> = {}): MessageInput {
  return { eventId: null, eventType: 'user.created', payload: '{"a": 1,  "b":[2]}', channels: null, tags: null, deliverAt: null, ...fields };
}
