// Svix's application and usage statistics and the alert email: counts over a known set of
// applications, endpoints, messages and attempts (the two usage operations through the svix
// 1.x SDK). Runs on PostgreSQL too with HOOKWELL_TEST_BACKEND=postgres.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException, Svix } from 'svix';
import { eventually, startReceiver, startServer, TOKEN, type Receiver, type TestServer } from './helpers.js';

describe('Svix statistics', () => {
  let srv: TestServer;
  let receiver: Receiver;
  let svix: Svix;
  const ids: Record<string, string> = {};
  let started = 0;

  before(async () => {
    receiver = await startReceiver();
    receiver.respond = (r) => (r.path.startsWith('/fail') ? { status: 500 } : { status: 204 });
    srv = await startServer({ HOOKWELL_RETRY_SCHEDULE: '' });
    svix = new Svix(TOKEN, { serverUrl: srv.url });
    started = Date.now();
    for (const name of ['lab.result', 'visit.booked']) assert.equal((await srv.api('POST', '/api/v1/event-type', { name, description: name })).status, 201);
    for (const uid of ['alpha', 'beta', 'gamma', 'delta']) ids[uid] = (await srv.api('POST', '/api/v1/app', { name: uid, uid })).body.id;
    // alpha: one endpoint that succeeds, one that fails; beta: one disabled endpoint;
    // gamma: a Svix Play endpoint; delta: none.
    const ep = async (app: string, body: Record<string, unknown>) => assert.equal((await srv.api('POST', `/api/v1/app/${app}/endpoint`, body)).status, 201);
    await ep('alpha', { url: `${receiver.url}/ok` });
    await ep('alpha', { url: `${receiver.url}/fail`, filterTypes: ['lab.result'] });
    await ep('beta', { url: `${receiver.url}/ok`, disabled: true });
    await ep('gamma', { url: 'https://play.svix.com/in/e_abc/' });
    const send = async (app: string, eventType: string) => assert.equal((await srv.api('POST', `/api/v1/app/${app}/msg`, { eventType, payload: {} })).status, 202);
    await send('alpha', 'lab.result');
    await send('alpha', 'lab.result');
    await send('alpha', 'visit.booked');
    await send('beta', 'visit.booked');
    // alpha: 3 attempts to /ok, 2 to /fail.
    await eventually(async () => {
      const r = await srv.api('GET', `/api/v1/app/alpha/stats/attempts`);
      return r.body.total_success === 3 && r.body.total_failure === 2 ? true : undefined;
    }, 10_000, "alpha's attempts");
  });

  after(async () => {
    await srv?.stop();
    await receiver?.close();
  });

  it("counts an application's attempts by event type", async () => {
    const r = await srv.api('GET', '/api/v1/app/alpha/stats/attempts');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.by_event_type, {
      'lab.result': { success: 2, failure: 2, canceled: 0 },
      'visit.booked': { success: 1, failure: 0, canceled: 0 },
    });
    assert.equal(r.body.total_canceled, 0);
    assert.ok(Date.parse(r.body.until) >= started && Date.parse(r.body.since) < started);
    const only = await srv.api('GET', '/api/v1/app/alpha/stats/attempts?event_types=visit.booked');
    assert.deepEqual(only.body.by_event_type, { 'visit.booked': { success: 1, failure: 0, canceled: 0 } });
    const earlier = await srv.api('GET', `/api/v1/app/alpha/stats/attempts?until=${new Date(started - 60_000).toISOString()}`);
    assert.deepEqual(earlier.body.by_event_type, {});
    assert.equal((await srv.api('GET', `/api/v1/app/alpha/stats/attempts?since=${new Date().toISOString()}&until=${new Date(started).toISOString()}`)).status, 422);
    assert.equal((await srv.api('GET', '/api/v1/app/nope/stats/attempts')).status, 404);
  });

  it('gives the attempt series per period', async () => {
    const r = await srv.api('GET', '/api/v1/stats/app/alpha/attempt?period=OneHour');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.period, 'OneHour');
    const { successCount, failureCount, canceledCount } = r.body.data;
    assert.equal(successCount.length, 28 * 24 + 1, 'whole hours from 28 days back, the current one included');
    assert.equal(successCount.reduce((x: number, y: number) => x + y, 0), 3);
    assert.equal(failureCount.reduce((x: number, y: number) => x + y, 0), 2);
    assert.equal(canceledCount.reduce((x: number, y: number) => x + y, 0), 0);
    assert.equal(successCount[successCount.length - 1] + successCount[successCount.length - 2], 3, 'in the latest hours');
    assert.equal(Date.parse(r.body.startDate) % 3_600_000, 0);
    const tooMany = await srv.api('GET', `/api/v1/stats/app/alpha/attempt?period=FiveMinutes&startDate=${new Date(started - 30 * 86_400_000).toISOString()}`);
    assert.equal(tooMany.status, 422, tooMany.text);
    assert.equal((await srv.api('GET', '/api/v1/stats/app/alpha/attempt?period=OneWeek')).status, 422);
  });

  it('counts active applications and endpoints', async () => {
    const active = await srv.api('GET', '/api/v1/app/stats/count-active');
    assert.equal(active.status, 200, active.text);
    assert.deepEqual(active.body, { count: 1 }, 'alpha: beta has only a disabled endpoint, gamma only Svix Play');
    assert.deepEqual((await srv.api('GET', '/api/v1/app/stats/count-active?exclude_disabled=false')).body, { count: 2 });
    assert.deepEqual((await srv.api('GET', '/api/v1/app/stats/count-active?exclude_disabled=false&exclude_svix_play=false')).body, { count: 3 });
    assert.deepEqual((await srv.api('GET', '/api/v1/stats/endpoint/count')).body, { active: 2, disabled: 1 });
    assert.deepEqual((await srv.api('GET', '/api/v1/stats/endpoint/count?exclude_svix_play=false')).body, { active: 3, disabled: 1 });
  });

  it('aggregates event type usage (SDK)', async () => {
    const out = await svix.statistics.aggregateEventTypes();
    assert.equal(out.status, 'finished');
    assert.match(out.id, /^qtask_/);
    const raw = await srv.api('PUT', '/api/v1/stats/usage/event-types');
    assert.equal(raw.status, 202, raw.text);
    assert.deepEqual(raw.body.data.eventTypes, {
      'lab.result': { [ids.alpha!]: 2 },
      'visit.booked': { [ids.alpha!]: 1, [ids.beta!]: 1 },
    });
    // The task is kept: background-task.get finds it, with its data.
    const kept = await srv.api('GET', `/api/v1/background-task/${raw.body.id}`);
    assert.equal(kept.status, 200, kept.text);
    assert.equal(kept.body.task, 'event-type.aggregate');
    assert.equal(kept.body.status, 'finished');
    assert.deepEqual(kept.body.data, raw.body.data);
  });

  it('aggregates application usage in a range, naming the ids it did not find (SDK)', async () => {
    const since = new Date(started - 60_000);
    const until = new Date(Date.now() + 60_000);
    const out = await svix.statistics.aggregateAppStats({ since, until, appIds: ['alpha', 'delta', 'missing'] });
    assert.ok(out);
    assert.equal(out.status, 'finished');
    assert.deepEqual(out.unresolvedAppIds, ['missing']);
    const raw = await srv.api('POST', '/api/v1/stats/usage/app', { since: since.toISOString(), until: until.toISOString(), appIds: ['alpha', 'delta', 'missing'] });
    assert.equal(raw.status, 202, raw.text);
    assert.deepEqual(raw.body.data.apps, [
      { appId: ids.alpha, messages: 3, byEventType: { 'lab.result': 2, 'visit.booked': 1 } },
      { appId: ids.delta, messages: 0, byEventType: {} },
    ].sort((x, y) => (x.appId! < y.appId! ? -1 : 1)));
    const all = await srv.api('POST', '/api/v1/stats/usage/app', { since: since.toISOString(), until: until.toISOString() });
    assert.deepEqual(all.body.data.apps.map((a: { messages: number }) => a.messages).sort(), [1, 3]);
    try {
      await svix.statistics.aggregateAppStats({ since, until, appIds: ['missing'] });
      assert.fail('expected 422');
    } catch (err) {
      assert.ok(err instanceof ApiException);
      assert.equal(err.code, 422);
    }
  });

  it('keeps an alert email, refuses a malformed one, and forgets it with the application', async () => {
    const r = await srv.api('PATCH', '/api/v1/app/alpha/alert-email', { email: 'ops@example.com, oncall@example.org' });
    assert.equal(r.status, 204, r.text);
    assert.equal(await srv.hw.store.getMeta(`alert-email:${ids.alpha}`), 'ops@example.com, oncall@example.org');
    const bad = await srv.api('PATCH', '/api/v1/app/alpha/alert-email', { email: 'ops@example.com, not-an-address' });
    assert.equal(bad.status, 422, bad.text);
    assert.match(bad.text, /not-an-address/);
    assert.equal(await srv.hw.store.getMeta(`alert-email:${ids.alpha}`), 'ops@example.com, oncall@example.org');
    assert.equal((await srv.api('PATCH', '/api/v1/app/delta/alert-email', { email: 'd@example.com' })).status, 204);
    assert.equal((await srv.api('DELETE', '/api/v1/app/delta')).status, 204);
    assert.equal(await srv.hw.store.getMeta(`alert-email:${ids.delta}`), null);
    assert.equal((await srv.api('PATCH', '/api/v1/app/nope/alert-email', { email: null })).status, 404);
  });
});
