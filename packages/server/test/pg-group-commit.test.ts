// PostgreSQL's group commit (store/postgres/group-commit.ts) through the store: messages
// created at once share a transaction, and each still gets the outcome it would have had
// alone. Runs on the PostgreSQL at HOOKWELL_TEST_PG_URL, in a schema of its own.
import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStore } from '../src/store/postgres/store.js';
import type { LeaseOffer } from '../src/store/store.js';
import { ConflictError } from '../src/domain/errors.js';
import { Status, type Application, type Endpoint } from '../src/domain/types.js';
import { endpointInput, messageInput, PG_URL, requirePostgres } from './helpers.js';

const schema = `hw_gc_${randomBytes(5).toString('hex')}`;
const TABLES = ['applications', 'endpoints', 'messages', 'deliveries', 'attempts'];

describe('PostgreSQL group commit', () => {
  let admin: pg.Pool;
  let store: PostgresStore;
  let app: Application;
  /** Statements sent on the store's connections since the last reset. */
  let statements: string[] = [];

  before(async () => {
    await requirePostgres();
    admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
  });
  after(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });
  beforeEach(async () => {
    store = await PostgresStore.open(PG_URL, { schema, poolSize: 4 });
    await admin.query(`TRUNCATE ${TABLES.map((t) => `${schema}.${t}`).join(', ')} RESTART IDENTITY`);
    // Every statement the store sends goes through a client it checks out of its pool.
    const seen = new WeakSet<pg.PoolClient>();
    store.pool.on('acquire', (client: pg.PoolClient) => {
      if (seen.has(client)) return;
      seen.add(client);
      const send = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (...args: unknown[]) => {
        const q = args[0];
        statements.push(typeof q === 'string' ? q : (q as { text: string }).text);
        return send(...args);
      };
    });
    app = await store.createApp({ uid: null, name: 'app', throttleRate: null, metadata: {} });
    statements = [];
  });
  afterEach(async () => {
    await store.close();
  });

  /** The transactions (by id) that wrote the given messages, and each message's. */
  async function writers(msgIds: string[]): Promise<Map<string, string>> {
    const r = await admin.query(`SELECT id, xmin::text AS tx FROM ${schema}.messages WHERE id = ANY($1)`, [msgIds]);
    return new Map(r.rows.map((row: { id: string; tx: string }) => [row.id, row.tx]));
  }

  it('writes many messages created at once in few transactions, each message and delivery once', async () => {
    const eps: Endpoint[] = [];
    for (let i = 0; i < 3; i++) eps.push(await store.createEndpoint(app.id, endpointInput()));
    const filtered = await store.createEndpoint(app.id, endpointInput({ eventTypes: ['user.deleted'] }));
    statements = [];
    const n = 200;
    const created = await Promise.all(
      Array.from({ length: n }, (_, i) => store.createMessage(app.id, messageInput({ eventType: i % 2 === 0 ? 'user.created' : 'user.deleted', payload: `{"i":${i}}` }))),
    );
    const ids = created.map((c) => c.message.id);
    assert.equal(new Set(ids).size, n);
    assert.deepEqual(
      created.map((c) => c.deliveries),
      created.map((_, i) => (i % 2 === 0 ? 3 : 4)),
      'each message is routed to the endpoints that take its type',
    );
    const txs = await writers(ids);
    assert.equal(txs.size, n, 'every message is stored');
    const transactions = new Set(txs.values()).size;
    assert.ok(transactions <= 3, `${n} messages created at once went in ${transactions} transactions`);
    // Unordered deliveries and no lease offers: the routes, then one statement that writes and commits.
    assert.ok(statements.length <= transactions * 2, `${statements.length} statements for ${transactions} transactions`);

    const rows = await admin.query(`SELECT msg_id, endpoint_id, xmin::text AS tx FROM ${schema}.deliveries`);
    assert.equal(rows.rowCount, n / 2 * 3 + n / 2 * 4, 'one delivery per message and matching endpoint, none twice');
    const pairs = new Set(rows.rows.map((r: { msg_id: string; endpoint_id: string }) => `${r.msg_id} ${r.endpoint_id}`));
    assert.equal(pairs.size, rows.rowCount);
    for (const r of rows.rows as { msg_id: string; endpoint_id: string; tx: string }[]) {
      assert.equal(r.tx, txs.get(r.msg_id), 'a delivery is written in its message\'s transaction');
      if (r.endpoint_id === filtered.id) assert.equal(created[ids.indexOf(r.msg_id)]!.message.eventType, 'user.deleted');
    }
  });

  it('writes large payloads a few to a transaction, each as sent', async () => {
    await store.createEndpoint(app.id, endpointInput());
    // About 1 MB each: a batch holds payloads up to 4 MiB together.
    const payloads = Array.from({ length: 10 }, (_, i) => JSON.stringify({ i, text: `"quoted" \\ ${i} `.repeat(70_000) }));
    const created = await Promise.all(payloads.map((payload) => store.createMessage(app.id, messageInput({ payload }))));
    const transactions = new Set((await writers(created.map((c) => c.message.id))).values()).size;
    assert.ok(transactions >= 3 && transactions <= 5, `10 payloads of about 1 MB went in ${transactions} transactions`);
    for (const [i, c] of created.entries()) assert.equal((await store.getMessage(app.id, c.message.id))?.payload, payloads[i]);
  });

  it('fails a message that breaks a constraint alone; the others of its batch are stored', async () => {
    await store.createEndpoint(app.id, endpointInput());
    statements = [];
    // A message a statement of the batch fails on: PostgreSQL's text cannot hold NUL.
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => store.createMessage(app.id, messageInput({ payload: i === 7 ? '{"a":"\u0000"}' : `{"i":${i}}` }))),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      results.map((_, i) => (i === 7 ? 'rejected' : 'fulfilled')),
    );
    const stored = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.message.id] : []));
    assert.equal((await writers(stored)).size, 19);
    // (Rows written in savepoints carry each its subtransaction's id: the commits are counted.)
    assert.equal(statements.filter((s) => s === 'COMMIT').length, 1, 'the others commit together, once the failing one is set apart');
    assert.equal(statements.filter((s) => s === 'ROLLBACK TO SAVEPOINT job').length, 1);
    const count = await admin.query(`SELECT count(*)::int AS n FROM ${schema}.messages`);
    assert.equal(count.rows[0].n, 19);
  });

  it('undoes the whole of a message whose delivery fails, and only that message', async () => {
    await store.createEndpoint(app.id, endpointInput({ ordering: { key: '$.user' } }));
    // Fails the deliveries statement, after the batch's messages were inserted.
    await admin.query(`ALTER TABLE ${schema}.deliveries ADD CONSTRAINT refuse_key CHECK (order_key IS DISTINCT FROM 'refused')`);
    try {
      const users = ['u1', 'u2', 'refused', 'u3'];
      const results = await Promise.allSettled(users.map((u) => store.createMessage(app.id, messageInput({ payload: JSON.stringify({ user: u }) }))));
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      assert.equal((results[2] as PromiseRejectedResult).reason.code, '23514');
      const messages = await admin.query(`SELECT payload FROM ${schema}.messages ORDER BY id`);
      assert.deepEqual(messages.rows.map((r: { payload: string }) => JSON.parse(r.payload).user).sort(), ['u1', 'u2', 'u3']);
      const deliveries = await admin.query(`SELECT order_key FROM ${schema}.deliveries ORDER BY id`);
      assert.deepEqual(deliveries.rows.map((r: { order_key: string }) => r.order_key), ['u1', 'u2', 'u3']);
    } finally {
      await admin.query(`ALTER TABLE ${schema}.deliveries DROP CONSTRAINT refuse_key`);
    }
  });

  it('answers a duplicate event id in one batch as written one after the other', async () => {
    await store.createEndpoint(app.id, endpointInput());
    const other = await store.createApp({ uid: null, name: 'other', throttleRate: null, metadata: {} });
    await store.createMessage(app.id, messageInput({ eventId: 'stored-before' }));
    // What a duplicate gets when nothing else is written with it.
    const alone = await store.createMessage(app.id, messageInput({ eventId: 'stored-before' })).then(
      () => assert.fail('a duplicate event id was stored'),
      (err: unknown) => err,
    );
    assert.ok(alone instanceof ConflictError);

    const inputs: [string, string][] = [
      [app.id, 'e1'],
      [app.id, 'e2'],
      [app.id, 'e1'], // a duplicate of the first, in the same batch
      [other.id, 'e1'], // another application's: not a duplicate
      [app.id, 'stored-before'], // a duplicate of one stored before
      [app.id, 'e1'],
    ];
    const results = await Promise.allSettled(inputs.map(([a, e]) => store.createMessage(a, messageInput({ eventId: e }))));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'rejected']);
    for (const i of [2, 4, 5]) {
      const err = (results[i] as PromiseRejectedResult).reason as ConflictError;
      assert.ok(err instanceof ConflictError);
      assert.equal(err.message, i === 4 ? (alone as ConflictError).message : alone.message.replace('stored-before', 'e1'));
      assert.equal(err.code, (alone as ConflictError).code);
    }
    const stored = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.message.id] : []));
    assert.equal(new Set((await writers(stored)).values()).size, 1, 'the batch was written in one transaction');
    const e1 = await store.getMessage(app.id, 'e1');
    assert.equal(e1?.id, (results[0] as PromiseFulfilledResult<{ message: { id: string } }>).value.message.id, 'the first of the batch is stored');
    const deliveries = await admin.query(`SELECT count(*)::int AS n FROM ${schema}.deliveries WHERE app_id = $1`, [app.id]);
    assert.equal(deliveries.rows[0].n, 3, 'a duplicate gets no delivery');
  });

  it('keeps each key in order when its messages come while others are written', async () => {
    const ep = await store.createEndpoint(app.id, endpointInput({ ordering: { key: '$.user' } }));
    const users = Array.from({ length: 8 }, (_, u) => `user-${u}`);
    const perUser = 12;
    // Each user's messages one after the other, all users at once, so batches mix them.
    const sent = await Promise.all(
      users.map(async (user) => {
        const ids: string[] = [];
        for (let seq = 0; seq < perUser; seq++) {
          ids.push((await store.createMessage(app.id, messageInput({ payload: JSON.stringify({ user, seq }) }))).message.id);
        }
        return ids;
      }),
    );
    const writersOf = await writers(sent.flat());
    assert.ok(new Set(writersOf.values()).size < users.length * perUser, 'some messages shared a transaction');
    const rows = await admin.query(`SELECT id, msg_id, order_key FROM ${schema}.deliveries WHERE endpoint_id = $1 ORDER BY id`, [ep.id]);
    users.forEach((user, u) => {
      const inIdOrder = rows.rows.filter((r: { order_key: string }) => r.order_key === user).map((r: { msg_id: string }) => r.msg_id);
      assert.deepEqual(inIdOrder, sent[u], `${user}'s deliveries are queued in the order its messages were sent`);
    });
    // Only each key's head is claimable: its first message.
    const work = await store.claim({ now: Date.now(), owner: 'w1', leaseMs: 30_000, limit: 1000, perEndpoint: 1000, allowance: {} });
    assert.deepEqual(work.map((w) => w.msgId).sort(), sent.map((ids) => ids[0]!).sort());
  });

  it('queues the deliveries of one key in a batch in the order their messages came', async () => {
    const ep = await store.createEndpoint(app.id, endpointInput({ ordering: { key: '$.user' } }));
    await store.createMessage(app.id, messageInput({ eventId: 'taken' }));
    statements = [];
    // One key, and a duplicate among them: its delivery is left out, the order of the rest kept.
    const created = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => store.createMessage(app.id, messageInput({ eventId: i === 17 ? 'taken' : `k${i}`, payload: JSON.stringify({ user: 'same', i }) }))),
    );
    assert.deepEqual(created.map((r, i) => r.status === (i === 17 ? 'rejected' : 'fulfilled')), created.map(() => true));
    assert.equal(statements.filter((s) => s === 'COMMIT').length, 1, 'the batch was written in one transaction');
    const rows = await admin.query(`SELECT m.payload FROM ${schema}.deliveries d JOIN ${schema}.messages m ON m.id = d.msg_id WHERE d.endpoint_id = $1 AND d.order_key = 'same' ORDER BY d.id`, [ep.id]);
    assert.deepEqual(
      rows.rows.map((r: { payload: string }) => JSON.parse(r.payload).i),
      Array.from({ length: 40 }, (_, i) => i).filter((i) => i !== 17),
    );
  });

  it('leases, of one key\'s deliveries in a batch, only the first, as when written one by one', async () => {
    const ordered = await store.createEndpoint(app.id, endpointInput({ ordering: { key: '$.user' } }));
    const plain = await store.createEndpoint(app.id, endpointInput());
    const asked: string[] = [];
    const offer: LeaseOffer = { owner: 'w1', leaseMs: 10_000, take: (id) => (asked.push(id), true) };
    const created = await Promise.all(
      ['a', 'a', 'b'].map((user) => store.createMessage(app.id, messageInput({ payload: JSON.stringify({ user }) }), { lease: offer })),
    );
    assert.deepEqual(
      created.map((c) => c.leased.map((w) => w.endpointId).sort()),
      [[ordered.id, plain.id].sort(), [plain.id], [ordered.id, plain.id].sort()],
      'the second delivery of key "a" waits for the first',
    );
    assert.equal(asked.length, 5, 'the offer is asked only for deliveries in turn');
    const leased = created.flatMap((c) => c.leased);
    const rows = await admin.query(`SELECT id, status, lease_owner FROM ${schema}.deliveries WHERE id = ANY($1)`, [leased.map((w) => w.deliveryId)]);
    assert.equal(rows.rowCount, 5, 'each leased work names its own delivery');
    for (const r of rows.rows as { status: number; lease_owner: string }[]) {
      assert.equal(r.status, Status.Sending);
      assert.equal(r.lease_owner, 'w1');
    }
    const txs = await writers(created.map((c) => c.message.id));
    assert.equal(new Set(txs.values()).size, 1, 'the three were written in one transaction');
  });

  it('looks applications up together, by id before another application\'s uid spelt like it', async () => {
    const first = await store.createApp({ uid: null, name: 'first', throttleRate: null, metadata: {} });
    const shadow = await store.createApp({ uid: first.id, name: 'shadow', throttleRate: null, metadata: {} });
    const named = await store.createApp({ uid: 'named', name: 'named', throttleRate: null, metadata: {} });
    statements = [];
    const found = await Promise.all([first.id, 'named', 'missing', named.id, shadow.id].map((ref) => store.getApp(ref)));
    assert.deepEqual(
      found.map((a) => a?.name ?? null),
      ['first', 'named', null, 'named', 'shadow'],
    );
    assert.equal(statements.length, 1, 'one query for the lookups of one turn');
  });
});
