// Payload retention and erasure on a real server: content past its period, or about a person
// who asked to be erased, is deleted from the database (and, on SQLite, from its files),
// while what happened to each message stays readable.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { eventually, PG_URL, requirePostgres, startReceiver, startServer, TOKEN, type Receiver, type TestServer } from './helpers.js';
import { startHookwell } from '../src/server.js';
import { createLogger } from '../src/logger.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { EXPIRED_NOTE } from '../src/store/retention.js';
import { PURGE_BATCH } from '../src/core/retention.js';

const ON_POSTGRES = process.env.HOOKWELL_TEST_BACKEND === 'postgres';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const marker = (what: string) => `MARK-${what}-${randomBytes(8).toString('hex')}`;

/** Where the marker is in the SQLite files (the database and its -wal), if anywhere. */
function foundInFiles(dbPath: string, text: string): string[] {
  return [dbPath, `${dbPath}-wal`].filter((f) => existsSync(f) && readFileSync(f).includes(Buffer.from(text)));
}

describe('payload retention and erasure', () => {
  let server: TestServer;
  let receiver: Receiver;
  const msgIds = new Map<string, string>();

  const send = async (app: string, body: Record<string, unknown>) => {
    const res = await server.api('POST', `/api/v1/app/${app}/msg`, body);
    assert.equal(res.status, 202, res.text);
    return res.body.id as string;
  };
  const attemptsOf = (app: string, msgId: string) => server.api('GET', `/api/v1/app/${app}/attempt/msg/${msgId}`);
  /** Waits until the message has `n` attempts recorded. */
  const attempted = (app: string, msgId: string, n = 1) =>
    eventually(async () => {
      const res = await attemptsOf(app, msgId);
      return res.body.data.length >= n ? res.body.data : undefined;
    }, 10_000, `${n} attempts of ${msgId}`);
  const upload = async (app: string, userId: string, records: string[]) => {
    const res = await fetch(`${server.url}/api/v1/app/${app}/backfill?userId=${userId}&resource=workouts&provider=garmin&chunkSize=10`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
      body: `${records.join('\n')}\n`,
    });
    const text = await res.text();
    assert.equal(res.status, 202, text);
    return JSON.parse(text) as { id: string; msgId: string | null };
  };

  before(async () => {
    // The purge is run by hand (runOnce, at a time ahead) except where a test says otherwise;
    // the server's default period is one day, so a message can ask for more or less.
    server = await startServer({ HOOKWELL_PAYLOAD_RETENTION_DAYS: '1', HOOKWELL_PAYLOAD_PURGE_INTERVAL_MS: '86400000', HOOKWELL_RETRY_SCHEDULE: '3600' });
    receiver = await startReceiver();
    // An echoing receiver: what it is sent comes back as the attempt's response body.
    receiver.respond = (r) => (r.path.startsWith('/fail') ? { status: 500, body: r.body.toString() } : { status: 200, body: r.body.toString() });
    for (const app of ['one', 'two']) {
      assert.equal((await server.api('POST', '/api/v1/app', { name: app, uid: app })).status, 201);
      assert.equal((await server.api('POST', `/api/v1/app/${app}/endpoint`, { url: `${receiver.url}/hook`, uid: 'main' })).status, 201);
    }
    const schema = {
      type: 'object',
      properties: { subject: { type: 'object', properties: { mrn: { type: 'string', 'x-identifier': true } } } },
    };
    const et = await server.api('POST', '/api/v1/event-type', { name: 'visit.recorded', description: 'A visit', schemas: { '1': schema } });
    assert.equal(et.status, 201, et.text);
    for (const name of ['retry.me', 'thin.sent']) assert.equal((await server.api('POST', '/api/v1/event-type', { name, description: name })).status, 201);
  });
  after(async () => {
    await server.stop();
    await receiver.close();
  });

  it('deletes expired payloads, attempt bodies and backfill records from the database and its files; the rest stays', async () => {
    const gone = marker('expired');
    const kept = marker('kept');
    const record = marker('record');
    const short = await send('one', { eventType: 'note.created', payload: { note: gone }, payloadRetentionHours: 1 });
    const long = await send('one', { eventType: 'note.created', payload: { note: kept }, payloadRetentionPeriod: 90 });
    const bf = await upload('one', 'u-retention', [`{"id":"w-1","time_start":"2024-06-02T00:00:00Z","note":"${record}"}`, '{"id":"w-2","time_start":"2024-06-01T00:00:00Z"}']);
    await attempted('one', short);
    await attempted('one', long);
    const [echoed] = (await attemptsOf('one', short)).body.data;
    assert.ok(echoed.response.includes(gone), 'the receiver echoed the payload into the attempt');
    if (!ON_POSTGRES) {
      // The check below can fail: before the purge, the markers are in the files.
      assert.ok(foundInFiles(server.dbPath, gone).length > 0);
      assert.ok(foundInFiles(server.dbPath, record).length > 0);
    }

    // Nothing is due yet.
    assert.equal((await server.hw.retention.runOnce(Date.now())).messages, 0);
    // Two days on: the hour-long message and the backfill (the server's one day) have expired; the 90-day one has not.
    const purged = await server.hw.retention.runOnce(Date.now() + 2 * DAY);
    assert.ok(purged.messages >= 2, `purged ${JSON.stringify(purged)}`);
    assert.ok(purged.attempts >= 1);
    assert.equal(purged.backfillRecords, 2);

    const msg = await server.api('GET', `/api/v1/app/one/msg/${short}`);
    assert.equal(msg.status, 200, 'the message itself stays');
    assert.deepEqual(msg.body.payload, {});
    assert.equal(msg.body.payloadDeleted, true);
    assert.equal(msg.body.eventType, 'note.created');
    const attempts = (await attemptsOf('one', short)).body.data;
    assert.equal(attempts.length, 1, 'attempts stay listed');
    assert.equal(attempts[0].responseStatusCode, 200);
    assert.equal(attempts[0].response, '');
    const list = await server.api('GET', '/api/v1/app/one/msg');
    const listed = list.body.data.find((m: { id: string }) => m.id === short);
    assert.equal(listed.payloadDeleted, true);
    const withMsg = await server.api('GET', `/api/v1/app/one/attempt/endpoint/main?with_msg=true`);
    const shown = withMsg.body.data.find((a: { msgId: string }) => a.msgId === short);
    assert.equal(shown.msg.payloadDeleted, true, 'an attempt listed with its message says so too');

    const other = await server.api('GET', `/api/v1/app/one/msg/${long}`);
    assert.equal(other.body.payload.note, kept);
    assert.equal(other.body.payloadDeleted, undefined);

    // In the database: the columns are empty and the records' rows gone.
    const appOne = (await server.hw.store.getApp('one'))!;
    assert.equal((await server.hw.store.getMessage(appOne.id, short))!.payload, null);
    assert.deepEqual(await server.hw.store.readBackfillRecords(bf.id, 0, 100, 100), []);
    const backfill = await server.api('GET', `/api/v1/app/one/backfill/${bf.id}`);
    assert.equal(backfill.status, 200, 'the backfill itself stays');
    assert.equal(backfill.body.records, 2);

    if (!ON_POSTGRES) {
      assert.deepEqual(foundInFiles(server.dbPath, gone), [], 'the payload left the database file and the -wal');
      assert.deepEqual(foundInFiles(server.dbPath, record), [], 'the backfill record left the files');
      assert.ok(foundInFiles(server.dbPath, kept).length > 0, 'content still kept is still there');
    }
    msgIds.set('kept', long);
  });

  it('fails a delivery still waiting when its payload expires, with an attempt saying why', async () => {
    const ep = await server.api('POST', '/api/v1/app/one/endpoint', { url: `${receiver.url}/fail`, uid: 'failing', filterTypes: ['retry.me'] });
    assert.equal(ep.status, 201, ep.text);
    const secret = marker('retry');
    const id = await send('one', { eventType: 'retry.me', payload: { secret }, payloadRetentionHours: 1 });
    // One attempt to "main" (which takes every type), one to "failing".
    const first = (await attempted('one', id, 2)).find((a: { endpointId: string }) => a.endpointId === ep.body.id);
    assert.equal(first.responseStatusCode, 500);
    // The next try is an hour away (HOOKWELL_RETRY_SCHEDULE): the payload expires first.
    await server.hw.retention.runOnce(Date.now() + 2 * HOUR);
    const attempts = ((await attemptsOf('one', id)).body.data as { endpointId: string; response: string; status: number }[]).filter((a) => a.endpointId === ep.body.id);
    assert.equal(attempts.length, 2);
    const note = attempts.find((a) => a.response === EXPIRED_NOTE);
    assert.ok(note, `an attempt says why: ${JSON.stringify(attempts)}`);
    assert.equal(note.status, 2);
    assert.ok(attempts.every((a) => !a.response.includes(secret)));
    const dest = await server.api('GET', `/api/v1/app/one/msg/${id}/endpoint`);
    assert.equal(dest.body.data.find((e: { uid: string }) => e.uid === 'failing').status, 2, 'the delivery failed rather than going out empty');
    assert.equal((await server.api('DELETE', `/api/v1/app/one/endpoint/failing`)).status, 204);
  });

  it("erases one person's payloads, attempt bodies and backfill records in one application only", async () => {
    const mine = marker('erase');
    const nested = marker('nested');
    const typed = marker('typed');
    const record = marker('erase-record');
    const top = await send('one', { eventType: 'note.created', payload: { user_id: 'U1', note: mine } });
    // Sent with an idempotency-key: its replays answer the message as it is, so the record keeps no copy of the payload.
    const keyed = { eventType: 'note.created', payload: { data: { user_id: 'U1', note: nested } } };
    const replayed = await server.api('POST', '/api/v1/app/one/msg', keyed, { 'idempotency-key': 'erase-1' });
    assert.equal(replayed.status, 202, replayed.text);
    const underData = replayed.body.id as string;
    const replayScope = `POST /api/v1/app/:app_id/msg ${JSON.stringify({ app_id: 'one' })}`;
    const kept = await server.hw.store.getIdempotent(replayScope, 'erase-1');
    assert.equal(kept?.msgId, underData);
    assert.equal(kept?.body, null);
    const before = await server.api('POST', '/api/v1/app/one/msg', keyed, { 'idempotency-key': 'erase-1' });
    assert.equal(before.headers.get('idempotent-replayed'), 'true');
    assert.equal(before.body.payload.data.note, nested, 'a replay before the erasure echoes the payload');
    const byMrn = await send('one', { eventType: 'visit.recorded', payload: { subject: { mrn: 'MRN-7' }, note: typed } });
    const someoneElse = await send('one', { eventType: 'note.created', payload: { data: { user_id: 'U2' } } });
    const otherApp = await send('two', { eventType: 'note.created', payload: { user_id: 'U1', note: mine } });
    const bf = await upload('one', 'U1', [`{"id":"r-1","time_start":"2024-06-02T00:00:00Z","note":"${record}"}`]);
    const otherBf = await upload('two', 'U1', ['{"id":"r-2","time_start":"2024-06-02T00:00:00Z"}']);
    for (const id of [top, underData, byMrn, someoneElse]) await attempted('one', id);
    await attempted('two', otherApp);

    const res = await server.api('POST', '/api/v1/app/one/erase', { identifiers: { user_id: 'U1', mrn: 'MRN-7' } });
    assert.equal(res.status, 200, res.text);
    const erased = res.body;
    for (const id of [top, underData, byMrn]) assert.ok(erased.msgIds.includes(id), `${id} erased`);
    assert.ok(!erased.msgIds.includes(someoneElse));
    assert.ok(erased.messages >= 3 && erased.attempts >= 3, JSON.stringify(erased));
    assert.equal(erased.backfillRecords, 1);
    assert.deepEqual(erased.backfills, [bf.id]);
    assert.equal(erased.more, false);

    for (const id of [top, underData, byMrn]) {
      const m = await server.api('GET', `/api/v1/app/one/msg/${id}`);
      assert.equal(m.status, 200);
      assert.equal(m.body.payloadDeleted, true);
      const [a] = (await attemptsOf('one', id)).body.data;
      assert.equal(a.response, '');
      assert.equal(a.responseStatusCode, 200);
    }
    assert.equal((await server.api('GET', `/api/v1/app/one/msg/${someoneElse}`)).body.payload.data.user_id, 'U2');
    // The other application is untouched.
    const theirs = await server.api('GET', `/api/v1/app/two/msg/${otherApp}`);
    assert.equal(theirs.body.payload.note, mine);
    assert.ok((await attemptsOf('two', otherApp)).body.data[0].response.includes(mine));
    assert.equal((await server.hw.store.readBackfillRecords(otherBf.id, 0, 10, 10)).length, 1);
    assert.deepEqual(await server.hw.store.readBackfillRecords(bf.id, 0, 10, 10), []);
    // Sent again after the erasure, the request is still a repeat of the erased message: nothing is recreated, nothing echoed.
    const after = await server.api('POST', '/api/v1/app/one/msg', keyed, { 'idempotency-key': 'erase-1' });
    assert.equal(after.status, 202, after.text);
    assert.equal(after.headers.get('idempotent-replayed'), 'true');
    assert.equal(after.body.id, underData);
    assert.deepEqual(after.body.payload, {});
    assert.ok(!after.text.includes(nested));

    if (!ON_POSTGRES) {
      assert.deepEqual(foundInFiles(server.dbPath, nested), []);
      assert.deepEqual(foundInFiles(server.dbPath, typed), []);
      assert.deepEqual(foundInFiles(server.dbPath, record), []);
      // The same marker is still held by application two: in the file, as it should be.
      assert.ok(foundInFiles(server.dbPath, mine).length > 0);
    }

    // Once more: nothing is left to erase.
    const again = await server.api('POST', '/api/v1/app/one/erase', { identifiers: { user_id: 'U1', mrn: 'MRN-7' } });
    assert.equal(again.body.messages, 0);
    assert.deepEqual(again.body.msgIds, []);
  });

  it('erases by dataId', async () => {
    const a = await send('one', { eventType: 'note.created', payload: { n: 1 }, dataId: 'workout-9' });
    const b = await send('one', { eventType: 'note.created', payload: { n: 2 }, dataId: 'workout-9' });
    const c = await send('one', { eventType: 'note.created', payload: { n: 3 }, dataId: 'workout-10' });
    const res = await server.api('POST', '/api/v1/app/one/erase', { dataId: 'workout-9' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual([...res.body.msgIds].sort(), [a, b].sort());
    assert.equal((await server.api('GET', `/api/v1/app/one/msg/${c}`)).body.payload.n, 3);
  });

  it('expunging one message deletes its attempts’ bodies too, and its content link then says the content is gone', async () => {
    const ep = await server.api('POST', '/api/v1/app/one/endpoint', { url: `${receiver.url}/thin`, uid: 'thin', payloadMode: 'thin', filterTypes: ['thin.sent'] });
    assert.equal(ep.status, 201, ep.text);
    const secret = marker('thin');
    const before = receiver.received.length;
    const id = await send('one', { eventType: 'thin.sent', payload: { secret } });
    await attempted('one', id);
    const thin = await eventually(() => receiver.received.slice(before).find((r) => r.path.startsWith('/thin')), 10_000, 'the thin delivery');
    const link = JSON.parse(thin.body.toString()).content.url as string;
    assert.equal((await fetch(link)).status, 200);

    assert.equal((await server.api('DELETE', `/api/v1/app/one/msg/${id}/content`)).status, 204);
    const res = await fetch(link);
    assert.equal(res.status, 410);
    assert.equal(((await res.json()) as { code: string }).code, 'content_deleted');
    const [a] = (await attemptsOf('one', id)).body.data;
    assert.equal(a.response, '', "the attempt's response body is deleted with the payload");
    if (!ON_POSTGRES) assert.deepEqual(foundInFiles(server.dbPath, secret), []);
    assert.equal((await server.api('DELETE', `/api/v1/app/one/endpoint/thin`)).status, 204);
  });

  it('refuses bad retention and erasure input, naming the field, and stores nothing', async () => {
    const before = (await server.api('GET', '/api/v1/app/one/msg?limit=250')).body.data.length;
    const bad: [Record<string, unknown>, string][] = [
      [{ payloadRetentionPeriod: 0 }, 'payloadRetentionPeriod'],
      [{ payloadRetentionPeriod: 91 }, 'payloadRetentionPeriod'],
      [{ payloadRetentionPeriod: 1.5 }, 'payloadRetentionPeriod'],
      [{ payloadRetentionHours: 2161 }, 'payloadRetentionHours'],
      [{ payloadRetentionHours: 'soon' }, 'payloadRetentionHours'],
      [{ payloadRetentionHours: 1, deliverAt: new Date(Date.now() + 2 * HOUR).toISOString() }, 'deliverAt'],
    ];
    for (const [fields, field] of bad) {
      const res = await server.api('POST', '/api/v1/app/one/msg', { eventType: 'note.created', payload: { a: 1 }, ...fields });
      assert.equal(res.status, 422, `${JSON.stringify(fields)}: ${res.text}`);
      assert.ok(JSON.stringify(res.body).includes(field), `${JSON.stringify(fields)} names ${field}: ${res.text}`);
    }
    assert.equal((await server.api('GET', '/api/v1/app/one/msg?limit=250')).body.data.length, before, 'nothing was stored');

    for (const body of [{}, { identifiers: {} }, { identifiers: { user_id: 5 } }, { identifiers: { user_id: '' } }, { dataId: '' }]) {
      const res = await server.api('POST', '/api/v1/app/one/erase', body);
      assert.equal(res.status, 422, `${JSON.stringify(body)}: ${res.text}`);
    }
    assert.equal((await server.api('POST', '/api/v1/app/nope/erase', { dataId: 'x' })).status, 404);
    assert.equal((await server.api('GET', `/api/v1/app/one/msg/${msgIds.get('kept')}`)).body.payloadDeleted, undefined);
  });

  it(`purges in batches of ${PURGE_BATCH}, more rows than one batch holds`, async () => {
    const store = server.hw.store;
    const app = (await store.getApp('two'))!;
    const n = PURGE_BATCH * 2 + 37;
    for (let i = 0; i < n; i++) {
      await store.createMessage(app.id, { eventId: null, eventType: 'bulk', payload: `{"i":${i}}`, channels: null, tags: null, deliverAt: null, retentionMs: HOUR });
    }
    let calls = 0;
    const purge = store.purgeExpiredContent.bind(store);
    store.purgeExpiredContent = (now, limit) => {
      calls++;
      assert.equal(limit, PURGE_BATCH);
      return purge(now, limit);
    };
    try {
      const done = await server.hw.retention.runOnce(Date.now() + 2 * HOUR);
      assert.equal(done.messages, n);
      assert.equal(calls, 3);
    } finally {
      store.purgeExpiredContent = purge;
    }
    const left = await store.scanPayloads(app.id, '', 10_000);
    assert.ok(left.every((m) => m.eventType !== 'bulk'), 'no bulk payload is left');
  });
});

describe('the retention purge on its own timer', () => {
  it('deletes a payload once its period (a fraction of a day here) is over', async () => {
    const server = await startServer({ HOOKWELL_PAYLOAD_RETENTION_DAYS: '0.00001', HOOKWELL_PAYLOAD_PURGE_INTERVAL_MS: '100' });
    try {
      const res = await server.api('POST', '/api/v1/app/t/msg', { eventType: 'a', payload: { x: 1 }, application: { name: 't' } });
      assert.equal(res.status, 202, res.text);
      const msg = await eventually(async () => {
        const m = await server.api('GET', `/api/v1/app/t/msg/${res.body.id}`);
        return m.body.payloadDeleted === true ? m.body : undefined;
      }, 10_000, 'the payload to expire');
      assert.deepEqual(msg.payload, {});
    } finally {
      await server.stop();
    }
  });
});

describe('the retention purge on every role (PostgreSQL)', () => {
  for (const role of ['api', 'worker'] as const) {
    it(`runs in a process of role ${role}`, async () => {
      await requirePostgres();
      const schema = `hw_ret_${randomBytes(5).toString('hex')}`;
      const cfg = loadConfig(
        { port: '0', db: PG_URL, role },
        { HOOKWELL_ADMIN_TOKEN: TOKEN, HOOKWELL_LOG_LEVEL: 'silent', HOOKWELL_DB_SCHEMA: schema, HOOKWELL_DB_POOL_SIZE: '2', HOOKWELL_PAYLOAD_PURGE_INTERVAL_MS: '100' },
      );
      const hw = await startHookwell(cfg, createLogger('silent'));
      try {
        const app = await hw.store.createApp({ uid: null, name: role, throttleRate: null, metadata: {} });
        const { message } = await hw.store.createMessage(app.id, { eventId: null, eventType: 'a', payload: '{"x":1}', channels: null, tags: null, deliverAt: null, retentionMs: 1 });
        await eventually(async () => ((await hw.store.getMessage(app.id, message.id))?.payload === null ? true : undefined), 10_000, `the ${role} process to purge`);
      } finally {
        await hw.close();
        const admin = new pg.Client({ connectionString: PG_URL });
        await admin.connect();
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => admin.end());
      }
    });
  }
});

describe('retention settings', () => {
  it('takes days, fractions included, and refuses others with the setting named', () => {
    assert.equal(loadConfig({}, {}).payloadRetentionMs, 90 * DAY);
    assert.equal(loadConfig({}, { HOOKWELL_PAYLOAD_RETENTION_DAYS: '0.5' }).payloadRetentionMs, DAY / 2);
    for (const bad of ['0', '-1', 'abc', '3651', '1e3']) {
      assert.throws(() => loadConfig({}, { HOOKWELL_PAYLOAD_RETENTION_DAYS: bad }), (e: Error) => e instanceof ConfigError && e.message.includes('HOOKWELL_PAYLOAD_RETENTION_DAYS'), bad);
    }
    assert.throws(() => loadConfig({}, { HOOKWELL_PAYLOAD_PURGE_INTERVAL_MS: '0' }), /HOOKWELL_PAYLOAD_PURGE_INTERVAL_MS/);
  });
});
