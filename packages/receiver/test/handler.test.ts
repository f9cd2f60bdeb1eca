// The framework-neutral pipeline (handler.handle), exercised without HTTP; adapters.test.ts
// covers the same rules through each real framework.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHandler, eventTypeOf, generateKeyPair, generateSecret, memoryDedupeStore, sign, type DedupeStore, type WebhookEvent } from '../src/index.js';
import type { HandlerResponse } from '../src/web.js';

const secret = generateSecret();
let counter = 0;
function signed(body: string, extra: Record<string, string> = {}, id = `msg_h_${++counter}`, s = secret) {
  const ts = Math.floor(Date.now() / 1000);
  return { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': sign(s, id, ts, body), ...extra };
}

/** Runs the post-ack work the way an adapter would, and returns the response. */
async function settle(result: Promise<HandlerResponse>): Promise<HandlerResponse> {
  const r = await result;
  await r.after?.();
  return r;
}

function recorder() {
  const events: WebhookEvent[] = [];
  const record = (event: WebhookEvent) => {
    events.push(event);
  };
  return { events, record };
}

describe('dispatch', () => {
  test('the event type comes from type, eventType, event_type or event, in that order', async () => {
    const { events, record } = recorder();
    const h = createHandler({ secret, on: { 'a.one': record, 'b.two': record, 'c.three': record, 'd.four': record } });
    for (const body of [
      '{"type":"a.one","event":"d.four"}',
      '{"eventType":"b.two","event_type":"c.three"}',
      '{"event_type":"c.three","event":"d.four"}',
      '{"event":"d.four"}',
    ]) {
      assert.equal((await settle(h.handle(body, signed(body)))).status, 200);
    }
    assert.deepEqual(events.map((e) => e.type), ['a.one', 'b.two', 'c.three', 'd.four']);
    assert.deepEqual(events[0]!.payload, { type: 'a.one', event: 'd.four' });
    assert.match(events[0]!.id!, /^msg_h_/);
  });

  test('a type the signed payload names wins over the x-hookwell-event-type header, which is not signed', async () => {
    const { events, record } = recorder();
    const h = createHandler({ secret, on: { 'from.header': record, 'from.payload': record } });
    const body = '{"type":"from.payload"}';
    await settle(h.handle(body, signed(body, { 'x-hookwell-event-type': 'from.header' })));
    assert.deepEqual(events.map((e) => e.type), ['from.payload']);
    assert.equal(events[0]!.headers.get('X-Hookwell-Event-Type'), 'from.header');
  });

  test('a payload that names no type is dispatched by the header; Metriport names it in meta.type', async () => {
    const { events, record } = recorder();
    const h = createHandler({ secret, on: { meal_log_created: record, 'devices.provider-connected': record, 'from.header': record } });
    for (const [body, header] of [
      ['{"user_id":"USER12345","calories":640}', 'meal_log_created'],
      ['{"meta":{"messageId":"m-1","type":"devices.provider-connected"},"users":[]}', 'from.header'],
      ['{"meta":{"type":""},"type":""}', 'from.header'],
      ['{"meta":"devices.provider-connected"}', 'from.header'],
    ] as const) {
      assert.equal((await settle(h.handle(body, signed(body, { 'x-hookwell-event-type': header })))).status, 200);
    }
    assert.deepEqual(events.map((e) => e.type), ['meal_log_created', 'devices.provider-connected', 'from.header', 'from.header']);
    assert.deepEqual(events[0]!.payload, { user_id: 'USER12345', calories: 640 });
  });

  test('eventTypeOf reads type, eventType, event_type, event, then meta.type, then the header', () => {
    const h = { 'X-Hookwell-Event-Type': 'h.h' };
    assert.equal(eventTypeOf({ event: 'a', meta: { type: 'b' } }, h), 'a');
    assert.equal(eventTypeOf({ meta: { type: 'b' } }, h), 'b');
    assert.equal(eventTypeOf({ type: 1, eventType: null, meta: [] }, h), 'h.h');
    assert.equal(eventTypeOf(['type'], new Headers(h)), 'h.h');
    assert.equal(eventTypeOf({ data: { type: 'nested' } }, {}), undefined);
    assert.equal(eventTypeOf({ meta: Object.create({ type: 'inherited' }) }, { 'x-hookwell-event-type': '' }), undefined);
  });

  test('unknown types (including prototype names) go to onUnknown, or are acknowledged and dropped', async () => {
    const known = recorder();
    const unknown = recorder();
    const h = createHandler({ secret, on: { 'user.created': known.record }, onUnknown: unknown.record });
    for (const body of ['{"type":"user.deleted"}', '{"type":"constructor"}', '{"data":1}', '[1,2]']) {
      const r = await settle(h.handle(body, signed(body)));
      assert.deepEqual([r.status, r.body], [200, undefined]);
    }
    assert.equal(known.events.length, 0);
    assert.deepEqual(unknown.events.map((e) => e.type), ['user.deleted', 'constructor', undefined, undefined]);

    const quiet = createHandler({ secret, on: {} });
    const r = await quiet.handle('{"type":"x"}', signed('{"type":"x"}'));
    assert.deepEqual([r.status, r.after], [200, undefined]);
  });

  test('a handler error after the ack goes to onError with the event; the default logs it', async () => {
    const errors: [unknown, WebhookEvent | undefined][] = [];
    const boom = new Error('boom');
    const h = createHandler({ secret, on: { t: () => Promise.reject(boom) }, onError: (e, ev) => errors.push([e, ev]) });
    const r = await settle(h.handle('{"type":"t"}', signed('{"type":"t"}')));
    assert.equal(r.status, 200);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]![0], boom);
    assert.equal(errors[0]![1]!.type, 't');

    const logged: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logged.push(args);
    try {
      await settle(createHandler({ secret, on: { t: () => { throw boom; } } }).handle('{"type":"t"}', signed('{"type":"t"}')));
    } finally {
      console.error = original;
    }
    assert.ok(logged.some((args) => args.includes(boom)));
  });
});

describe('verification', () => {
  test('failures are 401 with {error: code}; an authentic non-JSON body is 400', async () => {
    const h = createHandler({ secret, on: {} });
    const body = '{"type":"t"}';
    const check = async (r: Promise<HandlerResponse>, status: number, error: string) => {
      const res = await r;
      assert.equal(res.status, status);
      assert.deepEqual(JSON.parse(res.body!), { error });
      assert.equal(res.after, undefined);
    };
    await check(h.handle(body + ' ', signed(body)), 401, 'no_matching_signature');
    await check(h.handle(body, {}), 401, 'missing_headers');
    await check(h.handle(body, { ...signed(body), 'webhook-timestamp': '1000' }), 401, 'timestamp_too_old');
    await check(h.handle('not json', signed('not json')), 400, 'invalid_payload');
  });

  test('toleranceSeconds is passed through', async () => {
    const old = Math.floor(Date.now() / 1000) - 3000;
    const body = '{"type":"t"}';
    const headers = { 'webhook-id': 'msg_old', 'webhook-timestamp': String(old), 'webhook-signature': sign(secret, 'msg_old', old, body) };
    assert.equal((await createHandler({ secret, on: {} }).handle(body, headers)).status, 401);
    assert.equal((await createHandler({ secret, on: {}, toleranceSeconds: 3600 }).handle(body, headers)).status, 200);
  });

  test('a whpk_ public key verifies v1a deliveries', async () => {
    const { secretKey, publicKey } = generateKeyPair();
    const { events, record } = recorder();
    const h = createHandler({ secret: publicKey, on: { t: record } });
    const body = '{"type":"t"}';
    assert.equal((await settle(h.handle(body, signed(body, {}, 'msg_v1a', secretKey)))).status, 200);
    assert.equal((await h.handle(body, signed(body))).status, 401, 'a v1 (HMAC) signature must not pass a public key');
    assert.equal(events.length, 1);
  });

  test('static key: a wrong or missing key is 401 with no body; the right one dispatches', async () => {
    const { events, record } = recorder();
    const h = createHandler({ key: 'k_123', on: { t: record } });
    const body = '{"type":"t"}';
    for (const headers of [{}, { 'x-webhook-key': 'k_124' }, { 'x-webhook-key': 'k_12' }]) {
      const r = await h.handle(body, headers);
      assert.deepEqual([r.status, r.body, r.after], [401, undefined, undefined]);
    }
    assert.equal((await settle(h.handle(body, { 'x-webhook-key': 'k_123' }))).status, 200);
    assert.equal((await h.handle('nope', { 'x-webhook-key': 'k_123' })).status, 400);
    assert.equal(events.length, 1);
  });

  test('with both key and secret, both must pass; keyHeader renames the header', async () => {
    const h = createHandler({ secret, key: 'k', keyHeader: 'Authorization', on: {} });
    const body = '{"type":"t"}';
    assert.equal((await h.handle(body, signed(body, { authorization: 'k' }))).status, 200);
    assert.deepEqual(await h.handle(body, signed(body, { 'x-webhook-key': 'k' })), { status: 401 });
    assert.equal((await h.handle(body, { authorization: 'k' })).status, 401);
  });

  test('configuration mistakes throw at creation', () => {
    assert.throws(() => createHandler({ on: {} } as never), /secret.*key/);
    assert.throws(() => createHandler({ secret: 'whsec_abc', on: {} }), /Invalid secret/);
    assert.throws(() => createHandler({ secret: generateKeyPair().secretKey, on: {} }), /private signing key/);
    assert.throws(() => createHandler({ key: '', on: {} }), /non-empty/);
  });
});

describe('ping', () => {
  test('a verified {"ping": s} is answered {"pong": s} and never dispatched', async () => {
    const unknown = recorder();
    const h = createHandler({ secret, on: {}, onUnknown: unknown.record });
    const body = '{ "ping" : "r4nd0m" }';
    const r = await h.handle(body, signed(body));
    assert.deepEqual([r.status, JSON.parse(r.body!), r.after], [200, { pong: 'r4nd0m' }, undefined]);
    assert.equal(unknown.events.length, 0);
  });

  test('pings must pass the configured verification', async () => {
    const body = '{"ping":"x"}';
    assert.equal((await createHandler({ secret, on: {} }).handle(body, {})).status, 401);
    assert.deepEqual(await createHandler({ key: 'k', on: {} }).handle(body, {}), { status: 401 });
    const r = await createHandler({ key: 'k', on: {} }).handle(body, { 'x-webhook-key': 'k' });
    assert.equal(r.body, '{"pong":"x"}');
  });

  test('only the exact shape is a ping: extra fields or a non-string value dispatch as events', async () => {
    const unknown = recorder();
    const h = createHandler({ secret, on: {}, onUnknown: unknown.record });
    for (const body of ['{"ping":"x","type":"t"}', '{"ping":1}']) {
      const r = await settle(h.handle(body, signed(body)));
      assert.equal(r.body, undefined);
    }
    assert.equal(unknown.events.length, 2);
  });
});

describe('dedupe', () => {
  test('a repeated webhook-id is acknowledged without dispatching; dedupe:false dispatches both', async () => {
    const body = '{"type":"t"}';
    const headers = signed(body, {}, 'msg_repeat');
    const a = recorder();
    const h = createHandler({ secret, on: { t: a.record } });
    assert.equal((await settle(h.handle(body, headers))).status, 200);
    const again = await h.handle(body, headers);
    assert.deepEqual([again.status, again.after], [200, undefined]);
    assert.equal(a.events.length, 1);

    const b = recorder();
    const off = createHandler({ secret, on: { t: b.record }, dedupe: false });
    await settle(off.handle(body, headers));
    await settle(off.handle(body, headers));
    assert.equal(b.events.length, 2);
  });

  test('two concurrent deliveries of one id dispatch once', async () => {
    const body = '{"type":"t"}';
    const headers = signed(body, {}, 'msg_race');
    const { events, record } = recorder();
    const h = createHandler({ secret, on: { t: record } });
    await Promise.all([settle(h.handle(body, headers)), settle(h.handle(body, headers)), settle(h.handle(body, headers))]);
    assert.equal(events.length, 1);
  });

  test('failed verification never reaches the store, and pings are not recorded', async () => {
    const seen: string[] = [];
    const store: DedupeStore = { has: (id) => seen.includes(id), add: (id) => void seen.push(id) };
    const h = createHandler({ secret, on: {}, dedupe: store });
    await h.handle('{"type":"t"}', signed('{"type":"other"}', {}, 'msg_forged'));
    await h.handle('{"ping":"p"}', signed('{"ping":"p"}', {}, 'msg_ping'));
    await h.handle('{"type":"t"}', signed('{"type":"t"}', {}, 'msg_real'));
    assert.deepEqual(seen, ['msg_real']);
  });

  test('an async store whose add() reports "already there" (SET NX style) suppresses dispatch', async () => {
    const { events, record } = recorder();
    const store: DedupeStore = { has: async () => false, add: async () => false };
    const h = createHandler({ secret, on: { t: record }, dedupe: store });
    const r = await settle(h.handle('{"type":"t"}', signed('{"type":"t"}')));
    assert.equal(r.status, 200);
    assert.equal(events.length, 0);
  });

  test('a failing store answers 500 (so the sender retries) and reports the error', async () => {
    const errors: unknown[] = [];
    const down = new Error('redis down');
    const h = createHandler({ secret, on: {}, dedupe: { has: () => Promise.reject(down), add: () => {} }, onError: (e) => errors.push(e) });
    const r = await h.handle('{"type":"t"}', signed('{"type":"t"}'));
    assert.deepEqual([r.status, JSON.parse(r.body!)], [500, { error: 'internal_error' }]);
    assert.deepEqual(errors, [down]);
  });

  test('memoryDedupeStore is bounded and forgets the least recently seen id first', () => {
    const store = memoryDedupeStore(2);
    assert.equal(store.add('a'), true);
    store.add('b');
    assert.equal(store.has('a'), true); // touches a, so b is now the oldest
    store.add('c');
    assert.deepEqual(['a', 'b', 'c'].map((id) => store.has(id)), [true, false, true]);
    assert.equal(store.add('c'), false);
    assert.throws(() => memoryDedupeStore(0), RangeError);
  });
});

test('fetch adapter: non-POST is 405, and post-ack work is handed to context.waitUntil', async () => {
  const h = createHandler({ secret, on: { t: async () => { await new Promise((r) => setTimeout(r, 10)); done = true; } } });
  let done = false;
  const get = await h.fetch(new Request('http://x/hook'));
  assert.deepEqual([get.status, get.headers.get('allow')], [405, 'POST']);

  const pending: Promise<unknown>[] = [];
  const body = '{"type":"t"}';
  const res = await h.fetch(new Request('http://x/hook', { method: 'POST', body, headers: signed(body) }), { waitUntil: (p) => void pending.push(p) });
  assert.equal(res.status, 200);
  assert.equal(pending.length, 1);
  assert.equal(done, false, 'the handler runs after the response is returned');
  await pending[0];
  assert.equal(done, true);
});

test('fetch adapter: bodies over maxBodyBytes are answered 413', async () => {
  const h = createHandler({ secret, on: {}, maxBodyBytes: 16 });
  const body = '{"type":"t","pad":"xxxxxxxx"}';
  const res = await h.fetch(new Request('http://x/hook', { method: 'POST', body, headers: signed(body) }));
  assert.deepEqual([res.status, await res.json()], [413, { error: 'body_too_large' }]);
});

test('eventTypeOf falls back to the header for a null payload or a null meta', () => {
  const h = { 'x-hookwell-event-type': 'h.h' };
  assert.equal(eventTypeOf(null, h), 'h.h');
  assert.equal(eventTypeOf({ meta: null }, h), 'h.h');
  assert.equal(eventTypeOf({ type: null, meta: null }, {}), undefined);
});
