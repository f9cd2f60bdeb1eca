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
    // Its own wake-up or, failing that, the one-second poll brings it; the margin is for a busy machine.
    assert.ok(at('far') - Date.parse(far) < 2_000, `the far one is delivered on time, not ${at('far') - Date.parse(far)} ms late`);
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
    // An endpoint added beside it gets the next message; once that has arrived, a delivery
    // to the disabled one, had it been made with it, would have been claimed too.
    const sibling = await server.api('POST', `/api/v1/app/${app}/endpoint`, { url: `${receiver.url}/gone-sibling` });
    assert.equal(sibling.status, 201, sibling.text);
    const next = await send(server, app);
    const destinations = (await server.api('GET', `/api/v1/app/${app}/msg/${next}/endpoint`)).body.data.map((d: { id: string }) => d.id);
    assert.deepEqual(destinations, [sibling.body.id], 'no delivery is made for a disabled endpoint');
    await eventually(() => receiver.received.find((r) => r.path === '/gone-sibling' && r.headers['webhook-id'] === next), 10_000, 'the enabled sibling');
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
    const meals = await mk('/meals', { filterTypes: ['meal.logged'] });
    const coach = await mk('/coach', { channels: ['coach'] });
    const all = await mk('/all', {});
    receiver.respond = () => ({ status: 200 });
    const m1 = (await server.api('POST', `/api/v1/app/${uid}/msg`, { eventType: 'meal.logged', payload: {} })).body.id;
    const m2 = (await server.api('POST', `/api/v1/app/${uid}/msg`, { eventType: 'goal.completed', payload: {}, channels: ['coach'] })).body.id;
    const destinations = async (id: string) =>
      ((await server.api('GET', `/api/v1/app/${uid}/msg/${id}/endpoint`)).body.data as { id: string }[]).map((d) => d.id).sort();
    assert.deepEqual(await destinations(m1), [meals, all].sort());
    assert.deepEqual(await destinations(m2), [coach, all].sort());
    await eventually(() => (receiver.received.filter((r) => [m1, m2].includes(r.headers['webhook-id'])).length >= 4 ? true : undefined));
    // A third message for all three, sent after: once each has it, a stray copy of the first
    // two (written before it) would have been claimed and sent too.
    const m3 = (await server.api('POST', `/api/v1/app/${uid}/msg`, { eventType: 'meal.logged', payload: {}, channels: ['coach'] })).body.id;
    await eventually(() => (receiver.received.filter((r) => r.headers['webhook-id'] === m3).length === 3 ? true : undefined), 10_000, 'the third message at every endpoint');
    const to = (id: string) => receiver.received.filter((r) => r.headers['webhook-id'] === id).map((r) => r.path).sort();
    assert.deepEqual(to(m3), ['/all', '/coach', '/meals']);
    assert.deepEqual(to(m1), ['/all', '/meals']);
    assert.deepEqual(to(m2), ['/all', '/coach']);
  });
});

describe('delivery settings', () => {
  it('passes Retry-After of 429 and 503 to the schedule, as seconds or a date, within one to two times the delay, and not that of 500', async () => {
    // One attempt each; the retry is a minute off (48–72 s with jitter). The delay decided is
    // read from the delivery's next attempt less its attempt's time, both set by the server
    // from one clock reading, so a slow machine changes nothing here.
    const server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '60,60' });
    const receiver = await startReceiver();
    try {
      const answers: Record<string, () => { status: number; headers?: Record<string, string> }> = {
        '/429': () => ({ status: 429, headers: { 'retry-after': '90' } }),
        '/503': () => ({ status: 503, headers: { 'retry-after': '90' } }),
        '/503-date': () => ({ status: 503, headers: { 'retry-after': new Date(Date.now() + 100_000).toUTCString() } }),
        '/429-long': () => ({ status: 429, headers: { 'retry-after': '3600' } }),
        '/503-zero': () => ({ status: 503, headers: { 'retry-after': '0' } }),
        '/503-none': () => ({ status: 503 }),
        '/500': () => ({ status: 500, headers: { 'retry-after': '90' } }),
      };
      receiver.respond = (r) => answers[r.path]?.() ?? { status: 404 };
      const delays = Object.fromEntries(
        await Promise.all(
          Object.keys(answers).map(async (path) => {
            const { app } = await setup(server, `${receiver.url}${path}`);
            const msg = await send(server, app);
            const delay = await eventually(async () => {
              const [attempt] = await attempts(server, app, msg);
              const next = (await server.api('GET', `/api/v1/app/${app}/msg/${msg}/endpoint`)).body.data[0]?.nextAttempt;
              return attempt && next ? Date.parse(next) - Date.parse(attempt.timestamp) : undefined;
            }, 10_000, `the retry after ${path}`);
            return [path, delay] as const;
          }),
        ),
      );
      const within = (path: string, lo: number, hi: number) => assert.ok(delays[path]! >= lo && delays[path]! <= hi, `${path}: ${delays[path]} ms, not in [${lo}, ${hi}]`);
      assert.equal(delays['/429'], 90_000, '429: as asked');
      assert.equal(delays['/503'], 90_000, '503: as asked');
      // The date is whole seconds, made by the receiver before its answer travels back: the
      // delay is 99-100 s less that trip, which a loaded machine has stretched past a second.
      within('/503-date', 95_000, 100_000);
      within('/429-long', 96_000, 144_000); // capped at twice the jittered delay
      within('/503-zero', 48_000, 72_000); // raised to the jittered delay
      within('/503-none', 48_000, 72_000);
      within('/500', 48_000, 72_000); // ignored
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
      // Starts at ten per second are 100 ms apart. Every gap is checked, not only the span,
      // which a slow machine could stretch on its own; arrival may shift a start a little.
      const gaps = got.slice(1).map((r, i) => r.at - got[i]!.at);
      assert.ok(Math.min(...gaps) >= 60, `gaps between deliveries at 10/s: ${gaps.join(', ')} ms`);
      assert.ok(got[7]!.at - got[0]!.at >= 650, `eight deliveries took ${got[7]!.at - got[0]!.at} ms at 10/s`);
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
      for (let i = 0; i < 20; i++) await send(server, uid, { i }, { channels: ['fast'] });
      await eventually(() => (receiver.received.filter((r) => r.path === '/fast').length === 20 ? true : undefined), 10_000, 'fast endpoint');
      // Ordered, not timed: the two hanging requests are answered 4 s after they arrive, and a
      // third is sent only then. Had the fast deliveries waited behind them, they would arrive
      // after that answer, with more hanging requests in.
      const hang = receiver.received.filter((r) => r.path === '/hang');
      const lastFast = Math.max(...receiver.received.filter((r) => r.path === '/fast').map((r) => r.at));
      assert.equal(hang.length, 2, 'the hanging endpoint holds only its own two slots');
      assert.ok(lastFast < hang[0]!.at + 4000, `the last fast delivery arrived ${lastFast - hang[0]!.at} ms after the first hanging one, before it was answered`);
    } finally {
      await server.stop();
      await receiver.close();
    }
  });
});

/** A server with `env` and a receiver, started before the suite's tests and stopped after them. */
function serving(env: Record<string, string>): { server: TestServer; receiver: Receiver } {
  const ctx = {} as { server: TestServer; receiver: Receiver };
  before(async () => {
    ctx.server = await startServer(env);
    ctx.receiver = await startReceiver();
  });
  after(async () => {
    await ctx.server.stop();
    await ctx.receiver.close();
  });
  return ctx;
}

describe('delivery under a small overall limit', () => {
  const ctx = serving({ HOOKWELL_CONCURRENCY: '2', HOOKWELL_ENDPOINT_CONCURRENCY: '2' });

  it("sends an endpoint's queued work once another endpoint's attempts free the overall slots", async () => {
    const { server, receiver } = ctx;
    // Slow answers keep the first endpoint's attempts in flight while the others' work is queued behind the overall limit.
    receiver.respond = () => ({ status: 200, delayMs: 30 });
    const uid = `app-${Math.random().toString(36).slice(2)}`;
    assert.equal((await server.api('POST', '/api/v1/app', { name: uid, uid })).status, 201);
    const names = ['a', 'b', 'c'];
    for (const name of names) {
      const ep = await server.api('POST', `/api/v1/app/${uid}/endpoint`, { url: `${receiver.url}/${name}`, channels: [name] });
      assert.equal(ep.status, 201, ep.text);
    }
    for (let i = 0; i < 4; i++) for (const name of names) await send(server, uid, { i }, { channels: [name] });
    const got = await receiver.waitFor(12);
    for (const name of names) assert.equal(got.filter((r) => r.path === `/${name}`).length, 4, `endpoint ${name} got all four`);
  });
});
