// Updates in order, per key, on a real server and a real receiver: each key's messages arrive
// one at a time and in message order, through retries and a SIGKILL; a failing head holds
// only its own key; skipping it lets the key go on. And dataId on messages.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually, startReceiver, startServer, tempDir, type Received, type Receiver, type TestServer } from './helpers.js';
import { childApi, startChild } from './child.js';
import { orderKeyOf, parseKeyPath } from '../src/domain/ordering.js';

interface Update {
  user: string | null;
  seq: number;
  msgId: string;
}

/** What a receipt carries: the payload's user_id and seq, and the message id. */
function updateOf(r: Received): Update {
  const body = JSON.parse(r.body.toString('utf8')) as { data: { user_id?: string; seq: number } };
  return { user: body.data.user_id ?? null, seq: body.data.seq, msgId: String(r.headers['webhook-id']) };
}

/** Receipts of one key, in arrival order. */
const receiptsOf = (received: Received[], path: string, user: string) =>
  received.filter((r) => r.path === path && updateOf(r).user === user);

describe('ordering keys', () => {
  it('reads simple paths and refuses the rest', () => {
    assert.deepEqual(parseKeyPath('$.data.items[12].id'), { steps: ['data', 'items', 12, 'id'] });
    assert.deepEqual(parseKeyPath('$[0]'), { steps: [0] });
    for (const bad of ['', '$', 'data.id', '$.', '$..a', '$.a[01]', '$.a[-1]', '$.a b', "$['a']", '$.*']) {
      assert.ok('error' in parseKeyPath(bad), bad);
    }
  });

  it('takes a string or a number at the path; anything else means unordered', () => {
    const payload = { data: { user_id: 'u-1', n: 42, f: 1.5, t: true, z: null, o: {}, items: [{ id: 'first' }] } };
    assert.equal(orderKeyOf('$.data.user_id', payload), 'u-1');
    assert.equal(orderKeyOf('$.data.n', payload), '42');
    assert.equal(orderKeyOf('$.data.f', payload), '1.5');
    assert.equal(orderKeyOf('$.data.items[0].id', payload), 'first');
    for (const path of ['$.data.t', '$.data.z', '$.data.o', '$.data.missing', '$.data.items[1].id', '$.data.user_id.x', '$.data[0]', '$.data.toString']) {
      assert.equal(orderKeyOf(path, payload), null, path);
    }
    const long = 'x'.repeat(500);
    const key = orderKeyOf('$.k', { k: long });
    assert.match(key!, /^sha256:[0-9a-f]{64}$/, 'a very long key is kept as its digest');
    assert.equal(orderKeyOf('$.k', { k: long }), key);
    assert.notEqual(orderKeyOf('$.k', { k: `${long}y` }), key);
  });
});

describe('updates in order, per key', () => {
  let server: TestServer;
  let receiver: Receiver;
  const app = 'ordering';
  /** Per path, how each request is answered; 200 by default. */
  const answers = new Map<string, (u: Update) => { status: number; delayMs?: number }>();
  /** Per path, the messages answered 200, in order. */
  const acknowledged = new Map<string, string[]>();
  const succeeded = (path: string) => acknowledged.get(path) ?? [];

  before(async () => {
    // Three quick retries, then a long wait: a head that keeps failing sits there until skipped.
    server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '0.2,0.2,0.2,60' });
    receiver = await startReceiver();
    receiver.respond = (r) => {
      const answer = answers.get(r.path)?.(updateOf(r)) ?? { status: 200 };
      if (answer.status === 200) acknowledged.set(r.path, [...succeeded(r.path), updateOf(r).msgId]);
      return answer;
    };
    assert.equal((await server.api('POST', '/api/v1/app', { name: app, uid: app })).status, 201);
  });
  after(async () => {
    await server.stop();
    await receiver.close();
  });

  async function orderedEndpoint(path: string): Promise<string> {
    const res = await server.api('POST', `/api/v1/app/${app}/endpoint`, {
      url: receiver.url + path,
      channels: [path.slice(1)],
      ordering: { key: '$.data.user_id' },
    });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.body.ordering, { key: '$.data.user_id' });
    return res.body.id as string;
  }

  async function send(path: string, user: string | null, seq: number, extra: Record<string, unknown> = {}): Promise<string> {
    const data = user === null ? { seq } : { user_id: user, seq };
    const res = await server.api('POST', `/api/v1/app/${app}/msg`, {
      eventType: 'daily.data.workouts.updated',
      channels: [path.slice(1)],
      payload: { data },
      ...extra,
    });
    assert.equal(res.status, 202, res.text);
    return res.body.id as string;
  }

  it('delivers each key one at a time and in message order through retries', { timeout: 60_000 }, async () => {
    const path = '/retries';
    await orderedEndpoint(path);
    const delayMs = 15;
    const failedOnce = new Set<string>();
    // Every third message fails its first attempt; each answer takes a little while, so that
    // a second delivery of a key while one is in flight would overlap it.
    answers.set(path, (u) => {
      if (u.seq % 3 === 1 && !failedOnce.has(u.msgId)) {
        failedOnce.add(u.msgId);
        return { status: 500, delayMs };
      }
      return { status: 200, delayMs };
    });
    const users = ['u1', 'u2', 'u3'];
    const perUser = 8;
    for (let seq = 0; seq < perUser; seq++) for (const user of users) await send(path, user, seq);
    await eventually(() => (succeeded(path).length >= users.length * perUser ? true : undefined), 30_000, 'every message delivered');

    for (const user of users) {
      const receipts = receiptsOf(receiver.received, path, user);
      const seqs = receipts.map((r) => updateOf(r).seq);
      // Retries of a message come before anything after it: the sequence never goes back.
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), `${user}: ${seqs.join(',')}`);
      assert.deepEqual([...new Set(seqs)], Array.from({ length: perUser }, (_, i) => i), `${user}: every message`);
      assert.ok(seqs.length > perUser, `${user}: some were retried (${seqs.join(',')})`);
      // One at a time: each request of a key arrives after the answer to the one before it.
      for (let i = 1; i < receipts.length; i++) {
        const gap = receipts[i]!.at - receipts[i - 1]!.at;
        assert.ok(gap >= delayMs - 1, `${user}: request ${i} came ${gap} ms after the one before, inside its ${delayMs} ms answer`);
      }
    }
  });

  it('lets other keys and unordered messages go while the head of a key is failing', { timeout: 30_000 }, async () => {
    const path = '/held';
    const endpoint = await orderedEndpoint(path);
    let release = false;
    answers.set(path, (u) => ({ status: u.user === 'A' && u.seq === 1 && !release ? 500 : 200 }));
    const a1 = await send(path, 'A', 1);
    await eventually(() => (receiptsOf(receiver.received, path, 'A').length >= 1 ? true : undefined), 10_000, 'a first failed attempt of A1');
    const a2 = await send(path, 'A', 2);
    const b1 = await send(path, 'B', 1);
    const u1 = await send(path, null, 1);
    await eventually(
      () => (succeeded(path).filter((id) => id === b1 || id === u1).length === 2 ? true : undefined),
      10_000,
      'B1 and the unordered message',
    );
    const ids = () => receiver.received.filter((r) => r.path === path).map((r) => updateOf(r).msgId);
    assert.ok(!ids().includes(a2), 'A2 waits for A1');
    assert.ok(!succeeded(path).includes(a1), 'A1 has not succeeded yet');

    release = true;
    // A1 may have run through its quick retries by now and be waiting a minute: send it now.
    assert.equal((await server.api('POST', `/api/v1/app/${app}/msg/${a1}/endpoint/${endpoint}/resend`)).status, 202);
    await eventually(() => (ids().includes(a2) ? true : undefined), 10_000, 'A2 after A1 succeeds');
    const order = succeeded(path);
    assert.ok(order.indexOf(b1) < order.indexOf(a1), 'B1 went while A1 was failing');
    assert.ok(order.indexOf(a1) < order.indexOf(a2), 'A2 went after A1');
  });

  it('skips the head of a key that keeps failing, so the rest of the key goes', { timeout: 30_000 }, async () => {
    const path = '/skip';
    const endpoint = await orderedEndpoint(path);
    answers.set(path, (u) => ({ status: u.seq === 1 ? 500 : 200 }));
    const c1 = await send(path, 'C', 1);
    const c2 = await send(path, 'C', 2);
    await eventually(() => (receiptsOf(receiver.received, path, 'C').length >= 2 ? true : undefined), 10_000, 'C1 failing twice');
    assert.ok(!receiver.received.some((r) => r.path === path && updateOf(r).msgId === c2));

    const skipPath = `/api/v1/app/${app}/endpoint/${endpoint}/ordering/skip`;
    // A head being sent at this very moment is not skipped (409): ask again.
    const res = await eventually(async () => {
      const r = await server.api('POST', skipPath, { key: 'C' });
      if (r.status === 409) {
        assert.equal(r.body.code, 'head_sending');
        return undefined;
      }
      return r;
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { skipped: c1 });
    await eventually(() => (succeeded(path).includes(c2) ? true : undefined), 10_000, 'C2 after the skip');

    const dest = await server.api('GET', `/api/v1/app/${app}/msg/${c1}/endpoint`);
    assert.equal(dest.body.data[0].status, 2, 'the skipped delivery is failed');
    const attempts = (await server.api('GET', `/api/v1/app/${app}/attempt/msg/${c1}`)).body.data as any[];
    const skip = attempts.find((a) => a.responseStatusCode === 0);
    assert.ok(skip, 'the skip is recorded as an attempt');
    assert.match(skip.response, /skipped by POST …\/ordering\/skip/);
    assert.equal(skip.status, 2);
    assert.equal(skip.triggerType, 1);

    assert.deepEqual((await server.api('POST', skipPath, { key: 'C' })).body, { skipped: null }, 'nothing of C waits now');
    assert.equal((await server.api('POST', skipPath, {})).status, 422);
    assert.equal((await server.api('POST', `/api/v1/app/${app}/endpoint/ep_missing/ordering/skip`, { key: 'C' })).status, 404);
  });

  it('validates, returns and changes an endpoint ordering', async () => {
    const base = `/api/v1/app/${app}/endpoint`;
    for (const key of ['data.user_id', '$', '$.data..id', '$.data[x]', '$.data["id"]', '$.data.*']) {
      const res = await server.api('POST', base, { url: receiver.url + '/v', ordering: { key } });
      assert.equal(res.status, 422, `${key}: ${res.text}`);
      assert.deepEqual(res.body.detail[0].loc, ['body', 'ordering', 'key'], key);
    }
    assert.equal((await server.api('POST', base, { url: receiver.url + '/v', ordering: { key: '$.a', extra: 1 } })).status, 422);
    assert.equal((await server.api('POST', base, { url: receiver.url + '/v', ordering: {} })).status, 422);

    const created = await server.api('POST', base, { url: receiver.url + '/v', ordering: { key: '$.data.items[0].id' } });
    assert.equal(created.status, 201, created.text);
    const id = created.body.id as string;
    assert.deepEqual((await server.api('GET', `${base}/${id}`)).body.ordering, { key: '$.data.items[0].id' });
    const plain = await server.api('POST', base, { url: receiver.url + '/v' });
    assert.equal(plain.body.ordering, null);

    const bad = await server.api('PATCH', `${base}/${id}`, { ordering: { key: 'user_id' } });
    assert.equal(bad.status, 422);
    assert.deepEqual(bad.body.detail[0].loc, ['body', 'ordering', 'key']);
    assert.deepEqual((await server.api('PATCH', `${base}/${id}`, { description: 'kept' })).body.ordering, { key: '$.data.items[0].id' });
    assert.equal((await server.api('PATCH', `${base}/${id}`, { ordering: null })).body.ordering, null);
    assert.deepEqual((await server.api('PATCH', `${base}/${id}`, { ordering: { key: '$.user_id' } })).body.ordering, { key: '$.user_id' });
    const put = await server.api('PUT', `${base}/${id}`, { url: receiver.url + '/v' });
    assert.equal(put.status, 200);
    assert.equal(put.body.ordering, null, 'a full update without ordering makes the endpoint unordered');
    const listed = (await server.api('GET', base)).body.data.find((e: any) => e.id === created.body.id);
    assert.equal(listed.ordering, null);
  });

  it('stores, returns and filters by dataId', async () => {
    const path = '/data';
    const first = await send(path, 'D', 1, { dataId: 'workout-c90bd6fb' });
    const second = await send(path, 'D', 2, { dataId: 'workout-c90bd6fb' });
    const other = await send(path, 'D', 3, { dataId: 'meal-1' });
    const none = await send(path, 'D', 4);
    const got = await server.api('GET', `/api/v1/app/${app}/msg/${first}`);
    assert.equal(got.body.dataId, 'workout-c90bd6fb');
    assert.equal((await server.api('GET', `/api/v1/app/${app}/msg/${none}`)).body.dataId, null);
    const listed = await server.api('GET', `/api/v1/app/${app}/msg?data_id=workout-c90bd6fb`);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.data.map((m: any) => m.id), [second, first], 'newest first, only that record');
    assert.ok(listed.body.data.every((m: any) => m.dataId === 'workout-c90bd6fb'));
    assert.deepEqual((await server.api('GET', `/api/v1/app/${app}/msg?data_id=meal-1`)).body.data.map((m: any) => m.id), [other]);
    assert.deepEqual((await server.api('GET', `/api/v1/app/${app}/msg?data_id=nothing`)).body.data, []);

    for (const dataId of ['', 'x'.repeat(257), 42]) {
      const res = await server.api('POST', `/api/v1/app/${app}/msg`, { eventType: 'x', payload: {}, dataId });
      assert.equal(res.status, 422, res.text);
      assert.deepEqual(res.body.detail[0].loc, ['body', 'dataId']);
    }
    assert.equal((await server.api('GET', `/api/v1/app/${app}/msg?data_id=`)).status, 422);
  });
});

describe('updates in order across a crash', { skip: process.env.HOOKWELL_TEST_BACKEND === 'postgres' ? 'runs on SQLite in the main pass' : false }, () => {
  let receiver: Receiver;
  const tmp = tempDir();
  const cleanups: (() => void)[] = [];

  before(async () => {
    receiver = await startReceiver();
  });
  after(async () => {
    for (const c of cleanups) c();
    await receiver.close();
    tmp.cleanup();
  });

  it('keeps each key in message order when the server is killed and restarted', { timeout: 60_000 }, async () => {
    const env = { HOOKWELL_RETRY_SCHEDULE: '0.1,0.2,0.5' };
    const db = join(tmp.dir, 'ordering-crash.db');
    // Every fifth message fails its first attempt, and answers take a few ms, so that kills
    // land on retries due and on attempts in flight.
    const failedOnce = new Set<string>();
    const acknowledged = new Set<string>();
    receiver.respond = (r) => {
      const u = updateOf(r);
      if (u.seq % 5 === 2 && !failedOnce.has(u.msgId)) {
        failedOnce.add(u.msgId);
        return { status: 500, delayMs: 3 };
      }
      acknowledged.add(u.msgId);
      return { status: 200, delayMs: 3 };
    };
    let child = await startChild(db, 0, env);
    // However the test ends, no server is left running.
    cleanups.push(() => child.proc.kill('SIGKILL'));
    const port = Number(new URL(child.url).port);
    assert.equal((await childApi(child.url, 'POST', '/api/v1/app', { name: 'crash', uid: 'crash' })).status, 201);
    const ep = await childApi(child.url, 'POST', '/api/v1/app/crash/endpoint', { url: receiver.url, ordering: { key: '$.data.user_id' } });
    assert.equal(ep.status, 201);

    // Each sender owns two keys and sends their messages one after the other, so each key's
    // message order is the order of its seq numbers (a message cut off by a kill may or may
    // not be stored; it keeps its place either way).
    const accepted = new Set<string>();
    const next = new Map<string, number>();
    let killed = false;
    const sender = async (users: string[]) => {
      for (let i = 0; !killed; i++) {
        const user = users[i % users.length]!;
        const seq = next.get(user) ?? 0;
        next.set(user, seq + 1);
        try {
          const res = await childApi(child.url, 'POST', '/api/v1/app/crash/msg', { eventType: 'crash.ordered', payload: { data: { user_id: user, seq } } });
          if (res.status === 202) accepted.add(res.body.id);
        } catch {
          return; // cut off by the kill
        }
      }
    };
    const users = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8'];
    for (let round = 0; round < 2; round++) {
      killed = false;
      const senders = [0, 1, 2, 3].map((i) => sender(users.slice(i * 2, i * 2 + 2)));
      await sleep(900 + Math.floor(Math.random() * 500));
      killed = true;
      child.proc.kill('SIGKILL');
      assert.equal(await child.exited, null, 'killed, not exited');
      await Promise.all(senders);
      child = await startChild(db, port, env);
    }

    assert.ok(accepted.size > 10, `enough messages were accepted to mean something (${accepted.size})`);
    await eventually(() => ([...accepted].every((id) => acknowledged.has(id)) ? true : undefined), 30_000, 'every accepted message delivered');
    child.proc.kill('SIGTERM');
    assert.equal(await child.exited, 0);

    let repeats = 0;
    for (const user of users) {
      const seqs = receiver.received.map(updateOf).filter((u) => u.user === user).map((u) => u.seq);
      // Repeats are of the message in flight at a kill (or a failed first attempt): never an
      // older message after a newer one.
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), `${user}: ${seqs.join(',')}`);
      repeats += seqs.length - new Set(seqs).size;
    }
    assert.ok(repeats > 0, 'some messages were attempted more than once');
  });
});
