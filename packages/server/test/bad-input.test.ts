// Bad input of every kind: each gets the right status and error shape, and nothing is
// written. "Nothing written" is checked on the real SQLite file, opened read-only.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { acmeWithEndpoint, eventually, query, request, startReceiver, startServer, TOKEN, type Receiver, type TestServer } from './helpers.js';

const TABLES = ['applications', 'endpoints', 'messages', 'deliveries', 'attempts', 'event_types'] as const;
type Counts = Record<(typeof TABLES)[number], number>;

function counts(dbPath: string): Counts {
  const out = {} as Counts;
  for (const t of TABLES) out[t] = query<{ n: number }>(dbPath, `SELECT COUNT(*) AS n FROM ${t}`)[0]!.n;
  return out;
}

/** Waits until no delivery is pending or in flight, so row counts stay still. */
async function settle(dbPath: string): Promise<void> {
  await eventually(() => {
    const [{ n }] = query<{ n: number }>(dbPath, 'SELECT COUNT(*) AS n FROM deliveries WHERE status IN (1, 3)');
    return n === 0 ? true : undefined;
  }, 10_000, 'deliveries to settle');
}

/** Runs `fn` and asserts that no row was added or removed in any table. */
async function nothingWritten<T>(server: TestServer, fn: () => Promise<T>): Promise<T> {
  await settle(server.dbPath);
  const before = counts(server.dbPath);
  const result = await fn();
  assert.deepEqual(counts(server.dbPath), before, 'the request must not write anything');
  return result;
}

type Res = Awaited<ReturnType<TestServer['api']>>;

function assertValidation(res: Res, loc: string[], opts: { msgNames?: string } = {}): void {
  assert.equal(res.status, 422, res.text);
  assert.deepEqual(Object.keys(res.body ?? {}), ['detail'], res.text);
  const detail = res.body.detail as { loc: unknown; msg: unknown; type: unknown }[];
  assert.ok(Array.isArray(detail) && detail.length > 0, res.text);
  for (const p of detail) {
    assert.ok(Array.isArray(p.loc) && p.loc.length > 0 && p.loc.every((s) => typeof s === 'string'), res.text);
    assert.equal(typeof p.msg, 'string', res.text);
    assert.ok((p.msg as string).length > 0, res.text);
    assert.equal(typeof p.type, 'string', res.text);
  }
  const hit = detail.find((p) => isDeepStrictEqual(p.loc, loc));
  assert.ok(hit, `expected a problem at ${JSON.stringify(loc)}, got ${res.text}`);
  if (opts.msgNames !== undefined) assert.match(hit.msg as string, new RegExp(opts.msgNames), res.text);
}

function assertError(res: Res, status: number, code: string): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body?.code, code, res.text);
  assert.equal(typeof res.body.detail, 'string', res.text);
  assert.ok(res.body.detail.length > 0, res.text);
  assert.deepEqual(Object.keys(res.body).sort(), ['code', 'detail'], res.text);
}

/** A request with exactly the given headers (no admin token unless given). */
const send = (server: TestServer, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Res> =>
  request(server.url + path, method, headers, body);

describe('bad input', () => {
  let server: TestServer;
  let receiver: Receiver;
  let msgId: string;
  let attemptId: string;
  let endpointId: string;

  before(async () => {
    receiver = await startReceiver();
    server = await startServer();
    endpointId = await acmeWithEndpoint(server, receiver.url);
    assert.equal((await server.api('POST', '/api/v1/app', { name: 'Other', uid: 'other' })).status, 201);
    const msg = await server.api('POST', '/api/v1/app/acme/msg', { eventType: 'user.created', payload: { id: 1 } });
    assert.equal(msg.status, 202, msg.text);
    msgId = msg.body.id;
    await receiver.waitFor(1);
    await settle(server.dbPath);
    const attempts = await server.api('GET', `/api/v1/app/acme/attempt/msg/${msgId}`);
    assert.equal(attempts.status, 200, attempts.text);
    assert.equal(attempts.body.data.length, 1, attempts.text);
    attemptId = attempts.body.data[0].id;
    // The fixture is in place: the checks below would be meaningless on an empty database.
    const c = counts(server.dbPath);
    assert.deepEqual(c, { applications: 2, endpoints: 1, messages: 1, deliveries: 1, attempts: 1, event_types: 1 });
  });

  after(async () => {
    await server?.stop();
    await receiver?.close();
  });

  test('malformed JSON is 400 invalid_json with a detail that names the problem', async () => {
    const cases: [string, string, string, RegExp][] = [
      ['POST', '/api/v1/app', '{"name": "x",}', /position 13/],
      ['POST', '/api/v1/app', '{"name": "x"', /position 12/],
      ['POST', '/api/v1/app', "{'name': 'x'}", /position 1/],
      ['POST', '/api/v1/app/acme/msg', '{"eventType":"user.created","payload":{}} trailing', /position 42/],
      ['POST', '/api/v1/app/acme/msg', '{"eventType":"user.created","payload":{"a":1e}}', /position/],
      ['PATCH', '/api/v1/app/acme/endpoint/main', '{"url":', /JSON/],
      ['PUT', '/api/v1/event-type/user.created', '{description: "x"}', /position 1/],
      ['POST', '/api/v1/event-type', 'nope', /JSON/],
    ];
    for (const [method, path, body, problem] of cases) {
      const res = await nothingWritten(server, () => server.api(method, path, body));
      assertError(res, 400, 'invalid_json');
      assert.match(res.body.detail, /not valid JSON/, `${method} ${path}: ${res.text}`);
      assert.match(res.body.detail, problem, `${method} ${path}: ${res.text}`);
    }
  });

  test('a missing required field is 422 naming the field', async () => {
    const cases: [string, string, unknown, string[]][] = [
      ['POST', '/api/v1/app', { uid: 'nameless' }, ['body', 'name']],
      ['PUT', '/api/v1/app/nameless', { metadata: {} }, ['body', 'name']],
      ['POST', '/api/v1/app/acme/msg', { payload: { a: 1 } }, ['body', 'eventType']],
      ['POST', '/api/v1/app/acme/msg', { eventType: 'user.created' }, ['body', 'payload']],
      ['POST', '/api/v1/app/acme/endpoint', { description: 'no url' }, ['body', 'url']],
      ['POST', '/api/v1/event-type', { name: 'x.y' }, ['body', 'description']],
    ];
    for (const [method, path, body, loc] of cases) {
      const res = await nothingWritten(server, () => server.api(method, path, body));
      assertValidation(res, loc, { msgNames: loc[1]! });
      assert.equal(res.body.detail.find((p: { loc: string[] }) => isDeepStrictEqual(p.loc, loc)).type, 'value_error.missing');
    }
  });

  test('a field of the wrong type is 422 naming the field', async () => {
    const cases: [string, string, unknown, string[]][] = [
      ['POST', '/api/v1/app', { name: 5 }, ['body', 'name']],
      ['POST', '/api/v1/app', { name: 'ok', metadata: { a: 1 } }, ['body', 'metadata', 'a']],
      ['POST', '/api/v1/app/acme/msg', { eventType: 'user.created', payload: 'string' }, ['body', 'payload']],
      ['POST', '/api/v1/app/acme/msg', { eventType: 'user.created', payload: [1] }, ['body', 'payload']],
      ['POST', '/api/v1/app/acme/msg', { eventType: 'user.created', payload: null }, ['body', 'payload']],
      ['POST', '/api/v1/app/acme/msg', { eventType: 7, payload: {} }, ['body', 'eventType']],
      ['POST', '/api/v1/app/acme/endpoint', { url: 'https://example.com/', disabled: 'yes' }, ['body', 'disabled']],
      ['PATCH', '/api/v1/app/acme', { name: ['a'] }, ['body', 'name']],
    ];
    for (const [method, path, body, loc] of cases) {
      const res = await nothingWritten(server, () => server.api(method, path, body));
      assertValidation(res, loc, { msgNames: loc.slice(1).join('.') });
      assert.equal(res.body.detail.find((p: { loc: string[] }) => isDeepStrictEqual(p.loc, loc)).type, 'type_error');
    }
    // A body that is JSON but not an object.
    for (const raw of ['[1]', '"app"', '42', 'null']) {
      const res = await nothingWritten(server, () => server.api('POST', '/api/v1/app', raw));
      assertValidation(res, ['body']);
    }
  });

  test('a value that breaks a pattern or a limit is 422 naming the field', async () => {
    const elevenChannels = Array.from({ length: 11 }, (_, i) => `ch${i}`);
    const cases: [string, string, unknown, string[]][] = [
      ['POST', '/api/v1/app/acme/msg', { eventType: 'user created', payload: {} }, ['body', 'eventType']],
      ['POST', '/api/v1/app', { name: 'Slash', uid: 'a/b' }, ['body', 'uid']],
      ['POST', '/api/v1/app/acme/endpoint', { url: 'https://example.com/', uid: 'a/b' }, ['body', 'uid']],
      ['POST', '/api/v1/app/acme/msg', { eventType: 'user.created', payload: {}, channels: elevenChannels }, ['body', 'channels']],
      ['POST', '/api/v1/app/acme/endpoint', { url: 'https://example.com/', channels: elevenChannels }, ['body', 'channels']],
      ['PATCH', '/api/v1/app/acme/endpoint/main', { channels: elevenChannels }, ['body', 'channels']],
      ['POST', '/api/v1/app/acme/msg', { eventType: 'user.created', payload: {}, eventId: 'has space' }, ['body', 'eventId']],
      ['POST', '/api/v1/app', { name: '' }, ['body', 'name']],
      ['POST', '/api/v1/event-type', { name: 'bad name', description: 'x' }, ['body', 'name']],
    ];
    for (const [method, path, body, loc] of cases) {
      const res = await nothingWritten(server, () => server.api(method, path, body));
      assertValidation(res, loc, { msgNames: loc[1]! });
    }
  });

  test('a query parameter out of its enum or range is 422 with loc in the query', async () => {
    const cases: [string, string[]][] = [
      ['/api/v1/app?order=sideways', ['query', 'order']],
      ['/api/v1/app/acme/endpoint?order=sideways', ['query', 'order']],
      ['/api/v1/event-type?order=up', ['query', 'order']],
      ['/api/v1/app?limit=0', ['query', 'limit']],
      ['/api/v1/app?limit=many', ['query', 'limit']],
      [`/api/v1/app/acme/attempt/msg/${'MSG'}?status=9`, ['query', 'status']],
    ];
    for (const [path, loc] of cases) {
      const res = await server.api('GET', path.replace('MSG', msgId));
      assertValidation(res, loc, { msgNames: loc[1]! });
    }
    // On a write, a bad query parameter also stops the request.
    const res = await nothingWritten(server, () => server.api('POST', '/api/v1/app?get_if_exists=perhaps', { name: 'Q' }));
    assertValidation(res, ['query', 'get_if_exists']);
  });

  test('an endpoint URL that is not http(s) is 422 naming body.url', async () => {
    for (const url of ['ftp://example.com/hook', 'javascript:alert(1)', 'not a url', 'file:///etc/passwd', '']) {
      const created = await nothingWritten(server, () => server.api('POST', '/api/v1/app/acme/endpoint', { url }));
      assertValidation(created, ['body', 'url']);
      const upserted = await nothingWritten(server, () => server.api('PUT', '/api/v1/app/acme/endpoint/new-ep', { url }));
      assertValidation(upserted, ['body', 'url']);
      const patched = await nothingWritten(server, () => server.api('PATCH', '/api/v1/app/acme/endpoint/main', { url }));
      assertValidation(patched, ['body', 'url']);
    }
    const ep = await server.api('GET', '/api/v1/app/acme/endpoint/main');
    assert.equal(ep.body.url, receiver.url + '/hook');
  });

  test('a reserved endpoint header is 422', async () => {
    for (const name of ['content-type', 'webhook-signature', 'Content-Length', 'svix-id', 'Host']) {
      const headers = { [name]: 'x', 'x-fine': 'ok' };
      const created = await nothingWritten(server, () =>
        server.api('POST', '/api/v1/app/acme/endpoint', { url: 'https://example.com/', headers }),
      );
      assertValidation(created, ['body', 'headers', name]);
      const replaced = await nothingWritten(server, () => server.api('PUT', '/api/v1/app/acme/endpoint/main/headers', { headers }));
      assertValidation(replaced, ['body', 'headers', name]);
      const patched = await nothingWritten(server, () => server.api('PATCH', '/api/v1/app/acme/endpoint/main/headers', { headers }));
      assertValidation(patched, ['body', 'headers', name]);
    }
    const headers = await server.api('GET', '/api/v1/app/acme/endpoint/main/headers');
    assert.deepEqual(headers.body.headers, {}, 'a refused header change must not be half applied');
  });

  test('filterTypes naming an event type that does not exist is 422', async () => {
    const created = await nothingWritten(server, () =>
      server.api('POST', '/api/v1/app/acme/endpoint', { url: 'https://example.com/', filterTypes: ['user.created', 'no.such.type'] }),
    );
    assertValidation(created, ['body', 'filterTypes', '1']);
    assert.match(created.body.detail[0].msg, /no\.such\.type/);
    const viaEventTypes = await nothingWritten(server, () =>
      server.api('POST', '/api/v1/app/acme/endpoint', { url: 'https://example.com/', eventTypes: ['nope'] }),
    );
    assertValidation(viaEventTypes, ['body', 'eventTypes', '0']);
    const patched = await nothingWritten(server, () => server.api('PATCH', '/api/v1/app/acme/endpoint/main', { filterTypes: ['nope'] }));
    assertValidation(patched, ['body', 'filterTypes', '0']);
    const ep = await server.api('GET', '/api/v1/app/acme/endpoint/main');
    assert.equal(ep.body.filterTypes, null);
  });

  test('an unknown application, endpoint, message, attempt or event type is 404 not_found', async () => {
    const gets = [
      ['/api/v1/app/no-such-app', /no-such-app/],
      ['/api/v1/app/no-such-app/endpoint', /no-such-app/],
      ['/api/v1/app/no-such-app/msg', /no-such-app/],
      ['/api/v1/app/acme/endpoint/no-such-ep', /no-such-ep/],
      ['/api/v1/app/no-such-app/endpoint/main', /no-such-app/],
      ['/api/v1/app/acme/endpoint/no-such-ep/secret', /no-such-ep/],
      ['/api/v1/app/acme/endpoint/no-such-ep/headers', /no-such-ep/],
      ['/api/v1/app/acme/msg/msg_nope', /msg_nope/],
      // The message exists, but in another application.
      [`/api/v1/app/other/msg/${msgId}`, new RegExp(msgId)],
      [`/api/v1/app/acme/msg/${msgId}/attempt/atmpt_nope`, /atmpt_nope/],
      [`/api/v1/app/acme/msg/msg_nope/attempt/${attemptId}`, /msg_nope/],
      [`/api/v1/app/acme/attempt/msg/msg_nope`, /msg_nope/],
      [`/api/v1/app/acme/attempt/endpoint/no-such-ep`, /no-such-ep/],
      ['/api/v1/event-type/no.such.type', /no\.such\.type/],
      ['/api/v1/no-such-route', /no-such-route/],
    ] as const;
    for (const [path, named] of gets) {
      const res = await server.api('GET', path);
      assertError(res, 404, 'not_found');
      assert.match(res.body.detail, named, `GET ${path}: ${res.text}`);
    }

    const writes: [string, string, unknown, RegExp][] = [
      ['POST', '/api/v1/app/no-such-app/msg', { eventType: 'user.created', payload: { a: 1 } }, /no-such-app/],
      ['POST', '/api/v1/app/no-such-app/endpoint', { url: 'https://example.com/' }, /no-such-app/],
      ['PATCH', '/api/v1/app/no-such-app', { name: 'x' }, /no-such-app/],
      ['DELETE', '/api/v1/app/no-such-app', undefined, /no-such-app/],
      ['PATCH', '/api/v1/app/acme/endpoint/no-such-ep', { description: 'x' }, /no-such-ep/],
      ['PATCH', '/api/v1/app/no-such-app/endpoint/main', { description: 'x' }, /no-such-app/],
      ['DELETE', '/api/v1/app/acme/endpoint/no-such-ep', undefined, /no-such-ep/],
      ['PUT', '/api/v1/app/no-such-app/endpoint/main', { url: 'https://example.com/' }, /no-such-app/],
      ['PUT', '/api/v1/app/acme/endpoint/no-such-ep/headers', { headers: { 'x-a': 'b' } }, /no-such-ep/],
      ['POST', '/api/v1/app/acme/endpoint/no-such-ep/secret/rotate', {}, /no-such-ep/],
      ['POST', '/api/v1/app/acme/endpoint/no-such-ep/recover', { since: '2020-01-01T00:00:00Z' }, /no-such-ep/],
      ['POST', '/api/v1/app/acme/endpoint/main/send-example', { eventType: 'no.such.type' }, /no\.such\.type/],
      ['POST', `/api/v1/app/acme/msg/msg_nope/endpoint/${endpointId}/resend`, undefined, /msg_nope/],
      ['POST', `/api/v1/app/acme/msg/${msgId}/endpoint/no-such-ep/resend`, undefined, /no-such-ep/],
      ['DELETE', '/api/v1/app/acme/msg/msg_nope/content', undefined, /msg_nope/],
      ['DELETE', `/api/v1/app/acme/msg/${msgId}/attempt/atmpt_nope/content`, undefined, /atmpt_nope/],
      ['PATCH', '/api/v1/event-type/no.such.type', { description: 'x' }, /no\.such\.type/],
      ['DELETE', '/api/v1/event-type/no.such.type', undefined, /no\.such\.type/],
    ];
    for (const [method, path, body, named] of writes) {
      const res = await nothingWritten(server, () => server.api(method, path, body));
      assertError(res, 404, 'not_found');
      assert.match(res.body.detail, named, `${method} ${path}: ${res.text}`);
    }
    // The real message and attempt were not touched by the refused writes.
    const [row] = query<{ payload: string | null }>(server.dbPath, 'SELECT payload FROM messages WHERE id = ?', msgId);
    assert.equal(row?.payload, '{"id":1}');
  });

  test('a payload over the limit is 413; one exactly at the limit is accepted', async () => {
    const limited = await startServer({ HOOKWELL_MAX_PAYLOAD_BYTES: '1024' });
    try {
      assert.equal((await limited.api('POST', '/api/v1/app', { name: 'Small', uid: 'small' })).status, 201);
      const post = (payload: string) =>
        limited.api('POST', '/api/v1/app/small/msg', `{"eventType":"big.thing","payload":${payload}}`);
      // Bytes, not characters: é is two bytes in UTF-8.
      const sized = (bytes: number) => {
        const head = '{"x":"' + 'é'.repeat(100);
        const text = head + 'a'.repeat(bytes - Buffer.byteLength(head) - 2) + '"}';
        assert.equal(Buffer.byteLength(text), bytes);
        return text;
      };

      const overByOne = await nothingWritten(limited, () => post(sized(1025)));
      assertError(overByOne, 413, 'payload_too_large');
      assert.match(overByOne.body.detail, /1025/);
      assert.match(overByOne.body.detail, /1024/);

      // 608 characters, but 1208 bytes.
      const wide = '{"x":"' + 'é'.repeat(600) + '"}';
      assert.ok(wide.length <= 1024 && Buffer.byteLength(wide) > 1024);
      assertError(await nothingWritten(limited, () => post(wide)), 413, 'payload_too_large');

      const twoKb = await nothingWritten(limited, () => post(JSON.stringify({ x: 'b'.repeat(2048) })));
      assertError(twoKb, 413, 'payload_too_large');

      // Far over: refused by the body limit before the body is even parsed.
      const huge = await nothingWritten(limited, () => post(JSON.stringify({ x: 'c'.repeat(3 * 1024 * 1024) })));
      assertError(huge, 413, 'payload_too_large');

      const exact = sized(1024);
      const accepted = await limited.api('POST', '/api/v1/app/small/msg', `{"eventType":"big.thing","payload":${exact}}`);
      assert.equal(accepted.status, 202, accepted.text);
      const rows = query<{ payload: string }>(limited.dbPath, 'SELECT payload FROM messages WHERE id = ?', accepted.body.id);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.payload, exact);
      assert.equal(Buffer.byteLength(rows[0]!.payload), 1024);
      assert.equal(counts(limited.dbPath).messages, 1);
    } finally {
      await limited.stop();
    }
  });

  test('a missing or wrong bearer token is 401 authentication_failed; health needs none', async () => {
    const routes: [string, string, string | undefined][] = [
      ['GET', '/api/v1/app', undefined],
      ['POST', '/api/v1/app', '{"name":"Intruder","uid":"intruder"}'],
      ['GET', '/api/v1/app/acme', undefined],
      ['DELETE', '/api/v1/app/acme', undefined],
      ['POST', '/api/v1/app/acme/msg', '{"eventType":"user.created","payload":{}}'],
      ['PATCH', '/api/v1/app/acme/endpoint/main', '{"url":"https://evil.example/"}'],
      ['GET', '/api/v1/app/acme/endpoint/main/secret', undefined],
      ['POST', '/api/v1/event-type', '{"name":"evil.type","description":"x"}'],
      ['GET', '/api/v1/no-such-route', undefined],
    ];
    const auths: (string | undefined)[] = [undefined, 'Bearer wrong-token-0123456789', `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, 'Bearer', TOKEN];
    for (const [method, path, body] of routes) {
      for (const auth of auths) {
        const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
        if (auth !== undefined) headers.authorization = auth;
        const res = await nothingWritten(server, () => send(server, method, path, headers, body));
        assertError(res, 401, 'authentication_failed');
        assert.ok(!res.text.includes('whsec_'), 'a refused request must not leak the secret');
      }
    }
    const ep = await server.api('GET', '/api/v1/app/acme/endpoint/main');
    assert.equal(ep.body.url, receiver.url + '/hook');

    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }] as Record<string, string>[]) {
      const health = await send(server, 'GET', '/api/v1/health', headers);
      assert.equal(health.status, 204, health.text);
      assert.equal(health.text, '');
    }
    // The right token still works, so the 401s above are about the token.
    assert.equal((await send(server, 'GET', '/api/v1/app', { authorization: `Bearer ${TOKEN}` })).status, 200);
  });

  test('a duplicate eventId in the same application is 409; in another application it is fine', async () => {
    const first = await server.api('POST', '/api/v1/app/acme/msg', { eventType: 'user.created', eventId: 'evt-dup-1', payload: { n: 1 } });
    assert.equal(first.status, 202, first.text);
    const again = await nothingWritten(server, () =>
      server.api('POST', '/api/v1/app/acme/msg', { eventType: 'user.created', eventId: 'evt-dup-1', payload: { n: 2 } }),
    );
    assertError(again, 409, 'duplicate_event_id');
    assert.match(again.body.detail, /evt-dup-1/);
    const rows = query<{ id: string; payload: string }>(
      server.dbPath,
      `SELECT m.id, m.payload FROM messages m JOIN applications a ON a.id = m.app_id WHERE a.uid = 'acme' AND m.event_id = 'evt-dup-1'`,
    );
    assert.deepEqual(rows, [{ id: first.body.id, payload: '{"n":1}' }]);

    const elsewhere = await server.api('POST', '/api/v1/app/other/msg', { eventType: 'user.created', eventId: 'evt-dup-1', payload: { n: 3 } });
    assert.equal(elsewhere.status, 202, elsewhere.text);
    assert.notEqual(elsewhere.body.id, first.body.id);
    const all = query<{ n: number }>(server.dbPath, `SELECT COUNT(*) AS n FROM messages WHERE event_id = 'evt-dup-1'`);
    assert.equal(all[0]!.n, 2);
  });

  test('a duplicate application uid is 409', async () => {
    const created = await nothingWritten(server, () => server.api('POST', '/api/v1/app', { name: 'Acme again', uid: 'acme' }));
    assertError(created, 409, 'conflict');
    assert.match(created.body.detail, /acme/);
    const patched = await nothingWritten(server, () => server.api('PATCH', '/api/v1/app/other', { uid: 'acme' }));
    assertError(patched, 409, 'conflict');
    const apps = query<{ uid: string; name: string }>(server.dbPath, 'SELECT uid, name FROM applications ORDER BY uid');
    assert.deepEqual(apps, [
      { uid: 'acme', name: 'Acme' },
      { uid: 'other', name: 'Other' },
    ]);
  });

  test('the payload is stored and delivered byte for byte as sent', async () => {
    const payload = String.raw`{ "b" :1, "a":[ 1.50, 1e3 ], "u":"\u00e9", "n": 12345678901234567890,
	"q":"a\"}b\\", "raw":"ü", "payload" : {"nested" :true} }`;
    const raw = `{"eventType":"a.b", "payload" :${payload}\n}`;
    assert.ok(raw.includes('\\u00e9'), 'the unicode escape must be sent as written');
    const before = receiver.received.length;
    const res = await server.api('POST', '/api/v1/app/acme/msg', raw);
    assert.equal(res.status, 202, res.text);
    const rows = query<{ payload: string }>(server.dbPath, 'SELECT payload FROM messages WHERE id = ?', res.body.id);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.payload, payload);
    // The response shows the parsed payload.
    assert.equal(res.body.payload.u, 'é');
    assert.equal(res.body.payload.q, 'a"}b\\');
    const got = await receiver.waitFor(before + 1);
    assert.equal(got[before]!.body.toString('utf8'), payload);
  });

  // Last, so that if it fails its writes cannot disturb the tests above.
  test(
    'a uid or event type name taken from the path obeys the same pattern as in a body',
    async () => {
      const cases: [string, string, unknown, string[]][] = [
        ['PUT', '/api/v1/app/a%2Fb', { name: 'Slash' }, ['path', 'app_id']],
        ['PUT', '/api/v1/app/a%20b', { name: 'Space' }, ['path', 'app_id']],
        ['PUT', '/api/v1/app/acme/endpoint/e%20f', { url: 'https://example.com/' }, ['path', 'endpoint_id']],
        ['PUT', '/api/v1/event-type/bad%20name', { description: 'x' }, ['path', 'event_type_name']],
        ['POST', '/api/v1/app/c%20d/msg', { eventType: 'a.b', payload: {}, application: { name: 'Inline' } }, ['path', 'app_id']],
      ];
      for (const [method, path, body, loc] of cases) {
        const res = await nothingWritten(server, () => server.api(method, path, body));
        assertValidation(res, loc);
      }
    },
  );
});
