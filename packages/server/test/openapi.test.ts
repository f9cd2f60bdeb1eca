import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from './helpers.js';

// The Svix operations Hookwell implements, with their methods and paths.
const SVIX_OPERATIONS: [string, string, string][] = [
  ['v1.health.get', 'get', '/api/v1/health'],
  ['v1.operational-webhook.endpoint.list', 'get', '/api/v1/operational-webhook/endpoint'],
  ['v1.operational-webhook.endpoint.create', 'post', '/api/v1/operational-webhook/endpoint'],
  ['v1.operational-webhook.endpoint.get', 'get', '/api/v1/operational-webhook/endpoint/{endpoint_id}'],
  ['v1.operational-webhook.endpoint.upsert', 'put', '/api/v1/operational-webhook/endpoint/{endpoint_id}'],
  ['v1.operational-webhook.endpoint.delete', 'delete', '/api/v1/operational-webhook/endpoint/{endpoint_id}'],
  ['v1.operational-webhook.endpoint.get-secret', 'get', '/api/v1/operational-webhook/endpoint/{endpoint_id}/secret'],
  ['v1.operational-webhook.endpoint.rotate-secret', 'post', '/api/v1/operational-webhook/endpoint/{endpoint_id}/secret/rotate'],
  ['v1.operational-webhook.endpoint.get-headers', 'get', '/api/v1/operational-webhook/endpoint/{endpoint_id}/headers'],
  ['v1.operational-webhook.endpoint.set-headers', 'put', '/api/v1/operational-webhook/endpoint/{endpoint_id}/headers'],
  ['v1.application.list', 'get', '/api/v1/app'],
  ['v1.application.create', 'post', '/api/v1/app'],
  ['v1.application.get', 'get', '/api/v1/app/{app_id}'],
  ['v1.application.upsert', 'put', '/api/v1/app/{app_id}'],
  ['v1.application.delete', 'delete', '/api/v1/app/{app_id}'],
  ['v1.application.patch', 'patch', '/api/v1/app/{app_id}'],
  ['v1.endpoint.list', 'get', '/api/v1/app/{app_id}/endpoint'],
  ['v1.endpoint.create', 'post', '/api/v1/app/{app_id}/endpoint'],
  ['v1.endpoint.get', 'get', '/api/v1/app/{app_id}/endpoint/{endpoint_id}'],
  ['v1.endpoint.upsert', 'put', '/api/v1/app/{app_id}/endpoint/{endpoint_id}'],
  ['v1.endpoint.delete', 'delete', '/api/v1/app/{app_id}/endpoint/{endpoint_id}'],
  ['v1.endpoint.patch', 'patch', '/api/v1/app/{app_id}/endpoint/{endpoint_id}'],
  ['v1.endpoint.get-secret', 'get', '/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret'],
  ['v1.endpoint.rotate-secret', 'post', '/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate'],
  ['v1.endpoint.get-headers', 'get', '/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers'],
  ['v1.endpoint.set-headers', 'put', '/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers'],
  ['v1.endpoint.patch-headers', 'patch', '/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers'],
  ['v1.endpoint.recover', 'post', '/api/v1/app/{app_id}/endpoint/{endpoint_id}/recover'],
  ['v1.endpoint.replay-missing', 'post', '/api/v1/app/{app_id}/endpoint/{endpoint_id}/replay-missing'],
  ['v1.endpoint.bulk-replay', 'post', '/api/v1/app/{app_id}/endpoint/{endpoint_id}/bulk-replay'],
  ['v1.endpoint.cancel-msgs', 'post', '/api/v1/app/{app_id}/endpoint/{endpoint_id}/cancel-msgs'],
  ['v1.endpoint.send-example', 'post', '/api/v1/app/{app_id}/endpoint/{endpoint_id}/send-example'],
  ['v1.endpoint.get-stats', 'get', '/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats'],
  ['v1.message-attempt.list-attempted-messages', 'get', '/api/v1/app/{app_id}/endpoint/{endpoint_id}/msg'],
  ['v1.message.list', 'get', '/api/v1/app/{app_id}/msg'],
  ['v1.message.create', 'post', '/api/v1/app/{app_id}/msg'],
  ['v1.message.get', 'get', '/api/v1/app/{app_id}/msg/{msg_id}'],
  ['v1.message.expunge-content', 'delete', '/api/v1/app/{app_id}/msg/{msg_id}/content'],
  ['v1.message.bulk-expunge-content', 'post', '/api/v1/app/{app_id}/msg/bulk-expunge'],
  ['v1.message.expunge-all-contents', 'post', '/api/v1/app/{app_id}/msg/expunge-all-contents'],
  ['v1.message.search', 'post', '/api/v1/app/{app_id}/msg/search'],
  ['v1.message.events', 'get', '/api/v1/app/{app_id}/events'],
  ['v1.background-task.list', 'get', '/api/v1/background-task'],
  ['v1.background-task.get', 'get', '/api/v1/background-task/{task_id}'],
  ['v1.message-attempt.list-attempted-destinations', 'get', '/api/v1/app/{app_id}/msg/{msg_id}/endpoint'],
  ['v1.message-attempt.resend', 'post', '/api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend'],
  ['v1.message-attempt.get', 'get', '/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}'],
  ['v1.message-attempt.expunge-content', 'delete', '/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content'],
  ['v1.message-attempt.list-by-endpoint', 'get', '/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}'],
  ['v1.message-attempt.list-by-msg', 'get', '/api/v1/app/{app_id}/attempt/msg/{msg_id}'],
  ['v1.event-type.list', 'get', '/api/v1/event-type'],
  ['v1.event-type.create', 'post', '/api/v1/event-type'],
  ['v1.event-type.get', 'get', '/api/v1/event-type/{event_type_name}'],
  ['v1.event-type.upsert', 'put', '/api/v1/event-type/{event_type_name}'],
  ['v1.event-type.delete', 'delete', '/api/v1/event-type/{event_type_name}'],
  ['v1.event-type.patch', 'patch', '/api/v1/event-type/{event_type_name}'],
  // Hookwell's own additions.
  ['hookwell.endpoint.ping', 'post', '/api/v1/app/{app_id}/endpoint/{endpoint_id}/ping'],
  ['hookwell.endpoint.rotate-key', 'post', '/api/v1/app/{app_id}/endpoint/{endpoint_id}/key'],
  ['hookwell.endpoint.get-key', 'get', '/api/v1/app/{app_id}/endpoint/{endpoint_id}/key'],
  ['hookwell.endpoint.delete-key', 'delete', '/api/v1/app/{app_id}/endpoint/{endpoint_id}/key'],
  ['hookwell.application.status', 'get', '/api/v1/app/{app_id}/status'],
  ['hookwell.application.retry-failed', 'post', '/api/v1/app/{app_id}/retry-failed'],
  ['hookwell.application.erase', 'post', '/api/v1/app/{app_id}/erase'],
];

describe('the OpenAPI document', () => {
  let server: TestServer;
  let doc: any;
  before(async () => {
    server = await startServer();
    const res = await fetch(`${server.url}/openapi.json`);
    assert.equal(res.status, 200);
    doc = await res.json();
  });
  after(() => server.stop());

  it('is OpenAPI 3 and lists every implemented Svix operation at its path and method', () => {
    assert.match(doc.openapi, /^3\./);
    for (const [operationId, method, path] of SVIX_OPERATIONS) {
      assert.equal(doc.paths[path]?.[method]?.operationId, operationId, `${method.toUpperCase()} ${path}`);
    }
  });

  it('describes request and response bodies from the route schemas', () => {
    const create = doc.paths['/api/v1/app/{app_id}/msg'].post;
    const bodyRef = create.requestBody.content['application/json'].schema.$ref;
    assert.equal(bodyRef, '#/components/schemas/MessageIn');
    assert.deepEqual(doc.components.schemas.MessageIn.required, ['eventType', 'payload']);
    assert.ok(create.responses['202'] && create.responses['413'] && create.responses['422']);
    assert.ok(doc.components.schemas.EndpointIn.properties.filterTypes && doc.components.schemas.EndpointIn.properties.eventTypes);
    assert.equal(doc.components.securitySchemes.HTTPBearer.scheme, 'bearer');
  });

  it("documents Svix's idempotency-key header on every POST and the 401/403/429 answers of every secured operation", () => {
    let posts = 0;
    for (const [path, methods] of Object.entries<Record<string, any>>(doc.paths)) {
      if (!path.startsWith('/api/')) continue;
      for (const [method, op] of Object.entries<any>(methods)) {
        const where = `${method.toUpperCase()} ${path}`;
        assert.ok(op.responses['429'], `${where}: 429`);
        assert.equal(op.responses['429'].content['application/json'].schema.$ref, '#/components/schemas/HttpErrorOut', `${where}: 429 body`);
        if (op.security?.length === 0) continue;
        for (const status of ['401', '403']) assert.ok(op.responses[status], `${where}: ${status}`);
        if (method !== 'post') continue;
        posts++;
        const header = (op.parameters ?? []).filter((p: any) => p.in === 'header' && p.name === 'idempotency-key');
        assert.equal(header.length, 1, `${where}: one idempotency-key header`);
        assert.equal(header[0].schema.type, 'string');
        assert.match(header[0].description, /24 hours/);
      }
    }
    assert.ok(posts >= 20, `only ${posts} POST operations seen`);
    const create = doc.paths['/api/v1/app/{app_id}/msg'].post;
    assert.equal(create.responses['403'].description, 'Forbidden');
    assert.equal(create.responses['422'].description, 'Validation Error');
  });

  it('describes the secret prefixes Svix takes and the application list filters', () => {
    assert.equal(doc.components.schemas.EndpointIn.properties.secret.pattern, '^(whsec_|whsk_|whsk1_|whpk_|whpk1_)?[a-zA-Z0-9+/=]{32,100}$');
    const list = doc.paths['/api/v1/app'].get.parameters.map((p: any) => p.name);
    for (const name of ['exclude_apps_with_no_endpoints', 'exclude_apps_with_disabled_endpoints', 'exclude_apps_with_svix_play_endpoints']) assert.ok(list.includes(name), name);
    const attempted = doc.paths['/api/v1/app/{app_id}/endpoint/{endpoint_id}/msg'].get.parameters.map((p: any) => p.name);
    assert.ok(attempted.includes('expanded_statuses') && attempted.includes('with_content'));
    assert.ok(doc.components.schemas.MessageOut.properties.deliverAt);
  });
});
