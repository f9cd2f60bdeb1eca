// The idempotency-key header on POSTs: a repeat gets the first answer again, byte for
// byte, and does nothing; a different body with the same key is refused; failures are
// not remembered; keys survive a restart on the same SQLite file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startHookwell, type Hookwell } from '../src/server.js';
import { eventually, query, startReceiver, startServer, TOKEN, type Receiver, type TestServer } from './helpers.js';
import Database from 'better-sqlite3';
import { migrate } from '../src/store/sqlite/migrations.js';
import { migrations } from '../src/store/migrations.js';


const count = (dbPath: string, sql: string, ...params: unknown[]): number => query<{ n: number }>(dbPath, sql, ...params)[0]!.n;

/** Messages of the application with this uid, and their delivery rows. */
function messagesOf(dbPath: string, uid: string): { messages: number; deliveries: number } {
  return {
    messages: count(dbPath, 'SELECT COUNT(*) AS n FROM messages m JOIN applications a ON a.id = m.app_id WHERE a.uid = ?', uid),
    deliveries: count(dbPath, 'SELECT COUNT(*) AS n FROM deliveries d JOIN applications a ON a.id = d.app_id WHERE a.uid = ?', uid),
  };
}

type Res = { status: number; body: any; text: string; headers: Headers };

async function call(baseUrl: string, method: string, path: string, body: unknown, key?: string): Promise<Res> {
  const res = await fetch(baseUrl + path, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      ...(key !== undefined ? { 'idempotency-key': key } : {}),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text), text, headers: res.headers };
}

describe('idempotency-key', () => {
  let server: TestServer;
  let receiver: Receiver;
  const post = (path: string, body: unknown, key?: string) => call(server.url, 'POST', path, body, key);

  before(async () => {
    receiver = await startReceiver();
    server = await startServer();
    for (const uid of ['idem', 'idem2', 'conc', 'later', 'expiry', 'restart']) {
      assert.equal((await server.api('POST', '/api/v1/app', { name: uid, uid })).status, 201);
      // One endpoint each, so a message that is wrongly created twice also shows as two deliveries.
      const ep = await server.api('POST', `/api/v1/app/${uid}/endpoint`, { url: `${receiver.url}/${uid}` });
      assert.equal(ep.status, 201, ep.text);
    }
  });

  after(async () => {
    await server?.stop();
    await receiver?.close();
  });

  test('same key and body: the same answer byte for byte, marked as replayed, and one message', async () => {
    const body = { eventType: 'order.paid', eventId: null, payload: { order: 17, total: '9.90' } };
    const first = await post('/api/v1/app/idem/msg', body, 'key-replay');
    assert.equal(first.status, 202, first.text);
    assert.equal(first.headers.get('idempotent-replayed'), null, 'the first answer is not a replay');
    assert.match(first.body.id, /^msg_/);

    for (let i = 0; i < 3; i++) {
      const again = await post('/api/v1/app/idem/msg', body, 'key-replay');
      assert.equal(again.status, 202, again.text);
      assert.equal(again.text, first.text, 'the replay must be byte-identical');
      assert.equal(again.body.id, first.body.id);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assert.match(again.headers.get('content-type') ?? '', /^application\/json/);
    }
    assert.deepEqual(messagesOf(server.dbPath, 'idem'), { messages: 1, deliveries: 1 });

    // Without a key the same body is a new message: the key is what makes the repeat a no-op.
    const unkeyed = await post('/api/v1/app/idem/msg', body);
    assert.equal(unkeyed.status, 202);
    assert.notEqual(unkeyed.body.id, first.body.id);
    assert.deepEqual(messagesOf(server.dbPath, 'idem'), { messages: 2, deliveries: 2 });
  });

  test('the same key with a different body is 409 idempotency_conflict and writes nothing', async () => {
    const first = await post('/api/v1/app/idem2/msg', { eventType: 'order.paid', payload: { order: 1 } }, 'key-conflict');
    assert.equal(first.status, 202, first.text);
    const before = messagesOf(server.dbPath, 'idem2');

    const other = await post('/api/v1/app/idem2/msg', { eventType: 'order.paid', payload: { order: 2 } }, 'key-conflict');
    assert.equal(other.status, 409, other.text);
    assert.equal(other.body.code, 'idempotency_conflict');
    assert.equal(typeof other.body.detail, 'string');
    assert.equal(other.headers.get('idempotent-replayed'), null);
    assert.deepEqual(messagesOf(server.dbPath, 'idem2'), before);

    // The conflict did not replace what the key remembers.
    const again = await post('/api/v1/app/idem2/msg', { eventType: 'order.paid', payload: { order: 1 } }, 'key-conflict');
    assert.equal(again.status, 202);
    assert.equal(again.text, first.text);
    assert.deepEqual(messagesOf(server.dbPath, 'idem2'), before);
  });

  test('the same key on a different route is independent', async () => {
    const body = { eventType: 'order.paid', payload: { order: 3 } };
    const inIdem = await post('/api/v1/app/idem/msg', body, 'key-routes');
    assert.equal(inIdem.status, 202);
    const inIdem2 = await post('/api/v1/app/idem2/msg', body, 'key-routes');
    assert.equal(inIdem2.status, 202, inIdem2.text);
    assert.equal(inIdem2.headers.get('idempotent-replayed'), null);
    assert.notEqual(inIdem2.body.id, inIdem.body.id);

    // Another kind of POST, with a body that would conflict if the key were shared.
    const app = await post('/api/v1/app', { name: 'Keyed', uid: 'keyed' }, 'key-routes');
    assert.equal(app.status, 201, app.text);
    assert.equal(app.body.uid, 'keyed');
    const et = await post('/api/v1/event-type', { name: 'order.paid', description: 'Paid' }, 'key-routes');
    assert.equal(et.status, 201, et.text);

    // Each route still remembers its own answer.
    const replayApp = await post('/api/v1/app', { name: 'Keyed', uid: 'keyed' }, 'key-routes');
    assert.equal(replayApp.status, 201);
    assert.equal(replayApp.text, app.text);
    assert.equal(replayApp.headers.get('idempotent-replayed'), 'true');
    assert.equal(count(server.dbPath, `SELECT COUNT(*) AS n FROM applications WHERE uid = 'keyed'`), 1);
    const replayMsg = await post('/api/v1/app/idem2/msg', body, 'key-routes');
    assert.equal(replayMsg.text, inIdem2.text);
  });

  test('concurrent requests with the same key create exactly one message', async () => {
    const body = { eventType: 'order.paid', payload: { order: 42, lines: [1, 2, 3] } };
    const results = await Promise.all(Array.from({ length: 10 }, () => post('/api/v1/app/conc/msg', body, 'key-concurrent')));
    for (const r of results) assert.equal(r.status, 202, r.text);
    const ids = new Set(results.map((r) => r.body.id));
    assert.equal(ids.size, 1, `all must get the same message id, got ${[...ids].join(', ')}`);
    assert.equal(new Set(results.map((r) => r.text)).size, 1, 'all answers must be byte-identical');
    const fresh = results.filter((r) => r.headers.get('idempotent-replayed') === null);
    assert.equal(fresh.length, 1, 'exactly one request did the work; the others are replays');
    assert.deepEqual(messagesOf(server.dbPath, 'conc'), { messages: 1, deliveries: 1 });
    assert.equal(count(server.dbPath, `SELECT COUNT(*) AS n FROM idempotency WHERE key = 'key-concurrent'`), 1);
  });

  test('a failed request is not remembered, so it can be retried with the same key', async () => {
    const body = { eventType: 'order.paid', payload: { order: 5 } };
    const unknown = await post('/api/v1/app/not-yet/msg', body, 'key-retry');
    assert.equal(unknown.status, 404, unknown.text);
    assert.equal(unknown.body.code, 'not_found');
    const again = await post('/api/v1/app/not-yet/msg', body, 'key-retry');
    assert.equal(again.status, 404, 'a failure is not replayed from memory either');
    assert.equal(again.headers.get('idempotent-replayed'), null);
    assert.equal(count(server.dbPath, `SELECT COUNT(*) AS n FROM idempotency WHERE key = 'key-retry'`), 0);

    assert.equal((await server.api('POST', '/api/v1/app', { name: 'Now', uid: 'not-yet' })).status, 201);
    const retried = await post('/api/v1/app/not-yet/msg', body, 'key-retry');
    assert.equal(retried.status, 202, retried.text);
    assert.equal(retried.headers.get('idempotent-replayed'), null);
    const replayed = await post('/api/v1/app/not-yet/msg', body, 'key-retry');
    assert.equal(replayed.headers.get('idempotent-replayed'), 'true');
    assert.equal(replayed.body.id, retried.body.id);
    assert.equal(messagesOf(server.dbPath, 'not-yet').messages, 1);

    // A body refused by validation does not claim the key for that body either.
    const invalid = await post('/api/v1/app/later/msg', { eventType: 'bad type', payload: {} }, 'key-invalid');
    assert.equal(invalid.status, 422, invalid.text);
    const valid = await post('/api/v1/app/later/msg', body, 'key-invalid');
    assert.equal(valid.status, 202, valid.text);
    assert.equal(messagesOf(server.dbPath, 'later').messages, 1);

    // Nor does a conflict: a duplicate eventId is refused again, not replayed or remembered.
    const dupBody = { eventType: 'order.paid', eventId: 'evt-idem-1', payload: { order: 6 } };
    assert.equal((await post('/api/v1/app/later/msg', dupBody, 'key-dup-a')).status, 202);
    const dup = await post('/api/v1/app/later/msg', dupBody, 'key-dup-b');
    assert.equal(dup.status, 409, dup.text);
    assert.equal(dup.body.code, 'duplicate_event_id');
    assert.equal(count(server.dbPath, `SELECT COUNT(*) AS n FROM idempotency WHERE key = 'key-dup-b'`), 0);
    assert.equal(messagesOf(server.dbPath, 'later').messages, 2);
  });

  test('an expired key starts afresh, and its new answer is then replayed', async () => {
    // A record a day and an hour old, as if the hourly purge had not run yet.
    await server.hw.store.putIdempotent('POST /api/v1/app/:app_id/msg {"app_id":"expiry"}', 'key-expired', {
      bodyHash: 'a-body-from-yesterday',
      statusCode: 202,
      body: '{"id":"msg_from_yesterday"}',
      createdAt: Date.now() - 25 * 60 * 60 * 1000,
      msgId: null,
    });
    const body = { eventType: 'order.paid', payload: { order: 7 } };
    const first = await post('/api/v1/app/expiry/msg', body, 'key-expired');
    assert.equal(first.status, 202, first.text);
    assert.equal(first.headers.get('idempotent-replayed'), null, 'an expired answer is not replayed');
    assert.notEqual(first.body.id, 'msg_from_yesterday');

    const again = await post('/api/v1/app/expiry/msg', body, 'key-expired');
    assert.equal(again.status, 202, again.text);
    assert.equal(again.headers.get('idempotent-replayed'), 'true', 'the new answer is remembered');
    assert.equal(again.text, first.text);
    assert.deepEqual(messagesOf(server.dbPath, 'expiry'), { messages: 1, deliveries: 1 });
    const stored = query<{ body: string | null; msg_id: string }>(server.dbPath, `SELECT body, msg_id FROM idempotency WHERE key = 'key-expired'`);
    assert.deepEqual(stored, [{ body: null, msg_id: first.body.id }]);
  });

  test('an answer without content is kept as sent, and replayed without content', async () => {
    const body = { eventType: 'order.paid', payload: { order: 'no-content-marker' } };
    const first = await post('/api/v1/app/idem/msg?with_content=false', body, 'key-no-content');
    assert.equal(first.status, 202, first.text);
    assert.deepEqual(first.body.payload, {});
    const again = await post('/api/v1/app/idem/msg?with_content=false', body, 'key-no-content');
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.text, first.text);
    const stored = query<{ body: string }>(server.dbPath, `SELECT body FROM idempotency WHERE key = 'key-no-content'`);
    assert.deepEqual(stored, [{ body: first.text }]);
    assert.ok(!first.text.includes('no-content-marker'));
  });

  test("a replay answers the message as it is now: after its content is deleted, without it, and nothing is sent again", async () => {
    const body = { eventType: 'order.paid', payload: { order: 'expunged-marker' } };
    const first = await post('/api/v1/app/idem/msg', body, 'key-expunged');
    assert.equal(first.status, 202, first.text);
    const before = messagesOf(server.dbPath, 'idem');
    const gone = await call(server.url, 'DELETE', `/api/v1/app/idem/msg/${first.body.id}/content`, undefined);
    assert.equal(gone.status, 204, gone.text);
    const again = await post('/api/v1/app/idem/msg', body, 'key-expunged');
    assert.equal(again.status, 202, again.text);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.id, first.body.id);
    assert.deepEqual(again.body.payload, {});
    assert.deepEqual(messagesOf(server.dbPath, 'idem'), before);
  });

  test('a trailing slash or a query string does not make it another request', async () => {
    const body = { eventType: 'order.paid', payload: { order: 8 } };
    const first = await post('/api/v1/app/expiry/msg', body, 'key-slash');
    assert.equal(first.status, 202, first.text);
    for (const path of ['/api/v1/app/expiry/msg/', '/api/v1/app/expiry/msg?with_content=true']) {
      const again = await post(path, body, 'key-slash');
      assert.equal(again.headers.get('idempotent-replayed'), 'true', path);
      assert.equal(again.body.id, first.body.id);
    }
  });

  test('a key survives a restart on the same SQLite file', async () => {
    const body = { eventType: 'order.paid', payload: { order: 99 } };
    const first = await post('/api/v1/app/restart/msg', body, 'key-restart');
    assert.equal(first.status, 202, first.text);
    await eventually(() => (receiver.received.some((r) => r.path === '/restart') ? true : undefined), 10_000, 'the delivery');

    await server.hw.close();
    // The answer is the message itself: the record names it rather than keep its payload twice.
    // The next process finds the key again through the table (see KeyIndex).
    const stored = query<{ scope: string; status_code: number; body: string | null; msg_id: string }>(
      server.dbPath,
      `SELECT scope, status_code, body, msg_id FROM idempotency WHERE key = 'key-restart'`,
    );
    assert.deepEqual(stored, [{ scope: 'POST /api/v1/app/:app_id/msg {"app_id":"restart"}', status_code: 202, body: null, msg_id: first.body.id }]);

    const cfg = loadConfig(
      { port: '0', db: server.dbPath },
      { HOOKWELL_ADMIN_TOKEN: TOKEN, HOOKWELL_ALLOW_PRIVATE_TARGETS: 'true', HOOKWELL_LOG_LEVEL: 'silent' },
    );
    let hw2: Hookwell | undefined;
    try {
      hw2 = await startHookwell(cfg, createLogger(cfg.logLevel));
      assert.notEqual(hw2.url, server.url);
      const replay = await call(hw2.url!, 'POST', '/api/v1/app/restart/msg', body, 'key-restart');
      assert.equal(replay.status, 202, replay.text);
      assert.equal(replay.text, first.text);
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');

      const conflict = await call(hw2.url!, 'POST', '/api/v1/app/restart/msg', { ...body, payload: { order: 100 } }, 'key-restart');
      assert.equal(conflict.status, 409, conflict.text);
      assert.equal(conflict.body.code, 'idempotency_conflict');
    } finally {
      await hw2?.close();
    }
    assert.deepEqual(messagesOf(server.dbPath, 'restart'), { messages: 1, deliveries: 1 });
  });
});

describe('idempotency records expire', () => {
  const DAY = 24 * 60 * 60 * 1000;
  const scope = 'POST /api/v1/app/:app_id/msg {"app_id":"purge"}';
  const record = (createdAt: number, n: number) => ({ bodyHash: `hash-${n}`, statusCode: 202, body: `{"n":${n}}`, createdAt });

  test('the periodic purge deletes records older than 24 hours and keeps younger ones', async () => {
    const server = await startServer({}, { housekeepingIntervalMs: 100 });
    try {
      const now = Date.now();
      for (let i = 0; i < 50; i++) await server.hw.store.putIdempotent(scope, `old-${i}`, record(now - DAY - 60_000 - i, i));
      await server.hw.store.putIdempotent(scope, 'young', record(now - DAY + 60 * 60 * 1000, 99));
      await eventually(
        async () => {
          for (let i = 0; i < 50; i++) if ((await server.hw.store.getIdempotent(scope, `old-${i}`)) !== null) return undefined;
          return true;
        },
        10_000,
        'the expired records to be purged',
      );
      assert.equal((await server.hw.store.getIdempotent(scope, 'young'))?.body, '{"n":99}', 'a record under 24 hours old stays');
    } finally {
      await server.stop();
    }
  });

  test('a server purges expired records when it starts, not only an hour later', { skip: process.env.HOOKWELL_TEST_BACKEND === 'postgres' && 'reopens a SQLite file' }, async () => {
    const server = await startServer();
    await server.hw.store.putIdempotent(scope, 'stale', record(Date.now() - 2 * DAY, 1));
    await server.hw.store.putIdempotent(scope, 'fresh', record(Date.now(), 2));
    await server.hw.close();
    assert.equal(query<{ n: number }>(server.dbPath, 'SELECT COUNT(*) AS n FROM idempotency')[0]?.n, 2);
    const cfg = loadConfig({ port: '0', db: server.dbPath }, { HOOKWELL_ADMIN_TOKEN: TOKEN, HOOKWELL_LOG_LEVEL: 'silent' });
    const hw2 = await startHookwell(cfg, createLogger(cfg.logLevel));
    try {
      await eventually(() => (query(server.dbPath, `SELECT 1 FROM idempotency WHERE key = 'stale'`).length === 0 ? true : undefined), 10_000, 'the purge at start');
      assert.equal(query(server.dbPath, `SELECT 1 FROM idempotency WHERE key = 'fresh'`).length, 1);
    } finally {
      await hw2.close();
      await server.stop();
    }
  });
});

describe('the idempotency table before and after migration 17', () => {
  test("drops the copy of a message's answer (its message is the answer) and keeps other answers", () => {
    const db = new Database(':memory:');
    try {
      migrate(db, migrations('sqlite').filter((m) => m.version <= 16));
      const insert = db.prepare('INSERT INTO idempotency (scope, key, body_hash, status_code, body, created_at, msg_id) VALUES (?, ?, ?, ?, ?, ?, ?)');
      insert.run('POST msg', 'k1', 'h1', 202, '{"id":"msg_1","payload":{"secret":1}}', 1000, 'msg_1');
      insert.run('POST endpoint', 'k2', 'h2', 201, '{"id":"ep_1"}', 2000, null);
      migrate(db);
      assert.deepEqual(db.prepare('SELECT scope, key, body_hash, status_code, body, created_at, msg_id FROM idempotency ORDER BY rowid').all(), [
        { scope: 'POST msg', key: 'k1', body_hash: 'h1', status_code: 202, body: null, created_at: 1000, msg_id: 'msg_1' },
        { scope: 'POST endpoint', key: 'k2', body_hash: 'h2', status_code: 201, body: '{"id":"ep_1"}', created_at: 2000, msg_id: null },
      ]);
      // No index of keys on disk (the serving process keeps it), only one of answers kept as text, for rekey.
      const indexes = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'idempotency'`).all() as { name: string; sql: string }[];
      assert.deepEqual(indexes.map((i) => i.name), ['idempotency_answers']);
      assert.match(indexes[0]!.sql, /WHERE body IS NOT NULL/);
    } finally {
      db.close();
    }
  });
});
