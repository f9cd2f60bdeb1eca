// Thin deliveries and content links, on a real server and receiver over HTTP.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { verify } from '@hookwell/receiver';
import { startReceiver, startServer, type Receiver, type TestServer } from './helpers.js';

const SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {
    user_id: { type: 'string', 'x-identifier': true },
    data: {
      type: 'object',
      properties: { id: { type: 'string', 'x-identifier': true }, provider: { type: 'string', 'x-identifier': true }, readings: { type: 'array' } },
    },
  },
};
// Sent as raw text, with spacing a re-serialisation would lose.
const PAYLOAD = '{"user_id":"u-42",  "data": {"id": "rec-7", "provider":"dexcom", "readings": [5.4, 5.9, 6.1], "note": "fasting"}}';

describe('thin deliveries and content links', () => {
  let server: TestServer;
  let receiver: Receiver;
  let thinEp: { id: string; secret: string };
  before(async () => {
    server = await startServer({ HOOKWELL_CONTENT_LINK_TTL_S: '2' });
    receiver = await startReceiver();
    await server.api('POST', '/api/v1/app', { name: 't', uid: 't' });
    await server.api('POST', '/api/v1/event-type', { name: 'daily.data.glucose.created', description: 'g', schemas: { '1': SCHEMA } });
    const ep = await server.api('POST', '/api/v1/app/t/endpoint', { url: `${receiver.url}/thin`, payloadMode: 'thin' });
    assert.equal(ep.status, 201, ep.text);
    assert.equal(ep.body.payloadMode, 'thin');
    const secret = (await server.api('GET', `/api/v1/app/t/endpoint/${ep.body.id}/secret`)).body.key;
    thinEp = { id: ep.body.id, secret };
  });
  after(async () => {
    await server.stop();
    await receiver.close();
  });

  const send = (payload: string) =>
    server.api('POST', '/api/v1/app/t/msg', `{"eventType": "daily.data.glucose.created", "payload": ${payload}}`);

  it('sends identifiers and a signed link instead of the payload, and the link returns it byte for byte', async () => {
    const msg = (await send(PAYLOAD)).body;
    const [got] = await receiver.waitFor(1);
    const body = got!.body.toString();
    // Signed like any delivery, over the thin body.
    verify(body, got!.headers as Record<string, string>, thinEp.secret);
    const thin = JSON.parse(body);
    assert.equal(thin.type, 'daily.data.glucose.created');
    assert.equal(thin.thin, true);
    assert.equal(thin.timestamp, msg.timestamp);
    assert.deepEqual(thin.identifiers, { user_id: 'u-42', data: { id: 'rec-7', provider: 'dexcom' } });
    // Neither the note nor a reading leaves (a reading as a JSON number: the link's expiry
    // time may well hold "5.9" among its digits).
    assert.ok(!body.includes('fasting') && !/[[,:]\s*(?:5\.4|5\.9|6\.1)\b/.test(body), 'nothing but identifiers leaves');
    assert.ok(Date.parse(thin.content.expires_at) > Date.now());

    const res = await fetch(thin.content.url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(await res.text(), PAYLOAD, 'exactly as sent');
  });

  it('refuses an altered, foreign or expired link with 401, and records the fetches of valid links', async () => {
    const first = (await send(PAYLOAD)).body;
    const second = (await send('{"user_id": "u-43"}')).body;
    const received = await receiver.waitFor(3);
    const link = (id: string) => JSON.parse(received.find((r) => r.headers['webhook-id'] === id)!.body.toString()).content.url as string;
    const url = new URL(link(first.id));

    const altered = new URL(url);
    altered.searchParams.set('token', url.searchParams.get('token')!.replace(/\.(\d+)\./, (_, t) => `.${Number(t) + 60_000}.`));
    const tampered = await fetch(altered);
    assert.equal(tampered.status, 401);
    assert.match((await tampered.json()).detail, /not valid for this message/);

    const foreign = new URL(link(second.id));
    foreign.pathname = url.pathname;
    assert.equal((await fetch(foreign)).status, 401, "another message's token does not open this one");
    const none = await fetch(`${url.origin}${url.pathname}`, { headers: { authorization: `Bearer ${'x'.repeat(20)}` } });
    assert.equal(none.status, 401);

    assert.equal((await fetch(url)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const expired = await fetch(url);
    assert.equal(expired.status, 401);
    assert.match((await expired.json()).detail, /expired/);

    const fetches = (await server.api('GET', `/api/v1/app/t/msg/${first.id}/content-fetches`)).body.data;
    assert.deepEqual(
      fetches.map((f: { status: number }) => f.status),
      [401, 200],
      'newest first: expired, allowed (a token whose MAC does not hold, foreign or tampered, is not recorded)',
    );
    assert.ok(fetches.every((f: { endpointId: string | null }) => f.endpointId === thinEp.id), 'each names the endpoint its link was made for');
  });

  it('sends a payload over maxPayloadBytes thin even to a full-mode endpoint', async () => {
    const rx = await startReceiver();
    try {
      await server.api('POST', '/api/v1/app', { name: 'm', uid: 'm' });
      const ep = await server.api('POST', '/api/v1/app/m/endpoint', { url: rx.url, maxPayloadBytes: 64 });
      assert.equal(ep.body.payloadMode, 'full');
      assert.equal(ep.body.maxPayloadBytes, 64);
      const small = '{"user_id": "u1"}';
      await server.api('POST', '/api/v1/app/m/msg', `{"eventType": "daily.data.glucose.created", "payload": ${small}}`);
      await server.api('POST', '/api/v1/app/m/msg', `{"eventType": "daily.data.glucose.created", "payload": ${PAYLOAD}}`);
      const [a, b] = await rx.waitFor(2);
      const bodies = [a!, b!].map((r) => r.body.toString());
      assert.ok(bodies.includes(small), 'the small payload goes out whole');
      const thin = JSON.parse(bodies.find((x) => x !== small)!);
      assert.equal(thin.thin, true);
      assert.equal(await (await fetch(thin.content.url)).text(), PAYLOAD);
    } finally {
      await rx.close();
    }
  });

  it('switches an endpoint between modes, and refuses unknown ones', async () => {
    const patched = await server.api('PATCH', `/api/v1/app/t/endpoint/${thinEp.id}`, { payloadMode: 'full' });
    assert.equal(patched.body.payloadMode, 'full');
    const bad = await server.api('PATCH', `/api/v1/app/t/endpoint/${thinEp.id}`, { payloadMode: 'skinny' });
    assert.equal(bad.status, 422);
    assert.deepEqual(bad.body.detail[0].loc, ['body', 'payloadMode']);
    await server.api('PATCH', `/api/v1/app/t/endpoint/${thinEp.id}`, { payloadMode: 'thin' });
  });
});
