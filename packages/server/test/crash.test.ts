// Kill the server with SIGKILL while it accepts and delivers; after each restart on the
// same SQLite file, every message that was answered 202 must reach the receiver.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually, query, startReceiver, tempDir, type Receiver } from './helpers.js';
import { childApi as api, startChild as startServerChild } from './child.js';

const SCHEDULE = { HOOKWELL_RETRY_SCHEDULE: '0.1,0.2,0.5' };
const startChild = (db: string, port: number) => startServerChild(db, port, SCHEDULE);

describe('crash safety', () => {
  let receiver: Receiver;
  const tmp = tempDir();
  const db = join(tmp.dir, 'crash.db');

  /** Message ids answered 2xx, per receiving path. */
  const acknowledged = new Map<string, Set<string>>([
    ['/a', new Set()],
    ['/b', new Set()],
  ]);

  before(async () => {
    receiver = await startReceiver();
    // Every seventh delivery fails its first attempt, so retries are pending when a kill
    // lands too; failing only once keeps the retry schedule from running out.
    const failedOnce = new Set<string>();
    receiver.respond = (r, n) => {
      const key = `${r.path} ${String(r.headers['webhook-id'])}`;
      if (n % 7 === 0 && !failedOnce.has(key)) {
        failedOnce.add(key);
        return { status: 500 };
      }
      acknowledged.get(r.path)?.add(String(r.headers['webhook-id']));
      return { status: 200 };
    };
  });
  after(async () => {
    await receiver.close();
    tmp.cleanup();
  });

  it('delivers every accepted message at least once across SIGKILLs', { timeout: 120_000 }, async () => {
    let child = await startChild(db, 0);
    const port = Number(new URL(child.url).port);
    assert.equal((await api(child.url, 'POST', '/api/v1/app', { name: 'crash', uid: 'crash' })).status, 201);
    for (const path of ['/a', '/b']) {
      assert.equal((await api(child.url, 'POST', '/api/v1/app/crash/endpoint', { url: receiver.url + path })).status, 201);
    }

    const accepted = new Set<string>();
    const unexpected: number[] = [];
    let seq = 0;
    const rounds = 3;
    for (let round = 0; round < rounds; round++) {
      // Eight concurrent senders until the kill; requests cut off by it get no 202 and do not count.
      let killed = false;
      const senders = Array.from({ length: 8 }, async () => {
        while (!killed) {
          const n = seq++;
          let res: { status: number; body: any };
          try {
            res = await api(child.url, 'POST', '/api/v1/app/crash/msg', { eventType: 'crash.test', payload: { n } });
          } catch {
            continue; // connection reset by the kill
          }
          if (res.status === 202) accepted.add(res.body.id);
          else unexpected.push(res.status);
        }
      });
      // A random moment, but only once this round has had some messages accepted (a busy
      // machine may take a while to answer the first).
      const before = accepted.size;
      await sleep(400 + Math.floor(Math.random() * 600));
      for (let waited = 0; accepted.size < before + 20 && waited < 20_000; waited += 20) await sleep(20);
      killed = true;
      child.proc.kill('SIGKILL');
      assert.equal(await child.exited, null, 'the server was killed, not exited');
      await Promise.all(senders);
      child = await startChild(db, port);
    }

    assert.deepEqual(unexpected, [], 'every answer was 202 or a cut connection');
    assert.ok(accepted.size > 50, `enough messages were accepted to mean something (${accepted.size})`);
    const deadline = Date.now() + 60_000;
    let missing: string[] = [];
    for (;;) {
      // A delivery counts once it was answered 2xx; 500s are retried by the server.
      const a = acknowledged.get('/a')!;
      const b = acknowledged.get('/b')!;
      missing = [...accepted].filter((id) => !a.has(id) || !b.has(id));
      if (missing.length === 0 || Date.now() > deadline) break;
      await sleep(200);
    }
    child.proc.kill('SIGTERM');
    assert.equal(await child.exited, 0, 'SIGTERM drains and exits 0');
    assert.deepEqual(missing, [], `${missing.length} accepted messages were never delivered to both endpoints`);
  });

  it("sends a killed server's deliveries in flight again as soon as it restarts, not once their lease runs out", { timeout: 90_000 }, async () => {
    const leaseDb = join(tmp.dir, 'lease.db');
    // Leases and attempts far longer than the test: only the release at start-up can bring
    // the deliveries back in time.
    const env = { HOOKWELL_LEASE_MS: '600000', HOOKWELL_REQUEST_TIMEOUT_MS: '600000', HOOKWELL_RETRY_SCHEDULE: '600' };
    // A receiver that holds every request unanswered until told otherwise, so the deliveries
    // are leased and in flight when the server is killed.
    let hold = true;
    const held: ServerResponse[] = [];
    const arrivals: string[] = [];
    const hook = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        arrivals.push(String(req.headers['webhook-id']));
        if (hold) held.push(res);
        else res.end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    try {
      let child = await startServerChild(leaseDb, 0, env);
      await api(child.url, 'POST', '/api/v1/app', { name: 'lease', uid: 'lease' });
      await api(child.url, 'POST', '/api/v1/app/lease/endpoint', { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/held` });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await api(child.url, 'POST', '/api/v1/app/lease/msg', { eventType: 'lease.test', payload: { i } })).body.id);
      await eventually(() => (ids.every((id) => arrivals.includes(id)) ? true : undefined), 20_000, 'every message in flight');
      const leased = query<{ n: number }>(leaseDb, 'SELECT count(*) AS n FROM deliveries WHERE status = 3 AND lease_owner IS NOT NULL')[0]!.n;
      assert.equal(leased, 5, 'all five are leased to the running server');

      child.proc.kill('SIGKILL');
      assert.equal(await child.exited, null);
      hold = false;
      arrivals.length = 0;
      child = await startServerChild(leaseDb, 0, env);
      // Seconds, against a lease of ten minutes: a busy machine keeps this margin.
      await eventually(() => (ids.every((id) => arrivals.includes(id)) ? true : undefined), 30_000, 'every held message sent again after the restart');
      const attempts = await eventually(async () => {
        const all = await Promise.all(ids.map(async (id) => (await api(child.url, 'GET', `/api/v1/app/lease/attempt/msg/${id}`)).body.data as { responseStatusCode: number }[]));
        return all.every((a) => a.length === 1) ? all : undefined;
      }, 10_000, 'the attempts recorded');
      assert.deepEqual(attempts.map((a) => a[0]!.responseStatusCode), [200, 200, 200, 200, 200], 'each delivered once the server is back');
      child.proc.kill('SIGTERM');
      assert.equal(await child.exited, 0);
    } finally {
      for (const res of held) res.destroy();
      hook.closeAllConnections();
      await new Promise<void>((resolve) => hook.close(() => resolve()));
    }
  });

  it('drains on SIGTERM: the attempt in flight finishes and is recorded, then exit 0', { timeout: 60_000 }, async () => {
    const drainDb = join(tmp.dir, 'drain.db');
    const slow = await startReceiver();
    slow.respond = () => ({ status: 200, body: 'late but fine', delayMs: 1500 });
    try {
      let child = await startChild(drainDb, 0);
      await api(child.url, 'POST', '/api/v1/app', { name: 'drain', uid: 'drain' });
      await api(child.url, 'POST', '/api/v1/app/drain/endpoint', { url: slow.url });
      const msg = (await api(child.url, 'POST', '/api/v1/app/drain/msg', { eventType: 'drain.test', payload: {} })).body.id;
      await slow.waitFor(1);
      const sentAt = Date.now();
      child.proc.kill('SIGTERM');
      assert.equal(await child.exited, 0);
      assert.ok(Date.now() - sentAt >= 1000, 'it waited for the response');

      child = await startChild(drainDb, 0);
      const attempts = (await api(child.url, 'GET', `/api/v1/app/drain/attempt/msg/${msg}`)).body.data;
      assert.equal(attempts.length, 1);
      assert.equal(attempts[0].responseStatusCode, 200);
      assert.equal(attempts[0].response, 'late but fine');
      // A message sent after the restart goes out behind anything the start-up released.
      const after = (await api(child.url, 'POST', '/api/v1/app/drain/msg', { eventType: 'drain.test', payload: {} })).body.id;
      await eventually(() => slow.received.find((r) => r.headers['webhook-id'] === after), 10_000, 'a message sent after the restart');
      assert.equal(slow.received.filter((r) => r.headers['webhook-id'] === msg).length, 1, 'a drained delivery is not sent again');
      child.proc.kill('SIGTERM');
      await child.exited;
    } finally {
      await slow.close();
    }
  });
});
