// The internal application that holds the operational webhook endpoints is Hookwell's own:
// the application list, count-active and the statistics over all applications leave it out,
// while the operational-webhook routes still reach it and its events still go out. With
// HOOKWELL_TEST_BACKEND=postgres the same runs on PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startReceiver, startServer, type Receiver, type TestServer } from './helpers.js';

const ON_POSTGRES = process.env.HOOKWELL_TEST_BACKEND === 'postgres';
const INTERNAL = 'hookwell-operational';

describe(`the operational webhooks' application is left out of listings (${ON_POSTGRES ? 'postgres' : 'sqlite'})`, () => {
  let server: TestServer;
  let receiver: Receiver;
  let clinic: string;
  let internal: string;
  const started = Date.now();

  before(async () => {
    server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '0' });
    receiver = await startReceiver();
    const ops = await server.api('POST', '/api/v1/operational-webhook/endpoint', { url: `${receiver.url}/ops` });
    assert.equal(ops.status, 201, ops.text);
    const app = await server.api('POST', '/api/v1/app', { name: 'Clinic', uid: 'clinic' });
    assert.equal(app.status, 201, app.text);
    clinic = app.body.id;
    assert.equal((await server.api('POST', '/api/v1/app/clinic/endpoint', { url: `${receiver.url}/clinic` })).status, 201);
    // The endpoint's creation is an operational event: a message of the internal application, sent.
    await eventually(() => receiver.received.find((r) => r.path === '/ops'), 10_000, 'the endpoint.created operational webhook');
    const found = await server.api('GET', `/api/v1/app/${INTERNAL}`);
    assert.equal(found.status, 200, 'the internal application exists, and is reached by its uid');
    internal = found.body.id;
  });

  after(async () => {
    await server?.stop();
    await receiver?.close();
  });

  it('lists only the caller\'s applications', async () => {
    const list = await server.api('GET', '/api/v1/app');
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.body.data.map((a: { id: string }) => a.id), [clinic]);
    const filtered = await server.api('GET', '/api/v1/app?exclude_apps_with_no_endpoints=true&limit=1');
    assert.deepEqual(filtered.body.data.map((a: { id: string }) => a.id), [clinic]);
    assert.equal(filtered.body.done, true);
  });

  it('counts only the caller\'s applications and endpoints', async () => {
    assert.deepEqual((await server.api('GET', '/api/v1/app/stats/count-active')).body, { count: 1 });
    assert.deepEqual((await server.api('GET', '/api/v1/app/stats/count-active?exclude_disabled=false&exclude_svix_play=false')).body, { count: 1 });
    assert.deepEqual((await server.api('GET', '/api/v1/stats/endpoint/count')).body, { active: 1, disabled: 0 });
  });

  it('leaves its messages out of the usage statistics over all applications', async () => {
    const types = await server.api('PUT', '/api/v1/stats/usage/event-types');
    assert.equal(types.status, 202, types.text);
    assert.ok(!JSON.stringify(types.body.data).includes(internal), JSON.stringify(types.body.data));
    const since = new Date(started - 60_000).toISOString();
    const until = new Date(Date.now() + 60_000).toISOString();
    const apps = await server.api('POST', '/api/v1/stats/usage/app', { since, until });
    assert.equal(apps.status, 202, apps.text);
    assert.ok(!apps.body.data.apps.some((a: { appId: string }) => a.appId === internal), JSON.stringify(apps.body.data));
    // Named, it is counted: the caller asked for it.
    const named = await server.api('POST', '/api/v1/stats/usage/app', { since, until, appIds: [internal] });
    assert.equal(named.body.data.apps[0].appId, internal);
    assert.ok(named.body.data.apps[0].messages >= 1);
  });

  it('keeps the operational endpoints in their own API', async () => {
    const eps = await server.api('GET', '/api/v1/operational-webhook/endpoint');
    assert.equal(eps.status, 200, eps.text);
    assert.equal(eps.body.data.length, 1);
    assert.equal(eps.body.data[0].url, `${receiver.url}/ops`);
  });
});
