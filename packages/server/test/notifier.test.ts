// LISTEN/NOTIFY wake-ups between Hookwell processes, against the real PostgreSQL
// (HOOKWELL_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/test).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { WorkNotifier } from '../src/store/postgres/notifier.js';
import { createLogger } from '../src/logger.js';
import { requirePostgres } from './helpers.js';

const PG_URL = process.env.HOOKWELL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `hw_notify_${randomBytes(4).toString('hex')}`;

/** Retries the assertions in `check` until they hold or the time is up. */
async function eventually(check: () => void, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

describe('waking workers through LISTEN/NOTIFY', () => {
  const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
  const log = createLogger('silent');
  const notifiers: WorkNotifier[] = [];
  before(requirePostgres);
  after(async () => {
    for (const n of notifiers) await n.close();
    await pool.end();
  });

  const pair = (writerPool: pg.Pool = pool, schema = SCHEMA) => {
    const writer = new WorkNotifier(PG_URL, writerPool, schema, log);
    const worker = new WorkNotifier(PG_URL, pool, schema, log);
    notifiers.push(writer, worker);
    let woken = 0;
    worker.listen(() => woken++);
    return { writer, worker, woken: () => woken };
  };

  /** The pool, counting the queries sent through it and those finished. */
  const counted = () => {
    const n = { sent: 0, done: 0 };
    const wrapped = new Proxy(pool, {
      get: (target, prop, receiver) =>
        prop === 'query'
          ? (...args: unknown[]) => {
              n.sent++;
              return (target.query as (...a: unknown[]) => Promise<unknown>)(...args).finally(() => n.done++);
            }
          : Reflect.get(target, prop, receiver),
    });
    /** Resolves once every query sent has finished and the writer, having run its callbacks, sends no more. */
    const settled = () =>
      eventually(() => assert.equal(n.sent, n.done)).then(async () => {
        await new Promise((resolve) => setImmediate(resolve));
        if (n.sent !== n.done) await settled();
      });
    return { pool: wrapped, n, settled };
  };

  it('wakes a listener on connecting and on each signal, folding a burst into a few', async () => {
    const through = counted();
    const { writer, woken } = pair(through.pool);
    await eventually(() => assert.equal(woken(), 1, 'woken once on connecting'));
    writer.signal();
    await eventually(() => assert.equal(woken(), 2));
    await through.settled();
    const before = through.n.sent;
    for (let i = 0; i < 200; i++) writer.signal();
    // Counted where they are sent, once all are done, rather than looked for after a pause:
    // every notification sent wakes the listener once, and it waits for each of them.
    await through.settled();
    const notified = through.n.sent - before;
    assert.ok(notified >= 1 && notified <= 3, `a burst of 200 signals sent ${notified} notifications`);
    await eventually(() => assert.equal(woken(), 2 + notified, 'each notification wakes the listener'));
  });

  it('does not wake listeners of another schema', async () => {
    const { worker, woken } = pair();
    await eventually(() => assert.equal(woken(), 1));
    const other = pair(pool, `${SCHEMA}_other`);
    assert.notEqual(other.writer.channel, worker.channel);
    await eventually(() => assert.equal(other.woken(), 1));
    other.writer.signal();
    // The other schema's listener hears it: the signal went out and was delivered.
    await eventually(() => assert.equal(other.woken(), 2));
    assert.equal(woken(), 1);
  });

  it('reconnects by itself when its connection is terminated, and hears signals again', async () => {
    const { writer, worker, woken } = pair();
    await eventually(() => assert.equal(woken(), 1));
    const killed = await pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1 AND pid <> pg_backend_pid()`,
      [`LISTEN ${worker.channel}`],
    );
    assert.ok((killed.rowCount ?? 0) >= 1, 'the listening connection was found and terminated');
    // Reconnecting wakes it (work may have come in meanwhile); then signals arrive again.
    await eventually(() => assert.ok(woken() >= 2), 10_000);
    const before = woken();
    writer.signal();
    await eventually(() => assert.ok(woken() > before));
  });
});
