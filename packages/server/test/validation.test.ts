// Payload validation against event type schemas, on a real server over HTTP.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from './helpers.js';

const WORKOUT_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['user_id', 'data'],
  properties: {
    user_id: { type: 'string', 'x-identifier': true },
    data: {
      type: 'object',
      required: ['id', 'calories'],
      properties: {
        id: { type: 'string' },
        calories: { type: 'number', minimum: 0 },
        started_at: { type: 'string', format: 'date-time' },
      },
    },
  },
  examples: [{ user_id: 'u1', data: { id: 'w1', calories: 310.5, started_at: '2026-11-20T07:00:00Z' } }],
};
const good = { user_id: 'u1', data: { id: 'w1', calories: 310.5, started_at: '2026-11-20T07:00:00Z' } };

describe('payload validation', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
    await server.api('POST', '/api/v1/app', { name: 'v', uid: 'v' });
  });
  after(async () => server.stop());

  const send = (eventType: string, payload: unknown) => server.api('POST', '/api/v1/app/v/msg', { eventType, payload });
  const count = async () => (await server.api('GET', '/api/v1/app/v/msg?limit=250')).body.data.length as number;

  it('refuses a payload that breaks the schema of an event type with validate: true, naming the path and the rule', async () => {
    const created = await server.api('POST', '/api/v1/event-type', {
      name: 'daily.data.workouts.created',
      description: 'A workout',
      schemas: { '1': WORKOUT_SCHEMA },
      validate: true,
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.validate, true);

    assert.equal((await send('daily.data.workouts.created', good)).status, 202);
    const before = await count();

    const wrongType = await send('daily.data.workouts.created', { ...good, data: { ...good.data, calories: 'many' } });
    assert.equal(wrongType.status, 422, wrongType.text);
    const [problem] = wrongType.body.detail;
    assert.deepEqual(problem.loc, ['body', 'payload', 'data', 'calories']);
    assert.match(problem.msg, /^\$\.data\.calories must be number \(rule: type at #\/properties\/data\/properties\/calories\/type\)$/);
    assert.equal(problem.type, 'value_error.payload.type');

    const missing = await send('daily.data.workouts.created', { data: good.data });
    assert.equal(missing.status, 422);
    assert.deepEqual(missing.body.detail[0].loc, ['body', 'payload', 'user_id']);
    assert.match(missing.body.detail[0].msg, /^\$\.user_id is required \(rule: required/);

    const badFormat = await send('daily.data.workouts.created', { ...good, data: { ...good.data, started_at: 'yesterday' } });
    assert.equal(badFormat.status, 422);
    assert.match(badFormat.body.detail[0].msg, /\$\.data\.started_at must match format "date-time"/);

    const negative = await send('daily.data.workouts.created', { ...good, data: { ...good.data, calories: -1 } });
    assert.equal(negative.status, 422);
    assert.match(negative.body.detail[0].msg, /rule: minimum/);

    assert.equal(await count(), before, 'nothing was stored for the refused messages');
  });

  it('accepts anything for types without validate, and for unknown types', async () => {
    await server.api('POST', '/api/v1/event-type', { name: 'loose.type', description: 'x', schemas: { '1': WORKOUT_SCHEMA } });
    assert.equal((await send('loose.type', { anything: true })).status, 202);
    assert.equal((await send('never.declared', { anything: true })).status, 202);
  });

  it('applies a changed schema or flag at once', async () => {
    const patched = await server.api('PATCH', '/api/v1/event-type/loose.type', { validate: true });
    assert.equal(patched.status, 200, patched.text);
    assert.equal((await send('loose.type', { anything: true })).status, 422);
    const relaxed = { ...WORKOUT_SCHEMA, required: ['user_id'], properties: { user_id: { type: 'string' } } };
    await server.api('PATCH', '/api/v1/event-type/loose.type', { schemas: { '1': WORKOUT_SCHEMA, '2': relaxed } });
    assert.equal((await send('loose.type', { user_id: 'u2' })).status, 202, 'the newest schema version is the one checked');
    await server.api('PATCH', '/api/v1/event-type/loose.type', { validate: false });
    assert.equal((await send('loose.type', { anything: true })).status, 202);
  });

  it('refuses validate: true without a usable schema, writing nothing', async () => {
    const none = await server.api('POST', '/api/v1/event-type', { name: 'no.schema', description: 'x', validate: true });
    assert.equal(none.status, 422);
    assert.deepEqual(none.body.detail[0].loc, ['body', 'validate']);
    const broken = await server.api('POST', '/api/v1/event-type', {
      name: 'broken.schema',
      description: 'x',
      schemas: { '1': { type: 'object', properties: { a: { type: 'no-such-type' } } } },
      validate: true,
    });
    assert.equal(broken.status, 422);
    assert.deepEqual(broken.body.detail[0].loc, ['body', 'schemas', '1']);
    assert.match(broken.body.detail[0].msg, /not a usable JSON Schema/);
    assert.equal((await server.api('GET', '/api/v1/event-type/broken.schema')).status, 404);
    assert.equal((await server.api('GET', '/api/v1/event-type/no.schema')).status, 404);
  });

  it('creates no application for a message it refuses', async () => {
    const refused = await server.api('POST', '/api/v1/app/new-app/msg', {
      eventType: 'daily.data.workouts.created',
      payload: { ...good, data: { ...good.data, calories: 'many' } },
      application: { name: 'New app' },
    });
    assert.equal(refused.status, 422, refused.text);
    assert.equal((await server.api('GET', '/api/v1/app/new-app')).status, 404, 'the application was created for a refused message');
    const accepted = await server.api('POST', '/api/v1/app/new-app/msg', { eventType: 'daily.data.workouts.created', payload: good, application: { name: 'New app' } });
    assert.equal(accepted.status, 202, accepted.text);
    assert.equal((await server.api('GET', '/api/v1/app/new-app')).status, 200);
  });

  it('accepts draft-07 schemas as well', async () => {
    const draft7 = { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', required: ['n'], properties: { n: { type: 'integer' } } };
    assert.equal((await server.api('POST', '/api/v1/event-type', { name: 'old.draft', description: 'x', schemas: { '1': draft7 }, validate: true })).status, 201);
    assert.equal((await send('old.draft', { n: 1 })).status, 202);
    assert.equal((await send('old.draft', { n: 1.5 })).status, 422);
  });
});

describe('HOOKWELL_VALIDATE_PAYLOADS', () => {
  it('validates every message whose event type has a schema', async () => {
    const server = await startServer({ HOOKWELL_VALIDATE_PAYLOADS: 'true' });
    try {
      await server.api('POST', '/api/v1/app', { name: 'g', uid: 'g' });
      await server.api('POST', '/api/v1/event-type', { name: 'daily.data.workouts.created', description: 'x', schemas: { '1': WORKOUT_SCHEMA } });
      const bad = await server.api('POST', '/api/v1/app/g/msg', { eventType: 'daily.data.workouts.created', payload: { user_id: 7 } });
      assert.equal(bad.status, 422);
      assert.deepEqual(
        bad.body.detail.map((p: { loc: string[] }) => p.loc.join('.')).sort(),
        ['body.payload.data', 'body.payload.user_id'],
        'every problem is named',
      );
      const ok = await server.api('POST', '/api/v1/app/g/msg', { eventType: 'daily.data.workouts.created', payload: good });
      assert.equal(ok.status, 202);
      assert.equal((await server.api('POST', '/api/v1/app/g/msg', { eventType: 'no.schema.here', payload: { x: 1 } })).status, 202);
    } finally {
      await server.stop();
    }
  });
});
