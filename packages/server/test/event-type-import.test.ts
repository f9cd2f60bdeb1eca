// Importing event types: a built-in catalogue, a catalogue document, an OpenAPI document;
// over HTTP, and with `hookwell catalog` as a child process.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCatalog } from '../src/catalog.js';
import { query, startServer, tempDir, type TestServer } from './helpers.js';

const BIN = fileURLToPath(new URL('../bin/hookwell.js', import.meta.url));
const CATALOG = loadCatalog('health');

const OPENAPI = {
  openapi: '3.1.0',
  info: { title: 'Coach API', version: '1' },
  webhooks: {
    'meal.logged': {
      post: {
        description: 'A meal was logged',
        'x-svix-group-name': 'meals',
        requestBody: {
          content: {
            'application/json': {
              schema: { $ref: '#/components/schemas/Meal' },
              example: { user_id: 'u1', calories: 640 },
            },
          },
        },
      },
    },
    'goal.completed': {
      post: {
        summary: 'A goal was completed',
        requestBody: { content: { 'application/json': { schema: { type: 'object', properties: { goal: { $ref: '#/components/schemas/Goal' } } } } } },
      },
    },
  },
  components: {
    schemas: {
      Meal: { type: 'object', required: ['user_id'], properties: { user_id: { type: 'string' }, calories: { type: 'number' } } },
      Goal: { type: 'object', properties: { id: { type: 'string' } } },
    },
  },
};

describe('importing event types over the API', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => server.stop());

  const list = async () => (await server.api('GET', '/api/v1/event-type?limit=250&with_content=true')).body.data as any[];

  it('imports the health catalogue, and a second import changes nothing', async () => {
    const first = await server.api('POST', '/api/v1/event-type/import', { catalog: 'health' });
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.body.data.modified.sort(), CATALOG.map((e) => e.name).sort());
    const stored = await list();
    assert.equal(stored.length, CATALOG.length);
    const sample = CATALOG[0]!;
    const got = stored.find((t) => t.name === sample.name);
    assert.equal(got.description, sample.description);
    assert.equal(got.groupName, sample.groupName);
    assert.deepEqual(got.schemas, sample.schemas);

    const again = await server.api('POST', '/api/v1/event-type/import', { catalog: 'health' });
    assert.deepEqual(again.body.data.modified, [], 'idempotent');
    assert.equal((await list()).length, CATALOG.length);
  });

  it('brings back a changed or archived type and keeps its validate flag', async () => {
    const [a, b] = CATALOG;
    await server.api('PATCH', `/api/v1/event-type/${a!.name}`, { description: 'edited by hand', validate: true });
    await server.api('DELETE', `/api/v1/event-type/${b!.name}`);
    const r = await server.api('POST', '/api/v1/event-type/import', { catalog: 'health' });
    assert.deepEqual(r.body.data.modified.sort(), [a!.name, b!.name].sort());
    const restored = (await server.api('GET', `/api/v1/event-type/${a!.name}`)).body;
    assert.equal(restored.description, a!.description);
    assert.equal(restored.validate, true);
    assert.equal((await server.api('GET', `/api/v1/event-type/${b!.name}`)).body.archived, false);
  });

  it("imports an OpenAPI document's webhooks, resolving references; dryRun writes nothing", async () => {
    const dry = await server.api('POST', '/api/v1/event-type/import/openapi', { spec: OPENAPI, dryRun: true });
    assert.equal(dry.status, 200, dry.text);
    assert.deepEqual(dry.body.data.modified.sort(), ['goal.completed', 'meal.logged']);
    assert.equal(dry.body.data.to_modify.length, 2);
    assert.equal((await server.api('GET', '/api/v1/event-type/meal.logged')).status, 404);

    const done = await server.api('POST', '/api/v1/event-type/import/openapi', { specRaw: JSON.stringify(OPENAPI) });
    assert.deepEqual(done.body.data.modified.sort(), ['goal.completed', 'meal.logged']);
    const meal = (await server.api('GET', '/api/v1/event-type/meal.logged')).body;
    assert.equal(meal.description, 'A meal was logged');
    assert.equal(meal.groupName, 'meals');
    assert.deepEqual(meal.schemas['1'].required, ['user_id']);
    assert.deepEqual(meal.schemas['1'].examples, [{ user_id: 'u1', calories: 640 }]);
    const goal = (await server.api('GET', '/api/v1/event-type/goal.completed')).body;
    assert.equal(goal.description, 'A goal was completed');
    assert.deepEqual(goal.schemas['1'].properties.goal, { type: 'object', properties: { id: { type: 'string' } } });
  });

  it('with replaceAll archives the types not imported', async () => {
    const r = await server.api('POST', '/api/v1/event-type/import', {
      eventTypes: [{ name: 'meal.logged', description: 'A meal was logged', groupName: 'meals', schemas: (await server.api('GET', '/api/v1/event-type/meal.logged')).body.schemas }],
      replaceAll: true,
    });
    assert.equal(r.status, 200, r.text);
    const visible = await list();
    assert.deepEqual(
      visible.map((t) => t.name),
      ['meal.logged'],
    );
  });

  it('refuses bad documents with a message naming the problem, writing nothing', async () => {
    const before = (await server.api('GET', '/api/v1/event-type?limit=250&include_archived=true')).body.data.length;
    const neither = await server.api('POST', '/api/v1/event-type/import', {});
    assert.equal(neither.status, 400);
    assert.match(neither.body.detail, /exactly one of catalog/);
    const unknown = await server.api('POST', '/api/v1/event-type/import', { catalog: 'finance' });
    assert.equal(unknown.status, 422);
    assert.match(unknown.body.detail[0].msg, /Unknown catalogue "finance"/);
    const noWebhooks = await server.api('POST', '/api/v1/event-type/import/openapi', { spec: { openapi: '3.1.0', paths: {} } });
    assert.equal(noWebhooks.status, 422);
    assert.match(noWebhooks.body.detail[0].msg, /no "webhooks" section/);
    const dangling = await server.api('POST', '/api/v1/event-type/import/openapi', {
      spec: { webhooks: { 'a.b': { post: { requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Nope' } } } } } } } },
    });
    assert.equal(dangling.status, 422);
    assert.match(dangling.body.detail[0].msg, /"#\/components\/schemas\/Nope" points at nothing/);
    const badName = await server.api('POST', '/api/v1/event-type/import', { eventTypes: [{ name: 'has space', schemas: {} }] });
    assert.equal(badName.status, 422);
    assert.deepEqual(badName.body.detail[0].loc, ['body', 'eventTypes', '0', 'name']);
    const notJson = await server.api('POST', '/api/v1/event-type/import/openapi', { specRaw: 'webhooks: {}' });
    assert.equal(notJson.status, 422);
    assert.equal((await server.api('GET', '/api/v1/event-type?limit=250&include_archived=true')).body.data.length, before);
  });
});

describe('hookwell catalog', () => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });

  it('lists the health catalogue', () => {
    const out = run(['catalog', 'list']);
    assert.equal(out.status, 0, out.stderr);
    for (const e of CATALOG) assert.match(out.stdout, new RegExp(`^${e.name.replace(/\./g, '\\.')} `, 'm'));
    assert.match(out.stdout, new RegExp(`^${CATALOG.length} event types$`, 'm'));
    const unknown = run(['catalog', 'list', 'finance']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /Unknown catalogue "finance"/);
  });

  it('imports it into a database, once', () => {
    const { dir, cleanup } = tempDir();
    try {
      const db = join(dir, 'catalog.db');
      const first = run(['catalog', 'import', 'health', '--db', db]);
      assert.equal(first.status, 0, first.stderr);
      assert.match(first.stdout, new RegExp(`created or updated ${CATALOG.length} event types`));
      assert.deepEqual(query<{ n: number }>(db, 'SELECT count(*) AS n FROM event_types'), [{ n: CATALOG.length }]);
      const again = run(['catalog', 'import', '--db', db]);
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stdout, /already up to date/);
    } finally {
      cleanup();
    }
  });
});
