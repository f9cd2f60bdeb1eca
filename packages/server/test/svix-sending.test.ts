// Svix's message and attempt operations beyond create/list: precheck (through the svix 1.x
// SDK), the raw payload, a test attempt, an endpoint's throttling status, attempt counts and
// an attempt's headers, against a real receiver. Runs on PostgreSQL too with
// HOOKWELL_TEST_BACKEND=postgres.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Svix } from 'svix';
import { eventually, startReceiver, startServer, TOKEN, type Receiver, type TestServer } from './helpers.js';

describe('Svix sending operations', () => {
  let srv: TestServer;
  let receiver: Receiver;
  let svix: Svix;

  before(async () => {
    receiver = await startReceiver();
    receiver.respond = (r) => (r.path.startsWith('/fail') ? { status: 500, body: 'no' } : { status: 200, body: 'ok' });
    // One attempt per delivery: failures are final at once, so counts settle.
    srv = await startServer({ HOOKWELL_RETRY_SCHEDULE: '' });
    svix = new Svix(TOKEN, { serverUrl: srv.url });
    for (const name of ['order.paid', 'order.shipped']) assert.equal((await srv.api('POST', '/api/v1/event-type', { name, description: name })).status, 201);
    assert.equal((await srv.api('POST', '/api/v1/app', { name: 'Shop', uid: 'shop' })).status, 201);
  });

  after(async () => {
    await srv?.stop();
    await receiver?.close();
  });

  const endpoint = async (app: string, fields: Record<string, unknown>): Promise<string> => {
    const r = await srv.api('POST', `/api/v1/app/${app}/endpoint`, fields);
    assert.equal(r.status, 201, r.text);
    return r.body.id as string;
  };

  it('prechecks whether a message would reach an enabled endpoint, by type and channel', async () => {
    assert.equal((await srv.api('POST', '/api/v1/app', { name: 'Pre', uid: 'pre' })).status, 201);
    assert.deepEqual(await svix.message.precheck('pre', { eventType: 'order.paid' }), { active: false });
    const ep = await endpoint('pre', { url: `${receiver.url}/pre`, filterTypes: ['order.paid'], channels: ['eu'] });
    assert.deepEqual(await svix.message.precheck('pre', { eventType: 'order.paid', channels: ['eu', 'us'] }), { active: true });
    assert.deepEqual(await svix.message.precheck('pre', { eventType: 'order.paid', channels: ['us'] }), { active: false });
    assert.deepEqual(await svix.message.precheck('pre', { eventType: 'order.paid' }), { active: false }, 'an endpoint with channels needs one of them');
    assert.deepEqual(await svix.message.precheck('pre', { eventType: 'order.shipped', channels: ['eu'] }), { active: false });
    assert.equal((await srv.api('PATCH', `/api/v1/app/pre/endpoint/${ep}`, { disabled: true })).status, 200);
    assert.deepEqual(await svix.message.precheck('pre', { eventType: 'order.paid', channels: ['eu'] }), { active: false }, 'disabled endpoints get nothing');
    const missing = await srv.api('POST', '/api/v1/app/no-such-app/msg/precheck/active', { eventType: 'order.paid' });
    assert.equal(missing.status, 404, missing.text);
    const bad = await srv.api('POST', '/api/v1/app/pre/msg/precheck/active', { channels: ['eu'] });
    assert.equal(bad.status, 422, bad.text);
  });

  it('answers the raw payload byte for byte, and 404 once it is deleted', async () => {
    const text = '{"eventType":"order.paid","payload":{"b": 2,   "a":[1, 2.50]}}';
    const sent = await srv.api('POST', '/api/v1/app/shop/msg', text);
    assert.equal(sent.status, 202, sent.text);
    const raw = await srv.api('GET', `/api/v1/app/shop/msg/${sent.body.id}/raw`);
    assert.equal(raw.status, 200, raw.text);
    assert.deepEqual(raw.body, { payload: '{"b": 2,   "a":[1, 2.50]}' });
    assert.equal((await srv.api('DELETE', `/api/v1/app/shop/msg/${sent.body.id}/content`)).status, 204);
    assert.equal((await srv.api('GET', `/api/v1/app/shop/msg/${sent.body.id}/raw`)).status, 404);
    assert.equal((await srv.api('GET', '/api/v1/app/shop/msg/msg_2lYhbWJ0GEAzSF4rRS1kUCnsYmM/raw')).status, 404);
  });

  it('makes a test attempt to one endpoint, whatever its filters, and answers it', async () => {
    const ep = await endpoint('shop', { url: `${receiver.url}/test-ok`, filterTypes: ['order.shipped'] });
    const r = await srv.api('POST', `/api/v1/app/shop/endpoint/${ep}/msg/test-attempt`, { eventType: 'order.paid', payload: { n: 7 } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.endpointId, ep);
    assert.equal(r.body.responseStatusCode, 200);
    assert.equal(r.body.response, 'ok');
    assert.equal(r.body.status, 0);
    const got = receiver.received.filter((x) => x.path === '/test-ok');
    assert.equal(got.length, 1);
    assert.equal(got[0]!.headers['webhook-id'], r.body.msgId);
    assert.deepEqual(JSON.parse(got[0]!.body.toString()), { n: 7 });

    const failing = await endpoint('shop', { url: `${receiver.url}/fail-test` });
    const f = await srv.api('POST', `/api/v1/app/shop/endpoint/${failing}/msg/test-attempt`, { eventType: 'order.paid', payload: {} });
    assert.equal(f.status, 201, f.text);
    assert.equal(f.body.responseStatusCode, 500);
    assert.equal(f.body.status, 2);
    // Only the named endpoint got it.
    assert.equal(receiver.received.filter((x) => x.headers['webhook-id'] === f.body.msgId).length, 1);

    assert.equal((await srv.api('PATCH', `/api/v1/app/shop/endpoint/${failing}`, { disabled: true })).status, 200);
    const before = receiver.received.length;
    const off = await srv.api('POST', `/api/v1/app/shop/endpoint/${failing}/msg/test-attempt`, { eventType: 'order.paid', payload: {} });
    assert.equal(off.status, 409, off.text);
    assert.match(off.body.detail, /disabled/);
    const messages = await srv.api('GET', `/api/v1/app/shop/attempt/endpoint/${failing}/count`);
    assert.equal(messages.body.count, 1, 'no attempt was made for the refused call');
    assert.equal(receiver.received.length, before);
  });

  it("reports an endpoint RateLimited while its throttle rate holds deliveries back", async () => {
    assert.equal((await srv.api('POST', '/api/v1/app', { name: 'Slow', uid: 'slow' })).status, 201);
    const ep = await endpoint('slow', { url: `${receiver.url}/slow`, throttleRate: 1 });
    const open = await endpoint('slow', { url: `${receiver.url}/open`, filterTypes: ['order.shipped'] });
    const before = await srv.api('GET', `/api/v1/app/slow/endpoint/${ep}/rate-limit-status`);
    assert.equal(before.status, 200, before.text);
    assert.deepEqual(before.body, { status: 'Ok', throttledSince: null });
    const started = Date.now();
    for (let i = 0; i < 6; i++) assert.equal((await srv.api('POST', '/api/v1/app/slow/msg', { eventType: 'order.paid', payload: { i } })).status, 202);
    const limited = await srv.api('GET', `/api/v1/app/slow/endpoint/${ep}/rate-limit-status`);
    assert.equal(limited.body.status, 'RateLimited', limited.text);
    const since = Date.parse(limited.body.throttledSince);
    assert.ok(since >= started - 1000 && since <= Date.now(), `throttledSince ${limited.body.throttledSince}`);
    assert.deepEqual((await srv.api('GET', `/api/v1/app/slow/endpoint/${open}/rate-limit-status`)).body, { status: 'Ok', throttledSince: null });
    // One a second: the backlog drains, and the status with it.
    await eventually(async () => ((await srv.api('GET', `/api/v1/app/slow/endpoint/${ep}/rate-limit-status`)).body.status === 'Ok' ? true : undefined), 15_000, 'the backlog to drain');
    assert.ok(receiver.received.filter((x) => x.path === '/slow').length >= 5);
  });

  it("counts an endpoint's attempts with the list's filters", async () => {
    assert.equal((await srv.api('POST', '/api/v1/app', { name: 'Count', uid: 'count' })).status, 201);
    const good = await endpoint('count', { url: `${receiver.url}/count-ok` });
    const bad = await endpoint('count', { url: `${receiver.url}/fail-count`, filterTypes: ['order.paid'] });
    for (const eventType of ['order.paid', 'order.paid', 'order.shipped']) {
      assert.equal((await srv.api('POST', '/api/v1/app/count/msg', { eventType, payload: {} })).status, 202);
    }
    const count = async (ep: string, query = '') => {
      const r = await srv.api('GET', `/api/v1/app/count/attempt/endpoint/${ep}/count${query}`);
      assert.equal(r.status, 200, r.text);
      return r.body;
    };
    await eventually(async () => ((await count(good)).count === 3 && (await count(bad)).count === 2 ? true : undefined), 10_000, 'the attempts');
    assert.deepEqual(await count(good), { count: 3, approximated: false });
    assert.deepEqual(await count(good, '?event_types=order.shipped'), { count: 1, approximated: false });
    assert.deepEqual(await count(good, '?status=2'), { count: 0, approximated: false });
    assert.deepEqual(await count(bad, '?status=2'), { count: 2, approximated: false });
    assert.deepEqual(await count(bad, '?status_code_class=500'), { count: 2, approximated: false });
    assert.deepEqual(await count(bad, `?before=${new Date(Date.now() - 3_600_000).toISOString()}`), { count: 0, approximated: false });
    const listed = await srv.api('GET', `/api/v1/app/count/attempt/endpoint/${good}?limit=250`);
    assert.equal(listed.body.data.length, 3, 'the count agrees with the list');
    assert.equal((await srv.api('GET', '/api/v1/app/count/attempt/endpoint/ep_2lYhbWJ0GEAzSF4rRS1kUCnsYmM/count')).status, 404);
    assert.equal((await srv.api('GET', `/api/v1/app/count/attempt/endpoint/${good}/count?status=9`)).status, 422);
  });

  it('gives the headers an attempt went out with, credentials and signature masked', async () => {
    assert.equal((await srv.api('POST', '/api/v1/app', { name: 'Heads', uid: 'heads' })).status, 201);
    const ep = await endpoint('heads', { url: `${receiver.url}/heads`, headers: { 'x-tenant': 'north', authorization: 'Bearer s3cret' } });
    const sent = await srv.api('POST', '/api/v1/app/heads/msg', { eventType: 'order.paid', payload: { h: 1 } });
    const [got] = await eventually(() => {
      const r = receiver.received.filter((x) => x.path === '/heads');
      return r.length > 0 ? r : undefined;
    });
    const attempt = await eventually(async () => (await srv.api('GET', `/api/v1/app/heads/attempt/msg/${sent.body.id}`)).body.data[0]);
    const r = await srv.api('GET', `/api/v1/app/heads/msg/${sent.body.id}/attempt/${attempt.id}/headers`);
    assert.equal(r.status, 200, r.text);
    const { sentHeaders, sensitive, responseHeaders } = r.body;
    assert.equal(responseHeaders, null);
    assert.deepEqual([...sensitive].sort(), ['authorization', 'webhook-signature']);
    assert.equal(sentHeaders.authorization, '********');
    assert.equal(sentHeaders['webhook-signature'], '********');
    assert.ok(!r.text.includes('s3cret'));
    for (const [name, value] of Object.entries(sentHeaders as Record<string, string>)) {
      if (sensitive.includes(name)) continue;
      // The timestamp is the attempt's start, to the second: it may fall a second either side.
      if (name === 'webhook-timestamp') assert.ok(Math.abs(Number(value) - Number(got!.headers[name])) <= 1, `${name}: ${value} vs ${got!.headers[name]}`);
      else assert.equal(value, got!.headers[name], `${name} as received`);
    }
    assert.equal(sentHeaders['x-tenant'], 'north');
    assert.equal(sentHeaders['webhook-id'], sent.body.id);
    assert.equal((await srv.api('GET', `/api/v1/app/heads/msg/${sent.body.id}/attempt/atmpt_2lYhbWJ0GEAzSF4rRS1kUCnsYmM/headers`)).status, 404);
    assert.ok(ep);
  });

  it("lets a portal token read counts and payloads, and attempt headers only with ManageEndpoint", async () => {
    const ep = await endpoint('shop', { url: `${receiver.url}/portal` });
    const sent = await srv.api('POST', '/api/v1/app/shop/msg', { eventType: 'order.paid', payload: { p: 1 } });
    const attempt = await eventually(async () => (await srv.api('GET', `/api/v1/app/shop/attempt/msg/${sent.body.id}?endpoint_id=${ep}`)).body.data[0]);
    const tokenFor = async (body: Record<string, unknown>) => (await srv.api('POST', '/api/v1/auth/app-portal-access/shop', body)).body.token as string;
    const viewer = await tokenFor({ capabilities: ['ViewBase'] });
    const manager = await tokenFor({ capabilities: ['ViewBase', 'ManageEndpoint'] });
    const as = (token: string, path: string) => srv.api('GET', path, undefined, { authorization: `Bearer ${token}` });
    assert.equal((await as(viewer, `/api/v1/app/shop/msg/${sent.body.id}/raw`)).status, 200);
    assert.equal((await as(viewer, `/api/v1/app/shop/attempt/endpoint/${ep}/count`)).body.count, 1);
    assert.equal((await as(viewer, `/api/v1/app/shop/endpoint/${ep}/rate-limit-status`)).status, 200);
    const headersPath = `/api/v1/app/shop/msg/${sent.body.id}/attempt/${attempt.id}/headers`;
    assert.equal((await as(viewer, headersPath)).status, 403);
    assert.equal((await as(manager, headersPath)).status, 200);
    // The platform's own: a portal token gets no precheck.
    const pre = await srv.api('POST', '/api/v1/app/shop/msg/precheck/active', { eventType: 'order.paid' }, { authorization: `Bearer ${viewer}` });
    assert.equal(pre.status, 403, pre.text);
  });
});
