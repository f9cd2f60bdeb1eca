// The README's sending and receiving examples, run together: a Hookwell server, and a
// receiver built with createHandler from @hookwell/receiver/node on a real Express server,
// with the endpoint's own secret. The message and the handler's type are read from the
// README itself, so the test follows it as written.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createHandler, type NodeWebhookHandler } from '@hookwell/receiver/node';
import { healthHandlers } from '@hookwell/health';
import type { WebhookEvent } from '@hookwell/receiver';
import { eventually, README, readmeMessage, startServer, type TestServer } from './helpers.js';

/** The event type the README's receiving example handles: `on: { <type>: … }`. */
function readmeHandlerType(): string {
  const section = README.slice(README.indexOf('## Receiving'));
  const m = /on: \{ '?([\w.-]+)'?: async \(\{ payload \}\)/.exec(section);
  assert.ok(m, "the README's receiving example has an on: { type: handler }");
  return m[1]!;
}

interface Arrival {
  eventTypeHeader: string | string[] | undefined;
  body: string;
}

describe("the README's receiving example, against the sending one", () => {
  let server: TestServer;
  let http: Server;
  let url: string;
  let handler: NodeWebhookHandler | undefined;
  const arrivals: Arrival[] = [];
  const events: WebhookEvent[] = [];
  let endpointId: string;

  before(async () => {
    server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '0' });
    const app = express();
    app.post(
      '/webhooks',
      express.raw({ type: '*/*' }),
      (req, _res, next) => {
        arrivals.push({ eventTypeHeader: req.headers['x-hookwell-event-type'], body: (req.body as Buffer).toString('utf8') });
        next();
      },
      (req, res, next) => void handler!.express(req, res, next),
    );
    http = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/webhooks`;

    assert.equal((await server.api('POST', '/api/v1/app', { name: 'Acme Nutrition', uid: 'acme' })).status, 201);
    const ep = await server.api('POST', '/api/v1/app/acme/endpoint', { url, uid: 'main', filterTypes: null });
    assert.equal(ep.status, 201, ep.text);
    endpointId = ep.body.id;
    const secret = (await server.api('GET', '/api/v1/app/acme/endpoint/main/secret')).body.key as string;
    const record = (event: WebhookEvent) => {
      events.push(event);
    };
    handler = createHandler({
      secret, // GET …/endpoint/{id}/secret
      on: {
        [readmeHandlerType()]: record,
        ...healthHandlers({ 'devices.provider-connected': record }),
        'catalogue.less': record,
      },
      onUnknown: (event) => {
        throw new Error(`no handler ran for ${event.type}`);
      },
    });
  });

  after(async () => {
    http?.closeAllConnections();
    await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
    await server?.stop();
  });

  it("delivers the README's message to its handler, payload exactly as sent", async () => {
    const message = readmeMessage();
    assert.equal(message.eventType, readmeHandlerType(), 'the receiving example handles the type the sending one sends');
    const sent = await server.api('POST', '/api/v1/app/acme/msg', message);
    assert.equal(sent.status, 202, sent.text);
    const event = await eventually(() => events.find((e) => e.id === sent.body.id), 10_000, 'the handler to run');
    assert.equal(event.type, message.eventType);
    assert.deepEqual(event.payload, message.payload);
    const arrival = arrivals.find((a) => a.body === JSON.stringify(message.payload));
    assert.equal(arrival?.eventTypeHeader, message.eventType, 'the delivery names its type in x-hookwell-event-type');
  });

  it('dispatches a payload that names no type by the x-hookwell-event-type header', async () => {
    const payload = { user_id: 'USER12345', calories: 640 };
    const sent = await server.api('POST', '/api/v1/app/acme/msg', { eventType: readmeHandlerType(), payload });
    assert.equal(sent.status, 202, sent.text);
    const event = await eventually(() => events.find((e) => e.id === sent.body.id), 10_000, 'the handler to run');
    assert.equal(event.type, readmeHandlerType());
    assert.deepEqual(event.payload, payload);
  });

  it('every attempt carries the header: a message, a resend and send-example (a Metriport type, in meta.type)', async () => {
    const imported = await server.api('POST', '/api/v1/event-type/import', { catalog: 'health' });
    assert.ok(imported.status < 300, imported.text);
    const example = await server.api('POST', '/api/v1/app/acme/endpoint/main/send-example', { eventType: 'devices.provider-connected' });
    assert.equal(example.status, 202, example.text);
    const typed = await eventually(() => events.find((e) => e.id === example.body.id), 10_000, 'the typed handler to run');
    assert.equal(typed.type, 'devices.provider-connected');
    assert.equal(typed.headers.get('x-hookwell-event-type'), 'devices.provider-connected');

    const sent = await server.api('POST', '/api/v1/app/acme/msg', { eventType: 'catalogue.less', payload: { n: 1 } });
    await eventually(() => events.find((e) => e.id === sent.body.id));
    const before = arrivals.length;
    const resent = await server.api('POST', `/api/v1/app/acme/msg/${sent.body.id}/endpoint/${endpointId}/resend`);
    assert.equal(resent.status, 202, resent.text);
    const again = await eventually(() => (arrivals.length > before ? arrivals.at(-1) : undefined), 10_000, 'the resend');
    assert.deepEqual(again, { eventTypeHeader: 'catalogue.less', body: '{"n":1}' });
    assert.ok(arrivals.every((a) => typeof a.eventTypeHeader === 'string' && a.eventTypeHeader !== ''), 'no delivery went without it');
  });

  it('an endpoint may not set x-hookwell-event-type itself, in any casing', async () => {
    for (const [method, path, body] of [
      ['POST', '/api/v1/app/acme/endpoint', { url, headers: { 'X-Hookwell-Event-Type': 'forged' } }],
      ['PATCH', '/api/v1/app/acme/endpoint/main', { headers: { 'x-hookwell-event-type': 'forged' } }],
      ['PUT', '/api/v1/app/acme/endpoint/main/headers', { headers: { 'x-HOOKWELL-event-type': 'forged' } }],
    ] as const) {
      const r = await server.api(method, path, body);
      assert.equal(r.status, 422, `${method} ${path}: ${r.text}`);
      assert.match(JSON.stringify(r.body.detail), /is set by Hookwell/);
    }
  });
});
