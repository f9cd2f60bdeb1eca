// An audited request's entry is in the log before its answer goes out: a client that sees a
// management write succeed finds the entry at once, even when appending is slow, so a crash
// right after the answer cannot lose it. An accepted message is still not recorded, and a
// failed append still answers the committed write as done. With HOOKWELL_TEST_BACKEND=postgres
// the same runs on PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, type TestServer } from './helpers.js';
import type { AuditEntry, AuditInput } from '../src/domain/audit.js';
import type { Store } from '../src/store/store.js';

const ON_POSTGRES = process.env.HOOKWELL_TEST_BACKEND === 'postgres';
/** How long each append is held back before it is written: longer than a loopback request takes. */
const APPEND_DELAY_MS = 150;

describe(`audit entries are durable before the answer (${ON_POSTGRES ? 'postgres' : 'sqlite'})`, () => {
  let server: TestServer;
  let store: Store;
  let append: (input: AuditInput) => Promise<AuditEntry>;
  let failAppends = false;
  let appendsStarted = 0;

  before(async () => {
    server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '0' });
    store = server.hw.store;
    append = store.appendAudit.bind(store);
    // Every append waits a while before it is written, as on a slow disk or a contended lock.
    store.appendAudit = async (input) => {
      appendsStarted++;
      await sleep(APPEND_DELAY_MS);
      if (failAppends) throw new Error('the audit log cannot be written');
      return append(input);
    };
  });

  after(async () => {
    await server?.stop();
  });

  const entries = async () => (await store.listAudit({}, { limit: 250, iterator: null, order: 'ascending' })).data;

  it('holds the entry of a write when its answer arrives', async () => {
    const created = await server.api('POST', '/api/v1/app', { name: 'Clinic', uid: 'clinic-durable' });
    assert.equal(created.status, 201, created.text);
    // Read at once, with no waiting: the answer came after the entry was written.
    const log = await entries();
    const entry = log.find((e) => e.action === 'v1.application.create' && e.appId === created.body.id);
    assert.ok(entry, `no entry for the created application among ${JSON.stringify(log.map((e) => e.action))}`);
    assert.equal(entry.outcome, '201');

    const patched = await server.api('PATCH', '/api/v1/app/clinic-durable', { name: 'Clinic 2' });
    assert.equal(patched.status, 200, patched.text);
    const after = await entries();
    assert.equal(after.at(-1)?.action, 'v1.application.patch');
    assert.equal(after.at(-1)?.prevHash, entry.hash, 'the chain continues from the previous entry');
  });

  it('holds the entry of a refused request when its answer arrives', async () => {
    const before = (await entries()).length;
    const refused = await server.api('DELETE', '/api/v1/app/clinic-durable', undefined, { authorization: 'Bearer not-a-token-at-all' });
    assert.equal(refused.status, 401);
    const log = await entries();
    assert.equal(log.length, before + 1);
    assert.equal(log.at(-1)?.outcome, '401');
  });

  it('holds the entry of a request refused before any handler: no route, a body that is not JSON', async () => {
    const before = (await entries()).length;
    const unrouted = await server.api('POST', '/api/v1/no-such-thing', { a: 1 });
    assert.equal(unrouted.status, 404);
    const malformed = await server.api('POST', '/api/v1/app', '{"name": ', { 'content-type': 'application/json' });
    assert.equal(malformed.status, 400, malformed.text);
    const log = await entries();
    assert.deepEqual(log.slice(before).map((e) => e.outcome), ['404', '400']);
  });

  it('keeps the accepted message free of any append', async () => {
    assert.equal((await server.api('POST', '/api/v1/event-type', { name: 'meal.logged', description: 'A meal' })).status, 201);
    const started = appendsStarted;
    const t0 = performance.now();
    const msg = await server.api('POST', '/api/v1/app/clinic-durable/msg', { eventType: 'meal.logged', payload: { n: 1 } });
    const took = performance.now() - t0;
    assert.equal(msg.status, 202, msg.text);
    assert.equal(appendsStarted, started, 'an accepted message appends no entry');
    assert.ok(took < APPEND_DELAY_MS, `the message waited ${took.toFixed(0)} ms`);
  });

  it('answers a committed write as done when its entry cannot be appended', async () => {
    failAppends = true;
    try {
      const created = await server.api('POST', '/api/v1/app', { name: 'Lab', uid: 'lab-durable' });
      assert.equal(created.status, 201, created.text);
      assert.equal((await server.api('GET', '/api/v1/app/lab-durable')).status, 200);
    } finally {
      failAppends = false;
    }
    // The chain goes on from where it was: the next write is recorded and links up.
    const before = await entries();
    assert.equal((await server.api('DELETE', '/api/v1/app/lab-durable')).status, 204);
    const log = await entries();
    assert.equal(log.length, before.length + 1);
    assert.equal(log.at(-1)?.prevHash, before.at(-1)?.hash);
  });
});
