// Endpoints that look after themselves: one whose every attempt fails for
// HOOKWELL_DISABLE_AFTER_S is disabled, and Hookwell's own events reach operational webhook
// endpoints, signed and retried like any delivery. Real receivers on loopback, short periods.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { verify } from '@hookwell/receiver';
import { ApiException, Svix } from 'svix';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startHookwell } from '../src/server.js';
import { eventually, request, startReceiver, startServer, tempDir, TOKEN, type Received, type Receiver, type TestServer } from './helpers.js';

interface OpEvent {
  type: string;
  data: Record<string, any>;
}

/** The operational events a receiver got on `path`, each checked against its signature. */
function opEvents(receiver: Receiver, secret: string, path = '/ops'): OpEvent[] {
  return receiver.received.filter((r) => r.path === path).map((r) => verify(r.body, r.headers as Record<string, string>, secret) as OpEvent);
}

async function waitForEvent(receiver: Receiver, secret: string, match: (e: OpEvent) => boolean, what: string, path = '/ops'): Promise<OpEvent> {
  return eventually(() => opEvents(receiver, secret, path).find(match), 10_000, what);
}

/** An application with one endpoint at `url`; its uid and the endpoint's id and uid. */
async function appWithEndpoint(server: TestServer, url: string) {
  const uid = `app-${Math.random().toString(36).slice(2)}`;
  assert.equal((await server.api('POST', '/api/v1/app', { name: uid, uid })).status, 201);
  const epUid = `ep-${Math.random().toString(36).slice(2)}`;
  const ep = await server.api('POST', `/api/v1/app/${uid}/endpoint`, { url, uid: epUid });
  assert.equal(ep.status, 201, ep.text);
  const appId = (await server.api('GET', `/api/v1/app/${uid}`)).body.id as string;
  return { app: uid, appId, endpoint: ep.body.id as string, endpointUid: epUid };
}

async function send(server: TestServer, app: string, payload: unknown = { n: 1 }): Promise<string> {
  const res = await server.api('POST', `/api/v1/app/${app}/msg`, { eventType: 'test.event', payload });
  assert.equal(res.status, 202, res.text);
  return res.body.id as string;
}

/** An operational webhook endpoint at the receiver's /ops; its id and secret. */
async function opEndpoint(server: TestServer, receiver: Receiver, body: Record<string, unknown> = {}, path = '/ops') {
  const ep = await server.api('POST', '/api/v1/operational-webhook/endpoint', { url: `${receiver.url}${path}`, ...body });
  assert.equal(ep.status, 201, ep.text);
  const secret = await server.api('GET', `/api/v1/operational-webhook/endpoint/${ep.body.id}/secret`);
  assert.equal(secret.status, 200);
  return { id: ep.body.id as string, secret: secret.body.key as string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How many times each message was attempted at `path`. */
const attemptsOf = (receiver: Receiver, path: string, msgId: string) => receiver.received.filter((r: Received) => r.path === path && r.headers['webhook-id'] === msgId).length;

describe('auto-disable after failing for HOOKWELL_DISABLE_AFTER_S', () => {
  let server: TestServer;
  let receiver: Receiver;
  let ops: { id: string; secret: string };

  before(async () => {
    // Retries every 0.2 s for 3.2 s, and a 2-second period: one message failing throughout outlasts it.
    server = await startServer({ HOOKWELL_DISABLE_AFTER_S: '2', HOOKWELL_RETRY_SCHEDULE: Array(16).fill('0.2').join(','), HOOKWELL_REQUEST_TIMEOUT_MS: '1000' });
    receiver = await startReceiver();
    receiver.respond = (r) => (r.path === '/down' ? { status: 500 } : { status: 200 });
    ops = await opEndpoint(server, receiver);
  });
  after(async () => {
    await server.stop();
    await receiver.close();
  });

  it('disables an endpoint whose every attempt failed for the period, says why, stops its deliveries and sends endpoint.disabled signed', async () => {
    const { app, appId, endpoint, endpointUid } = await appWithEndpoint(server, `${receiver.url}/down`);
    const started = Date.now();
    const msgId = await send(server, app);
    const disabled = await waitForEvent(receiver, ops.secret, (e) => e.type === 'endpoint.disabled' && e.data.endpointId === endpoint, 'endpoint.disabled');
    assert.ok(Date.now() - started >= 2000, 'not before the period');
    assert.deepEqual({ ...disabled.data, failSince: undefined }, { appId, appUid: app, endpointId: endpoint, endpointUid, failSince: undefined, trigger: 'automatic' });
    const failSince = Date.parse(disabled.data.failSince);
    assert.ok(failSince >= started - 50 && failSince < started + 1000, `failSince ${disabled.data.failSince} is the first failure`);

    const ep = (await server.api('GET', `/api/v1/app/${app}/endpoint/${endpoint}`)).body;
    assert.equal(ep.disabled, true);
    assert.equal(ep.disabledReason, 'every attempt failed for 2 seconds');
    assert.ok(Date.parse(ep.disabledAt) - failSince >= 2000);

    // Its retries stop (the one due is failed when claimed), and new messages are not routed to it.
    const attempted = attemptsOf(receiver, '/down', msgId);
    assert.ok(attempted >= 8 && attempted < 17, `${attempted} attempts`);
    const later = await send(server, app);
    await sleep(700);
    assert.equal(attemptsOf(receiver, '/down', msgId), attempted);
    assert.equal(attemptsOf(receiver, '/down', later), 0);
    // The fourth failure warned first.
    const failing = opEvents(receiver, ops.secret).find((e) => e.type === 'message.attempt.failing' && e.data.msgId === msgId);
    assert.ok(failing, 'message.attempt.failing was sent');
    assert.equal(failing.data.lastAttempt.responseStatusCode, 500);
  });

  it('re-enabling clears the reason, resumes delivery and sends endpoint.enabled; a later failure starts a new period', async () => {
    const { app, endpoint } = await appWithEndpoint(server, `${receiver.url}/down`);
    await send(server, app);
    await waitForEvent(receiver, ops.secret, (e) => e.type === 'endpoint.disabled' && e.data.endpointId === endpoint, 'endpoint.disabled');

    const patched = await server.api('PATCH', `/api/v1/app/${app}/endpoint/${endpoint}`, { disabled: false, url: `${receiver.url}/up` });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.disabled, false);
    assert.equal(patched.body.disabledReason, null);
    assert.equal(patched.body.disabledAt, null);
    await waitForEvent(receiver, ops.secret, (e) => e.type === 'endpoint.enabled' && e.data.endpointId === endpoint, 'endpoint.enabled');
    const msgId = await send(server, app);
    await eventually(() => (attemptsOf(receiver, '/up', msgId) === 1 ? true : undefined), 5000, 'delivery after re-enabling');

    // The old failing clock was cleared: a failure now does not disable at once.
    await server.api('PATCH', `/api/v1/app/${app}/endpoint/${endpoint}`, { url: `${receiver.url}/down` });
    const failed = await send(server, app);
    await eventually(() => (attemptsOf(receiver, '/down', failed) >= 2 ? true : undefined), 5000, 'failures after re-enabling');
    assert.equal((await server.api('GET', `/api/v1/app/${app}/endpoint/${endpoint}`)).body.disabled, false);
  });

  it('a success between failures starts the period again: failing longer than it in all, never in a row, stays enabled', async () => {
    const { app, endpoint } = await appWithEndpoint(server, `${receiver.url}/flaky`);
    // Each message fails four times, then succeeds: about 0.8 s of failing in a row.
    const seen = new Map<string, number>();
    const previous = receiver.respond;
    receiver.respond = (r, n) => {
      if (r.path !== '/flaky') return previous(r, n);
      const id = r.headers['webhook-id'] as string;
      seen.set(id, (seen.get(id) ?? 0) + 1);
      return { status: seen.get(id)! > 4 ? 200 : 503 };
    };
    const started = Date.now();
    for (let i = 0; i < 4; i++) {
      const msgId = await send(server, app, { i });
      await eventually(() => (seen.get(msgId) === 5 ? true : undefined), 8000, `message ${i} recovered`);
    }
    assert.ok(Date.now() - started > 2000, 'failures spread over more than the period');
    await sleep(300);
    const ep = (await server.api('GET', `/api/v1/app/${app}/endpoint/${endpoint}`)).body;
    assert.equal(ep.disabled, false);
    assert.equal(ep.disabledReason, null);
    assert.equal(opEvents(receiver, ops.secret).filter((e) => e.type === 'endpoint.disabled' && e.data.endpointId === endpoint).length, 0);
    // Each fifth attempt succeeded after the failing warning: recovered, with its attempt.
    const recovered = opEvents(receiver, ops.secret).filter((e) => e.type === 'message.attempt.recovered' && e.data.endpointId === endpoint);
    assert.equal(recovered.length, 4);
    assert.equal(recovered[0]!.data.lastAttempt.responseStatusCode, 200);
    assert.match(recovered[0]!.data.lastAttempt.id, /^atmpt_/);
  });
});

describe('operational webhooks', () => {
  let server: TestServer;
  let receiver: Receiver;
  let svix: Svix;

  before(async () => {
    server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '0.05,0.05,0.05,0.05,0.05', HOOKWELL_REQUEST_TIMEOUT_MS: '1000' });
    receiver = await startReceiver();
    svix = new Svix(TOKEN, { serverUrl: server.url });
  });
  after(async () => {
    await server.stop();
    await receiver.close();
  });

  it('manages operational endpoints through the svix SDK with Svix fields and status codes', async () => {
    const created = await svix.operationalWebhookEndpoint.create({ url: `${receiver.url}/sdk`, uid: 'sdk-ops', filterTypes: ['endpoint.created'], metadata: { team: 'ops' } });
    assert.match(created.id, /^ep_/);
    assert.equal(created.uid, 'sdk-ops');
    assert.deepEqual(created.filterTypes, ['endpoint.created']);
    assert.deepEqual(created.metadata, { team: 'ops' });
    assert.equal((await svix.operationalWebhookEndpoint.get('sdk-ops')).id, created.id);
    const listed = await svix.operationalWebhookEndpoint.list();
    assert.ok(listed.data.some((e) => e.id === created.id));
    assert.equal(listed.done, true);

    const updated = await svix.operationalWebhookEndpoint.update(created.id, { url: `${receiver.url}/sdk2`, description: 'ops', filterTypes: null });
    assert.equal(updated.url, `${receiver.url}/sdk2`);
    assert.equal(updated.description, 'ops');
    assert.equal(updated.uid, 'sdk-ops', 'an update without uid keeps it');
    assert.equal(updated.filterTypes, null);

    const { key } = await svix.operationalWebhookEndpoint.getSecret(created.id);
    assert.match(key, /^whsec_/);
    await svix.operationalWebhookEndpoint.rotateSecret(created.id, {});
    assert.notEqual((await svix.operationalWebhookEndpoint.getSecret(created.id)).key, key);

    await svix.operationalWebhookEndpoint.updateHeaders(created.id, { headers: { 'X-Ops': 'yes', Authorization: 'Bearer x' } });
    const headers = await svix.operationalWebhookEndpoint.getHeaders(created.id);
    assert.deepEqual(headers.headers, { 'X-Ops': 'yes', Authorization: '********' });
    assert.deepEqual(headers.sensitive, ['Authorization']);

    await svix.operationalWebhookEndpoint.delete(created.id);
    await assert.rejects(svix.operationalWebhookEndpoint.get(created.id), (err: unknown) => err instanceof ApiException && err.code === 404);

    // Raw: an unknown event type names the field; PUT creates under the path's uid.
    const bad = await server.api('POST', '/api/v1/operational-webhook/endpoint', { url: `${receiver.url}/x`, eventTypes: ['no.such'] });
    assert.equal(bad.status, 422);
    assert.match(bad.text, /eventTypes/);
    const put = await server.api('PUT', '/api/v1/operational-webhook/endpoint/put-ops', { url: `${receiver.url}/put` });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.body.uid, 'put-ops');
    assert.equal((await server.api('DELETE', '/api/v1/operational-webhook/endpoint/put-ops')).status, 204);
    assert.equal((await server.api('GET', '/api/v1/operational-webhook/endpoint/put-ops')).status, 404);
  });

  it('sends endpoint.created, endpoint.updated, endpoint.disabled (manual) and endpoint.deleted', async () => {
    const ops = await opEndpoint(server, receiver);
    const { app, appId, endpoint, endpointUid } = await appWithEndpoint(server, `${receiver.url}/any`);
    const ids = { appId, appUid: app, endpointId: endpoint, endpointUid };
    const created = await waitForEvent(receiver, ops.secret, (e) => e.type === 'endpoint.created' && e.data.endpointId === endpoint, 'endpoint.created');
    assert.deepEqual(created.data, ids);
    assert.equal((await server.api('PATCH', `/api/v1/app/${app}/endpoint/${endpoint}`, { disabled: true })).status, 200);
    const disabled = await waitForEvent(receiver, ops.secret, (e) => e.type === 'endpoint.disabled' && e.data.endpointId === endpoint, 'endpoint.disabled');
    assert.deepEqual(disabled.data, { ...ids, failSince: null, trigger: 'manual' });
    const ep = (await server.api('GET', `/api/v1/app/${app}/endpoint/${endpoint}`)).body;
    assert.equal(ep.disabledReason, 'disabled through the API');
    await waitForEvent(receiver, ops.secret, (e) => e.type === 'endpoint.updated' && e.data.endpointId === endpoint, 'endpoint.updated');
    assert.equal((await server.api('DELETE', `/api/v1/app/${app}/endpoint/${endpoint}`)).status, 204);
    const deleted = await waitForEvent(receiver, ops.secret, (e) => e.type === 'endpoint.deleted' && e.data.endpointId === endpoint, 'endpoint.deleted');
    assert.deepEqual(deleted.data, ids);
    // The operational endpoint's own changes are not told to it.
    assert.equal(opEvents(receiver, ops.secret).filter((e) => e.data.endpointId === ops.id).length, 0);
    await server.api('DELETE', `/api/v1/operational-webhook/endpoint/${ops.id}`);
  });

  it('sends message.attempt.failing on the fourth failure and message.attempt.exhausted on the last, only to endpoints subscribed', async () => {
    const ops = await opEndpoint(server, receiver, { eventTypes: ['message.attempt.failing', 'message.attempt.exhausted'] }, '/ops-attempts');
    receiver.respond = (r) => (r.path === '/broken' ? { status: 502 } : { status: 200 });
    const { app, appId, endpoint } = await appWithEndpoint(server, `${receiver.url}/broken`);
    const res = await server.api('POST', `/api/v1/app/${app}/msg`, { eventType: 'test.event', eventId: 'evt-1', payload: {} });
    const msgId = res.body.id as string;
    const exhausted = await waitForEvent(receiver, ops.secret, (e) => e.type === 'message.attempt.exhausted' && e.data.msgId === msgId, 'message.attempt.exhausted', '/ops-attempts');
    assert.equal(attemptsOf(receiver, '/broken', msgId), 6);
    assert.deepEqual({ ...exhausted.data, lastAttempt: undefined }, { appId, appUid: app, endpointId: endpoint, msgId, msgEventId: 'evt-1', lastAttempt: undefined });
    assert.equal(exhausted.data.lastAttempt.responseStatusCode, 502);
    // The exhausting attempt is the one stored last.
    const attempts = (await server.api('GET', `/api/v1/app/${app}/attempt/msg/${msgId}`)).body.data as { id: string; timestamp: string }[];
    assert.equal(exhausted.data.lastAttempt.id, attempts[0]!.id);
    assert.equal(exhausted.data.lastAttempt.timestamp, attempts[0]!.timestamp);
    const failing = opEvents(receiver, ops.secret, '/ops-attempts').filter((e) => e.type === 'message.attempt.failing' && e.data.msgId === msgId);
    assert.equal(failing.length, 1);
    // Not subscribed: no endpoint events reach it.
    assert.equal(opEvents(receiver, ops.secret, '/ops-attempts').filter((e) => e.type.startsWith('endpoint.')).length, 0);
  });
});

describe('an endpoint answering 410 Gone', () => {
  it('is disabled at its first answer, says so, logs it at info with its ids and tells operational endpoints', async () => {
    const dir = tempDir();
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const cfg = loadConfig({ port: '0', db: join(dir.dir, 'hookwell.db') }, { HOOKWELL_ADMIN_TOKEN: TOKEN, HOOKWELL_ALLOW_PRIVATE_TARGETS: 'true', HOOKWELL_RETRY_SCHEDULE: '0.05' });
    const hw = await startHookwell(cfg, createLogger('info', sink));
    const receiver = await startReceiver();
    receiver.respond = (r) => (r.path === '/gone' ? { status: 410 } : { status: 200 });
    const api = (method: string, path: string, body?: unknown) =>
      request(hw.url! + path, method, { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body === undefined ? undefined : JSON.stringify(body));
    const server = { api } as TestServer;
    try {
      const ops = await opEndpoint(server, receiver, { eventTypes: ['endpoint.disabled'] });
      const { app, appId, endpoint } = await appWithEndpoint(server, `${receiver.url}/gone`);
      await send(server, app);
      const disabled = await waitForEvent(receiver, ops.secret, (e) => e.data.endpointId === endpoint, 'endpoint.disabled');
      assert.equal(disabled.type, 'endpoint.disabled');
      assert.equal(disabled.data.trigger, 'automatic');
      const ep = (await api('GET', `/api/v1/app/${app}/endpoint/${endpoint}`)).body;
      assert.equal(ep.disabledReason, 'the endpoint answered 410 Gone');
      const logged = lines.find((l) => l.msg === 'endpoint disabled');
      assert.ok(logged, 'logged');
      assert.equal(logged.level, 40);
      assert.equal(logged.appId, appId);
      assert.equal(logged.endpointId, endpoint);
      assert.equal(logged.reason, 'the endpoint answered 410 Gone');
    } finally {
      await hw.close();
      await receiver.close();
      dir.cleanup();
    }
  });
});
