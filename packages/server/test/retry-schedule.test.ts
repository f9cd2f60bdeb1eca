// An event type's own retry schedule (Svix's v1.event-type.get/set-retry-schedule): read and
// written over the API, and followed by the deliveries of that type, against a receiver that
// always fails. Runs on PostgreSQL too with HOOKWELL_TEST_BACKEND=postgres.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startReceiver, startServer, type Receiver, type TestServer } from './helpers.js';

describe('event type retry schedule', () => {
  let srv: TestServer;
  let receiver: Receiver;

  before(async () => {
    receiver = await startReceiver();
    receiver.respond = () => ({ status: 500, body: 'down' });
    // The server's own schedule waits a minute before the only retry: within this test, a
    // delivery that follows it makes one attempt.
    srv = await startServer({ HOOKWELL_RETRY_SCHEDULE: '60' });
    for (const name of ['quick.retry', 'server.retry']) {
      const r = await srv.api('POST', '/api/v1/event-type', { name, description: name });
      assert.equal(r.status, 201, r.text);
    }
    assert.equal((await srv.api('POST', '/api/v1/app', { name: 'Acme', uid: 'acme' })).status, 201);
    assert.equal((await srv.api('POST', '/api/v1/app/acme/endpoint', { url: `${receiver.url}/hook`, uid: 'main' })).status, 201);
  });

  after(async () => {
    await srv?.stop();
    await receiver?.close();
  });

  it('is null until set, and answers what was set in Svix durations', async () => {
    const first = await srv.api('GET', '/api/v1/event-type/quick.retry/retry-schedule');
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.body, { retrySchedule: null });

    const schedule = [
      { secs: 0, nanos: 300_000_000 },
      { secs: 0, nanos: 500_000_000 },
    ];
    const put = await srv.api('PUT', '/api/v1/event-type/quick.retry/retry-schedule', { retrySchedule: schedule });
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(put.body, { retrySchedule: schedule });
    const again = await srv.api('GET', '/api/v1/event-type/quick.retry/retry-schedule');
    assert.deepEqual(again.body, { retrySchedule: schedule });
  });

  it('refuses unknown event types and malformed durations', async () => {
    const missing = await srv.api('GET', '/api/v1/event-type/no.such.type/retry-schedule');
    assert.equal(missing.status, 404, missing.text);
    assert.equal(missing.body.code, 'not_found');
    const putMissing = await srv.api('PUT', '/api/v1/event-type/no.such.type/retry-schedule', { retrySchedule: [] });
    assert.equal(putMissing.status, 404, putMissing.text);

    const negative = await srv.api('PUT', '/api/v1/event-type/server.retry/retry-schedule', { retrySchedule: [{ secs: -1, nanos: 0 }] });
    assert.equal(negative.status, 422, negative.text);
    const noNanos = await srv.api('PUT', '/api/v1/event-type/server.retry/retry-schedule', { retrySchedule: [{ secs: 1 }] });
    assert.equal(noNanos.status, 422, noNanos.text);
    assert.match(noNanos.text, /nanos/);
    // Nothing was written by the refused calls.
    assert.deepEqual((await srv.api('GET', '/api/v1/event-type/server.retry/retry-schedule')).body, { retrySchedule: null });
  });

  it("makes a failing endpoint's attempts follow the type's schedule, and others the server's", async () => {
    const quick = await srv.api('POST', '/api/v1/app/acme/msg', { eventType: 'quick.retry', payload: { n: 1 } });
    assert.equal(quick.status, 202, quick.text);
    const plain = await srv.api('POST', '/api/v1/app/acme/msg', { eventType: 'server.retry', payload: { n: 2 } });
    assert.equal(plain.status, 202, plain.text);

    const idOf = (r: { headers: Record<string, unknown> }): unknown => r.headers['webhook-id'];
    // Two delays: three attempts of the quick type, then the delivery fails for good.
    await receiver.waitFor(4, 15_000);
    const quickArrivals = receiver.received.filter((r) => idOf(r) === quick.body.id);
    assert.equal(quickArrivals.length, 3);
    const gaps = [quickArrivals[1]!.at - quickArrivals[0]!.at, quickArrivals[2]!.at - quickArrivals[1]!.at];
    // ±20% jitter on 300 ms and 500 ms; well under the server's minute.
    assert.ok(gaps[0]! >= 240 && gaps[0]! < 5000, `first gap ${gaps[0]} ms`);
    assert.ok(gaps[1]! >= 400 && gaps[1]! < 5000, `second gap ${gaps[1]} ms`);

    // The last attempt is recorded just after the receiver answered it.
    const destination = await eventually(async () => {
      const r = await srv.api('GET', `/api/v1/app/acme/msg/${quick.body.id}/endpoint`);
      return r.body.data[0].status === 2 ? r.body.data[0] : undefined;
    }, 5000, 'the delivery to fail');
    assert.equal(destination.status, 2, 'the delivery failed after its last attempt');
    const attempts = await srv.api('GET', `/api/v1/app/acme/attempt/msg/${quick.body.id}`);
    assert.equal(attempts.status, 200, attempts.text);
    assert.equal(attempts.body.data.length, 3);

    // The other type follows the server's schedule: one attempt, the retry a minute away.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(receiver.received.filter((r) => idOf(r) === plain.body.id).length, 1);
    assert.equal(receiver.received.filter((r) => idOf(r) === quick.body.id).length, 3, 'no attempt after the last delay');
  });

  it('clears with null, back to the server schedule', async () => {
    const put = await srv.api('PUT', '/api/v1/event-type/quick.retry/retry-schedule', { retrySchedule: null });
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(put.body, { retrySchedule: null });
    assert.deepEqual((await srv.api('GET', '/api/v1/event-type/quick.retry/retry-schedule')).body, { retrySchedule: null });
  });
});
