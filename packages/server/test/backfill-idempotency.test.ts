// Backfill uploads under one idempotency-key at the same time: exactly one backfill is
// stored and notified; the others get its answer (same body) or 409 (another body), as
// concurrent repeats of a message do. Runs on both stores (HOOKWELL_TEST_BACKEND).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, TOKEN, type TestServer } from './helpers.js';

const DAY = 86_400_000;

/** `n` workouts, newest first, a day apart, as NDJSON. */
function workouts(n: number, tag = ''): string {
  return Array.from({ length: n }, (_, i) => `{"id":"w${tag}-${i}","time_start":"${new Date(Date.UTC(2024, 5, 30) - i * DAY).toISOString()}"}`).join('\n');
}

describe('backfill uploads with one idempotency-key at once', () => {
  let server: TestServer;

  before(async () => {
    // No endpoint: the notifications stay as messages, which are counted.
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  async function newApp(): Promise<string> {
    const uid = `bfi-${Math.random().toString(36).slice(2)}`;
    assert.equal((await server.api('POST', '/api/v1/app', { name: uid, uid })).status, 201);
    return uid;
  }

  /**
   * Starts an upload whose body is held back until `release` resolves, so every upload's
   * headers (and its idempotency-key) reach the server before any body is complete.
   */
  function upload(app: string, body: string, key: string, release: Promise<void>) {
    const bytes = new TextEncoder().encode(body);
    const half = Math.floor(bytes.length / 2);
    const stream = new ReadableStream<Uint8Array>({
      async start(c) {
        c.enqueue(bytes.subarray(0, half));
        await release;
        c.enqueue(bytes.subarray(half));
        c.close();
      },
    });
    return fetch(`${server.url}/api/v1/app/${app}/backfill?userId=u-1&resource=workouts&provider=garmin&chunkSize=2`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson', 'idempotency-key': key },
      body: stream,
      duplex: 'half',
    } as RequestInit).then(async (r) => ({ status: r.status, text: await r.text(), replayed: r.headers.get('idempotent-replayed') }));
  }

  /** The app's backfills, and its messages (a backfill's notifications). */
  async function stored(app: string): Promise<{ backfills: string[]; messages: number }> {
    const bfs = await server.api('GET', `/api/v1/app/${app}/backfill?limit=250`);
    assert.equal(bfs.status, 200, bfs.text);
    const msgs = await server.api('GET', `/api/v1/app/${app}/msg?limit=250`);
    assert.equal(msgs.status, 200, msgs.text);
    return { backfills: bfs.body.data.map((b: { id: string }) => b.id), messages: msgs.body.data.length };
  }

  const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

  it('stores one backfill, and answers the others with its response', async () => {
    const app = await newApp();
    const body = workouts(5);
    let go!: () => void;
    const release = new Promise<void>((r) => (go = r));
    const pending = Array.from({ length: 5 }, () => upload(app, body, 'same-key', release));
    await pause(300);
    go();
    const results = await Promise.all(pending);
    for (const r of results) assert.equal(r.status, 202, r.text);
    assert.equal(new Set(results.map((r) => r.text)).size, 1, 'every answer is the first one, byte for byte');
    assert.equal(results.filter((r) => r.replayed === null).length, 1, 'exactly one did the work; the others are replays');
    const s = await stored(app);
    assert.equal(s.backfills.length, 1, `one backfill, got ${s.backfills.join(', ')}`);
    assert.equal(s.backfills[0], JSON.parse(results[0]!.text).id);
    assert.equal(s.messages, 3, 'one set of notifications: 5 records in chunks of 2');
  });

  it('refuses the bodies that differ from the one stored with 409', async () => {
    const app = await newApp();
    const bodies = [workouts(5, 'a'), workouts(5, 'a'), workouts(4, 'b'), workouts(5, 'a'), workouts(3, 'c')];
    let go!: () => void;
    const release = new Promise<void>((r) => (go = r));
    const pending = bodies.map((b) => upload(app, b, 'mixed-key', release));
    await pause(300);
    go();
    const results = await Promise.all(pending);
    const s = await stored(app);
    assert.equal(s.backfills.length, 1, `one backfill, got ${s.backfills.join(', ')}`);
    const fresh = results.filter((r) => r.replayed === null && r.status === 202);
    assert.equal(fresh.length, 1, 'exactly one did the work');
    const winner = bodies[results.indexOf(fresh[0]!)]!;
    results.forEach((r, i) => {
      if (bodies[i] === winner) {
        assert.equal(r.status, 202, r.text);
        assert.equal(r.text, fresh[0]!.text);
      } else {
        assert.equal(r.status, 409, r.text);
        assert.equal(JSON.parse(r.text).code, 'idempotency_conflict');
      }
    });
  });

  it('lets a repeat of a failed upload do the work', async () => {
    const app = await newApp();
    let go!: () => void;
    const release = new Promise<void>((r) => (go = r));
    // The first is refused (a record out of order), so nothing is kept for the key.
    const bad = `${workouts(1, 'x').split('\n')[0]}\n{"id":"newer","time_start":"2030-01-01T00:00:00.000Z"}`;
    const first = upload(app, bad, 'retry-key', release);
    await pause(100);
    const second = upload(app, workouts(2), 'retry-key', release);
    await pause(200);
    go();
    const [a, b] = await Promise.all([first, second]);
    assert.equal(a.status, 422, a.text);
    assert.equal(b.status, 202, b.text);
    assert.equal(b.replayed, null);
    assert.equal((await stored(app)).backfills.length, 1);
  });
});
