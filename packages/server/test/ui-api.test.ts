// The reads the dashboard and the portal are built on: the message log's status filter,
// an endpoint's series of outcomes and latency, and the operator's overview and application
// list. One real server, one real receiver with a working and a failing endpoint.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startReceiver, startServer, type Receiver, type TestServer } from './helpers.js';

const HOUR = 3_600_000;
/** The working endpoint answers after this long, so its latency has a floor a test can hold it to. */
const OK_DELAY_MS = 40;
/** The backlog is sampled this often here, rather than once a minute. */
const SAMPLE_EVERY_MS = 50;

interface BacklogPoint {
  at: string;
  pending: number;
  sending: number;
}

describe('the UI read API', () => {
  let server: TestServer;
  let receiver: Receiver;
  let ok: string;
  let bad: string;
  let laterAt: string;
  const msgIds: Record<string, string> = {};

  before(async () => {
    // One retry, at once: a failing delivery is failed after two attempts.
    server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '0' }, { dashboard: { backlogEveryMs: SAMPLE_EVERY_MS } });
    receiver = await startReceiver();
    receiver.respond = (r) => (r.path === '/bad' ? { status: 500, body: 'down' } : { status: 200, delayMs: OK_DELAY_MS });
    assert.equal((await server.api('POST', '/api/v1/app', { name: 'Acme Nutrition', uid: 'acme' })).status, 201);
    assert.equal((await server.api('POST', '/api/v1/app', { name: 'Vital Health', uid: 'vital-eu' })).status, 201);
    assert.equal((await server.api('POST', '/api/v1/app', { name: 'Other' })).status, 201);
    ok = (await server.api('POST', '/api/v1/app/acme/endpoint', { url: `${receiver.url}/ok`, uid: 'ok' })).body.id;
    bad = (await server.api('POST', '/api/v1/app/acme/endpoint', { url: `${receiver.url}/bad`, uid: 'bad' })).body.id;
    for (const [key, eventType] of [['m1', 'a.one'], ['m2', 'a.one'], ['m3', 'a.one'], ['m4', 'a.two']] as const) {
      const r = await server.api('POST', '/api/v1/app/acme/msg', { eventType, payload: { key } });
      assert.equal(r.status, 202);
      msgIds[key] = r.body.id;
    }
    laterAt = new Date(Date.now() + HOUR).toISOString();
    const later = await server.api('POST', '/api/v1/app/acme/msg', { eventType: 'a.one', payload: { key: 'later' }, deliverAt: laterAt });
    assert.equal(later.status, 202);
    msgIds.later = later.body.id;
    // Each message reaches the working endpoint once and fails twice at the other.
    await eventually(async () => {
      const s = await server.api('GET', `/api/v1/app/acme/endpoint/bad/stats`);
      return s.body.fail === 4 ? true : undefined;
    }, 15_000, 'the failing deliveries');
    await eventually(async () => ((await server.api('GET', `/api/v1/app/acme/endpoint/ok/stats`)).body.success === 4 ? true : undefined));
  });

  after(async () => {
    await server?.stop();
    await receiver?.close();
  });

  const ids = async (query: string): Promise<string[]> => {
    const r = await server.api('GET', `/api/v1/app/acme/msg?${query}`);
    assert.equal(r.status, 200, r.text);
    return r.body.data.map((m: { id: string }) => m.id);
  };

  it('lists the messages with a delivery in a status, with the other filters and in pages', async () => {
    const delivered = [msgIds.m4, msgIds.m3, msgIds.m2, msgIds.m1];
    assert.deepEqual(await ids('status=2'), delivered);
    assert.deepEqual(await ids('status=0'), delivered);
    assert.deepEqual(await ids('status=1'), [msgIds.later]);
    assert.deepEqual(await ids('status=3'), []);
    assert.deepEqual(await ids('status=2&event_types=a.two'), [msgIds.m4]);
    assert.deepEqual(await ids('status=1&event_types=a.two'), []);
    assert.equal((await ids('')).length, 5);

    const first = await server.api('GET', '/api/v1/app/acme/msg?status=2&limit=3');
    assert.deepEqual(first.body.data.map((m: { id: string }) => m.id), delivered.slice(0, 3));
    assert.equal(first.body.done, false);
    const second = await server.api('GET', `/api/v1/app/acme/msg?status=2&limit=3&iterator=${first.body.iterator}`);
    assert.deepEqual(second.body.data.map((m: { id: string }) => m.id), delivered.slice(3));
    assert.equal(second.body.done, true);

    const wrong = await server.api('GET', '/api/v1/app/acme/msg?status=9');
    assert.equal(wrong.status, 422);
    assert.deepEqual(wrong.body.detail[0].loc, ['query', 'status']);
  });

  it("charts an endpoint's successes, failures and latency per hour, oldest first, empty hours included", async () => {
    const series = async (ep: string, query = '') => {
      const r = await server.api('GET', `/api/v1/app/acme/endpoint/${ep}/stats/series${query}`);
      assert.equal(r.status, 200, r.text);
      return r.body as { bucket: string; data: { start: string; success: number; fail: number; latencyP50Ms: number | null; latencyP95Ms: number | null }[] };
    };
    const good = await series(ok);
    assert.equal(good.bucket, 'hour');
    // The last 24 hours from a whole hour: 24 or 25 buckets, an hour apart.
    assert.ok(good.data.length === 25 || good.data.length === 24, `${good.data.length} buckets`);
    const starts = good.data.map((p) => Date.parse(p.start));
    for (let i = 1; i < starts.length; i++) assert.equal(starts[i]! - starts[i - 1]!, HOUR);
    assert.equal(starts[0]! % HOUR, 0);
    assert.ok(starts[starts.length - 1]! <= Date.now() && Date.now() < starts[starts.length - 1]! + HOUR);
    assert.equal(good.data.reduce((n, p) => n + p.success, 0), 4);
    assert.equal(good.data.reduce((n, p) => n + p.fail, 0), 0);
    const busy = good.data.filter((p) => p.success > 0);
    assert.ok(busy.length >= 1);
    for (const p of busy) {
      assert.ok(p.latencyP50Ms !== null && p.latencyP50Ms >= OK_DELAY_MS, `p50 ${p.latencyP50Ms}`);
      assert.ok(p.latencyP95Ms !== null && p.latencyP95Ms >= p.latencyP50Ms!);
    }
    for (const p of good.data.filter((q) => q.success === 0)) assert.deepEqual([p.latencyP50Ms, p.latencyP95Ms], [null, null]);

    const failing = await series('bad', '?bucket=day&since=' + new Date(Date.now() - 3 * 24 * HOUR).toISOString());
    assert.equal(failing.bucket, 'day');
    assert.equal(failing.data.length, 4);
    assert.equal(Date.parse(failing.data[0]!.start) % (24 * HOUR), 0);
    assert.deepEqual(
      [failing.data.reduce((n, p) => n + p.success, 0), failing.data.reduce((n, p) => n + p.fail, 0)],
      [0, 8],
    );
    // A range before anything happened has only empty buckets.
    const quiet = await series(ok, `?since=${new Date(Date.now() - 10 * HOUR).toISOString()}&until=${new Date(Date.now() - 5 * HOUR).toISOString()}`);
    assert.ok(quiet.data.length >= 5);
    assert.ok(quiet.data.every((p) => p.success === 0 && p.fail === 0 && p.latencyP50Ms === null));
  });

  it('refuses a series of more than 400 buckets, an unknown bucket and a backwards range, naming the field', async () => {
    const path = `/api/v1/app/acme/endpoint/${ok}/stats/series`;
    const tooLong = await server.api('GET', `${path}?since=${new Date(Date.now() - 401 * HOUR).toISOString()}`);
    assert.equal(tooLong.status, 422);
    assert.deepEqual(tooLong.body.detail[0].loc, ['query', 'since']);
    assert.match(tooLong.body.detail[0].msg, /400/);
    // The same range by day is fine.
    assert.equal((await server.api('GET', `${path}?bucket=day&since=${new Date(Date.now() - 401 * HOUR).toISOString()}`)).status, 200);
    const week = await server.api('GET', `${path}?bucket=week`);
    assert.equal(week.status, 422);
    assert.deepEqual(week.body.detail[0].loc, ['query', 'bucket']);
    const backwards = await server.api('GET', `${path}?since=${new Date().toISOString()}&until=${new Date(Date.now() - HOUR).toISOString()}`);
    assert.equal(backwards.status, 422);
    assert.deepEqual(backwards.body.detail[0].loc, ['query', 'since']);
    assert.equal((await server.api('GET', `/api/v1/app/acme/endpoint/nope/stats/series`)).status, 404);
  });

  it('gives the operator the backlog, 24 hours of traffic, the failing endpoints and the totals', async () => {
    const r = await server.api('GET', '/api/v1/dashboard/overview');
    assert.equal(r.status, 200, r.text);
    const o = r.body;
    // The message due in an hour waits at both endpoints.
    assert.deepEqual(o.backlog, { pending: 2, sending: 0, oldestDueAt: laterAt });
    assert.equal(o.throughput.length, 24);
    const starts = o.throughput.map((p: { start: string }) => Date.parse(p.start));
    for (let i = 1; i < starts.length; i++) assert.equal(starts[i] - starts[i - 1], HOUR);
    const sum = (k: string) => o.throughput.reduce((n: number, p: Record<string, number>) => n + p[k]!, 0);
    assert.deepEqual([sum('messages'), sum('success'), sum('fail')], [5, 4, 8]);
    assert.equal(o.failingEndpoints.length, 1);
    const f = o.failingEndpoints[0];
    assert.deepEqual([f.endpointId, f.appName, f.url, f.failed], [bad, 'Acme Nutrition', `${receiver.url}/bad`, 4]);
    assert.ok(Date.parse(f.lastFailureAt) <= Date.now());
    assert.deepEqual(o.totals, { applications: 3, endpoints: 2, messages24h: 5 });

    // The backlog over time: samples oldest first, the last one this answer's backlog.
    const series: BacklogPoint[] = o.backlogSeries;
    assert.ok(series.length >= 2, `sampled since the server started: ${JSON.stringify(series)}`);
    const last = series.at(-1)!;
    assert.deepEqual({ pending: last.pending, sending: last.sending }, { pending: o.backlog.pending, sending: o.backlog.sending });
    const ats = series.map((p) => Date.parse(p.at));
    for (let i = 1; i < ats.length; i++) assert.ok(ats[i]! >= ats[i - 1]!, `sample ${i} is not after sample ${i - 1}`);
    assert.ok(ats.at(-1)! <= Date.now());
  });

  it('lists applications for the operator with a search and their counts, in pages', async () => {
    const list = async (query: string) => {
      const r = await server.api('GET', `/api/v1/dashboard/app?${query}`);
      assert.equal(r.status, 200, r.text);
      return r.body;
    };
    const all = await list('');
    assert.deepEqual(all.data.map((a: { name: string }) => a.name), ['Acme Nutrition', 'Vital Health', 'Other']);
    const acme = (await list('search=NUTRI')).data;
    assert.equal(acme.length, 1);
    assert.equal(acme[0].uid, 'acme');
    assert.deepEqual([acme[0].endpoints, acme[0].messages24h, acme[0].failing], [2, 5, 1]);
    assert.ok(acme[0].id.startsWith('app_') && typeof acme[0].createdAt === 'string');
    assert.deepEqual((await list('search=-eu')).data.map((a: { name: string }) => a.name), ['Vital Health'], 'the uid is searched');
    assert.deepEqual((await list('search=zzz')).data, []);
    const p1 = await list('limit=2');
    assert.equal(p1.data.length, 2);
    assert.equal(p1.done, false);
    const p2 = await list(`limit=2&iterator=${p1.iterator}`);
    assert.deepEqual(p2.data.map((a: { name: string }) => a.name), ['Other']);
    assert.equal(p2.done, true);
    assert.equal((await server.api('GET', '/api/v1/dashboard/app?limit=0')).status, 422);
  });

  it('keeps the dashboard from portal tokens and describes every new route in /openapi.json', async () => {
    const access = await server.api('POST', '/api/v1/auth/app-portal-access/acme', {});
    assert.equal(access.status, 200, access.text);
    const asPortal = { authorization: `Bearer ${access.body.token}` };
    assert.equal((await server.api('GET', '/api/v1/dashboard/overview', undefined, asPortal)).status, 403);
    assert.equal((await server.api('GET', '/api/v1/dashboard/app', undefined, asPortal)).status, 403);
    assert.equal((await server.api('GET', `/api/v1/app/acme/endpoint/${ok}/stats/series`, undefined, asPortal)).status, 200);
    assert.equal((await server.api('GET', '/api/v1/app/acme/msg?status=2', undefined, asPortal)).status, 200);

    const doc = (await server.api('GET', '/openapi.json')).body;
    const op = (path: string) => doc.paths[path]?.get;
    assert.equal(op('/api/v1/dashboard/overview')?.operationId, 'hookwell.dashboard.overview');
    assert.equal(op('/api/v1/dashboard/app')?.operationId, 'hookwell.dashboard.list-apps');
    assert.equal(op('/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats/series')?.operationId, 'hookwell.endpoint.get-stats-series');
    const statusParam = op('/api/v1/app/{app_id}/msg')?.parameters.find((p: { name: string }) => p.name === 'status');
    assert.deepEqual(statusParam?.schema.enum, [0, 1, 2, 3, 4]);
  });

  it('samples the backlog over time: a delivery a slow receiver holds shows in it, and leaves it when done', async () => {
    const overview = async () => {
      const r = await server.api('GET', '/api/v1/dashboard/overview');
      assert.equal(r.status, 200, r.text);
      return r.body.backlogSeries as BacklogPoint[];
    };
    const queued = (p: BacklogPoint) => p.pending + p.sending;
    // Until now only the message due in an hour waits, at both endpoints.
    assert.equal(queued((await overview()).at(-1)!), 2);

    const answers = receiver.respond;
    receiver.respond = (r, n) => (r.path === '/slow' ? { status: 200, delayMs: 1500 } : answers(r, n));
    const slowApp = (await server.api('POST', '/api/v1/app', { name: 'Slow Receiver' })).body.id;
    const slow = await server.api('POST', `/api/v1/app/${slowApp}/endpoint`, { url: `${receiver.url}/slow` });
    assert.equal(slow.status, 201, slow.text);
    const sentAt = Date.now();
    assert.equal((await server.api('POST', `/api/v1/app/${slowApp}/msg`, { eventType: 'a.one', payload: { key: 'slow' } })).status, 202);

    // Sampled by the server's own interval (not the answer's last point) while the receiver holds it.
    const sampledSince = (series: BacklogPoint[], t: number) => series.slice(0, -1).filter((p) => Date.parse(p.at) >= t);
    await eventually(async () => (sampledSince(await overview(), sentAt).some((p) => queued(p) === 3) ? true : undefined), 10_000, 'a sample holding the slow delivery');
    await eventually(async () => ((await server.api('GET', `/api/v1/app/${slowApp}/endpoint/${slow.body.id}/stats`)).body.success === 1 ? true : undefined), 10_000, 'the slow delivery');
    const doneAt = Date.now();
    await eventually(async () => (sampledSince(await overview(), doneAt).some((p) => queued(p) === 2) ? true : undefined), 10_000, 'a sample after the delivery');
  });
});
