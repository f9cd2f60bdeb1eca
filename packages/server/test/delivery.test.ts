import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, verify } from '@hookwell/receiver';
import { eventually, startReceiver, startServer, type Receiver, type TestServer } from './helpers.js';

async function setup(server: TestServer, url: string, extra: Record<string, unknown> = {}) {
  const uid = `app-${Math.random().toString(36).slice(2)}`;
  const app = await server.api('POST', '/api/v1/app', { name: uid, uid });
  assert.equal(app.status, 201);
  const ep = await server.api('POST', `/api/v1/app/${uid}/endpoint`, { url, ...extra });
  assert.equal(ep.status, 201, ep.text);
  const secret = (await server.api('GET', `/api/v1/app/${uid}/endpoint/${ep.body.id}/secret`)).body.key as string;
  return { app: uid, endpoint: ep.body.id as string, secret };
}

async function send(server: TestServer, app: string, payload: unknown = { hello: 'world' }, extra: Record<string, unknown> = {}) {
  const res = await server.api('POST', `/api/v1/app/${app}/msg`, { eventType: 'test.event', payload, ...extra });
  assert.equal(res.status, 202, res.text);
  return res.body.id as string;
}

async function attempts(server: TestServer, app: string, msgId: string) {
  const res = await server.api('GET', `/api/v1/app/${app}/attempt/msg/${msgId}`);
  assert.equal(res.status, 200);
  return res.body.data as any[];
}

async function destinationStatus(server: TestServer, app: string, msgId: string): Promise<number> {
  const res = await server.api('GET', `/api/v1/app/${app}/msg/${msgId}/endpoint`);
  return res.body.data[0].status as number;
}

describe('delivery', () => {
  let server: TestServer;
  let receiver: Receiver;

  before(async () => {
    server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '0.05,0.05', HOOKWELL_REQUEST_TIMEOUT_MS: '1000' });
    receiver = await startReceiver();
  });
  after(async () => {
    await server.stop();
    await receiver.close();
  });

  it('posts the payload byte for byte, signed over the bytes sent, with the endpoint headers', async () => {
    receiver.respond = () => ({ status: 200, body: 'thanks' });
    const { app, secret } = await setup(server, `${receiver.url}/signed`, { headers: { 'X-Team': 'blue', Authorization: 'Bearer s3cret' } });
    const raw = '{"eventType":"test.event","payload":{ "b" : 1,"a":[1.50, 1e3],"u":"\\u00e9 é" }}';
    const res = await server.api('POST', `/api/v1/app/${app}/msg`, raw);
    assert.equal(res.status, 202);
    const [got] = (await receiver.waitFor(1)).filter((r) => r.path === '/signed');
    assert.ok(got);
    assert.equal(got.body.toString('utf8'), '{ "b" : 1,"a":[1.50, 1e3],"u":"\\u00e9 é" }');
    assert.equal(got.headers['webhook-id'], res.body.id);
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['x-team'], 'blue');
    assert.equal(got.headers['authorization'], 'Bearer s3cret');
    assert.deepEqual(verify(got.body, got.headers as Record<string, string>, secret), { b: 1, a: [1.5, 1000], u: 'é é' });
    assert.throws(() => verify(Buffer.concat([got.body, Buffer.from(' ')]), got.headers as Record<string, string>, secret));

    const [attempt] = await eventually(async () => {
      const list = await attempts(server, app, res.body.id);
      return list.length > 0 ? list : undefined;
    });
    assert.equal(attempt.responseStatusCode, 200);
    assert.equal(attempt.response, 'thanks');
    assert.equal(attempt.status, 0);
    assert.equal(attempt.triggerType, 0);
    assert.ok(attempt.responseDurationMs >= 0);
    assert.ok(!JSON.stringify(attempt).includes('s3cret'), 'attempt records carry no header values');
  });

  it('delivers a message at its deliverAt, near or further off, and not before', async () => {
    receiver.respond = () => ({ status: 204 });
    const { app } = await setup(server, `${receiver.url}/scheduled`);
    const start = Date.now();
    const near = new Date(start + 400).toISOString();
    const far = new Date(start + 2_500).toISOString();
    await send(server, app, { when: 'far' }, { deliverAt: far });
    await send(server, app, { when: 'near' }, { deliverAt: near });
    const got = await eventually(async () => {
      const list = receiver.received.filter((r) => r.path === '/scheduled');
      return list.length >= 2 ? list : undefined;
    }, 10_000);
    const at = (when: string) => got.find((r) => JSON.parse(r.body.toString()).when === when)!.at;
    assert.ok(at('near') >= Date.parse(near), 'not before its time');
    assert.ok(at('far') >= Date.parse(far), 'not before its time');
    assert.ok(at('far') - Date.parse(far) < 1_000, `the far one is delivered on time, not ${at('far') - Date.parse(far)} ms late`);
  });

  it('retries on failure by the schedule and records every attempt', async () => {
    const { app } = await setup(server, `${receiver.url}/flaky`);
    let calls = 0;
    receiver.respond = (r) => (r.path === '/flaky' ? (++calls <= 2 ? { status: 500, body: `boom ${calls}` } : { status: 204 }) : { status: 200 });
    const msg = await send(server, app);
    const list = await eventually(async () => {
      const l = await attempts(server, app, msg);
      return l.length === 3 ? l : undefined;
    });
    assert.deepEqual(list.map((a) => a.responseStatusCode).reverse(), [500, 500, 204]);
    assert.deepEqual(list.map((a) => a.response).reverse(), ['boom 1', 'boom 2', '']);
    assert.equal(await eventually(async () => ((await destinationStatus(server, app, msg)) === 0 ? 0 : undefined)), 0);
  });

  it('fails the delivery after the last scheduled retry', async () => {
    const { app, endpoint } = await setup(server, `${receiver.url}/down`);
    receiver.respond = (r) => ({ status: r.path === '/down' ? 503 : 200 });
    const msg = await send(server, app);
    await eventually(async () => ((await destinationStatus(server, app, msg)) === 2 ? true : undefined));
    assert.equal((await attempts(server, app, msg)).length, 3, 'one attempt plus two retries');
    const stats = await server.api('GET', `/api/v1/app/${app}/endpoint/${endpoint}/stats`);
    assert.equal(stats.body.fail, 1);
  });

  it('treats a redirect as a failure and does not follow it', async () => {
    const { app } = await setup(server, `${receiver.url}/moved`);
    receiver.respond = (r) => (r.path === '/moved' ? { status: 302, headers: { location: `${receiver.url}/elsewhere` } } : { status: 200 });
    const msg = await send(server, app);
    await eventually(async () => ((await destinationStatus(server, app, msg)) === 2 ? true : undefined));
    assert.equal(receiver.received.filter((r) => r.path === '/elsewhere').length, 0);
    assert.deepEqual((await attempts(server, app, msg)).map((a) => a.responseStatusCode), [302, 302, 302]);
  });

  it('disables the endpoint when it answers 410 Gone', async () => {
    const { app, endpoint } = await setup(server, `${receiver.url}/gone`);
    receiver.respond = (r) => ({ status: r.path === '/gone' ? 410 : 200 });
    const msg = await send(server, app);
    await eventually(async () => ((await server.api('GET', `/api/v1/app/${app}/endpoint/${endpoint}`)).body.disabled ? true : undefined));
    assert.equal((await attempts(server, app, msg)).length, 1, 'no retry after 410');
    const before = receiver.received.filter((r) => r.path === '/gone').length;
    await send(server, app);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(receiver.received.filter((r) => r.path === '/gone').length, before, 'a disabled endpoint gets nothing');
  });

  it('records a timeout as an attempt with no status code', async () => {
    const { app } = await setup(server, `${receiver.url}/slow`);
    receiver.respond = (r) => (r.path === '/slow' ? { status: 200, delayMs: 3000 } : { status: 200 });
    const msg = await send(server, app);
    const [first] = await eventually(async () => {
      const l = await attempts(server, app, msg);
      return l.length > 0 ? l.slice(-1) : undefined;
    });
    assert.equal(first.responseStatusCode, 0);
    assert.match(first.response, /no response within 1000 ms/);
  });

  it('keeps only the first 16 KiB of a response body', async () => {
    const { app } = await setup(server, `${receiver.url}/chatty`);
    receiver.respond = (r) => (r.path === '/chatty' ? { status: 200, body: 'x'.repeat(100_000) } : { status: 200 });
    const msg = await send(server, app);
    const [a] = await eventually(async () => {
      const l = await attempts(server, app, msg);
      return l.length > 0 ? l : undefined;
    });
    assert.equal(a.response.length, 16 * 1024);
  });

  it('signs with both secrets during a rotation grace period', async () => {
    const { app, endpoint, secret: oldSecret } = await setup(server, `${receiver.url}/rotated`);
    receiver.respond = () => ({ status: 200 });
    const rot = await server.api('POST', `/api/v1/app/${app}/endpoint/${endpoint}/secret/rotate`, { gracePeriodSeconds: 60 });
    assert.equal(rot.status, 204);
    const newSecret = (await server.api('GET', `/api/v1/app/${app}/endpoint/${endpoint}/secret`)).body.key;
    assert.notEqual(newSecret, oldSecret);
    const msg = await send(server, app);
    const got = await eventually(() => receiver.received.find((r) => r.headers['webhook-id'] === msg));
    const sigs = String(got.headers['webhook-signature']).split(' ');
    assert.equal(sigs.length, 2);
    for (const s of [oldSecret, newSecret]) verify(got.body, got.headers as Record<string, string>, s);
  });

  it('signs with ed25519 (v1a) when the secret is an asymmetric key', async () => {
    const { secretKey, publicKey } = generateKeyPair();
    const { app, endpoint } = await setup(server, `${receiver.url}/asymmetric`, { secret: secretKey });
    const shown = (await server.api('GET', `/api/v1/app/${app}/endpoint/${endpoint}/secret`)).body;
    assert.deepEqual(shown, { key: secretKey, publicKey });
    receiver.respond = () => ({ status: 200 });
    const msg = await send(server, app, { asym: true });
    const got = await eventually(() => receiver.received.find((r) => r.headers['webhook-id'] === msg));
    assert.match(String(got.headers['webhook-signature']), /^v1a,/);
    assert.deepEqual(verify(got.body, got.headers as Record<string, string>, publicKey), { asym: true });
    assert.throws(() => verify(got.body, got.headers as Record<string, string>, generateKeyPair().publicKey));
  });

  it('routes by event type filter and channels', async () => {
    const uid = `route-${Date.now()}`;
    await server.api('POST', '/api/v1/app', { name: uid, uid });
    for (const name of ['meal.logged', 'goal.completed']) await server.api('POST', '/api/v1/event-type', { name, description: name });
    const mk = async (path: string, body: Record<string, unknown>) =>
      (await server.api('POST', `/api/v1/app/${uid}/endpoint`, { url: `${receiver.url}${path}`, ...body })).body.id;
    await mk('/meals', { filterTypes: ['meal.logged'] });
    await mk('/coach', { channels: ['coach'] });
    await mk('/all', {});
    receiver.respond = () => ({ status: 200 });
    const m1 = (await server.api('POST', `/api/v1/app/${uid}/msg`, { eventType: 'meal.logged', payload: {} })).body.id;
    const m2 = (await server.api('POST', `/api/v1/app/${uid}/msg`, { eventType: 'goal.completed', payload: {}, channels: ['coach'] })).body.id;
    await eventually(() => (receiver.received.filter((r) => [m1, m2].includes(r.headers['webhook-id'])).length >= 4 ? true : undefined));
    await new Promise((r) => setTimeout(r, 200));
    const to = (id: string) => receiver.received.filter((r) => r.headers['webhook-id'] === id).map((r) => r.path).sort();
    assert.deepEqual(to(m1), ['/all', '/meals']);
    assert.deepEqual(to(m2), ['/all', '/coach']);
  });
});

describe('delivery settings', () => {
  it('honours Retry-After on 429, within one to two times the scheduled delay', async () => {
    const server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '0.5,0.5' });
    const receiver = await startReceiver();
    try {
      const { app } = await setup(server, receiver.url);
      let n = 0;
      receiver.respond = () => (++n === 1 ? { status: 429, headers: { 'retry-after': '3600' } } : n === 2 ? { status: 429, headers: { 'retry-after': '0' } } : { status: 200 });
      await send(server, app);
      const got = await receiver.waitFor(3, 10_000);
      const first = got[1]!.at - got[0]!.at;
      const second = got[2]!.at - got[1]!.at;
      // Retry-After 3600 is capped at twice the (jittered, 0.4–0.6 s) delay; 0 is raised to it.
      assert.ok(first >= 780 && first <= 1400, `long Retry-After capped at twice the delay: ${first} ms`);
      assert.ok(second >= 380 && second < 780, `short Retry-After raised to the delay: ${second} ms`);
    } finally {
      await server.stop();
      await receiver.close();
    }
  });

  it('sends svix-* headers, or both kinds, as configured', async () => {
    for (const [mode, expect] of [
      ['svix', { svix: true, webhook: false }],
      ['both', { svix: true, webhook: true }],
    ] as const) {
      const server = await startServer({ HOOKWELL_SIGNATURE_HEADERS: mode });
      const receiver = await startReceiver();
      try {
        const { app, secret } = await setup(server, receiver.url);
        const id = await send(server, app);
        const [got] = await receiver.waitFor(1);
        assert.equal(got!.headers['svix-id'] === id, expect.svix);
        assert.equal(got!.headers['webhook-id'] === id, expect.webhook);
        verify(got!.body, got!.headers as Record<string, string>, secret);
      } finally {
        await server.stop();
        await receiver.close();
      }
    }
  });

  it('refuses private and loopback targets unless allowed, recording why', async () => {
    const server = await startServer({ HOOKWELL_ALLOW_PRIVATE_TARGETS: 'false', HOOKWELL_RETRY_SCHEDULE: '0' });
    const receiver = await startReceiver();
    try {
      const port = new URL(receiver.url).port;
      for (const host of ['127.0.0.1', 'localhost', '[::1]', '10.1.2.3', '169.254.169.254', '0.0.0.0']) {
        const { app } = await setup(server, `http://${host}:${port}/x`);
        const msg = await send(server, app);
        const [a] = await eventually(async () => {
          const l = await attempts(server, app, msg);
          return l.length === 2 ? l : undefined;
        }, 10_000, `attempts to ${host}`);
        assert.equal(a.responseStatusCode, 0);
        assert.match(a.response, /^the target (address|host name) (is not allowed|does not resolve to an allowed address): Hookwell delivers only to public addresses/, host);
        assert.ok(!a.response.includes('127.0.0.1'), 'what a name resolved to is not shown');
      }
      assert.equal(receiver.received.length, 0, 'nothing reached the loopback receiver');
    } finally {
      await server.stop();
      await receiver.close();
    }
  });

  it("spaces attempts to an endpoint by its throttle rate", async () => {
    const server = await startServer();
    const receiver = await startReceiver();
    try {
      const { app } = await setup(server, `${receiver.url}/throttled`, { throttleRate: 10 });
      for (let i = 0; i < 8; i++) await send(server, app, { i });
      const got = await receiver.waitFor(8, 10_000);
      const span = got[7]!.at - got[0]!.at;
      // Eight starts at ten per second are at least 700 ms apart end to end.
      assert.ok(span >= 650, `eight deliveries took ${span} ms at 10/s`);
    } finally {
      await server.stop();
      await receiver.close();
    }
  });

  it('keeps a hanging endpoint from delaying the others', async () => {
    const server = await startServer({ HOOKWELL_ENDPOINT_CONCURRENCY: '2', HOOKWELL_REQUEST_TIMEOUT_MS: '5000' });
    const receiver = await startReceiver();
    try {
      receiver.respond = (r) => (r.path === '/hang' ? { status: 200, delayMs: 4000 } : { status: 200 });
      const uid = 'isolation';
      await server.api('POST', '/api/v1/app', { name: uid, uid });
      await server.api('POST', `/api/v1/app/${uid}/endpoint`, { url: `${receiver.url}/hang`, channels: ['slow'] });
      await server.api('POST', `/api/v1/app/${uid}/endpoint`, { url: `${receiver.url}/fast`, channels: ['fast'] });
      for (let i = 0; i < 20; i++) await send(server, uid, { i }, { channels: ['slow'] });
      const started = Date.now();
      for (let i = 0; i < 20; i++) await send(server, uid, { i }, { channels: ['fast'] });
      await eventually(() => (receiver.received.filter((r) => r.path === '/fast').length === 20 ? true : undefined), 3000, 'fast endpoint');
      assert.ok(Date.now() - started < 3000);
      assert.equal(receiver.received.filter((r) => r.path === '/hang').length, 2, 'the hanging endpoint holds only its own two slots');
    } finally {
      await server.stop();
      await receiver.close();
    }
  });
});
