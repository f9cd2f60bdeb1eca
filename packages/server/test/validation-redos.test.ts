// Schema patterns run on a linear-time engine: a pattern with nested quantifiers cannot hold
// the event loop, and a pattern that engine cannot run (backreferences, lookarounds) is
// refused when the schema is written, rather than accepted and never checked.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { startServer, type TestServer } from './helpers.js';

const schemaWith = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties,
  ...extra,
});

// With a backtracking engine, `^(a+)+$` against n "a"s and one other character tries 2^n
// ways of splitting the "a"s: at 30 that is minutes of one thread, here it must be one pass.
const EVIL = 'a'.repeat(30) + '!';
// Far beyond a linear-time check of a 31-character string, far below a backtracking one.
const PROMPT_MS = 2000;

describe('schema patterns', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
    await server.api('POST', '/api/v1/app', { name: 'r', uid: 'r' });
  });
  after(async () => server.stop());

  const send = (eventType: string, payload: unknown) => server.api('POST', '/api/v1/app/r/msg', { eventType, payload });
  const createType = (name: string, schema: unknown, validate = true) =>
    server.api('POST', '/api/v1/event-type', { name, description: 'x', schemas: { '1': schema }, validate });

  it('answers a payload against a pattern with nested quantifiers promptly, and refuses it', async () => {
    assert.equal((await createType('redos.pattern', schemaWith({ s: { type: 'string', pattern: '^(a+)+$' } }))).status, 201);
    const started = performance.now();
    const res = await send('redos.pattern', { s: EVIL });
    const ms = performance.now() - started;
    assert.equal(res.status, 422, res.text);
    assert.ok(ms < PROMPT_MS, `took ${Math.round(ms)} ms`);
    assert.deepEqual(res.body.detail[0].loc, ['body', 'payload', 's']);
    assert.equal((await send('redos.pattern', { s: 'a'.repeat(30) })).status, 202);
  });

  it('uses the same engine for patternProperties and propertyNames', async () => {
    const pp = schemaWith({}, { patternProperties: { '^(a+)+$': { type: 'integer' } } });
    assert.equal((await createType('redos.pattern-properties', pp)).status, 201);
    let started = performance.now();
    assert.equal((await send('redos.pattern-properties', { [EVIL]: 'not checked', ['a'.repeat(30)]: 1 })).status, 202);
    assert.equal((await send('redos.pattern-properties', { ['a'.repeat(30)]: 'x' })).status, 422);
    assert.ok(performance.now() - started < PROMPT_MS);

    const pn = schemaWith({}, { propertyNames: { pattern: '^(a+)+$' } });
    assert.equal((await createType('redos.property-names', pn)).status, 201);
    started = performance.now();
    assert.equal((await send('redos.property-names', { [EVIL]: 1 })).status, 422);
    assert.ok(performance.now() - started < PROMPT_MS);
  });

  it('keeps ECMA-262 meaning for the common pattern syntax', async () => {
    const schema = schemaWith({
      digits: { type: 'string', pattern: '^\\d{3}-\\d{4}$' },
      word: { type: 'string', pattern: '^\\w+$' },
      nospace: { type: 'string', pattern: '^\\S+$' },
      line: { type: 'string', pattern: '^.+$' },
      accent: { type: 'string', pattern: '^caf\\u00e9$' },
      letters: { type: 'string', pattern: '^\\p{L}+$' },
      named: { type: 'string', pattern: '^(?<year>\\d{4})$' },
      part: { type: 'string', pattern: 'b' },
    });
    assert.equal((await createType('pattern.syntax', schema)).status, 201);
    const good = { digits: '555-0100', word: 'a_1', nospace: 'x', line: 'one line', accent: 'café', letters: 'Zoë', named: '2026', part: 'abc' };
    const ok = await send('pattern.syntax', good);
    assert.equal(ok.status, 202, ok.text);
    const bad: [string, string][] = [
      ['digits', '555-01000'],
      ['word', 'é'],
      // In ECMA-262 \s takes in no-break and other Unicode spaces; . stops at \r and U+2028.
      ['nospace', 'a\u00a0b'],
      ['line', 'a\rb'],
      ['line', 'a\u2028b'],
      ['accent', 'cafe'],
      ['letters', 'Zoë1'],
      ['named', '20261'],
      ['part', 'xyz'],
    ];
    for (const [field, value] of bad) {
      const res = await send('pattern.syntax', { ...good, [field]: value });
      assert.equal(res.status, 422, `${field}=${JSON.stringify(value)}: ${res.text}`);
      assert.ok(res.body.detail.some((p: { loc: string[] }) => isDeepStrictEqual(p.loc, ['body', 'payload', field])), res.text);
    }
  });

  it('refuses, when validate is on, a schema whose pattern the engine cannot run, naming the pattern', async () => {
    const patterns = ['^(a)\\1$', '^(?=a)a$', '^(?!a)b$', '(?<=a)b', '^(?<x>a)\\k<x>$', 'a{,3}', '(('];
    for (const [i, pattern] of patterns.entries()) {
      for (const schema of [
        schemaWith({ s: { type: 'string', pattern } }),
        schemaWith({}, { patternProperties: { [pattern]: { type: 'string' } } }),
      ]) {
        const res = await createType(`unrunnable.${i}`, schema);
        assert.equal(res.status, 422, `${pattern}: ${res.text}`);
        const problem = res.body.detail[0];
        assert.deepEqual(problem.loc, ['body', 'schemas', '1'], res.text);
        assert.ok(problem.msg.includes(pattern), res.text);
        assert.equal((await server.api('GET', `/api/v1/event-type/unrunnable.${i}`)).status, 404);
      }
    }
    // Turning validation on later is checked the same way.
    assert.equal((await createType('unrunnable.later', schemaWith({ s: { type: 'string', pattern: '^(a)\\1$' } }), false)).status, 201);
    const patched = await server.api('PATCH', '/api/v1/event-type/unrunnable.later', { validate: true });
    assert.equal(patched.status, 422, patched.text);
  });
});
