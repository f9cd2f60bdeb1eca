// Svix's bulk operations against a real Hookwell and a real receiver, through the svix SDK
// where it has the method and plain HTTP where it does not: recover, replay-missing and
// bulk-replay answer background tasks whose status and data background-task.get reports;
// expunge-all-contents purges in batches as a task; bulk-expunge and cancel-msgs answer at
// once; message.search and message.events page through the message log. A task left
// running by a process that is gone ends failed. With HOOKWELL_TEST_BACKEND=postgres the
// same runs on PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException, BackgroundTaskStatus, BackgroundTaskType, MessageStatus, Svix, type BackgroundTaskOut, type EndpointOut } from 'svix';
import { startHookwell, TASK_KEEP_MS } from '../src/server.js';
import { createLogger } from '../src/logger.js';
import { ABANDONED, TASK_STALE_MS, Tasks } from '../src/core/tasks.js';
import { ERASE_BATCH } from '../src/core/erasure.js';
import { newId } from '../src/domain/ids.js';
import { eventually, startReceiver, startServer, TOKEN, type Receiver, type TestServer } from './helpers.js';

const ON_POSTGRES = process.env.HOOKWELL_TEST_BACKEND === 'postgres';

let seq = 0;
const uniq = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${++seq}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('background tasks and bulk message operations', () => {
  let srv: TestServer;
  let receiver: Receiver;
  let svix: Svix;
  /** Paths the receiver answers 500 on. */
  const failing = new Set<string>();
  const at = (path: string) => receiver.received.filter((r) => r.path === path);
  let typeA: string;
  let typeB: string;

  const newApp = () => svix.application.create({ name: 'Bulk', uid: uniq('app') });
  const newEndpoint = (appId: string, path: string, extra: Partial<Parameters<Svix['endpoint']['create']>[1]> = {}): Promise<EndpointOut> =>
    svix.endpoint.create(appId, { url: receiver.url + path, ...extra });
  const taskDone = (id: string): Promise<BackgroundTaskOut> =>
    eventually(
      async () => {
        const t = await svix.backgroundTask.get(id);
        return t.status === BackgroundTaskStatus.Running ? undefined : t;
      },
      20_000,
      `task ${id} to end`,
    );
  /** Waits until the endpoint's deliveries are settled as `want` says. */
  const statsReach = (appId: string, ep: string, want: Partial<Record<'success' | 'pending' | 'fail' | 'canceled' | 'sending', number>>) =>
    eventually(
      async () => {
        const s = await svix.endpoint.getStats(appId, ep);
        return Object.entries(want).every(([k, v]) => s[k as keyof typeof s] === v) ? s : undefined;
      },
      10_000,
      `stats ${JSON.stringify(want)}`,
    );

  before(async () => {
    // A retry schedule of 0 s: a failing delivery gets its two attempts at once and fails.
    [srv, receiver] = await Promise.all([startServer({ HOOKWELL_RETRY_SCHEDULE: '0' }), startReceiver()]);
    receiver.respond = (r) => (failing.has(r.path) ? { status: 500, body: 'down' } : { status: 200 });
    svix = new Svix(TOKEN, { serverUrl: srv.url });
    typeA = uniq('visit.created');
    typeB = uniq('visit.closed');
    await svix.eventType.create({ name: typeA, description: 'A' });
    await svix.eventType.create({ name: typeB, description: 'B' });
  });

  after(async () => {
    await srv?.stop();
    await receiver?.close();
  });

  it('recover answers a running task that ends finished with messagesSent; list filters by task and status', async () => {
    const app = await newApp();
    const ep = await newEndpoint(app.id, '/recover', { uid: 'recover' });
    failing.add('/recover');
    const since = new Date(Date.now() - 1000);
    for (let i = 0; i < 3; i++) await svix.message.create(app.id, { eventType: typeA, payload: { i } });
    await statsReach(app.id, ep.id, { fail: 3 });
    failing.delete('/recover');

    const task = await svix.endpoint.recover(app.id, ep.id, { since });
    assert.equal(task.task, BackgroundTaskType.EndpointRecover);
    assert.match(task.id, /^qtask_[A-Za-z0-9]{27}$/);
    const done = await taskDone(task.id);
    assert.equal(done.status, BackgroundTaskStatus.Finished);
    assert.deepEqual(done.data, { messagesSent: 3 });
    assert.equal(done.task, BackgroundTaskType.EndpointRecover);
    await statsReach(app.id, ep.id, { success: 3, fail: 0 });
    assert.equal(at('/recover').length, 3 * 2 + 3);

    const recovers = await svix.backgroundTask.list({ task: BackgroundTaskType.EndpointRecover, status: BackgroundTaskStatus.Finished });
    assert.ok(recovers.data.some((t) => t.id === task.id));
    assert.ok(recovers.data.every((t) => t.task === BackgroundTaskType.EndpointRecover && t.status === BackgroundTaskStatus.Finished));
    assert.ok(!(await svix.backgroundTask.list({ task: BackgroundTaskType.EndpointReplay })).data.some((t) => t.id === task.id));
    assert.ok(!(await svix.backgroundTask.list({ status: BackgroundTaskStatus.Failed })).data.some((t) => t.id === task.id));

    const missing = await srv.api('GET', `/api/v1/background-task/${newId('qtask')}`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'not_found');
    const malformed = await srv.api('GET', '/api/v1/background-task/qtask_short');
    assert.equal(malformed.status, 422);
    assert.deepEqual(malformed.body.detail[0].loc, ['path', 'task_id']);
  });

  it('recover and bulk replay queue in batches by delivery id, each batch after the last', async () => {
    const app = await newApp();
    const ep = await newEndpoint(app.id, '/batches');
    failing.add('/batches');
    const since = Date.now() - 1000;
    for (let i = 0; i < 3; i++) await svix.message.create(app.id, { eventType: typeA, payload: { i } });
    await statsReach(app.id, ep.id, { fail: 3 });

    const store = srv.hw.store;
    const first = await store.recoverBatch(app.id, ep.id, since, null, 0, 2);
    assert.equal(first.queued, 2);
    assert.ok(first.lastId !== null && first.lastId > 0);
    const second = await store.recoverBatch(app.id, ep.id, since, null, first.lastId!, 2);
    assert.deepEqual(second, { queued: 1, lastId: null });
    // Failed again, they are found again from the start.
    await statsReach(app.id, ep.id, { fail: 3 });
    assert.equal((await store.recoverBatch(app.id, ep.id, since, null, 0, 10)).queued, 3);

    failing.delete('/batches');
    await statsReach(app.id, ep.id, { success: 3 });
    const a = await store.bulkReplay(app.id, ep.id, since, null, {}, 0, 2);
    assert.equal(a.queued, 2);
    assert.deepEqual(await store.bulkReplay(app.id, ep.id, since, null, {}, a.lastId!, 2), { queued: 1, lastId: null });
    await statsReach(app.id, ep.id, { success: 3, pending: 0, sending: 0 });
  });

  it('the task list pages newest first, and back with prevIterator', async () => {
    const app = await newApp();
    const ep = await newEndpoint(app.id, '/paging');
    const since = new Date();
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await svix.endpoint.replayMissing(app.id, ep.id, { since })).id);
    for (const id of made) await taskDone(id);
    const first = await svix.backgroundTask.list({ limit: 2, task: BackgroundTaskType.EndpointReplay });
    assert.equal(first.data.length, 2);
    assert.equal(first.done, false);
    assert.deepEqual(first.data.map((t) => t.id), [made[2], made[1]]);
    const second = await svix.backgroundTask.list({ limit: 2, task: BackgroundTaskType.EndpointReplay, iterator: first.iterator });
    assert.equal(second.data[0]!.id, made[0]);
  });

  it('replay-missing sends what the endpoint never had, as a task', async () => {
    const app = await newApp();
    const since = new Date(Date.now() - 1000);
    await svix.message.create(app.id, { eventType: typeA, payload: { r: 1 } });
    await svix.message.create(app.id, { eventType: typeB, payload: { r: 2 } });
    const ep = await newEndpoint(app.id, '/replay', { filterTypes: [typeA] });
    const task = await svix.endpoint.replayMissing(app.id, ep.id, { since });
    assert.equal(task.task, BackgroundTaskType.EndpointReplay);
    assert.deepEqual((await taskDone(task.id)).data, { messagesSent: 1 });
    await eventually(() => (at('/replay').length === 1 ? true : undefined));
    assert.deepEqual(JSON.parse(at('/replay')[0]!.body.toString()), { r: 1 });
  });

  it('bulk-replay sends again what was sent or failed, narrowed by its filters, and leaves expunged messages', async () => {
    const app = await newApp();
    const ep = await newEndpoint(app.id, '/bulk', { uid: 'bulk' });
    const before = await svix.message.create(app.id, { eventType: typeA, payload: { n: 0 } });
    await eventually(() => (Date.now() > before.timestamp.getTime() + 2 ? true : undefined));
    const since = new Date(before.timestamp.getTime() + 1);
    const a1 = await svix.message.create(app.id, { eventType: typeA, payload: { n: 1 }, channels: ['north'] });
    const a2 = await svix.message.create(app.id, { eventType: typeA, payload: { n: 2 }, tags: ['vip'] });
    const b1 = await svix.message.create(app.id, { eventType: typeB, payload: { n: 3 } });
    await statsReach(app.id, ep.id, { success: 4 });
    failing.add('/bulk');
    const b2 = await svix.message.create(app.id, { eventType: typeB, payload: { n: 4 } });
    await statsReach(app.id, ep.id, { success: 4, fail: 1 });
    failing.delete('/bulk');
    const arrived = () => at('/bulk').map((r) => r.headers['webhook-id'] as string);
    const sentAfter = (n: number) => arrived().slice(n).sort();

    // Only typeA, since `since`: a1 and a2 (the message before `since` stays).
    let base = arrived().length;
    let task = await svix.endpoint.bulkReplay(app.id, 'bulk', { since, eventTypes: [typeA] });
    assert.equal(task.task, BackgroundTaskType.EndpointBulkReplay);
    assert.deepEqual((await taskDone(task.id)).data, { messagesSent: 2 });
    await eventually(() => (arrived().length === base + 2 ? true : undefined));
    assert.deepEqual(sentAfter(base), [a1.id, a2.id].sort());

    // Only the failed one (status), then by channel, then by tag.
    await statsReach(app.id, ep.id, { success: 4, fail: 1, pending: 0, sending: 0 });
    base = arrived().length;
    task = await svix.endpoint.bulkReplay(app.id, 'bulk', { since, status: MessageStatus.Fail });
    assert.deepEqual((await taskDone(task.id)).data, { messagesSent: 1 });
    await eventually(() => (arrived().length === base + 1 ? true : undefined));
    assert.deepEqual(sentAfter(base), [b2.id]);
    await statsReach(app.id, ep.id, { success: 5, fail: 0, pending: 0, sending: 0 });

    task = await svix.endpoint.bulkReplay(app.id, 'bulk', { since, channel: 'north' });
    assert.deepEqual((await taskDone(task.id)).data, { messagesSent: 1 });
    task = await svix.endpoint.bulkReplay(app.id, 'bulk', { since, tag: 'vip' });
    assert.deepEqual((await taskDone(task.id)).data, { messagesSent: 1 });
    await statsReach(app.id, ep.id, { success: 5, pending: 0, sending: 0 });

    // statusCodeClass reads each delivery's last attempt: all are 2xx now, none 5xx.
    task = await svix.endpoint.bulkReplay(app.id, 'bulk', { since, statusCodeClass: 500 });
    assert.deepEqual((await taskDone(task.id)).data, { messagesSent: 0 });

    // An expunged message cannot be sent again; `until` bounds the window.
    await svix.message.expungeContent(app.id, b1.id);
    await statsReach(app.id, ep.id, { success: 5, pending: 0, sending: 0 });
    task = await svix.endpoint.bulkReplay(app.id, 'bulk', { since, until: new Date(b2.timestamp.getTime()) });
    assert.deepEqual((await taskDone(task.id)).data, { messagesSent: 2 }, 'a1 and a2: b1 is expunged, b2 is at until');

    const bad = await srv.api('POST', `/api/v1/app/${app.id}/endpoint/bulk/bulk-replay`, { since: since.toISOString(), statusCodeClass: 250 });
    assert.equal(bad.status, 422);
    assert.deepEqual(bad.body.detail[0].loc, ['body', 'statusCodeClass']);
    const backwards = await srv.api('POST', `/api/v1/app/${app.id}/endpoint/bulk/bulk-replay`, { since: since.toISOString(), until: '2000-01-01T00:00:00Z' });
    assert.equal(backwards.status, 422);
    assert.deepEqual(backwards.body.detail[0].loc, ['body', 'until']);
    await assert.rejects(svix.endpoint.bulkReplay(app.id, 'no-such-endpoint', { since }), (e: unknown) => e instanceof ApiException && e.code === 404);
  });

  it('cancel-msgs cancels pending deliveries of messages created before the time, and no others', async () => {
    const app = await newApp();
    const ep = await newEndpoint(app.id, '/cancel', { uid: 'cancel' });
    const later = new Date(Date.now() + 60 * 60 * 1000);
    const m1 = await svix.message.create(app.id, { eventType: typeA, payload: { c: 1 }, deliverAt: later } as never);
    const m2 = await svix.message.create(app.id, { eventType: typeA, payload: { c: 2 }, deliverAt: later } as never);
    await eventually(() => (Date.now() > m2.timestamp.getTime() + 2 ? true : undefined));
    const cutoff = new Date();
    await eventually(() => (Date.now() > cutoff.getTime() + 2 ? true : undefined));
    const m3 = await svix.message.create(app.id, { eventType: typeA, payload: { c: 3 }, deliverAt: later } as never);
    await statsReach(app.id, ep.id, { pending: 3 });

    const res = await srv.api('POST', `/api/v1/app/${app.id}/endpoint/cancel/cancel-msgs`, { createdBefore: cutoff.toISOString() });
    assert.equal(res.status, 204, res.text);
    assert.deepEqual(await svix.endpoint.getStats(app.id, ep.id), { success: 0, pending: 1, sending: 0, fail: 0, canceled: 2 });
    for (const m of [m1, m2]) assert.equal((await svix.messageAttempt.listAttemptedDestinations(app.id, m.id)).data[0]!.status, MessageStatus.Canceled);
    assert.equal((await svix.messageAttempt.listAttemptedDestinations(app.id, m3.id)).data[0]!.status, MessageStatus.Pending);
    // A canceled delivery gets no attempt.
    assert.equal((await svix.messageAttempt.listByMsg(app.id, m1.id)).data.length, 0);

    const missing = await srv.api('POST', `/api/v1/app/${app.id}/endpoint/cancel/cancel-msgs`, {});
    assert.equal(missing.status, 422);
    assert.deepEqual(missing.body.detail[0].loc, ['body', 'createdBefore']);
  });

  it('bulk-expunge deletes the content of the messages named, by id or eventId, and says which were not found', async () => {
    const app = await newApp();
    const m1 = await svix.message.create(app.id, { eventType: typeA, payload: { secret: 1 } });
    const m2 = await svix.message.create(app.id, { eventType: typeA, payload: { secret: 2 }, eventId: 'evt-two' });
    const kept = await svix.message.create(app.id, { eventType: typeA, payload: { keep: true } });
    const other = await newApp();
    const elsewhere = await svix.message.create(other.id, { eventType: typeA, payload: { other: true } });

    const res = await srv.api('POST', `/api/v1/app/${app.id}/msg/bulk-expunge`, { ids: [m1.id, 'evt-two', 'no-such-message', elsewhere.id] });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { results: { [m1.id]: 'expunged', 'evt-two': 'expunged', 'no-such-message': 'not-found', [elsewhere.id]: 'not-found' } });
    for (const m of [m1, m2]) assert.deepEqual((await svix.message.get(app.id, m.id)).payload, {});
    assert.deepEqual((await svix.message.get(app.id, kept.id)).payload, { keep: true });
    assert.deepEqual((await svix.message.get(other.id, elsewhere.id)).payload, { other: true });

    const empty = await srv.api('POST', `/api/v1/app/${app.id}/msg/bulk-expunge`, {});
    assert.deepEqual(empty.body, { results: {} });
    const tooMany = await srv.api('POST', `/api/v1/app/${app.id}/msg/bulk-expunge`, { ids: Array.from({ length: 1001 }, (_, i) => `m${i}`) });
    assert.equal(tooMany.status, 422);
  });

  it('expunge-all-contents purges every payload of the application in batches, as a task', { timeout: 120_000 }, async () => {
    const app = await newApp();
    const other = await newApp();
    const n = ERASE_BATCH + 20;
    for (let i = 0; i < n; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, j) => svix.message.create(app.id, { eventType: typeA, payload: { i: i + j } })));
    }
    const survivor = await svix.message.create(other.id, { eventType: typeA, payload: { stays: true } });

    const task = await svix.message.expungeAllContents(app.id);
    assert.equal(task.task, BackgroundTaskType.ApplicationPurgeContent);
    const done = await taskDone(task.id);
    assert.equal(done.status, BackgroundTaskStatus.Finished);
    assert.deepEqual(done.data, { messagesPurged: n });
    const page = await svix.message.list(app.id, { limit: 250 });
    assert.equal(page.data.length, 250);
    assert.ok(page.data.every((m) => JSON.stringify(m.payload) === '{}'));
    assert.deepEqual((await svix.message.get(other.id, survivor.id)).payload, { stays: true });

    // Nothing left: a second purge finds nothing.
    assert.deepEqual((await taskDone((await svix.message.expungeAllContents(app.id)).id)).data, { messagesPurged: 0 });
  });

  it('message.search filters in the body, pages, and leaves payloads out unless with_content', async () => {
    const app = await newApp();
    const m1 = await svix.message.create(app.id, { eventType: typeA, payload: { s: 1 }, channels: ['east'] });
    const m2 = await svix.message.create(app.id, { eventType: typeB, payload: { s: 2 }, tags: ['gold'] });
    const m3 = await svix.message.create(app.id, { eventType: typeA, payload: { s: 3 }, channels: ['east', 'west'] });
    const search = (body: unknown) => srv.api('POST', `/api/v1/app/${app.id}/msg/search`, body);

    let res = await search({});
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.data.map((m: { id: string }) => m.id), [m3.id, m2.id, m1.id]);
    assert.ok(res.body.data.every((m: { payload: unknown }) => JSON.stringify(m.payload) === '{}'));
    res = await search({ with_content: true, event_types: [typeA] });
    assert.deepEqual(res.body.data.map((m: { payload: unknown }) => m.payload), [{ s: 3 }, { s: 1 }]);
    res = await search({ channel: 'east' });
    assert.deepEqual(res.body.data.map((m: { id: string }) => m.id), [m3.id, m1.id]);
    res = await search({ tag: 'gold' });
    assert.deepEqual(res.body.data.map((m: { id: string }) => m.id), [m2.id]);
    res = await search({ after: m1.timestamp.toISOString(), before: m3.timestamp.toISOString() });
    assert.deepEqual(res.body.data.map((m: { id: string }) => m.id), [m2.id]);

    res = await search({ limit: 2 });
    assert.equal(res.body.done, false);
    assert.deepEqual(res.body.data.map((m: { id: string }) => m.id), [m3.id, m2.id]);
    res = await search({ limit: 2, iterator: res.body.iterator });
    assert.deepEqual(res.body.data.map((m: { id: string }) => m.id), [m1.id]);
    assert.equal(res.body.done, true);

    res = await search({ limit: 0 });
    assert.equal(res.status, 422);
    assert.deepEqual(res.body.detail[0].loc, ['body', 'limit']);

    // A search only reads: a read-only token may make it, and still may not expunge.
    const token = (await srv.api('POST', '/api/v1/token', { name: uniq('reader'), readOnly: true })).body.token as string;
    const as = (path: string, body: unknown) => fetch(srv.url + path, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const read = await as(`/api/v1/app/${app.id}/msg/search`, { tag: 'gold' });
    assert.equal(read.status, 200);
    assert.deepEqual(((await read.json()) as { data: { id: string }[] }).data.map((m) => m.id), [m2.id]);
    assert.equal((await as(`/api/v1/app/${app.id}/msg/bulk-expunge`, { ids: [m2.id] })).status, 403);
  });

  it('message.events reads the log oldest first, filters, and goes on from its iterator', async () => {
    const app = await newApp();
    const m1 = await svix.message.create(app.id, { eventType: typeA, payload: { e: 1 }, channels: ['a'] });
    const m2 = await svix.message.create(app.id, { eventType: typeB, payload: { e: 2 }, channels: ['b'] });
    const m3 = await svix.message.create(app.id, { eventType: typeA, payload: { e: 3 }, channels: ['c'] });
    const events = (q: string) => srv.api('GET', `/api/v1/app/${app.id}/events${q}`);

    let res = await events('?limit=2');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.data.map((m: { id: string }) => m.id), [m1.id, m2.id]);
    assert.deepEqual(res.body.data[0].payload, { e: 1 });
    assert.equal(res.body.done, false);
    res = await events(`?limit=2&iterator=${res.body.iterator}`);
    assert.deepEqual(res.body.data.map((m: { id: string }) => m.id), [m3.id]);
    assert.equal(res.body.done, true);

    // Nothing new: the iterator stays, and the next call reads what came since.
    const tail = res.body.iterator as string;
    res = await events(`?iterator=${tail}`);
    assert.deepEqual(res.body, { data: [], iterator: tail, done: true });
    const m4 = await svix.message.create(app.id, { eventType: typeB, payload: { e: 4 } });
    res = await events(`?iterator=${tail}`);
    assert.deepEqual(res.body.data.map((m: { id: string }) => m.id), [m4.id]);

    res = await events(`?event_types=${typeA}`);
    assert.deepEqual(res.body.data.map((m: { id: string }) => m.id), [m1.id, m3.id]);
    res = await events('?channels=a&channels=c');
    assert.deepEqual(res.body.data.map((m: { id: string }) => m.id), [m1.id, m3.id]);
    res = await events(`?after=${encodeURIComponent(m2.timestamp.toISOString())}`);
    assert.deepEqual(res.body.data.map((m: { id: string }) => m.id), [m3.id, m4.id]);
    // From a time with nothing after it yet, the iterator still leads on from there.
    res = await events(`?after=${encodeURIComponent(m4.timestamp.toISOString())}`);
    assert.deepEqual(res.body.data, []);
    assert.match(res.body.iterator, /^msg_/);
    await eventually(() => (Date.now() > m4.timestamp.getTime() + 2 ? true : undefined));
    const m5 = await svix.message.create(app.id, { eventType: typeA, payload: { e: 5 } });
    res = await events(`?iterator=${res.body.iterator}`);
    assert.deepEqual(res.body.data.map((m: { id: string }) => m.id), [m5.id]);
    res = await events('?after=yesterday');
    assert.equal(res.status, 422);
  });
});

describe('background tasks whose process is gone', () => {
  it(`end failed on start-up: every running one on SQLite, those idle for ${TASK_STALE_MS / 1000} s on PostgreSQL`, async () => {
    const srv = await startServer();
    try {
      const now = Date.now();
      const task = (updatedAt: number) => ({ id: newId('qtask'), appId: null, task: 'endpoint.recover' as const, status: 'running' as const, data: { messagesSent: 0 }, createdAt: updatedAt, updatedAt });
      const stale = task(now - TASK_STALE_MS - 5_000);
      const fresh = task(now);
      await srv.hw.store.createTask(stale);
      await srv.hw.store.createTask(fresh);
      await srv.hw.close();

      const again = await startHookwell(srv.cfg, createLogger('silent'));
      try {
        const get = async (id: string) => {
          const res = await fetch(`${again.url}/api/v1/background-task/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } });
          assert.equal(res.status, 200);
          return (await res.json()) as { status: string; data: Record<string, unknown> };
        };
        const failed = await get(stale.id);
        assert.equal(failed.status, 'failed');
        assert.deepEqual(failed.data, { error: ABANDONED });
        // On PostgreSQL another process may be working on it still: it stays running until it is idle for long.
        assert.equal((await get(fresh.id)).status, ON_POSTGRES ? 'running' : 'failed');
        // A finished task is never changed by the sweep or by a late progress write.
        await again.store.updateTask(stale.id, 'finished', { messagesSent: 9 }, Date.now());
        assert.equal((await get(stale.id)).status, 'failed');
      } finally {
        await again.close();
      }
    } finally {
      await srv.stop();
    }
  });

  it('finished tasks are purged a month after they ended; running and recent ones stay', async () => {
    const srv = await startServer({}, { housekeepingIntervalMs: 100 });
    try {
      const now = Date.now();
      const task = (status: 'running' | 'finished' | 'failed', updatedAt: number) => ({
        id: newId('qtask'),
        appId: null,
        task: 'endpoint.recover' as const,
        status,
        data: {},
        createdAt: updatedAt,
        updatedAt,
      });
      const oldFinished = task('finished', now - TASK_KEEP_MS - 60_000);
      const oldFailed = task('failed', now - TASK_KEEP_MS - 60_000);
      const recent = task('finished', now - TASK_KEEP_MS + 60 * 60_000);
      for (const t of [oldFinished, oldFailed, recent]) await srv.hw.store.createTask(t);
      await eventually(async () => ((await srv.hw.store.getTask(oldFinished.id)) === null && (await srv.hw.store.getTask(oldFailed.id)) === null ? true : undefined), 10_000, 'the old tasks to be purged');
      assert.equal((await srv.hw.store.getTask(recent.id))?.status, 'finished');
      // Straight through the store: a running task is never purged, however old.
      const running = task('running', now - 2 * TASK_KEEP_MS);
      await srv.hw.store.createTask(running);
      assert.equal(await srv.hw.store.purgeFinishedTasks(now - TASK_KEEP_MS), 0);
      assert.equal((await srv.hw.store.getTask(running.id))?.status, 'running');
    } finally {
      await srv.stop();
    }
  });

  it('a task keeps running while its work goes on, its progress visible, and is finished once', async () => {
    const srv = await startServer();
    try {
      // A work function that reports progress, then waits: the stored task shows both.
      const t = new Tasks(srv.hw.store, createLogger('silent'));
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const started = await t.start(null, 'application.purge_content', async (progress) => {
        await progress({ messagesPurged: 10 });
        await gate;
        return { messagesPurged: 20 };
      });
      assert.equal(started.status, 'running');
      const mid = await eventually(async () => {
        const got = await srv.hw.store.getTask(started.id);
        return got?.data.messagesPurged === 10 ? got : undefined;
      });
      assert.equal(mid.status, 'running');
      release();
      await t.drain();
      const end = await srv.hw.store.getTask(started.id);
      assert.equal(end?.status, 'finished');
      assert.deepEqual(end?.data, { messagesPurged: 20 });

      const failing = await t.start(null, 'endpoint.replay', async (progress) => {
        await progress({ messagesSent: 3 });
        await sleep(5);
        throw new Error('the endpoint was deleted meanwhile');
      });
      await t.drain();
      const failed = await srv.hw.store.getTask(failing.id);
      assert.equal(failed?.status, 'failed');
      assert.deepEqual(failed?.data, { messagesSent: 3, error: 'the endpoint was deleted meanwhile' });
    } finally {
      await srv.stop();
    }
  });
});
