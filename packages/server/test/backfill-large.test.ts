// A 200 MB backfill streams through a real `hookwell serve` process without its memory
// growing with the upload: the server holds one record being read and one batch being
// written, whatever the body's size (see api/backfills.ts).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { childApi, startChild, type Child } from './child.js';
import { eventually, query, startReceiver, tempDir, TOKEN, type Receiver } from './helpers.js';

const TOTAL_BYTES = 200 * 1024 * 1024;
const CHUNK_SIZE = 5000;
const START = Date.UTC(2025, 0, 1);

/** The i-th record, newest first, about 1 KiB, each different. */
function record(i: number): string {
  const ts = new Date(START - i * 60_000).toISOString();
  return `{"id":"hr-${i}","user_id":"u-big","timestamp":"${ts}","value":${60 + (i % 90)},"unit":"bpm","source":{"provider":"garmin","device":"fenix-${i % 7}"},"note":"${'x'.repeat(880 + (i % 50))}"}`;
}

/** /proc/<pid>/status fields, in kB. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

describe('a large backfill', () => {
  let child: Child;
  let receiver: Receiver;
  let dir: { dir: string; cleanup: () => void };
  before(async () => {
    dir = tempDir();
    receiver = await startReceiver();
    child = await startChild(join(dir.dir, 'hookwell.db'), 0);
    assert.equal((await childApi(child.url, 'POST', '/api/v1/app', { name: 'big', uid: 'big' })).status, 201);
    assert.equal((await childApi(child.url, 'POST', '/api/v1/app/big/endpoint', { url: receiver.url })).status, 201);
  });
  after(async () => {
    child.proc.kill('SIGKILL');
    await child.exited;
    await receiver.close();
    dir.cleanup();
  });

  it('streams 200 MB through with bounded memory, and every record is stored in its chunk', { timeout: 240_000 }, async (t) => {
    // Warm the server up (JIT, statement caches, buffers) with a small upload first, so the
    // baseline is a server that has handled a backfill.
    const warm = Array.from({ length: 2000 }, (_, i) => record(i)).join('\n');
    const w = await fetch(`${child.url}/api/v1/app/big/backfill?userId=warm&resource=heartrate&provider=garmin&chunkSize=500`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
      body: warm,
    });
    assert.equal(w.status, 202, await w.text());
    const baseline = memory(child.proc.pid!);

    let next = 0;
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= TOTAL_BYTES) {
          controller.close();
          return;
        }
        const lines: string[] = [];
        for (let k = 0; k < 256; k++) lines.push(record(next++));
        const bytes = Buffer.from(`${lines.join('\n')}\n`);
        sent += bytes.length;
        controller.enqueue(bytes);
      },
    });
    const started = Date.now();
    const res = await fetch(`${child.url}/api/v1/app/big/backfill?userId=u-big&resource=heartrate&provider=garmin&chunkSize=${CHUNK_SIZE}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
      body,
      duplex: 'half',
    } as RequestInit);
    const text = await res.text();
    assert.equal(res.status, 202, text);
    const seconds = (Date.now() - started) / 1000;
    const after = memory(child.proc.pid!);
    const growthMb = (after.peak - baseline.rss) / 1024;
    const bf = JSON.parse(text);
    const chunks = Math.ceil(next / CHUNK_SIZE);
    assert.deepEqual([bf.records, bf.chunks], [next, chunks]);
    // The body is 200 MB; a server that buffered it, or its records, would grow by more.
    assert.ok(
      growthMb < 100,
      `peak resident memory grew by ${growthMb.toFixed(0)} MB over a baseline of ${(baseline.rss / 1024).toFixed(0)} MB while ${(sent / 1048576).toFixed(0)} MB streamed in`,
    );
    t.diagnostic(
      `${(sent / 1048576).toFixed(0)} MB, ${next} records in ${seconds.toFixed(1)} s (${(sent / 1048576 / seconds).toFixed(0)} MB/s); ` +
        `resident ${(baseline.rss / 1024).toFixed(0)} MB before, peak ${(after.peak / 1024).toFixed(0)} MB`,
    );

    // One notification per chunk; the last chunk's link leads to the oldest records.
    const notes = await eventually(() => {
      const got = receiver.received.map((r) => JSON.parse(r.body.toString())).filter((n) => n.data.backfill_id === bf.id);
      return got.length === chunks ? got : undefined;
    }, 60_000, `${chunks} notifications`);
    assert.deepEqual(
      notes.map((n) => n.data.chunk),
      Array.from({ length: chunks }, (_, i) => i),
    );
    const last = notes.at(-1)!;
    assert.equal(last.data.is_final, true);
    assert.equal(last.data.end_date, new Date(START - (next - 1) * 60_000).toISOString());
    const url = new URL(last.data.content_url);
    url.searchParams.set('iterator', String(next - 3));
    const page = await (await fetch(url)).text();
    assert.equal(page.startsWith(`{"data":[${[record(next - 3), record(next - 2), record(next - 1)].join(',')}],"iterator":null,"done":true`), true);
  });

  it('leaves nothing of an upload cut off by a crash once the server is back', { timeout: 60_000 }, async () => {
    const db = join(dir.dir, 'crash.db');
    let server = await startChild(db, 0);
    try {
      assert.equal((await childApi(server.url, 'POST', '/api/v1/app', { name: 'c', uid: 'c' })).status, 201);
      let next = 0;
      let killed = false;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          // Once the server is gone, the body ends whether or not the client still reads it.
          if (killed) {
            controller.close();
            return;
          }
          controller.enqueue(Buffer.from(`${Array.from({ length: 256 }, () => record(next++)).join('\n')}\n`));
          // Several batches in, the server dies mid-upload.
          if (next >= 5000 && !killed) {
            killed = true;
            server.proc.kill('SIGKILL');
          }
          await new Promise((r) => setTimeout(r, 1));
        },
      });
      await assert.rejects(
        fetch(`${server.url}/api/v1/app/c/backfill?userId=u&resource=heartrate&provider=garmin`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
          body,
          duplex: 'half',
        } as RequestInit),
      );
      await server.exited;
      const [{ n: before }] = query<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM backfill_records');
      assert.ok(before > 0, 'records were written before the crash');

      server = await startChild(db, 0);
      assert.deepEqual((await childApi(server.url, 'GET', '/api/v1/app/c/backfill')).body.data, []);
      assert.deepEqual(query(db, 'SELECT COUNT(*) AS n FROM backfill_records'), [{ n: 0 }]);
      assert.deepEqual(query(db, 'SELECT COUNT(*) AS n FROM messages'), [{ n: 0 }], 'and no notification was made');
    } finally {
      server.proc.kill('SIGKILL');
      await server.exited;
    }
  });
});
