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

  const pair = () => {
    const writer = new WorkNotifier(PG_URL, pool, SCHEMA, log);
    const worker = new WorkNotifier(PG_URL, pool, SCHEMA, log);
    notifiers.push(writer, worker);
    let woken = 0;
    worker.listen(() => woken++);
    return { writer, worker, woken: () => woken };
  };

  it('wakes a listener on connecting and on each signal, folding a burst into a few', async () => {
    const { writer, woken } = pair();
    await eventually(() => assert.equal(woken(), 1, 'woken once on connecting'));
    writer.signal();
    await eventually(() => assert.equal(woken(), 2));
    for (let i = 0; i < 200; i++) writer.signal();
    await eventually(() => assert.ok(woken() >= 3));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(woken() <= 6, `a burst of 200 signals woke the listener ${woken() - 2} times`);
  });

  it('does not wake listeners of another schema', async () => {
    const { woken } = pair();
    await eventually(() => assert.equal(woken(), 1));
    const stranger = new WorkNotifier(PG_URL, pool, `${SCHEMA}_other`, log);
    notifiers.push(stranger);
    stranger.signal();
    await new Promise((resolve) => setTimeout(resolve, 300));
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
