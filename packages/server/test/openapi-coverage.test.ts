// Hookwell's /openapi.json against Svix's (reference/svix-openapi-sender.json), through the
// comparison `npm run openapi:coverage` prints: an operation Hookwell implements must keep
// every field Svix's answer has, and the report must see what is there and what is not.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { compare, fieldPaths, format, outOfScope, readReference, type Report } from '../../../scripts/openapi-coverage.js';
import { startServer, type TestServer } from './helpers.js';

describe('OpenAPI coverage against Svix', () => {
  let server: TestServer;
  let ours: Record<string, any>;
  let reference: Record<string, any>;
  let report: Report;
  before(async () => {
    server = await startServer();
    ours = (await server.api('GET', '/openapi.json')).body;
    reference = readReference();
    report = compare(ours, reference);
  });
  after(() => server.stop());

  it('every implemented Svix operation answers with every field of Svix’s answer', () => {
    const implemented = report.operations.filter((o) => o.implemented);
    assert.ok(implemented.length >= 40, `only ${implemented.length} operations matched: the comparison is not finding them`);
    const lacking = implemented.filter((o) => o.missingResponse.length > 0).map((o) => `${o.operationId}: ${o.missingResponse.join(', ')}`);
    assert.deepEqual(lacking, []);
  });

  it('every implemented Svix operation takes every field of Svix’s request body', () => {
    const lacking = report.operations.filter((o) => o.implemented && o.missingRequest.length > 0).map((o) => `${o.operationId}: ${o.missingRequest.join(', ')}`);
    assert.deepEqual(lacking, []);
  });

  it('finds a field taken away from an answer, however deep', () => {
    const copy = structuredClone(ours);
    delete copy.components.schemas.MessageOut.properties.deliverAt;
    delete copy.components.schemas.MessageAttemptOut.properties.responseDurationMs;
    const worse = compare(copy, reference);
    const of = (id: string) => worse.operations.find((o) => o.operationId === id)!;
    assert.deepEqual(of('v1.message.get').missingResponse, ['deliverAt']);
    assert.ok(of('v1.message.list').missingResponse.includes('data[].deliverAt'));
    assert.ok(of('v1.message-attempt.list-by-endpoint').missingResponse.includes('data[].responseDurationMs'));
    assert.ok(of('v1.message-attempt.list-by-endpoint').missingResponse.includes('data[].msg.deliverAt'), 'through the embedded message');
    assert.ok(format(worse).includes('v1.message.get'), 'the report names it');
  });

  it('counts an operation taken away, per tag, and keeps the out-of-scope ones out', () => {
    const copy = structuredClone(ours);
    delete copy.paths['/api/v1/app/{app_id}/msg/{msg_id}'].get;
    const before = report.tags.find((t) => t.tag === 'Message')!;
    const after = compare(copy, reference).tags.find((t) => t.tag === 'Message')!;
    assert.equal(after.total, before.total);
    assert.equal(after.implemented, before.implemented - 1);
    assert.ok(after.missing.includes('v1.message.get'));
    const ids = report.operations.map((o) => o.operationId);
    for (const id of ids) assert.equal(outOfScope(report.operations.find((o) => o.operationId === id)!), null);
    const why = new Set(report.outOfScope.map((o) => o.why));
    assert.deepEqual([...why].sort(), ['connector', 'pollers', 'transformations']);
    assert.ok(report.tags.find((t) => t.tag === 'Authentication')?.separate);
    assert.ok(report.tags.find((t) => t.tag === 'Webhook Endpoint')?.separate);
  });

  it('reads field paths through references, lists and nullable unions', () => {
    const doc = {
      components: {
        schemas: {
          Inner: { type: 'object', properties: { a: { type: 'string' } } },
          Outer: { type: 'object', properties: { list: { type: 'array', items: { $ref: '#/components/schemas/Inner' } }, maybe: { anyOf: [{ $ref: '#/components/schemas/Inner' }, { type: 'null' }] } } },
        },
      },
    };
    assert.deepEqual(fieldPaths(doc, { $ref: '#/components/schemas/Outer' }).sort(), ['list', 'list[].a', 'maybe', 'maybe.a']);
  });
});
