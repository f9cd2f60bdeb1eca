// JSON as it comes in: nesting deeper than the limit, bytes that are not UTF-8, charsets
// other than UTF-8, and bodies of other types are refused before anything is written;
// what is accepted is delivered byte for byte, and rows stored before these limits never
// make a listing fail.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import pg from 'pg';
import { acmeWithEndpoint, eventually, request, startReceiver, startServer, TOKEN, type Receiver, type TestServer } from './helpers.js';
import { MAX_JSON_DEPTH } from '../src/domain/json-limits.js';

type Res = Awaited<ReturnType<TestServer['api']>>;

const ON_POSTGRES = process.env.HOOKWELL_TEST_BACKEND === 'postgres';

/** Runs SQL on the server's database, SQLite or PostgreSQL, beside the running server. */
async function sql<T>(server: TestServer, text: string, params: unknown[] = []): Promise<T[]> {
  if (!ON_POSTGRES) {
    const db = new Database(server.dbPath);
    try {
      db.pragma('busy_timeout = 5000');
      const stmt = db.prepare(text.replace(/\$\d+/g, '?'));
      return (stmt.reader ? stmt.all(...params) : (stmt.run(...params), [])) as T[];
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: server.cfg.db });
  await client.connect();
  try {
    await client.query(`SET search_path TO ${server.cfg.dbSchema}`);
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

const count = async (server: TestServer, table: string): Promise<number> =>
  Number((await sql<{ n: number | string }>(server, `SELECT COUNT(*) AS n FROM ${table}`))[0]!.n);

/** `n` arrays, one inside the other, with `inner` at the bottom. */
const arrays = (n: number, inner = ''): string => '['.repeat(n) + inner + ']'.repeat(n);
/** `n` objects, one inside the other under "a". */
const objects = (n: number, inner = '1'): string => '{"a":'.repeat(n) + inner + '}'.repeat(n);

const send = (server: TestServer, method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<Res> =>
  request(server.url + path, method, { authorization: `Bearer ${TOKEN}`, ...headers }, body);

function assertTooDeep(res: Res, locStart: string[]): void {
  assert.equal(res.status, 422, res.text.slice(0, 500));
  assert.deepEqual(Object.keys(res.body), ['detail'], res.text.slice(0, 500));
  const [p] = res.body.detail as { loc: string[]; msg: string; type: string }[];
  assert.deepEqual(p!.loc.slice(0, locStart.length), locStart, res.text.slice(0, 500));
  assert.equal(p!.type, 'value_error.depth', res.text.slice(0, 500));
  assert.match(p!.msg, new RegExp(`${MAX_JSON_DEPTH} levels`), res.text.slice(0, 500));
}

function assertError(res: Res, status: number, code: string, detail?: RegExp): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body?.code, code, res.text);
  assert.deepEqual(Object.keys(res.body).sort(), ['code', 'detail'], res.text);
  if (detail !== undefined) assert.match(res.body.detail, detail, res.text);
}

describe('JSON input', () => {
  let server: TestServer;
  let receiver: Receiver;

  before(async () => {
    receiver = await startReceiver();
    server = await startServer();
    await acmeWithEndpoint(server, receiver.url);
  });

  after(async () => {
    await server?.stop();
    await receiver?.close();
  });

  /** Sends a message body as text and, when accepted, the bytes its endpoint received. */
  async function delivered(body: string): Promise<Buffer> {
    const res = await server.api('POST', '/api/v1/app/acme/msg', body);
    assert.equal(res.status, 202, res.text);
    const got = await eventually(() => receiver.received.find((r) => r.headers['webhook-id'] === res.body.id), 10_000, `delivery of ${res.body.id}`);
    return got.body;
  }

  test('a payload nested deeper than the limit is 422 naming where, and nothing is stored or sent', async () => {
    const messages = await count(server, 'messages');
    const sent = receiver.received.length;
    for (const deep of [arrays(5000), objects(5000), arrays(MAX_JSON_DEPTH)]) {
      const res = await server.api('POST', '/api/v1/app/acme/msg', `{"eventType":"user.created","payload":{"a":${deep}}}`);
      assertTooDeep(res, ['body', 'payload', 'a']);
    }
    // Where: the path down to the first level too many.
    const res = await server.api('POST', '/api/v1/app/acme/msg', `{"eventType":"user.created","payload":{"x":[1,{"b\\"c":${objects(500)}}]}}`);
    assertTooDeep(res, ['body', 'payload', 'x', '1', 'b"c', 'a', 'a']);
    assert.equal(res.body.detail[0].loc.length, MAX_JSON_DEPTH + 1);
    assert.equal(await count(server, 'messages'), messages, 'no message stored');
    // A message accepted after them is delivered; by then a refused one, had it been
    // written, would have gone out before it.
    await delivered('{"eventType":"user.created","payload":{"after":"the refused ones"}}');
    assert.equal(receiver.received.length, sent + 1, 'nothing delivered but the message accepted after');
    // The listings still answer.
    assert.equal((await server.api('GET', '/api/v1/app/acme/msg')).status, 200);
  });

  test('a POST with no body is an empty object: optional fields take their defaults, a missing one is named', async () => {
    const ep = (await server.api('GET', '/api/v1/app/acme/endpoint/main')).body.id as string;
    const key = await send(server, 'POST', `/api/v1/app/acme/endpoint/${ep}/key`, {});
    assert.equal(key.status, 200, key.text);
    assert.equal(key.body.header, 'x-webhook-key');
    const msg = await send(server, 'POST', '/api/v1/app/acme/msg', {});
    assert.equal(msg.status, 422, msg.text);
    assert.deepEqual(msg.body.detail.map((p: { loc: string[] }) => p.loc.join('.')).sort(), ['body.eventType', 'body.payload']);
    // So is an empty one labelled as JSON, as some clients send it.
    const labelled = await send(server, 'POST', `/api/v1/app/acme/endpoint/${ep}/key`, { 'content-type': 'application/json' }, '');
    assert.equal(labelled.status, 200, labelled.text);
    assert.notEqual(labelled.body.key, key.body.key, 'a new key each time');
  });

  test('a body exactly at the limit is accepted and delivered byte for byte', async () => {
    // The body is level 1, the payload level 2, "a" level 3.
    const payload = `{"a":${arrays(MAX_JSON_DEPTH - 2, '"deep"')}}`;
    const body = await delivered(`{"eventType":"user.created","payload":${payload}}`);
    assert.equal(body.toString(), payload);
    const list = await server.api('GET', '/api/v1/app/acme/msg?limit=1');
    assert.equal(list.status, 200, list.text);
    assert.equal(JSON.stringify(list.body.data[0].payload), payload);
  });

  test('every JSON body is held to the limit: apps, endpoints, event types and their imports', async () => {
    const types = await count(server, 'event_types');
    const apps = await count(server, 'applications');
    const endpoints = await count(server, 'endpoints');
    const deepSchema = objects(10_000);
    const cases: [string, string, string, string[]][] = [
      ['POST', '/api/v1/event-type', `{"name":"deep.one","description":"x","schemas":{"1":${deepSchema}}}`, ['body', 'schemas', '1', 'a']],
      ['PUT', '/api/v1/event-type/user.created', `{"description":"x","schemas":{"1":${deepSchema}}}`, ['body', 'schemas', '1', 'a']],
      ['PATCH', '/api/v1/event-type/user.created', `{"schemas":{"1":${deepSchema}}}`, ['body', 'schemas', '1', 'a']],
      ['POST', '/api/v1/event-type/import', `{"eventTypes":[{"name":"deep.two","schemas":{"1":${deepSchema}}}]}`, ['body', 'eventTypes', '0', 'schemas', '1']],
      ['POST', '/api/v1/app', `{"name":"Deep","metadata":{"a":${arrays(3000)}}}`, ['body', 'metadata', 'a']],
      ['PATCH', '/api/v1/app/acme', `{"metadata":${objects(3000, '"x"')}}`, ['body', 'metadata', 'a']],
      ['POST', '/api/v1/app/acme/endpoint', `{"url":"https://example.com/","headers":${objects(3000, '"x"')}}`, ['body', 'headers', 'a']],
      ['POST', '/api/v1/app/acme/msg', `{"eventType":"user.created","payload":{},"application":{"name":"x","metadata":${arrays(3000)}}}`, ['body', 'application']],
      // The same, at the top level of the body.
      ['POST', '/api/v1/app', arrays(3000), ['body', '0', '0']],
    ];
    for (const [method, path, body, loc] of cases) {
      assertTooDeep(await server.api(method, path, body), loc);
    }
    // An OpenAPI document sent as text is parsed here, not by the body parser: held to the same limit.
    const specRaw = `{"webhooks":{"deep.three":{"post":{"requestBody":{"content":{"application/json":{"schema":${objects(5000)}}}}}}}}`;
    for (const path of ['/api/v1/event-type/import', '/api/v1/event-type/import/openapi']) {
      assertTooDeep(await server.api('POST', path, JSON.stringify({ specRaw })), ['body', 'specRaw', 'webhooks', 'deep.three', 'post']);
    }
    assert.equal(await count(server, 'event_types'), types);
    assert.equal(await count(server, 'applications'), apps);
    assert.equal(await count(server, 'endpoints'), endpoints);
    const list = await server.api('GET', '/api/v1/event-type?with_content=true');
    assert.equal(list.status, 200, list.text);
  });

  test('an OpenAPI import whose references resolve too deep, or too large, is 422 and imports nothing', async () => {
    const types = await count(server, 'event_types');
    // Each schema is shallow, but each refers to the next: resolved, they nest 40 x 20 levels.
    const schemas: Record<string, unknown> = {};
    for (let i = 0; i < 40; i++) schemas[`S${i}`] = JSON.parse(objects(18, i === 39 ? '{"type":"string"}' : `{"$ref":"#/components/schemas/S${i + 1}"}`));
    const chained = { webhooks: { 'deep.four': { post: { requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/S0' } } } } } } }, components: { schemas } };
    // Each schema refers to the next twice: resolved, 2^18 copies of the last.
    const doubling: Record<string, unknown> = {};
    for (let i = 0; i < 18; i++) {
      const next = i === 17 ? { type: 'string' } : { $ref: `#/components/schemas/D${i + 1}` };
      doubling[`D${i}`] = { type: 'object', properties: { l: next, r: next } };
    }
    const laughs = { webhooks: { 'big.one': { post: { requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/D0' } } } } } } }, components: { schemas: doubling } };
    for (const path of ['/api/v1/event-type/import', '/api/v1/event-type/import/openapi']) {
      for (const body of [{ spec: chained }, { specRaw: JSON.stringify(chained) }]) {
        const res = await server.api('POST', path, body);
        assert.equal(res.status, 422, res.text.slice(0, 500));
        assert.deepEqual(res.body.detail[0].loc, ['body', 'spec', 'webhooks', 'deep.four', 'requestBody'], res.text.slice(0, 500));
        assert.match(res.body.detail[0].msg, new RegExp(`${MAX_JSON_DEPTH} levels`), res.text.slice(0, 500));
      }
      const res = await server.api('POST', path, { spec: laughs });
      assert.equal(res.status, 422, res.text.slice(0, 500));
      assert.deepEqual(res.body.detail[0].loc, ['body', 'spec', 'webhooks', 'big.one', 'requestBody'], res.text.slice(0, 500));
    }
    assert.equal(await count(server, 'event_types'), types);
  });

  test('rows stored before the limit, nested deeper than it, do not make listings fail', async () => {
    const msg = await server.api('POST', '/api/v1/app/acme/msg', { eventType: 'user.created', payload: { old: true } });
    assert.equal(msg.status, 202, msg.text);
    await sql(server, 'UPDATE messages SET payload = $1 WHERE id = $2', [`{"a":${arrays(20_000)}}`, msg.body.id]);
    assert.equal((await server.api('POST', '/api/v1/event-type', { name: 'old.deep', description: 'x' })).status, 201);
    await sql(server, 'UPDATE event_types SET schemas = $1 WHERE name = $2', [`{"1":${objects(20_000)}}`, 'old.deep']);
    const list = await server.api('GET', '/api/v1/app/acme/msg');
    assert.equal(list.status, 200, list.text.slice(0, 300));
    assert.ok(list.body.data.some((m: { id: string }) => m.id === msg.body.id));
    const one = await server.api('GET', `/api/v1/app/acme/msg/${msg.body.id}`);
    assert.equal(one.status, 200, one.text.slice(0, 300));
    assert.equal(typeof one.body.payload, 'object');
    const byEndpoint = await server.api('GET', '/api/v1/app/acme/endpoint/main/msg');
    assert.equal(byEndpoint.status, 200, byEndpoint.text.slice(0, 300));
    for (const path of ['/api/v1/event-type?with_content=true', '/api/v1/event-type/old.deep']) {
      const res = await server.api('GET', path);
      assert.equal(res.status, 200, `${path}: ${res.text.slice(0, 300)}`);
    }
    // An import over the old type still answers.
    const imported = await server.api('POST', '/api/v1/event-type/import', { eventTypes: [{ name: 'old.deep', schemas: { '1': { type: 'object' } } }] });
    assert.equal(imported.status, 200, imported.text.slice(0, 300));
  });

  test('bytes that are not UTF-8 are 400 invalid_utf8 on every JSON route, and nothing is stored', async () => {
    const messages = await count(server, 'messages');
    const apps = await count(server, 'applications');
    const bad = (before: string, after: string, bytes: number[]) => Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]);
    const cases: [string, string, Buffer][] = [
      ['POST', '/api/v1/app/acme/msg', bad('{"eventType":"user.created","payload":{"a":"', '"}}', [0xff, 0xfe])],
      ['POST', '/api/v1/app/acme/msg', bad('{"eventType":"user.created","payload":{"', '":1}}', [0xc3])], // a sequence cut short
      ['POST', '/api/v1/app/acme/msg', bad('{"eventType":"user.created","payload":{"a":"', '"}}', [0xed, 0xa0, 0x80])], // a surrogate
      ['POST', '/api/v1/app/acme/msg', bad('{"eventType":"user.created","payload":{"a":"', '"}}', [0xc0, 0xaf])], // overlong "/"
      ['POST', '/api/v1/app', bad('{"name":"', '"}', [0x80])],
      ['PATCH', '/api/v1/app/acme', bad('{"name":"', '"}', [0xe9])],
    ];
    for (const [method, path, body] of cases) {
      const res = await send(server, method, path, { 'content-type': 'application/json' }, body);
      assertError(res, 400, 'invalid_utf8', /UTF-8/);
    }
    assert.equal(await count(server, 'messages'), messages);
    assert.equal(await count(server, 'applications'), apps);
  });

  test('a charset other than UTF-8 is 415; UTF-8 named in any spelling is accepted', async () => {
    const messages = await count(server, 'messages');
    const body = Buffer.from('{"eventType":"user.created","payload":{"a":"é"}}', 'latin1');
    for (const charset of ['latin1', 'ISO-8859-1', 'utf-16', 'UTF-16LE', '"windows-1252"', 'us-ascii']) {
      const res = await send(server, 'POST', '/api/v1/app/acme/msg', { 'content-type': `application/json; charset=${charset}` }, body);
      assertError(res, 415, 'unsupported_media_type', /UTF-8/);
    }
    assert.equal(await count(server, 'messages'), messages);
    for (const charset of ['utf-8', 'UTF-8', '"utf-8"', 'utf8']) {
      const payload = '{"a":"é — 早上好 🏃"}';
      const res = await send(server, 'POST', '/api/v1/app/acme/msg', { 'content-type': `application/json; charset=${charset}` }, `{"eventType":"user.created","payload":${payload}}`);
      assert.equal(res.status, 202, `${charset}: ${res.text}`);
      assert.equal(JSON.stringify(res.body.payload), payload);
    }
  });

  test('a JSON route sent another type of body is 415; an empty body is not a media type problem', async () => {
    const apps = await count(server, 'applications');
    for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
      const res = await send(server, 'POST', '/api/v1/app', { 'content-type': type }, '{"name":"Typed"}');
      assertError(res, 415, 'unsupported_media_type', /application\/json/);
    }
    // No content type at all, with a body.
    const res = await send(server, 'POST', '/api/v1/app', {}, Buffer.from('{"name":"Untyped"}'));
    assertError(res, 415, 'unsupported_media_type', /application\/json/);
    assert.equal(await count(server, 'applications'), apps);
    // An empty body is judged by the route (a missing body), not by its type.
    for (const type of ['text/plain', 'application/json']) {
      const empty = await send(server, 'POST', '/api/v1/app', { 'content-type': type }, '');
      assert.equal(empty.status, 422, `${type}: ${empty.text}`);
    }
  });

  test('a message committed is answered 202 even when its answer cannot be kept for idempotent replay', async () => {
    const messages = await count(server, 'messages');
    const store = server.hw.store;
    const put = store.putIdempotent;
    store.putIdempotent = async () => {
      throw new Error('disk full');
    };
    try {
      const res = await server.api('POST', '/api/v1/app/acme/msg', { eventType: 'user.created', payload: { once: true } }, { 'idempotency-key': 'kept-or-not' });
      assert.equal(res.status, 202, res.text);
      assert.equal(res.body.payload.once, true, res.text);
    } finally {
      store.putIdempotent = put;
    }
    assert.equal(await count(server, 'messages'), messages + 1);
  });

  test('unusual but valid JSON is accepted and delivered byte for byte', async () => {
    const payloads = [
      '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}',
      '{"a":1e400,"b":123456789012345678901234567890,"c":-0,"d":1E-400,"e":0.1000000000000000055511151231257827}',
      '{"dup":1,"dup":2}',
      '{ "spaced" :\t[ 1 ,\n2 ] }',
      '{"s":"\\u0000\\ud83c\\udfc3\\\\\\"","t":"\u2028\u2029"}',
    ];
    for (const payload of payloads) {
      const body = await delivered(`{"eventType":"user.created","payload":${payload}}`);
      assert.equal(body.toString(), payload);
    }
    // __proto__ in the body itself sets nothing on the objects Hookwell builds.
    const res = await server.api('POST', '/api/v1/app', '{"name":"Proto","__proto__":{"uid":"sneaky"},"metadata":{"__proto__":"x"}}');
    assert.ok(res.status === 201 || res.status === 422, res.text);
    if (res.status === 201) assert.equal(res.body.uid, null, res.text);
  });
});

describe('JSON input: backfills', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer();
    assert.equal((await server.api('POST', '/api/v1/app', { name: 'B', uid: 'b' })).status, 201);
  });

  after(async () => {
    await server?.stop();
  });

  const upload = (body: string | Buffer | ReadableStream, type: string | null) =>
    fetch(`${server.url}/api/v1/app/b/backfill?userId=u&resource=workouts&provider=garmin`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, ...(type === null ? {} : { 'content-type': type }) },
      body,
      ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
    } as RequestInit).then(async (r) => {
      const text = await r.text();
      return { status: r.status, text, body: text === '' ? undefined : JSON.parse(text) };
    });

  const rec = (t: string, extra = '') => `{"timestamp":"${t}"${extra}}`;
  const backfills = async () => count(server, 'backfills');

  test('a record nested deeper than the limit is 422 naming the record, in NDJSON and in a JSON array', async () => {
    const before = await backfills();
    const deep = rec('2024-03-01T00:00:00Z', `,"a":${arrays(5000)}`);
    const first = rec('2024-03-02T00:00:00Z');
    for (const [body, type] of [
      [`${first}\n${deep}\n`, 'application/x-ndjson'],
      [`[${first},${deep}]`, 'application/json'],
    ] as const) {
      const res = await upload(body, type);
      assert.equal(res.status, 422, res.text.slice(0, 300));
      assert.deepEqual(res.body.detail[0].loc, ['body', 'record 2'], res.text.slice(0, 300));
      assert.match(res.body.detail[0].msg, new RegExp(`${MAX_JSON_DEPTH} levels`));
    }
    assert.equal(await backfills(), before);
  });

  test('bytes that are not UTF-8 are 400 invalid_utf8; a character split between two pieces of the stream is kept whole', async () => {
    const before = await backfills();
    const badRecord = Buffer.concat([Buffer.from('{"timestamp":"2024-03-01T00:00:00Z","n":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    for (const [body, type] of [
      [Buffer.concat([Buffer.from(rec('2024-03-02T00:00:00Z') + '\n'), badRecord, Buffer.from('\n')]), 'application/x-ndjson'],
      [Buffer.concat([Buffer.from(`[${rec('2024-03-02T00:00:00Z')},`), badRecord, Buffer.from(']')]), 'application/json'],
    ] as const) {
      const res = await upload(body, type);
      assertError(res as unknown as Res, 400, 'invalid_utf8', /record 2/);
    }
    assert.equal(await backfills(), before);

    // 🏃 is four bytes; the stream is cut after its second.
    const text = `[${rec('2024-03-02T00:00:00Z', ',"n":"🏃 Zoë"')}]`;
    const bytes = Buffer.from(text);
    const cut = bytes.indexOf(Buffer.from('🏃')) + 2;
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes.subarray(0, cut));
        c.enqueue(bytes.subarray(cut));
        c.close();
      },
    });
    const ok = await upload(stream, 'application/json');
    assert.equal(ok.status, 202, ok.text);
    const stored = await sql<{ record: string }>(server, 'SELECT record FROM backfill_records WHERE backfill_id = $1', [ok.body.id]);
    assert.deepEqual(stored.map((r) => r.record), [rec('2024-03-02T00:00:00Z', ',"n":"🏃 Zoë"')]);
  });

  test('a backfill of another type, or in a charset other than UTF-8, is 415 naming the types accepted', async () => {
    const before = await backfills();
    const body = rec('2024-03-01T00:00:00Z') + '\n';
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', null, 'application/x-ndjson; charset=latin1', 'application/json; charset=utf-16']) {
      const res = await upload(body, type);
      assertError(res as unknown as Res, 415, 'unsupported_media_type', type?.includes('charset') ? /UTF-8/ : /application\/x-ndjson.*application\/json|application\/json.*application\/x-ndjson/);
    }
    assert.equal(await backfills(), before);
    const ok = await upload(body, 'application/x-ndjson; charset=utf-8');
    assert.equal(ok.status, 202, ok.text);
  });
});

test('the depth check does not recurse (a body of 400,000 levels is answered)', async () => {
  const server = await startServer();
  try {
    const res = await server.api('POST', '/api/v1/app', `{"name":"x","metadata":${arrays(400_000)}}`);
    assert.equal(res.status, 422, res.text.slice(0, 300));
    await eventually(async () => ((await server.api('GET', '/api/v1/app')).status === 200 ? true : undefined));
  } finally {
    await server.stop();
  }
});
