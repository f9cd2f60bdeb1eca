// Svix's v1.event-type.export-openapi: the event types as an OpenAPI document of webhooks,
// answered as a finished background task; the document imports back into another server
// unchanged. Runs on PostgreSQL too with HOOKWELL_TEST_BACKEND=postgres.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from './helpers.js';

const workout = {
  type: 'object',
  properties: { id: { type: 'string' }, minutes: { type: 'integer', minimum: 0 } },
  required: ['id'],
  examples: [{ id: 'w1', minutes: 30 }],
};

describe('event type export', () => {
  let srv: TestServer;
  let other: TestServer;

  before(async () => {
    srv = await startServer();
    other = await startServer();
    const types = [
      { name: 'workout.created', description: 'A workout was logged', schemas: { '1': { type: 'object' }, '2': workout }, groupName: 'workout' },
      { name: 'sleep.created', description: 'A night was logged', deprecated: true, featureFlags: ['beta-sleep'] },
      { name: 'gone.type', description: 'Archived' },
    ];
    for (const t of types) assert.equal((await srv.api('POST', '/api/v1/event-type', t)).status, 201);
    assert.equal((await srv.api('DELETE', '/api/v1/event-type/gone.type')).status, 204);
  });

  after(async () => {
    await srv?.stop();
    await other?.stop();
  });

  it("answers a finished task holding a webhook per live event type, each with its newest schema", async () => {
    const r = await srv.api('POST', '/api/v1/event-type/export/openapi');
    assert.equal(r.status, 202, r.text);
    assert.match(r.body.id, /^qtask_[A-Za-z0-9]{27}$/);
    assert.equal(r.body.status, 'finished');
    assert.equal(r.body.task, 'sdk.generate');
    assert.ok(Math.abs(Date.parse(r.body.updatedAt) - Date.now()) < 60_000);
    const kept = await srv.api('GET', `/api/v1/background-task/${r.body.id}`);
    assert.equal(kept.status, 200, kept.text);
    assert.deepEqual(kept.body.data, r.body.data);

    const doc = r.body.data.openapi;
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(Object.keys(doc.webhooks).sort(), ['sleep.created', 'workout.created']);
    const w = doc.webhooks['workout.created'].post;
    assert.deepEqual(w.requestBody.content['application/json'].schema, workout);
    assert.equal(w.description, 'A workout was logged');
    assert.equal(w['x-svix-group-name'], 'workout');
    const s = doc.webhooks['sleep.created'].post;
    assert.equal(s.deprecated, true);
    assert.equal(s['x-svix-feature-flag'], 'beta-sleep');
    assert.deepEqual(s.requestBody.content['application/json'].schema, { type: 'object' });
  });

  it('imports into another server as the same event types', async () => {
    const doc = (await srv.api('POST', '/api/v1/event-type/export/openapi')).body.data.openapi;
    const imported = await other.api('POST', '/api/v1/event-type/import/openapi', { spec: doc });
    assert.equal(imported.status, 200, imported.text);
    assert.deepEqual(imported.body.data.modified.sort(), ['sleep.created', 'workout.created']);
    const got = (await other.api('GET', '/api/v1/event-type/workout.created')).body;
    assert.equal(got.description, 'A workout was logged');
    assert.equal(got.groupName, 'workout');
    assert.deepEqual(got.schemas['1'], workout);
    const sleep = (await other.api('GET', '/api/v1/event-type/sleep.created')).body;
    assert.equal(sleep.deprecated, true);
    assert.deepEqual(sleep.featureFlags, ['beta-sleep']);
  });

  it('needs the admin token', async () => {
    const r = await srv.api('POST', '/api/v1/event-type/export/openapi', undefined, { authorization: 'Bearer nope' });
    assert.equal(r.status, 401, r.text);
  });
});
