// An erasure that meets a delivery being sent: the receiver here holds every request until
// the erasure has answered, then echoes the payload in its response body. The attempt in
// flight is recorded without that body, and a delivery of an erased message that this
// process had leased but not started is never sent. With HOOKWELL_TEST_BACKEND=postgres the
// same runs on PostgreSQL, where the two orders of an attempt's record and an erasure's
// commit are also made to meet on the rows' locks.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { eventually, PG_URL, startServer, type TestServer } from './helpers.js';
import { Status } from '../src/domain/types.js';
import type { Store } from '../src/store/store.js';

const ON_POSTGRES = process.env.HOOKWELL_TEST_BACKEND === 'postgres';
const MARKER = 'PERSON-MARKER-3d7a';

interface Held {
  body: string;
  res: ServerResponse;
}

/** A receiver on loopback that answers nothing until told to, then echoes what it got. */
async function slowReceiver(): Promise<{ url: string; held: Held[]; release(): void; close(): Promise<void> }> {
  const held: Held[] = [];
  let released = false;
  const answer = (h: Held) => h.res.writeHead(200, { 'content-type': 'text/plain' }).end(`echo: ${h.body}`);
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const h = { body, res };
      held.push(h);
      if (released) answer(h);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held,
    release() {
      released = true;
      for (const h of held) if (!h.res.writableEnded) answer(h);
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe(`erasure and a delivery in flight (${ON_POSTGRES ? 'postgres' : 'sqlite'})`, () => {
  let server: TestServer;
  let receiver: Awaited<ReturnType<typeof slowReceiver>>;

  before(async () => {
    // One attempt at a time to the endpoint: the second message's delivery waits, leased, in this process.
    server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '0', HOOKWELL_ENDPOINT_CONCURRENCY: '1', HOOKWELL_REQUEST_TIMEOUT_MS: '10000' });
    receiver = await slowReceiver();
  });

  after(async () => {
    receiver?.release();
    await server?.stop();
    await receiver?.close();
  });

  it('records no response body for the attempt in flight, and sends nothing more', async () => {
    assert.equal((await server.api('POST', '/api/v1/app', { name: 'Clinic', uid: 'clinic' })).status, 201);
    const ep = await server.api('POST', '/api/v1/app/clinic/endpoint', { url: `${receiver.url}/hook` });
    assert.equal(ep.status, 201, ep.text);
    const send = async (n: number) => {
      const r = await server.api('POST', '/api/v1/app/clinic/msg', { eventType: 'meal.logged', dataId: 'person-1', payload: { note: MARKER, n } });
      assert.equal(r.status, 202, r.text);
      return r.body.id as string;
    };
    const first = await send(1);
    const second = await send(2);
    await eventually(() => (receiver.held.length === 1 ? true : undefined), 10_000, 'the first delivery on the wire');
    assert.ok(receiver.held[0]!.body.includes(`"n":1`));
    const dispatcher = server.hw.dispatcher!;
    assert.equal(dispatcher.inFlight, 1);

    const erased = await server.api('POST', '/api/v1/app/clinic/erase', { dataId: 'person-1' });
    assert.equal(erased.status, 200, erased.text);
    assert.deepEqual([...erased.body.msgIds].sort(), [first, second].sort());
    assert.equal(erased.body.deliveriesCanceled, 2);

    // The receiver answers now, echoing the payload it was sent.
    receiver.release();
    const attempt = await eventually(async () => {
      const r = await server.api('GET', `/api/v1/app/clinic/attempt/msg/${first}`);
      return r.status === 200 && r.body.data.length > 0 ? r.body.data[0] : undefined;
    }, 10_000, "the first delivery's attempt");
    assert.equal(attempt.responseStatusCode, 200);
    assert.equal(attempt.response, '', 'the response body, recorded after the erasure, is not kept');
    // The second delivery would have started as the first ended: nothing is in flight, nothing more came.
    assert.equal(dispatcher.inFlight, 0);
    assert.equal(receiver.held.length, 1);
    const rows = (await server.api('GET', `/api/v1/app/clinic/attempt/msg/${second}`)).body.data;
    assert.deepEqual(rows, []);
    const log = JSON.stringify(await server.api('GET', `/api/v1/app/clinic/msg/${first}`));
    assert.ok(!log.includes(MARKER));
  });
});

describe('erasure and an attempt record meeting on the rows\' locks (postgres)', { skip: ON_POSTGRES ? false : 'PostgreSQL only: SQLite runs one write at a time' }, () => {
  let server: TestServer;
  let store: Store;
  let raw: pg.Client;
  let appId: string;
  let endpointId: string;

  before(async () => {
    server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '0', HOOKWELL_ROLE: 'api' });
    store = server.hw.store;
    raw = new pg.Client({ connectionString: PG_URL });
    await raw.connect();
    await raw.query(`SET search_path = ${server.cfg.dbSchema}`);
    appId = (await server.api('POST', '/api/v1/app', { name: 'Lab', uid: 'lab' })).body.id;
    endpointId = (await server.api('POST', '/api/v1/app/lab/endpoint', { url: 'http://127.0.0.1:9/hook' })).body.id;
  });

  after(async () => {
    await raw?.end();
    await server?.stop();
  });

  /** A message of person `dataId` with its delivery leased by `owner`, as a dispatcher holds one while sending. */
  async function leased(dataId: string, owner: string) {
    const msg = await server.api('POST', '/api/v1/app/lab/msg', { eventType: 'lab.result', dataId, payload: { note: MARKER } });
    assert.equal(msg.status, 202, msg.text);
    const work = await store.claim({ now: Date.now() + 1000, owner, leaseMs: 60_000, limit: 100, perEndpoint: 100, allowance: {} });
    const w = work.find((x) => x.msgId === msg.body.id);
    assert.ok(w, 'the delivery is leased');
    return w;
  }

  const recordOf = (w: Awaited<ReturnType<typeof leased>>, owner: string) => ({
    deliveryId: w.deliveryId,
    owner,
    next: Status.Success,
    nextAttemptAt: null,
    attempts: 1,
    disableEndpoint: false,
    attempt: {
      msgId: w.msgId,
      endpointId,
      appId,
      url: w.url,
      status: Status.Success,
      responseStatusCode: 200,
      response: `echo: ${MARKER}`,
      responseDurationMs: 5,
      triggerType: w.trigger,
      error: null,
      createdAt: Date.now(),
    },
  });

  /** Waits until some other session waits on a row lock. */
  const blocked = () =>
    eventually(async () => {
      const r = await raw.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()");
      return r.rows[0].n > 0 ? true : undefined;
    }, 10_000, 'a session waiting on a lock');

  const responses = async (msgId: string) => (await raw.query('SELECT response FROM attempts WHERE msg_id = $1', [msgId])).rows.map((r) => r.response as string);

  it('keeps no body of an attempt recorded while the erasure holds the delivery', async () => {
    const w = await leased('person-a', 'w-test-a');
    // The erasure's transaction, stopped after it canceled the delivery and before its commit.
    await raw.query('BEGIN');
    await raw.query('UPDATE messages SET payload = NULL WHERE id = $1', [w.msgId]);
    await raw.query(`UPDATE deliveries SET status = ${Status.Canceled}, next_attempt_at = NULL, lease_owner = NULL WHERE id = $1`, [w.deliveryId]);
    const recording = store.recordAttempts([recordOf(w, 'w-test-a')]);
    await blocked();
    await raw.query('COMMIT');
    await recording;
    assert.deepEqual(await responses(w.msgId), ['']);
  });

  it('clears the body of an attempt whose record commits while the erasure waits for it', async () => {
    const w = await leased('person-b', 'w-test-b');
    // The attempt's record, stopped after it locked the delivery and wrote the attempt.
    await raw.query('BEGIN');
    await raw.query('SELECT id FROM deliveries WHERE id = $1 FOR UPDATE', [w.deliveryId]);
    await raw.query(
      `INSERT INTO attempts (id, msg_id, endpoint_id, app_id, url, status, response_status_code, response, response_duration_ms, trigger_type, error, created_at)
       VALUES ($1, $2, $3, $4, $5, ${Status.Success}, 200, $6, 5, 0, NULL, $7)`,
      [`atmpt_${'x'.repeat(27)}`, w.msgId, endpointId, appId, w.url, `echo: ${MARKER}`, Date.now()],
    );
    await raw.query(`UPDATE deliveries SET status = ${Status.Success}, lease_owner = NULL WHERE id = $1`, [w.deliveryId]);
    const erasing = store.deleteContent(appId, [w.msgId]);
    await blocked();
    await raw.query('COMMIT');
    const deleted = await erasing;
    assert.equal(deleted.messages, 1);
    assert.deepEqual(await responses(w.msgId), ['']);
  });
});
