// The receiving side's contract as the seed platforms describe it: the ping/pong check of
// a URL, webhook keys, and the status / bulk-retry view of failures.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { verify } from '@hookwell/receiver';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startHookwell } from '../src/server.js';
import { eventually, startReceiver, startServer, tempDir, TOKEN, type Receiver, type TestServer } from './helpers.js';

function pongReceiver(receiver: Receiver, opts: { wrongPong?: boolean; status?: number; delayMs?: number } = {}) {
  receiver.respond = (r) => {
    const body = JSON.parse(r.body.toString() || '{}');
    if (typeof body.ping !== 'string') return { status: 200 };
    return {
      status: opts.status ?? 200,
      body: JSON.stringify({ pong: opts.wrongPong ? 'nope' : body.ping }),
      headers: { 'content-type': 'application/json' },
      delayMs: opts.delayMs,
    };
  };
}

describe('endpoint checks', () => {
  let server: TestServer;
  let receiver: Receiver;
  before(async () => {
    server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '0' });
    receiver = await startReceiver();
    await server.api('POST', '/api/v1/app', { name: 'checks', uid: 'checks' });
  });
  after(async () => {
    await server.stop();
    await receiver.close();
  });

  it('pings an endpoint with a signed {"ping"} and stores whether the pong matched', async () => {
    pongReceiver(receiver);
    const ep = (await server.api('POST', '/api/v1/app/checks/endpoint', { url: `${receiver.url}/ok` })).body;
    assert.equal(ep.lastPing, null);
    const res = await server.api('POST', `/api/v1/app/checks/endpoint/${ep.id}/ping`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.ok, true);
    const got = receiver.received.filter((r) => r.path === '/ok').at(-1)!;
    const secret = (await server.api('GET', `/api/v1/app/checks/endpoint/${ep.id}/secret`)).body.key;
    const sent = verify(got.body, got.headers as Record<string, string>, secret) as { ping: string };
    assert.match(sent.ping, /^[A-Za-z0-9_-]{16,}$/);
    const read = (await server.api('GET', `/api/v1/app/checks/endpoint/${ep.id}`)).body;
    assert.equal(read.lastPing.ok, true);
    assert.ok(Date.parse(read.lastPing.at) <= Date.now());

    pongReceiver(receiver, { wrongPong: true });
    const bad = await server.api('POST', `/api/v1/app/checks/endpoint/${ep.id}/ping`);
    assert.equal(bad.body.ok, false);
    assert.match(bad.body.detail, /pong/);
    assert.equal((await server.api('GET', `/api/v1/app/checks/endpoint/${ep.id}`)).body.lastPing.ok, false);
  });

  it('fails a ping that takes longer than two seconds', async () => {
    // The pong comes after six seconds: a ping that waited for it would take that long.
    pongReceiver(receiver, { delayMs: 6000 });
    const ep = (await server.api('POST', '/api/v1/app/checks/endpoint', { url: `${receiver.url}/slow` })).body;
    const started = Date.now();
    const res = await server.api('POST', `/api/v1/app/checks/endpoint/${ep.id}/ping`);
    assert.equal(res.body.ok, false);
    assert.match(res.body.detail, /no response within 2000 ms/);
    assert.ok(Date.now() - started < 4500, `the ping gave up after ${Date.now() - started} ms, not at the pong`);
  });

  it('refuses to create, or re-point, an endpoint with verify: true that does not pong', async () => {
    pongReceiver(receiver, { status: 500 });
    const before = (await server.api('GET', '/api/v1/app/checks/endpoint?limit=250')).body.data.length;
    const refused = await server.api('POST', '/api/v1/app/checks/endpoint', { url: `${receiver.url}/broken`, verify: true });
    assert.equal(refused.status, 422, refused.text);
    assert.deepEqual(refused.body.detail[0].loc, ['body', 'url']);
    assert.match(refused.body.detail[0].msg, /answered 500/);
    assert.equal((await server.api('GET', '/api/v1/app/checks/endpoint?limit=250')).body.data.length, before, 'nothing was created');

    pongReceiver(receiver);
    const created = await server.api('POST', '/api/v1/app/checks/endpoint', { url: `${receiver.url}/fine`, verify: true });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.lastPing.ok, true);

    pongReceiver(receiver, { wrongPong: true });
    const moved = await server.api('PATCH', `/api/v1/app/checks/endpoint/${created.body.id}`, { url: `${receiver.url}/elsewhere`, verify: true });
    assert.equal(moved.status, 422);
    assert.equal((await server.api('GET', `/api/v1/app/checks/endpoint/${created.body.id}`)).body.url, `${receiver.url}/fine`);
  });

  it('sends a webhook key in the chosen header, rotates it and removes it', async () => {
    receiver.respond = () => ({ status: 200 });
    const ep = (await server.api('POST', '/api/v1/app/checks/endpoint', { url: `${receiver.url}/keyed`, channels: ['keyed'] })).body;
    const k1 = await server.api('POST', `/api/v1/app/checks/endpoint/${ep.id}/key`, {});
    assert.equal(k1.status, 200, k1.text);
    assert.equal(k1.body.header, 'x-webhook-key');
    assert.ok(k1.body.key.length >= 32);
    const send = async () => {
      const id = (await server.api('POST', '/api/v1/app/checks/msg', { eventType: 'k.t', payload: {}, channels: ['keyed'] })).body.id;
      return eventually(() => receiver.received.find((r) => r.path === '/keyed' && r.headers['webhook-id'] === id));
    };
    assert.equal((await send()).headers['x-webhook-key'], k1.body.key);

    const k2 = await server.api('POST', `/api/v1/app/checks/endpoint/${ep.id}/key`, { header: 'X-Customer-Key' });
    assert.notEqual(k2.body.key, k1.body.key);
    const got = await send();
    assert.equal(got.headers['x-customer-key'], k2.body.key);
    assert.equal(got.headers['x-webhook-key'], undefined, 'the old header is gone after rotation');
    assert.equal((await server.api('GET', `/api/v1/app/checks/endpoint/${ep.id}/key`)).body.key, k2.body.key);
    assert.equal((await server.api('GET', `/api/v1/app/checks/endpoint/${ep.id}`)).body.webhookKeyHeader, 'X-Customer-Key');

    assert.equal((await server.api('DELETE', `/api/v1/app/checks/endpoint/${ep.id}/key`)).status, 204);
    assert.equal((await send()).headers['x-customer-key'], undefined);
    assert.equal((await server.api('GET', `/api/v1/app/checks/endpoint/${ep.id}/key`)).status, 404);
    const reserved = await server.api('POST', `/api/v1/app/checks/endpoint/${ep.id}/key`, { header: 'content-type' });
    assert.equal(reserved.status, 422);
  });

  it('counts processing and failed deliveries, and retries the failed ones on request', async () => {
    await server.api('POST', '/api/v1/app', { name: 'status', uid: 'status' });
    const down = (await server.api('POST', '/api/v1/app/status/endpoint', { url: `${receiver.url}/down` })).body;
    const up = (await server.api('POST', '/api/v1/app/status/endpoint', { url: `${receiver.url}/up` })).body;
    let healthy = false;
    receiver.respond = (r) => ({ status: r.path === '/down' && !healthy ? 500 : 200 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await server.api('POST', '/api/v1/app/status/msg', { eventType: 's.t', payload: { i } })).body.id);
    const status = await eventually(async () => {
      const s = (await server.api('GET', '/api/v1/app/status/status')).body;
      return s.failed === 3 && s.processing === 0 ? s : undefined;
    }, 10_000, 'three failed deliveries');
    assert.equal(status.enabled, true);
    assert.match(status.statusDetail, /3 failed/);
    const byId = Object.fromEntries(status.endpoints.map((e: any) => [e.id, e]));
    assert.equal(byId[down.id].failed, 3);
    assert.equal(byId[down.id].lastStatus, 500);
    assert.equal(byId[up.id].failed, 0);
    assert.equal(byId[up.id].lastStatus, 200);
    assert.ok(Date.parse(byId[up.id].lastAttemptAt) > 0);

    healthy = true;
    const retry = await server.api('POST', '/api/v1/app/status/retry-failed');
    assert.equal(retry.status, 202);
    assert.equal(retry.body.queued, 3);
    // Done once nothing is failed or still processing (right after the call, all three are pending).
    await eventually(async () => {
      const s = (await server.api('GET', '/api/v1/app/status/status')).body;
      return s.failed === 0 && s.processing === 0 ? true : undefined;
    });
    const downHits = receiver.received.filter((r) => r.path === '/down');
    // Oldest first: the three messages come back in the order they were sent.
    assert.deepEqual(downHits.slice(-3).map((r) => r.headers['webhook-id']), ids);
  });

  it('keeps bulk retries from starving new messages', async () => {
    const local = await startServer({ HOOKWELL_RETRY_SCHEDULE: '0', HOOKWELL_ENDPOINT_CONCURRENCY: '1' });
    const rx = await startReceiver();
    try {
      let healthy = false;
      rx.respond = () => (healthy ? { status: 200, delayMs: 5 } : { status: 500 });
      await local.api('POST', '/api/v1/app', { name: 'bulk', uid: 'bulk' });
      await local.api('POST', '/api/v1/app/bulk/endpoint', { url: rx.url });
      for (let i = 0; i < 60; i++) await local.api('POST', '/api/v1/app/bulk/msg', { eventType: 'b.t', payload: { old: i } });
      await eventually(async () => ((await local.api('GET', '/api/v1/app/bulk/status')).body.failed === 60 ? true : undefined), 15_000);
      healthy = true;
      const before = rx.received.length;
      assert.equal((await local.api('POST', '/api/v1/app/bulk/retry-failed')).body.queued, 60);
      const fresh = (await local.api('POST', '/api/v1/app/bulk/msg', { eventType: 'b.t', payload: { fresh: true } })).body.id;
      await eventually(() => rx.received.find((r) => r.headers['webhook-id'] === fresh), 10_000);
      const position = rx.received.findIndex((r) => r.headers['webhook-id'] === fresh) - before;
      assert.ok(position < 20, `the new message went out after ${position} of 60 retried ones`);
    } finally {
      await local.stop();
      await rx.close();
    }
  });
});

describe('secrets stay out of logs and attempt records', () => {
  it('never writes header values or keys to the log or to attempts', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const { dir, cleanup } = tempDir();
    const cfg = loadConfig(
      { port: '0', db: `${dir}/log.db` },
      { HOOKWELL_ADMIN_TOKEN: TOKEN, HOOKWELL_ALLOW_PRIVATE_TARGETS: 'true', HOOKWELL_LOG_LEVEL: 'trace', HOOKWELL_RETRY_SCHEDULE: '0' },
    );
    const hw = await startHookwell(cfg, createLogger('trace', sink));
    const rx = await startReceiver();
    rx.respond = () => ({ status: 500, body: 'nope' });
    const call = (method: string, path: string, body?: unknown) =>
      fetch(hw.url + path, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }).then((r) => r.json().catch(() => null) as Promise<any>);
    try {
      await call('POST', '/api/v1/app', { name: 'log', uid: 'log' });
      const ep = await call('POST', '/api/v1/app/log/endpoint', {
        url: rx.url,
        headers: { Authorization: 'Bearer miri-secret-token-123', 'X-Api-Key': 'api-key-456' },
      });
      const key = (await call('POST', `/api/v1/app/log/endpoint/${ep.id}/key`, {})).key as string;
      const msg = (await call('POST', '/api/v1/app/log/msg', { eventType: 'l.t', payload: {} })).id;
      await rx.waitFor(2);
      const attempts = await eventually(async () => {
        const list = await call('GET', `/api/v1/app/log/attempt/msg/${msg}`);
        return list.data.length === 2 ? list : undefined;
      });
      assert.equal(rx.received[0]!.headers.authorization, 'Bearer miri-secret-token-123', 'the header was sent');
      const everything = lines.join('') + JSON.stringify(attempts);
      assert.ok(lines.length > 0, 'something was logged');
      for (const secret of ['miri-secret-token-123', 'api-key-456', key, TOKEN]) {
        assert.ok(!everything.includes(secret), `${secret.slice(0, 6)}… stays out of logs and attempts`);
      }
    } finally {
      await hw.close();
      await rx.close();
      cleanup();
    }
  });
});
