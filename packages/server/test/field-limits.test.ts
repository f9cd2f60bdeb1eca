// Every field a write route takes has a bound, and values a delivery could not carry are
// refused when they are written, not when each delivery fails: header values undici cannot
// send, headers that clash with the ones Hookwell sets, numbers beyond what the store keeps,
// strings and maps without a length limit, dates out of range, ordering keys that would
// name the prototype chain, idempotency keys of any length.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { acmeWithEndpoint, startReceiver, startServer, TOKEN, type Receiver, type TestServer } from './helpers.js';

type Res = Awaited<ReturnType<TestServer['api']>>;

function assertValidation(res: Res, loc: string[], msgNames?: RegExp): void {
  assert.equal(res.status, 422, `${JSON.stringify(loc)}: ${res.text}`);
  const detail = res.body?.detail as { loc: unknown; msg: string; type: string }[];
  assert.ok(Array.isArray(detail) && detail.length > 0, res.text);
  const hit = detail.find((p) => isDeepStrictEqual(p.loc, loc));
  assert.ok(hit, `expected a problem at ${JSON.stringify(loc)}, got ${res.text}`);
  assert.equal(typeof hit.msg, 'string');
  if (msgNames !== undefined) assert.match(hit.msg, msgNames, res.text);
}

const days = (n: number) => n * 24 * 3600_000;

describe('field limits', () => {
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

  const headersOf = async () => (await server.api('GET', '/api/v1/app/acme/endpoint/main/headers')).body.headers;

  test('a header value a delivery could not send is 422 naming the header, on every route that sets headers', async () => {
    // undici sends tab, printable ASCII and the Latin-1 range; anything else fails every delivery.
    for (const value of ['a\u0001b', 'a\u007fb', 'euro €', 'line\u2028sep', 'Ā', 'nul\0', 'cr\rlf\n']) {
      const headers = { 'x-bad': value };
      const created = await server.api('POST', '/api/v1/app/acme/endpoint', { url: 'https://example.com/', headers });
      assertValidation(created, ['body', 'headers', 'x-bad']);
      assertValidation(await server.api('PUT', '/api/v1/app/acme/endpoint/main/headers', { headers }), ['body', 'headers', 'x-bad']);
      assertValidation(await server.api('PATCH', '/api/v1/app/acme/endpoint/main/headers', { headers }), ['body', 'headers', 'x-bad']);
    }
    assert.deepEqual(await headersOf(), {});
  });

  test('headers that clash with what a delivery sets, or that undici refuses, are 422', async () => {
    for (const name of ['Expect', 'keep-alive', 'Upgrade', 'Transfer-Encoding', 'Connection', 'webhook-id', 'Webhook-Timestamp', 'content-type']) {
      const headers = { [name]: 'x' };
      const created = await server.api('POST', '/api/v1/app/acme/endpoint', { url: 'https://example.com/', headers });
      assertValidation(created, ['body', 'headers', name]);
      assertValidation(await server.api('PATCH', '/api/v1/app/acme/endpoint/main/headers', { headers }), ['body', 'headers', name]);
      // The webhook key's header is a header of every delivery too.
      assertValidation(await server.api('POST', '/api/v1/app/acme/endpoint/main/key', { header: name }), ['body', 'header']);
    }
    assert.equal((await server.api('GET', '/api/v1/app/acme/endpoint/main/key')).status, 404);
  });

  test('Latin-1 and tab header values are accepted and delivered as set', async () => {
    const headers = { 'x-name': 'Zoë\tMüller', 'x-sign': '\u00ff' };
    assert.equal((await server.api('PUT', '/api/v1/app/acme/endpoint/main/headers', { headers })).status, 204);
    const before = receiver.received.length;
    const msg = await server.api('POST', '/api/v1/app/acme/msg', { eventType: 'user.created', payload: { id: 'latin1' } });
    assert.equal(msg.status, 202, msg.text);
    const got = (await receiver.waitFor(before + 1))[before]!;
    assert.equal(got.headers['x-name'], 'Zoë\tMüller');
    assert.equal(got.headers['x-sign'], '\u00ff');
    assert.equal((await server.api('PUT', '/api/v1/app/acme/endpoint/main/headers', { headers: {} })).status, 204);
  });

  test('endpoint headers are bounded in number, name and value length, and total size', async () => {
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`x-h${i}`, 'v']));
    assertValidation(await server.api('PUT', '/api/v1/app/acme/endpoint/main/headers', { headers: many }), ['body', 'headers']);
    const longValue = { 'x-long': 'v'.repeat(4097) };
    assertValidation(await server.api('PUT', '/api/v1/app/acme/endpoint/main/headers', { headers: longValue }), ['body', 'headers', 'x-long']);
    const longName = { [`x-${'n'.repeat(255)}`]: 'v' };
    assertValidation(await server.api('POST', '/api/v1/app/acme/endpoint', { url: 'https://example.com/', headers: longName }), ['body', 'headers']);
    // Each within its limit, together more than a receiver takes in one request's headers.
    const big = Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`x-big${i}`, 'v'.repeat(4000)]));
    assertValidation(await server.api('PUT', '/api/v1/app/acme/endpoint/main/headers', { headers: big }), ['body', 'headers'], /bytes/);
    // PATCH adds to what is there: the total is of the result.
    assert.equal((await server.api('PUT', '/api/v1/app/acme/endpoint/main/headers', { headers: { 'x-big0': 'v'.repeat(4000) } })).status, 204);
    const more = { 'x-big1': 'v'.repeat(4000), 'x-big2': 'v'.repeat(4000) };
    assertValidation(await server.api('PATCH', '/api/v1/app/acme/endpoint/main/headers', { headers: more }), ['body', 'headers'], /bytes/);
    const manyDeletes = Array.from({ length: 65 }, (_, i) => `x-d${i}`);
    assertValidation(await server.api('PATCH', '/api/v1/app/acme/endpoint/main/headers', { headers: {}, deleteHeaders: manyDeletes }), ['body', 'deleteHeaders']);
    assert.deepEqual(Object.keys(await headersOf()), ['x-big0']);
    assert.equal((await server.api('PUT', '/api/v1/app/acme/endpoint/main/headers', { headers: {} })).status, 204);
  });

  test('numbers beyond what the store keeps are 422 naming the field', async () => {
    const cases: [string, string, unknown, string[]][] = [
      ['POST', '/api/v1/app/acme/endpoint', { url: 'https://example.com/', maxPayloadBytes: 1e300 }, ['body', 'maxPayloadBytes']],
      ['POST', '/api/v1/app/acme/endpoint', { url: 'https://example.com/', maxPayloadBytes: 2 ** 31 }, ['body', 'maxPayloadBytes']],
      ['PATCH', '/api/v1/app/acme/endpoint/main', { maxPayloadBytes: 1e300 }, ['body', 'maxPayloadBytes']],
      ['POST', '/api/v1/app/acme/endpoint', { url: 'https://example.com/', version: 1e300 }, ['body', 'version']],
      ['PATCH', '/api/v1/app/acme/endpoint/main', { version: 2 ** 31 }, ['body', 'version']],
      ['POST', '/api/v1/app/acme/endpoint/main/send-example', { eventType: 'user.created', exampleIndex: 1e300 }, ['body', 'exampleIndex']],
    ];
    for (const [method, path, body, loc] of cases) assertValidation(await server.api(method, path, body), loc);
    const ep = await server.api('GET', '/api/v1/app/acme/endpoint/main');
    assert.equal(ep.body.maxPayloadBytes ?? null, null);
    // The largest allowed value is kept as given.
    const ok = await server.api('PATCH', '/api/v1/app/acme/endpoint/main', { maxPayloadBytes: 2 ** 31 - 1 });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.maxPayloadBytes, 2 ** 31 - 1);
    assert.equal((await server.api('PATCH', '/api/v1/app/acme/endpoint/main', { maxPayloadBytes: null })).status, 200);
  });

  test('names, descriptions, metadata and lists have a length limit', async () => {
    const meta = (n: number, key = 'k', value = 'v') => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${key}${i}`, value]));
    const cases: [string, string, unknown, string[]][] = [
      ['POST', '/api/v1/app', { name: 'n'.repeat(257) }, ['body', 'name']],
      ['PATCH', '/api/v1/app/acme', { name: 'n'.repeat(257) }, ['body', 'name']],
      ['POST', '/api/v1/app', { name: 'Meta', metadata: meta(65) }, ['body', 'metadata']],
      ['POST', '/api/v1/app', { name: 'Meta', metadata: { k: 'v'.repeat(1025) } }, ['body', 'metadata', 'k']],
      ['POST', '/api/v1/app', { name: 'Meta', metadata: { ['k'.repeat(257)]: 'v' } }, ['body', 'metadata']],
      ['POST', '/api/v1/app/acme/msg', { eventType: 'user.created', payload: {}, application: { name: 'n'.repeat(257) } }, ['body', 'application', 'name']],
      ['POST', '/api/v1/app/acme/endpoint', { url: 'https://example.com/', description: 'd'.repeat(4097) }, ['body', 'description']],
      ['PATCH', '/api/v1/app/acme/endpoint/main', { description: 'd'.repeat(4097) }, ['body', 'description']],
      ['PATCH', '/api/v1/app/acme/endpoint/main', { metadata: meta(1, 'k', 'v'.repeat(1025)) }, ['body', 'metadata', 'k0']],
      ['POST', '/api/v1/event-type', { name: 'long.description', description: 'd'.repeat(4097) }, ['body', 'description']],
      ['PATCH', '/api/v1/event-type/user.created', { description: 'd'.repeat(4097) }, ['body', 'description']],
      ['PATCH', '/api/v1/event-type/user.created', { featureFlags: Array.from({ length: 65 }, (_, i) => `f${i}`) }, ['body', 'featureFlags']],
      ['POST', '/api/v1/app/acme/endpoint', { url: 'https://example.com/', filterTypes: Array.from({ length: 1001 }, (_, i) => `t${i}`) }, ['body', 'filterTypes']],
      ['POST', '/api/v1/app/acme/endpoint/main/ordering/skip', { key: 'k'.repeat(65537) }, ['body', 'key']],
      ['POST', '/api/v1/event-type/import', { eventTypes: [{ name: 'imported.long', description: 'd'.repeat(4097), schemas: { '1': { type: 'object' } } }] }, ['body', 'eventTypes', '0', 'description']],
    ];
    for (const [method, path, body, loc] of cases) assertValidation(await server.api(method, path, body), loc);
    assert.equal((await server.api('GET', '/api/v1/event-type/imported.long')).status, 404);
    assert.equal((await server.api('GET', '/api/v1/app/acme')).body.name, 'Acme');
  });

  test('an ordering key may not name __proto__, constructor or prototype', async () => {
    for (const key of ['$.__proto__.x', '$.constructor', '$.data.prototype', '$.a[0].__proto__']) {
      const created = await server.api('POST', '/api/v1/app/acme/endpoint', { url: 'https://example.com/', ordering: { key } });
      assertValidation(created, ['body', 'ordering', 'key'], /__proto__|constructor|prototype/);
      assertValidation(await server.api('PATCH', '/api/v1/app/acme/endpoint/main', { ordering: { key } }), ['body', 'ordering', 'key']);
    }
    assert.equal((await server.api('GET', '/api/v1/app/acme/endpoint/main')).body.ordering ?? null, null);
    // A member merely containing those letters is fine.
    const ok = await server.api('PATCH', '/api/v1/app/acme/endpoint/main', { ordering: { key: '$.data.constructor_id' } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await server.api('PATCH', '/api/v1/app/acme/endpoint/main', { ordering: null })).status, 200);
  });

  test('deliverAt and query dates must be real times in range', async () => {
    const send = (deliverAt: string) => server.api('POST', '/api/v1/app/acme/msg', { eventType: 'user.created', payload: {}, deliverAt });
    assertValidation(await send(new Date(Date.now() + days(91)).toISOString()), ['body', 'deliverAt'], /90 days/);
    assertValidation(await send('9999-12-31T23:59:59Z'), ['body', 'deliverAt']);
    assertValidation(await send('1969-12-31T23:59:59Z'), ['body', 'deliverAt']);
    // A leap second passes the date-time format but is no instant JavaScript can hold.
    assertValidation(await send('2016-12-31T23:59:60Z'), ['body', 'deliverAt']);
    const soon = await send(new Date(Date.now() + days(89)).toISOString());
    assert.equal(soon.status, 202, soon.text);
    assertValidation(await server.api('GET', '/api/v1/app/acme/msg?before=2016-12-31T23:59:60Z'), ['query', 'before']);
    assertValidation(await server.api('GET', '/api/v1/app/acme/msg?after=2016-12-31T23:59:60Z'), ['query', 'after']);
    const recover = await server.api('POST', '/api/v1/app/acme/endpoint/main/recover', { since: '2016-12-31T23:59:60Z' });
    assertValidation(recover, ['body', 'since']);
  });

  test('list query parameters are bounded', async () => {
    assertValidation(await server.api('GET', `/api/v1/app?iterator=${'a'.repeat(258)}`), ['query', 'iterator']);
    assertValidation(await server.api('GET', '/api/v1/app?limit=251'), ['query', 'limit']);
    assertValidation(await server.api('GET', `/api/v1/app/acme/msg?channel=${'c'.repeat(129)}`), ['query', 'channel']);
    assertValidation(await server.api('GET', `/api/v1/app/acme/msg?tag=${'t'.repeat(129)}`), ['query', 'tag']);
    const ok = await server.api('GET', `/api/v1/app?iterator=${'a'.repeat(31)}`);
    assert.equal(ok.status, 200, ok.text);
  });

  test('an idempotency-key longer than 256 characters is 422 naming the header, with nothing stored', async () => {
    const long = 'k'.repeat(257);
    const listed = async () => (await server.api('GET', '/api/v1/app/acme/msg?limit=250')).body.data.length as number;
    const before = await listed();
    const msg = await server.api('POST', '/api/v1/app/acme/msg', { eventType: 'user.created', payload: { n: 1 } }, { 'idempotency-key': long });
    assertValidation(msg, ['header', 'idempotency-key'], /256/);
    assert.equal(await listed(), before);
    const app = await server.api('POST', '/api/v1/app', { name: 'Idem' }, { 'idempotency-key': 'x'.repeat(15_000) });
    assertValidation(app, ['header', 'idempotency-key']);
    // The streamed backfill upload reads the header itself.
    const res = await fetch(`${server.url}/api/v1/app/acme/backfill?userId=u1&resource=workouts&provider=garmin`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson', 'idempotency-key': long },
      body: '{"id":1}\n',
    });
    assert.equal(res.status, 422, await res.clone().text());
    assert.deepEqual((await res.json()).detail[0].loc, ['header', 'idempotency-key']);
    assert.equal((await server.api('GET', '/api/v1/app/acme/backfill')).body.data.length, 0);
    const ok = await server.api('POST', '/api/v1/app/acme/msg', { eventType: 'user.created', payload: { n: 2 } }, { 'idempotency-key': 'k'.repeat(256) });
    assert.equal(ok.status, 202, ok.text);
  });

  test('the OpenAPI document shows the bounds', async () => {
    const doc = (await server.api('GET', '/openapi.json')).body;
    const s = doc.components.schemas;
    assert.equal(s.EndpointIn.properties.description.maxLength, 4096);
    assert.equal(s.EndpointIn.properties.maxPayloadBytes.maximum, 2 ** 31 - 1);
    assert.equal(s.EndpointIn.properties.headers.maxProperties, 64);
    assert.equal(s.ApplicationIn.properties.name.maxLength, 256);
    assert.equal(s.ApplicationIn.properties.metadata.maxProperties, 64);
    assert.equal(s.ApplicationIn.properties.metadata.additionalProperties.maxLength, 1024);
    assert.equal(s.EventTypeIn.properties.description.maxLength, 4096);
  });
});
