// The dashboard's schema editor asks the server, as the operator types, whether a schema
// compiles as an event type's payload schema: the same compile that `validate: true` runs on
// save, so what it answers is what saving would meet.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from './helpers.js';
import { MAX_JSON_DEPTH } from '../src/domain/json-limits.js';

const CHECK = '/api/v1/event-type/check-schema';

interface Problem {
  loc: string[];
  msg: string;
  type: string;
}

describe('checking a JSON Schema before saving it', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer();
    assert.equal((await server.api('POST', '/api/v1/app', { name: 'Acme', uid: 'acme' })).status, 201);
  });

  after(async () => {
    await server?.stop();
  });

  const problems = async (schemas: unknown): Promise<Problem[]> => {
    const r = await server.api('POST', CHECK, { schemas });
    assert.equal(r.status, 422, r.text);
    return r.body.detail as Problem[];
  };

  it('answers ok for schemas that compile, each draft, $refs and RE2 patterns included', async () => {
    const good = {
      '1': {
        type: 'object',
        required: ['user_id', 'calories'],
        properties: {
          user_id: { type: 'string', pattern: '^usr_[a-z0-9]+$', 'x-identifier': true },
          calories: { $ref: '#/$defs/kcal' },
          at: { type: 'string', format: 'date-time' },
        },
        $defs: { kcal: { type: 'number', minimum: 0 } },
        examples: [{ user_id: 'usr_1', calories: 120 }],
      },
      '2': { $schema: 'http://json-schema.org/draft-07/schema#', $id: 'https://example.com/meal.json', type: 'object', definitions: {} },
    };
    const r = await server.api('POST', CHECK, { schemas: good });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { ok: true });
  });

  it('names the version and the problem of a schema saving with validate: true would refuse', async () => {
    const [lookbehind] = await problems({ '1': { type: 'object' }, '3': { type: 'object', properties: { a: { type: 'string', pattern: '(?<=a)b' } } } });
    assert.deepEqual(lookbehind!.loc, ['body', 'schemas', '3']);
    assert.equal(lookbehind!.type, 'value_error.schema');
    assert.match(lookbehind!.msg, /lookbehind.*RE2/);

    const [broken] = await problems({ '1': { properties: { a: { type: 'string', pattern: '(a' } } } });
    assert.match(broken!.msg, /"\(a" is not a valid ECMA-262 regular expression/);

    const [unresolved] = await problems({ '2': { $ref: '#/$defs/missing' } });
    assert.deepEqual(unresolved!.loc, ['body', 'schemas', '2']);
    assert.match(unresolved!.msg, /can't resolve reference #\/\$defs\/missing/);

    // Keyword shapes are named at their place in the schema, every one of them, once.
    const shapes = await problems({ '1': { properties: { a: { minLength: 'x' }, b: { type: 'wat' } } } });
    assert.deepEqual(
      shapes.map((p) => p.loc),
      [
        ['body', 'schemas', '1', 'properties', 'a', 'minLength'],
        ['body', 'schemas', '1', 'properties', 'b', 'type'],
      ],
    );
    assert.match(shapes[0]!.msg, /properties\/a\/minLength must be integer/);
    assert.match(shapes[1]!.msg, /properties\/b\/type must be equal to one of the allowed values/);

    // What the check refuses, saving refuses too, in the same words.
    const saved = await server.api('POST', '/api/v1/event-type', {
      name: 'meal.logged',
      description: 'A meal',
      validate: true,
      schemas: { '2': { $ref: '#/$defs/missing' } },
    });
    assert.equal(saved.status, 422, saved.text);
    assert.equal(saved.body.detail[0].msg, unresolved!.msg);
  });

  it('names an unknown format or keyword, which the compiled schema would skip', async () => {
    const [format] = await problems({ '1': { type: 'object', properties: { at: { type: 'string', format: 'date_time' } } } });
    assert.deepEqual(format!.loc, ['body', 'schemas', '1', 'properties', 'at']);
    assert.equal(format!.type, 'value_error.schema.ignored');
    assert.match(format!.msg, /unknown format "date_time"/);

    const [keyword] = await problems({ '4': { type: 'object', properites: {} } });
    assert.deepEqual(keyword!.loc, ['body', 'schemas', '4']);
    assert.equal(keyword!.type, 'value_error.schema.ignored');
    assert.match(keyword!.msg, /strict mode: unknown keyword: "properites"/);

    // A refusal is named before a skipped part: it is what stops a save.
    const [both] = await problems({ '1': { type: 'object', properites: {}, $ref: '#/nowhere' } });
    assert.equal(both!.type, 'value_error.schema');
  });

  it('refuses a body that is not schemas by version, or nested past the depth limit', async () => {
    const notObject = await server.api('POST', CHECK, { schemas: { '1': 'string' } });
    assert.equal(notObject.status, 422);
    assert.deepEqual(notObject.body.detail[0].loc, ['body', 'schemas', '1']);
    assert.equal((await server.api('POST', CHECK, { schemas: {} })).status, 422);
    assert.deepEqual((await server.api('POST', CHECK, {})).body.detail[0].loc, ['body', 'schemas']);

    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < MAX_JSON_DEPTH; i++) deep = { not: deep };
    const tooDeep = await server.api('POST', CHECK, { schemas: { '1': deep } });
    assert.equal(tooDeep.status, 422, tooDeep.text);
    assert.deepEqual(tooDeep.body.detail[0].loc.slice(0, 4), ['body', 'schemas', '1', 'not']);
  });

  it('is for the admin token only, and is described in /openapi.json', async () => {
    const access = await server.api('POST', '/api/v1/auth/app-portal-access/acme', {});
    assert.equal(access.status, 200, access.text);
    const asPortal = { authorization: `Bearer ${access.body.token}` };
    const refused = await server.api('POST', CHECK, { schemas: { '1': { type: 'object' } } }, asPortal);
    assert.equal(refused.status, 403, refused.text);
    assert.equal((await server.api('POST', CHECK, { schemas: { '1': { type: 'object' } } }, { authorization: 'Bearer wrong' })).status, 401);

    const doc = (await server.api('GET', '/openapi.json')).body;
    const op = doc.paths['/api/v1/event-type/check-schema']?.post;
    assert.equal(op?.operationId, 'hookwell.event-type.check-schema');
    assert.ok(op.responses['200'] && op.responses['422'], 'both answers are documented');
  });
});
