// Drives Hookwell's Svix operations through the current SDK generation, `svix` 2.x, as
// test/sdk.test.ts does with 1.x. The 2.x SDK declares Node >= 22 but runs on Node 20, so it
// is installed apart, in this folder (npm run install:sdk2), and the root install never
// sees its engine. What 2.x does differently is checked here: an idempotency-key on every
// POST, `with_content=false` by default on lists and gets, `expanded_statuses=true`, Dates
// for date-times, and `upsert` for PUT.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  ApiException,
  MessageAttemptTriggerType,
  MessageStatus,
  MessageStatusText,
  Svix,
  Webhook,
  type ApplicationOut,
  type EndpointOut,
  type MessageOut,
} from 'svix';
import { eventually, startReceiver, startServer, TOKEN, type Received, type Receiver, type TestServer } from '../helpers.js';

/** One exchange as the SDK made it: what it sent and what came back. */
interface Exchange {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  status: number;
  text: string;
}
const log: Exchange[] = [];
const recordingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const url = new URL(input instanceof Request ? input.url : String(input));
  log.push({
    method: (init?.method ?? 'GET').toUpperCase(),
    path: url.pathname,
    query: url.searchParams,
    headers: new Headers(init?.headers),
    status: res.status,
    text: await res.clone().text(),
  });
  return res;
};
const last = (): Exchange => {
  const x = log.at(-1);
  assert.ok(x, 'no exchange recorded');
  return x;
};

let seq = 0;
const uniq = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${++seq}`;
const ids = (xs: { id: string }[]): string[] => xs.map((x) => x.id).sort();

async function rejectsWith(p: Promise<unknown>, code: number): Promise<ApiException<any>> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiException, `expected an ApiException, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${JSON.stringify(err.body)}`);
    return err as ApiException<any>;
  }
  assert.fail(`expected the call to fail with ${code}, but it succeeded`);
}

function headersOf(r: Received): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

describe('svix 2.x SDK against Hookwell', () => {
  let srv: TestServer;
  let receiver: Receiver;
  let svix: Svix;
  const routes = new Map<string, (r: Received) => { status: number; body?: string }>();
  const at = (path: string): Received[] => receiver.received.filter((r) => r.path === path);
  const arrivals = (path: string, n: number): Promise<Received[]> =>
    eventually(() => (at(path).length >= n ? at(path) : undefined), 10_000, `${n} deliveries at ${path}`);
  let typeA: string;
  let typeB: string;

  const newApp = (uid = uniq('app')): Promise<ApplicationOut> => svix.application.create({ name: 'Test app', uid });
  const newEndpoint = (appId: string, path: string, extra: Partial<Parameters<Svix['endpoint']['create']>[1]> = {}): Promise<EndpointOut> =>
    svix.endpoint.create(appId, { url: receiver.url + path, ...extra });

  before(async () => {
    // A retry schedule of 0 s: a failing delivery gets its two attempts at once and fails.
    [srv, receiver] = await Promise.all([startServer({ HOOKWELL_RETRY_SCHEDULE: '0' }), startReceiver()]);
    receiver.respond = (r) => routes.get(r.path)?.(r) ?? { status: 200 };
    svix = new Svix(TOKEN, { serverUrl: srv.url, fetch: recordingFetch });
    typeA = uniq('order.created');
    typeB = uniq('order.shipped');
    await svix.eventType.create({ name: typeA, description: 'A' });
    await svix.eventType.create({ name: typeB, description: 'B' });
  });

  after(async () => {
    await srv?.stop();
    await receiver?.close();
  });

  it('health.get answers 204; a wrong token gets 401 on everything else', async () => {
    await svix.health.get();
    assert.equal(last().status, 204);
    const wrong = new Svix('not-the-admin-token-at-all', { serverUrl: srv.url });
    const e = await rejectsWith(wrong.application.list(), 401);
    assert.equal(e.body.code, 'authentication_failed');
  });

  it('every POST carries an automatic idempotency-key, and a repeated key gets the first answer again', async () => {
    const uid = uniq('idem');
    const app = await svix.application.create({ name: 'Idem', uid });
    const sent = last();
    assert.equal(sent.method, 'POST');
    assert.match(sent.headers.get('idempotency-key') ?? '', /^auto_[0-9a-f-]{36}$/);
    const body = { name: 'Idem', uid: uniq('other') };
    const again = await svix.application.create(body, { idempotencyKey: 'k-1' });
    const replay = await svix.application.create(body, { idempotencyKey: 'k-1' });
    assert.equal(last().headers.get('idempotency-key'), 'k-1');
    assert.equal(last().status, 201, 'the first answer, status and all');
    assert.equal(replay.id, again.id, 'the same key and body: the first answer again');
    assert.notEqual(again.id, app.id);
    const conflict = await rejectsWith(svix.application.create({ name: 'Other body', uid: uniq('x') }, { idempotencyKey: 'k-1' }), 409);
    assert.equal(conflict.body.code, 'idempotency_conflict');
    // Two creates with automatic keys are two applications: each key is new.
    const m1 = await svix.message.create(app.id, { eventType: typeA, payload: { n: 1 } });
    const m2 = await svix.message.create(app.id, { eventType: typeA, payload: { n: 1 } });
    assert.notEqual(m1.id, m2.id);
  });

  it('application: create, getOrCreate, get, list (with its filters), upsert, patch, delete', async () => {
    const uid = uniq('acme');
    const app = await newApp(uid);
    assert.equal(last().status, 201);
    assert.match(app.id, /^app_[A-Za-z0-9]{27}$/);
    assert.ok(app.createdAt instanceof Date);
    const got = await svix.application.getOrCreate({ name: 'ignored', uid });
    assert.equal(last().query.get('get_if_exists'), 'true');
    assert.equal(got.id, app.id);
    assert.deepEqual(await svix.application.get(uid), app);
    const withEndpoint = await newApp();
    await newEndpoint(withEndpoint.id, '/apps');
    const all: string[] = [];
    const kept: string[] = [];
    for (let iterator: string | null | undefined = undefined, done = false; !done; ) {
      const page = await svix.application.list({ limit: 250, iterator });
      all.push(...page.data.map((a) => a.id));
      ({ iterator, done } = page);
    }
    for (let iterator: string | null | undefined = undefined, done = false; !done; ) {
      const page = await svix.application.list({ limit: 250, iterator, excludeAppsWithNoEndpoints: true });
      kept.push(...page.data.map((a) => a.id));
      ({ iterator, done } = page);
    }
    assert.ok(all.includes(app.id) && all.includes(withEndpoint.id));
    assert.ok(!kept.includes(app.id) && kept.includes(withEndpoint.id), 'exclude_apps_with_no_endpoints');

    const up = await svix.application.upsert(uid, { name: 'Renamed', uid });
    assert.equal(up.id, app.id);
    assert.equal(up.name, 'Renamed');
    const created = await svix.application.upsert(uniq('put-new'), { name: 'New by PUT' });
    assert.equal(last().status, 201);
    assert.equal(created.name, 'New by PUT');
    const patched = await svix.application.patch(app.id, { metadata: { tier: 'gold' } });
    assert.deepEqual(patched.metadata, { tier: 'gold' });
    assert.equal(patched.name, 'Renamed');
    await svix.application.delete(uid);
    assert.equal(last().status, 204);
    await rejectsWith(svix.application.get(uid), 404);
    await rejectsWith(svix.application.create({ name: 'dup', uid: withEndpoint.uid! }), 409);
  });

  it('eventType: create, get, list, upsert, patch, delete (archive)', async () => {
    const name = uniq('user.signup');
    const t = await svix.eventType.create({ name, description: 'first', schemas: { '1': { type: 'object' } } });
    assert.equal(t.name, name);
    assert.deepEqual((await svix.eventType.get(name)).schemas, { '1': { type: 'object' } });
    assert.ok((await svix.eventType.list({ limit: 250 })).data.some((x) => x.name === name));
    assert.equal((await svix.eventType.upsert(name, { description: 'second' })).description, 'second');
    assert.equal((await svix.eventType.patch(name, { description: 'third' })).description, 'third');
    await svix.eventType.delete(name);
    assert.equal(last().status, 204);
    assert.equal((await svix.eventType.get(name)).archived, true);
    await rejectsWith(svix.eventType.create({ name: typeA, description: 'again' }), 409);
  });

  it('endpoint: create, get, list, upsert, patch, headers, secret, delete', async () => {
    const app = await newApp();
    const ep = await newEndpoint(app.id, '/crud', { uid: 'crud', eventTypes: [typeA], channels: ['ch-1'], metadata: { k: 'v' } });
    assert.equal(last().status, 201);
    assert.deepEqual(ep.eventTypes, [typeA]);
    assert.deepEqual(await svix.endpoint.get(app.id, 'crud'), ep);
    assert.deepEqual(ids((await svix.endpoint.list(app.id)).data), [ep.id]);
    const up = await svix.endpoint.upsert(app.id, 'crud', { url: receiver.url + "/crud-2", eventTypes: [typeB] });
    assert.equal(up.id, ep.id);
    assert.equal(up.url, receiver.url + '/crud-2');
    assert.equal(up.channels ?? null, null, 'PUT clears what it is not given');
    const patched = await svix.endpoint.patch(app.id, 'crud', { description: 'patched' });
    assert.equal(patched.description, 'patched');
    assert.deepEqual(patched.eventTypes, [typeB]);

    await svix.endpoint.setHeaders(app.id, 'crud', { headers: { 'x-one': '1', 'x-two': '2' } });
    await svix.endpoint.patchHeaders(app.id, 'crud', { headers: { 'x-two': null as unknown as string, 'x-three': '3' } });
    assert.deepEqual((await svix.endpoint.getHeaders(app.id, 'crud')).headers, { 'x-one': '1', 'x-three': '3' });

    const before = (await svix.endpoint.getSecret(app.id, 'crud')).key;
    assert.match(before, /^whsec_/);
    const key = 'whsec_' + randomBytes(32).toString('base64');
    await svix.endpoint.rotateSecret(app.id, 'crud', { key });
    assert.equal(last().status, 204);
    assert.match(last().headers.get('idempotency-key') ?? '', /^auto_/);
    assert.equal((await svix.endpoint.getSecret(app.id, 'crud')).key, key);
    const refused = await rejectsWith(svix.endpoint.rotateSecret(app.id, 'crud', { key: 'whpk_' + randomBytes(32).toString('base64') }), 422);
    assert.match(refused.body.detail[0].msg, /public key/);

    await svix.endpoint.delete(app.id, 'crud');
    await rejectsWith(svix.endpoint.get(app.id, 'crud'), 404);
  });

  describe('messages and attempts', () => {
    let app: ApplicationOut;
    let ep: EndpointOut;
    let msg: MessageOut;
    let secret: string;
    const eventId = uniq('evt');

    before(async () => {
      routes.set('/att', () => ({ status: 200, body: 'thanks-2x' }));
      app = await newApp();
      ep = await newEndpoint(app.id, '/att', { uid: 'att' });
      secret = (await svix.endpoint.getSecret(app.id, ep.id)).key;
    });

    it('message.create answers 202 with the message (no payload: with_content=false), signed and delivered', async () => {
      msg = await svix.message.create(app.id, { eventType: typeA, eventId, payload: { attempt: 1 }, channels: ['ch-att'], tags: ['t1'] });
      const x = last();
      assert.equal(x.status, 202);
      assert.equal(x.query.get('with_content'), 'false');
      assert.deepEqual(msg.payload, {}, 'the 2.x SDK asks for no content back');
      assert.equal(msg.eventId, eventId);
      assert.equal(msg.deliverAt ?? null, null);
      const [r] = await arrivals('/att', 1);
      // 2.x's verify throws on a bad signature and returns nothing.
      new Webhook(secret).verify(r!.body.toString(), headersOf(r!));
      assert.throws(() => new Webhook('whsec_' + randomBytes(24).toString('base64')).verify(r!.body.toString(), headersOf(r!)));
      assert.deepEqual(JSON.parse(r!.body.toString()), { attempt: 1 });
      assert.equal(r!.headers['webhook-id'], msg.id);
    });

    it('message.get and list: payload only with withContent, deliverAt as a Date', async () => {
      assert.deepEqual((await svix.message.get(app.id, eventId)).payload, {});
      assert.deepEqual((await svix.message.get(app.id, eventId, { withContent: true })).payload, { attempt: 1 });
      const listed = await svix.message.list(app.id, { withContent: true, channel: 'ch-att' });
      assert.deepEqual(ids(listed.data), [msg.id]);
      assert.deepEqual(listed.data[0]!.payload, { attempt: 1 });
      const later = new Date(Date.now() + 3_600_000);
      later.setMilliseconds(0);
      const scheduled = await svix.message.create(app.id, { eventType: typeB, payload: { later: true }, deliverAt: later });
      assert.ok(scheduled.deliverAt instanceof Date);
      assert.equal(scheduled.deliverAt.toISOString(), later.toISOString());
      assert.equal((await svix.message.get(app.id, scheduled.id)).deliverAt?.toISOString(), later.toISOString());
    });

    it('messageAttempt: listByEndpoint, listByMsg, get, listAttemptedMessages, listAttemptedDestinations', async () => {
      const list = await eventually(
        async () => {
          const l = await svix.messageAttempt.listByEndpoint(app.id, 'att', { withContent: true });
          return l.data.length > 0 ? l : undefined;
        },
        10_000,
        'the attempt to be recorded',
      );
      const a = list.data[0]!;
      assert.equal(a.msgId, msg.id);
      assert.equal(a.endpointId, ep.id);
      assert.equal(a.response, 'thanks-2x');
      assert.equal(a.status, MessageStatus.Success);
      assert.equal(a.statusText, MessageStatusText.Success);
      assert.equal(a.triggerType, MessageAttemptTriggerType.Scheduled);
      assert.ok(a.timestamp instanceof Date);

      const plain = await svix.messageAttempt.listByEndpoint(app.id, 'att');
      assert.equal(last().query.get('with_content'), 'false');
      assert.equal(plain.data[0]!.response, '{}', 'the 2.x default: no response body');
      const withMsg = await svix.messageAttempt.listByEndpoint(app.id, 'att', { withMsg: true, withContent: true });
      assert.equal(withMsg.data[0]!.msg?.id, msg.id);
      assert.deepEqual(withMsg.data[0]!.msg?.payload, {}, 'the embedded message never has its payload');

      assert.deepEqual(ids((await svix.messageAttempt.listByMsg(app.id, eventId)).data), [a.id]);
      assert.equal((await svix.messageAttempt.listByMsg(app.id, msg.id, { status: MessageStatus.Fail })).data.length, 0);
      assert.equal((await svix.messageAttempt.get(app.id, msg.id, a.id)).id, a.id);

      const attempted = await svix.messageAttempt.listAttemptedMessages(app.id, 'att', { withContent: true });
      assert.equal(attempted.data.find((m) => m.id === msg.id)?.status, MessageStatus.Success);
      assert.deepEqual(attempted.data.find((m) => m.id === msg.id)?.payload, { attempt: 1 });
      const destinations = await svix.messageAttempt.listAttemptedDestinations(app.id, msg.id);
      assert.deepEqual(ids(destinations.data), [ep.id]);
    });

    it('messageAttempt.resend, expungeContent; message.expungeContent', async () => {
      await svix.messageAttempt.resend(app.id, msg.id, 'att');
      assert.equal(last().status, 202);
      await arrivals('/att', 2);
      const attempts = await eventually(
        async () => {
          const l = await svix.messageAttempt.listByMsg(app.id, msg.id, { withContent: true });
          return l.data.length >= 2 ? l.data : undefined;
        },
        10_000,
        'the resend to be recorded',
      );
      assert.equal(attempts[0]!.triggerType, MessageAttemptTriggerType.Manual);
      await svix.messageAttempt.expungeContent(app.id, msg.id, attempts[0]!.id);
      assert.equal((await svix.messageAttempt.get(app.id, msg.id, attempts[0]!.id)).response, '');
      await svix.message.expungeContent(app.id, msg.id);
      assert.equal(last().status, 204);
      assert.deepEqual((await svix.message.get(app.id, msg.id, { withContent: true })).payload, {});
    });
  });

  it('endpoint.recover, replayMissing, sendExample and getStats', async () => {
    let down = true;
    routes.set('/flaky', () => (down ? { status: 500 } : { status: 200 }));
    const app = await newApp();
    await newEndpoint(app.id, '/flaky', { uid: 'flaky' });
    const since = new Date(Date.now() - 1000);
    await svix.message.create(app.id, { eventType: typeA, payload: { n: 1 } });
    await eventually(async () => ((await svix.endpoint.getStats(app.id, 'flaky')).fail === 1 ? true : undefined), 10_000, 'the failure');
    down = false;
    const recovered = await svix.endpoint.recover(app.id, 'flaky', { since });
    assert.equal(last().status, 202);
    assert.match(recovered.id, /^qtask_/);
    await eventually(async () => ((await svix.endpoint.getStats(app.id, 'flaky')).success === 1 ? true : undefined), 10_000, 'the recovery');

    const missedApp = await newApp();
    await svix.message.create(missedApp.id, { eventType: typeA, payload: { missed: true } });
    await newEndpoint(missedApp.id, '/missed', { uid: 'missed' });
    const replayed = await svix.endpoint.replayMissing(missedApp.id, 'missed', { since: new Date(Date.now() - 60_000) });
    assert.match(replayed.id, /^qtask_/);
    await arrivals('/missed', 1);

    await svix.eventType.patch(typeA, { schemas: { '1': { type: 'object', examples: [{ hello: 'world' }] } } });
    const example = await svix.endpoint.sendExample(missedApp.id, 'missed', { eventType: typeA });
    assert.equal(example.eventType, typeA);
    const [, second] = await arrivals('/missed', 2);
    assert.deepEqual(JSON.parse(second!.body.toString()), { hello: 'world' });
  });

  it('authentication.appPortalAccess gives a portal link and token', async () => {
    const app = await newApp();
    const access = await svix.authentication.appPortalAccess(app.id, {});
    assert.ok(access.token.length > 0);
    assert.match(access.url, /^https?:\/\//);
  });

  it('operationalWebhook.endpoint: create, get, list, upsert, headers, secret, delete', async () => {
    const ops = svix.operationalWebhook.endpoint;
    const ep = await ops.create({ url: receiver.url + '/ops', uid: uniq('ops') });
    assert.equal(last().status, 201);
    assert.equal((await ops.get(ep.id)).url, receiver.url + '/ops');
    assert.ok((await ops.list()).data.some((e) => e.id === ep.id));
    assert.equal((await ops.upsert(ep.id, { url: receiver.url + '/ops-2' })).url, receiver.url + '/ops-2');
    await ops.setHeaders(ep.id, { headers: { 'x-ops': '1' } });
    assert.deepEqual((await ops.getHeaders(ep.id)).headers, { 'x-ops': '1' });
    const key = 'whsec_' + randomBytes(32).toString('base64');
    await ops.rotateSecret(ep.id, { key });
    assert.equal((await ops.getSecret(ep.id)).key, key);
    await ops.delete(ep.id);
    await rejectsWith(ops.get(ep.id), 404);
  });
});
