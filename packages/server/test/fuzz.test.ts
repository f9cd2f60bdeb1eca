// Property-based fuzzing of every write route of the management API: valid bodies mutated,
// random JSON, random bytes, deep nesting, odd content types, idempotency keys, path
// parameters and query strings. Whatever comes in, the answer is 2xx or 4xx, never 5xx,
// and a refused request leaves the database as it was.
//
// The routes come from the server's own OpenAPI document, so a new route is fuzzed without
// being listed here. `npm test` runs HOOKWELL_FUZZ_RUNS cases (default 300); set it higher
// to search longer, and HOOKWELL_FUZZ_SEED to replay a run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns';
import net from 'node:net';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { eventually, startServer, TOKEN, type TestServer } from './helpers.js';

const RUNS = Number(process.env.HOOKWELL_FUZZ_RUNS ?? 300);
const SEED = process.env.HOOKWELL_FUZZ_SEED === undefined ? undefined : Number(process.env.HOOKWELL_FUZZ_SEED);

// Random bodies hold random host names: none of them may reach a resolver. Loopback and
// address literals resolve as usual; every other name fails as if it did not exist.
const realLookup = dns.lookup;
function offlineLookup(hostname: string, options: unknown, callback?: unknown): void {
  const cb = (typeof options === 'function' ? options : callback) as (err: NodeJS.ErrnoException | null, ...rest: unknown[]) => void;
  if (hostname === 'localhost' || net.isIP(hostname) !== 0) return void (realLookup as (...a: unknown[]) => void)(hostname, options, callback);
  const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname }) as NodeJS.ErrnoException;
  process.nextTick(() => cb(err));
}

interface Route {
  method: string;
  path: string;
  hasBody: boolean;
  query: string[];
}

interface Fixture {
  msgId: string;
  attemptId: string;
  backfillId: string;
}

const APP = 'fz';
const ENDPOINT = 'ep';
const EVENT_TYPE = 'fz.type';
const SINCE = '2020-01-01T00:00:00.000Z';
const TYPE_SCHEMA = { type: 'object', properties: { id: { type: 'string' }, n: { type: 'number' } }, required: ['id'] };

/** A valid body for each route, as the starting point of mutations. */
const TEMPLATES: Record<string, unknown> = {
  'POST /api/v1/app': { name: 'Fuzz two', uid: 'fz-two', metadata: { team: 'a' }, rateLimit: 10 },
  'PUT /api/v1/app/{app_id}': { name: 'Fuzz', uid: APP, metadata: { team: 'b' } },
  'PATCH /api/v1/app/{app_id}': { name: 'Fuzz', metadata: { team: 'c' } },
  'POST /api/v1/app/{app_id}/endpoint': {
    url: 'http://127.0.0.1:9/hook',
    uid: 'ep-two',
    description: 'second',
    filterTypes: [EVENT_TYPE],
    channels: ['c1'],
    headers: { 'x-tenant': 't1' },
    metadata: { k: 'v' },
    rateLimit: 5,
    ordering: { key: '$.id' },
    payloadMode: 'full',
    maxPayloadBytes: 1000,
  },
  'PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}': { url: 'http://127.0.0.1:9/hook', uid: ENDPOINT, description: 'fixture', filterTypes: [EVENT_TYPE] },
  'PATCH /api/v1/app/{app_id}/endpoint/{endpoint_id}': { description: 'patched', headers: { 'x-tenant': 't2' }, disabled: false },
  'POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate': { key: null },
  'PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}/headers': { headers: { 'x-tenant': 't3' } },
  'PATCH /api/v1/app/{app_id}/endpoint/{endpoint_id}/headers': { headers: { 'x-other': 'o' } },
  'POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/recover': { since: SINCE },
  'POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/replay-missing': { since: SINCE },
  'POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/bulk-replay': { since: SINCE, eventTypes: [EVENT_TYPE], channel: 'c1', tag: 't1', status: 0, statusCodeClass: 200 },
  'POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/cancel-msgs': { createdBefore: SINCE },
  'POST /api/v1/app/{app_id}/msg/bulk-expunge': { ids: ['evt-1'] },
  'POST /api/v1/app/{app_id}/msg/search': { limit: 10, channel: 'c1', tag: 't1', event_types: [EVENT_TYPE], with_content: true },
  'POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/ordering/skip': { key: 'k1' },
  'POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/send-example': { eventType: EVENT_TYPE },
  'POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/key': { header: 'x-webhook-key' },
  'POST /api/v1/app/{app_id}/msg': { eventType: EVENT_TYPE, eventId: 'evt-1', payload: { id: 'r1', n: 1 }, channels: ['c1'], tags: ['t1'], dataId: 'r1' },
  'POST /api/v1/event-type': { name: 'fz.new', description: 'new', schemas: { '1': TYPE_SCHEMA }, validate: false },
  'PUT /api/v1/event-type/{event_type_name}': { description: 'put', schemas: { '1': TYPE_SCHEMA }, validate: true },
  'PATCH /api/v1/event-type/{event_type_name}': { description: 'patched', validate: true },
  'POST /api/v1/event-type/import': { eventTypes: [{ name: 'fz.imported', description: 'imported', schemas: { '1': TYPE_SCHEMA } }] },
  'POST /api/v1/event-type/import/openapi': {
    spec: {
      openapi: '3.1.0',
      info: { title: 'fuzz', version: '1' },
      webhooks: { 'fz.hook': { post: { requestBody: { content: { 'application/json': { schema: TYPE_SCHEMA } } } } } },
    },
  },
};

const QUERY_TEMPLATES: Record<string, Record<string, string>> = {
  'POST /api/v1/app/{app_id}/backfill': { userId: 'u-1', resource: 'workouts', provider: 'garmin', chunkSize: '2', notify: 'each' },
};

/** Values that tend to find edges: boundaries, odd types, prototype names, huge and deep ones. */
const edgeValue: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(null, true, false, 0, -1, 1e300, -1e300, 2 ** 53, 2 ** 63, 0.5, '', ' ', '__proto__', 'constructor', '$.__proto__.x', '\u0000', '\u0001\u007f', '\ud800', 'é', '💥', [], {}),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 70_000 }).map((n) => 'x'.repeat(n)) },
  // Around and well past any nesting limit, and past what a recursive parser or serialiser survives.
  { weight: 2, arbitrary: fc.constantFrom(32, 63, 64, 65, 200, 1000, 5000, 12_000).map((n) => nest(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 12_000 }).map((n) => nest(n)) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), { maxKeys: 5 }) },
);

/**
 * A value nested `depth` levels deep. Deeper than JSON.stringify can go, so it stands as a
 * marker that `json` replaces with the nested text.
 */
function nest(depth: number): string {
  return `<nest:${depth}>`;
}

function nestedText(depth: number): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += i % 2 === 0 ? '[' : '{"a":';
    close = (i % 2 === 0 ? ']' : '}') + close;
  }
  return `${open}1${close}`;
}

/** JSON text of `v`, with nesting markers expanded. */
function json(v: unknown): string {
  return (JSON.stringify(v) ?? 'null').replace(/"<nest:(\d+)>"/g, (_m, d: string) => nestedText(Number(d)));
}

/** Replaces, removes or adds one member somewhere in `value`, chosen by `path` (indices, wrapped). */
function mutate(value: unknown, path: number[], kind: number, replacement: unknown, name: string): unknown {
  if (typeof value !== 'object' || value === null) return replacement;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  if (keys.length === 0 || kind === 2) {
    (copy as Record<string, unknown>)[name] = replacement;
    return copy;
  }
  const key = keys[path[0]! % keys.length]!;
  const inner = (copy as Record<string, unknown>)[key];
  if (path.length > 1 && typeof inner === 'object' && inner !== null) {
    (copy as Record<string, unknown>)[key] = mutate(inner, path.slice(1), kind, replacement, name);
  } else if (kind === 1) {
    if (Array.isArray(copy)) copy.splice(Number(key), 1);
    else delete copy[key];
  } else {
    (copy as Record<string, unknown>)[key] = replacement;
  }
  return copy;
}

function bodyFor(route: Route): fc.Arbitrary<{ bytes: string | Uint8Array | undefined; contentType: string | undefined }> {
  const template = TEMPLATES[`${route.method} ${route.path}`] ?? {};
  const contentType = fc.oneof(
    { weight: 6, arbitrary: fc.constant('application/json') },
    fc.constantFrom(
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'text/plain',
      'application/x-ndjson',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json;;;',
      undefined,
    ),
    fc.string({ maxLength: 30 }),
  );
  const mutated = fc
    .tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), fc.constantFrom(0, 0, 0, 1, 2), edgeValue, fc.constantFrom('extra', '__proto__', 'constructor', ''))
    .map(([path, kind, replacement, name]) => json(mutate(template, path, kind, replacement, name)));
  const bytes = fc.oneof(
    { weight: 6, arbitrary: mutated },
    { weight: 2, arbitrary: fc.constant(json(template)) },
    // Deep nesting at any place of a valid body: where a parser, validator or serialiser recurses.
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), fc.constantFrom(65, 5000, 12_000))
        .map(([path, depth]) => json(mutate(template, path, 0, nest(depth), 'extra'))),
    },
    fc.jsonValue().map(json),
    fc.string({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }),
    fc.constantFrom('', '{', '{"a":', '[]', 'null', '"x"', '{"payload":', '\ufeff{}', '{"a":1,"a":2}', '{"__proto__":{"x":1}}'),
    fc.tuple(fc.constant(json(template)), fc.uint8Array({ minLength: 1, maxLength: 4 })).map(([t, b]) => {
      const head = Buffer.from(t);
      return new Uint8Array(Buffer.concat([head.subarray(0, head.length - 1), Buffer.from(b), head.subarray(head.length - 1)]));
    }),
  );
  if (!route.hasBody && route.path.endsWith('/backfill') === false) {
    return fc.record({ bytes: fc.oneof(fc.constant(undefined), bytes), contentType });
  }
  if (route.path.endsWith('/backfill')) {
    const record = fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 0, max: 1e6 }).map((n) => json({ id: `w${n}`, timestamp: new Date(1.7e12 - n * 1000).toISOString() })) },
      edgeValue.map(json),
      fc.string({ maxLength: 50 }),
    );
    const ndjson = fc.array(record, { maxLength: 8 }).map((lines) => lines.join('\n'));
    const array = fc.array(record, { maxLength: 8 }).map((lines) => `[${lines.join(',')}]`);
    return fc.record({
      bytes: fc.oneof(ndjson, array, bytes),
      contentType: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('application/x-ndjson', 'application/json') }, contentType),
    });
  }
  return fc.record({ bytes, contentType });
}

function requestFor(route: Route, fixture: Fixture): fc.Arbitrary<Request> {
  const params = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const known: Record<string, string> = {
    app_id: APP,
    endpoint_id: ENDPOINT,
    msg_id: fixture.msgId,
    attempt_id: fixture.attemptId,
    event_type_name: EVENT_TYPE,
    backfill_id: fixture.backfillId,
  };
  // Path segments as sent: percent-encoded text, or raw escapes that decode to nothing valid.
  const param = (name: string) =>
    fc.oneof(
      { weight: 8, arbitrary: fc.constant(encodeSegment(known[name] ?? 'x')) },
      fc.string({ minLength: 1, maxLength: 300 }).map(encodeSegment),
      edgeValue.map((v) => encodeSegment((typeof v === 'string' ? v : json(v)).slice(0, 300) || 'x')),
      fc.constantFrom('%FF', '%', '%zz', '..', '.', '%2F', '%00', '%C0%AF'),
    );
  const queryValue = fc.oneof(
    fc.constantFrom('true', 'false', '1', '0', '-1', '1000000000', 'each', 'once', 'workouts', 'garmin', 'u-1', '$.timestamp', '$.__proto__', ''),
    fc.string({ maxLength: 30 }),
    edgeValue.map((v) => (typeof v === 'string' ? v : json(v)).slice(0, 5000)),
  );
  const queryNames = [...route.query, 'limit', 'iterator', 'x'];
  // A valid query string, some of whose parameters are then dropped, replaced or added.
  const valid = QUERY_TEMPLATES[`${route.method} ${route.path}`] ?? {};
  const query = fc
    .tuple(
      fc.oneof(fc.constant(Object.entries(valid)), fc.subarray(Object.entries(valid))),
      fc.array(fc.tuple(fc.constantFrom(...queryNames), queryValue), { maxLength: 4 }),
    )
    .map(([kept, added]) => [...kept, ...added]);
  return fc
    .record({
      params: fc.tuple(...params.map(param)),
      query,
      body: bodyFor(route),
      idempotencyKey: fc.option(fc.oneof({ weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) }, fc.integer({ min: 1, max: 20_000 }).map((n) => 'k'.repeat(n))), { freq: 3 }),
    })
    .map(({ params: values, query, body, idempotencyKey }) => {
      let path = route.path;
      params.forEach((name, i) => (path = path.replace(`{${name}}`, values[i]!)));
      const qs = new URLSearchParams(query).toString();
      const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
      if (body.contentType !== undefined && body.bytes !== undefined) headers['content-type'] = body.contentType;
      if (idempotencyKey !== null) headers['idempotency-key'] = idempotencyKey;
      const request: Request = { method: route.method, path: qs === '' ? path : `${path}?${qs}`, headers, body: body.bytes };
      // A counterexample can be megabytes of nesting: shown cut, in full with HOOKWELL_FUZZ_VERBOSE.
      return Object.assign(request, { [fc.toStringMethod]: () => describe(request) });
    });
}

/** Every byte of the text's UTF-8 (lone surrogates included) outside the unreserved set, escaped. */
function encodeSegment(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function describe(r: Request): string {
  const cut = (s: string) => (s.length > 400 && process.env.HOOKWELL_FUZZ_VERBOSE === undefined ? `${s.slice(0, 400)}… (${s.length} characters)` : s);
  const body = r.body === undefined ? '' : typeof r.body === 'string' ? r.body : `bytes ${Buffer.from(r.body).toString('hex')}`;
  return `${r.method} ${cut(r.path)} ${cut(JSON.stringify(r.headers))} ${cut(JSON.stringify(body))}`;
}

interface Request {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
}

// Tables a request may write, whole. The dispatcher changes delivery states, writes attempts
// and keeps each endpoint's failing_since on its own time, so of those only which deliveries
// exist is compared, and endpoints without failing_since.
const SNAPSHOT: Record<string, string> = {
  meta: 'SELECT * FROM meta',
  applications: 'SELECT * FROM applications',
  endpoints: 'SELECT * FROM endpoints',
  event_types: 'SELECT * FROM event_types',
  messages: 'SELECT * FROM messages',
  deliveries: 'SELECT id, msg_id, endpoint_id FROM deliveries',
  idempotency: 'SELECT * FROM idempotency',
  content_fetches: 'SELECT * FROM content_fetches',
  backfills: 'SELECT * FROM backfills',
  backfill_chunks: 'SELECT * FROM backfill_chunks',
  backfill_records: 'SELECT * FROM backfill_records',
};

let server: TestServer;
let db: Database.Database;
let fixture: Fixture;
let routes: Route[];

/** Each table's rows, hashed: equal snapshots mean nothing was written. */
function snapshot(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [table, sql] of Object.entries(SNAPSHOT)) {
    const rows = (db.prepare(sql).all() as Record<string, unknown>[])
      .map(({ failing_since: _dispatchers, ...r }) => JSON.stringify(r, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v)))
      .sort();
    out[table] = `${rows.length}:${createHash('sha256').update(rows.join('\n')).digest('hex').slice(0, 16)}`;
  }
  return out;
}

async function send(r: Request): Promise<{ status: number; text: string }> {
  const body = typeof r.body === 'object' ? new Uint8Array(r.body) : r.body;
  const res = await fetch(server.url + r.path, { method: r.method, headers: r.headers, body });
  return { status: res.status, text: await res.text() };
}

/** Puts back whatever of the fixture a successful request removed or renamed. */
async function ensureFixture(): Promise<void> {
  if ((await server.api('GET', `/api/v1/app/${APP}`)).status === 404) {
    const res = await server.api('POST', '/api/v1/app', { name: 'Fuzz', uid: APP });
    assert.equal(res.status, 201, res.text);
  }
  if ((await server.api('GET', `/api/v1/event-type/${EVENT_TYPE}`)).status === 404) {
    const res = await server.api('POST', '/api/v1/event-type', { name: EVENT_TYPE, description: 'fuzzed', schemas: { '1': TYPE_SCHEMA } });
    assert.equal(res.status, 201, res.text);
  }
  if ((await server.api('GET', `/api/v1/app/${APP}/endpoint/${ENDPOINT}`)).status === 404) {
    const res = await server.api('POST', `/api/v1/app/${APP}/endpoint`, { url: 'http://127.0.0.1:9/hook', uid: ENDPOINT });
    assert.equal(res.status, 201, res.text);
  }
  if (fixture.msgId === '' || (await server.api('GET', `/api/v1/app/${APP}/msg/${fixture.msgId}`)).status === 404) {
    // A fuzzed request may have given the type a schema the fixture's payload breaks.
    const type = await server.api('PUT', `/api/v1/event-type/${EVENT_TYPE}`, { description: 'fuzzed', schemas: { '1': TYPE_SCHEMA }, validate: false });
    assert.ok(type.status === 200 || type.status === 201, type.text);
    const res = await server.api('POST', `/api/v1/app/${APP}/msg`, { eventType: EVENT_TYPE, payload: { id: 'fixture' } });
    assert.equal(res.status, 202, res.text);
    fixture.msgId = res.body.id;
  }
}

before(async () => {
  (dns as { lookup: unknown }).lookup = offlineLookup;
  // Private targets stay refused, so no delivery the fuzzer creates leaves the machine.
  server = await startServer({ HOOKWELL_ALLOW_PRIVATE_TARGETS: 'false', HOOKWELL_RETRY_SCHEDULE: '3600' });
  fixture = { msgId: '', attemptId: '', backfillId: '' };
  await ensureFixture();
  // A refused attempt is recorded at once: the fixture's attempt.
  const attempts = await eventually(async () => {
    const res = await server.api('GET', `/api/v1/app/${APP}/attempt/msg/${fixture.msgId}`);
    return res.body?.data?.length > 0 ? res.body.data : undefined;
  }, 10_000, 'the first attempt');
  fixture.attemptId = attempts[0].id;
  const bf = await fetch(`${server.url}/api/v1/app/${APP}/backfill?userId=u-1&resource=workouts&provider=garmin`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
    body: '{"id":"w1","timestamp":"2026-01-02T00:00:00Z"}\n{"id":"w0","timestamp":"2026-01-01T00:00:00Z"}\n',
  });
  assert.equal(bf.status, 202, await bf.clone().text());
  fixture.backfillId = ((await bf.json()) as { id: string }).id;

  const doc = (await server.api('GET', '/openapi.json')).body as { paths: Record<string, Record<string, { requestBody?: unknown; parameters?: { in: string; name: string }[] }>> };
  routes = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (method === 'get' || method === 'head') continue;
      routes.push({ method: method.toUpperCase(), path, hasBody: op.requestBody !== undefined, query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name) });
    }
  }
  db = new Database(server.dbPath, { readonly: true });
});

after(async () => {
  db?.close();
  await server?.stop();
  (dns as { lookup: unknown }).lookup = realLookup;
});

test('the fuzzer covers every write route the server describes', () => {
  assert.ok(routes.length >= 30, `only ${routes.length} write routes found`);
  for (const key of Object.keys(TEMPLATES)) {
    const [method, path] = key.split(' ');
    assert.ok(routes.some((r) => r.method === method && r.path === path), `no route ${key}: the templates are stale`);
  }
});

test(`every write route answers 2xx or 4xx to ${RUNS} fuzzed requests, and a refusal writes nothing`, { timeout: 30 * 60_000 }, async (t) => {
  const statuses = new Map<number, number>();
  const request = fc.constantFrom(...routes).chain((route) => requestFor(route, fixture));
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const before = snapshot();
      const res = await send(r);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      assert.ok(res.status < 500, `answered ${res.status}: ${res.text.slice(0, 500)}`);
      if (res.status >= 400) {
        assert.deepEqual(snapshot(), before, `answered ${res.status} (${res.text.slice(0, 300)}) but changed the database`);
      } else {
        // A bulk operation goes on after its answer: its writes belong to this request, not the next.
        await eventually(async () => ((await server.api('GET', '/api/v1/background-task?status=running')).body.data.length === 0 ? true : undefined), 30_000, 'background tasks to end');
        await ensureFixture();
      }
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: true, includeErrorInReport: true },
  );
  t.diagnostic(`answers by status: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);
  // The fuzzer must get past validation often enough to exercise the handlers too.
  const ok = [...statuses].filter(([s]) => s < 300).reduce((n, [, c]) => n + c, 0);
  assert.ok(ok >= RUNS / 20, `only ${ok} of ${RUNS} requests succeeded: ${JSON.stringify([...statuses])}`);
});
