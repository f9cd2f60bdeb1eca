// Memory with large payloads: `hookwell serve` in a child process takes rounds of 50
// concurrent messages of about 1 MB each (about 48 MB a round), once with no endpoint and
// once delivering them to a receiver on loopback. The child's peak resident memory may
// grow by a small multiple of the bytes in flight, not by ten times them, and every
// payload must be stored, echoed and delivered exactly as sent.
//
// Measured on a shared 2-core machine, peak growth over four rounds: before payloads were
// kept as text, 400-510 MB for ingest alone and 300-480 MB with delivery; since, 100-165 MB
// and 130-250 MB (deliveries keep their payloads until sent, and each attempt holds the
// bytes it sends).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { query, tempDir, TOKEN } from './helpers.js';
import { childApi, startChild } from './child.js';

const CONCURRENT = 50;
const ROUNDS = 4;

/** VmRSS and VmHWM of a process, in MiB. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/**
 * About 1 MB of records, as health data comes: many small objects (whose parsed trees
 * are several times the size of their text), with escapes and text that is not ASCII.
 * Message 0 also holds characters beyond Latin-1, so its text is UTF-16 in memory.
 */
function payloadText(n: number): string {
  const records: string[] = [];
  let size = 0;
  for (let i = 0; size < 990_000; i++) {
    const note = i % 97 === 0 ? (n === 0 ? 'pr\\u00e9 \\"ok\\" 😀\u2028' : 'pré \\"ok\\" \\n') : 'ok';
    const r = `{"id":"rec_${n}_${i}","at":${1_700_000_000_000 + i},"bpm":${60 + (i % 40)},"spo2":9${i % 10}.5,"ok":${i % 3 === 0},"note":"${note}","tags":["rest","wrist"]}`;
    records.push(r);
    size += Buffer.byteLength(r) + 1;
  }
  return `{"user_id":"u_${n}", "records":[\n${records.join(',\n')}\n]}`;
}

const payloads = Array.from({ length: CONCURRENT }, (_, n) => payloadText(n));
const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const hashes = payloads.map((p) => sha256(p));
const bodies = payloads.map((p) => `{"eventType":"vitals.recorded","payload":${p}}`);

async function until(done: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Sends the rounds to a fresh child, checks what was stored (and delivered), and returns
 * the peak resident growth in MiB over the size after a warm-up.
 */
async function peakGrowth(deliver: boolean): Promise<number> {
  const tmp = tempDir();
  const db = join(tmp.dir, 'memory.db');
  // Message id to the payload sent, and to the SHA-256 of the body its delivery carried.
  const sent = new Map<string, number>();
  const delivered = new Map<string, string>();
  const receiver: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      delivered.set(String(req.headers['webhook-id']), sha256(Buffer.concat(chunks)));
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const child = await startChild(db, 0);
  try {
    const pid = child.proc.pid!;
    assert.equal((await childApi(child.url, 'POST', '/api/v1/app', { name: 'memory', uid: 'memory' })).status, 201);
    if (deliver) {
      const port = (receiver.address() as AddressInfo).port;
      assert.equal((await childApi(child.url, 'POST', '/api/v1/app/memory/endpoint', { url: `http://127.0.0.1:${port}/hook` })).status, 201);
    }
    const post = async (body: string) => {
      const res = await fetch(`${child.url}/api/v1/app/memory/msg`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body,
      });
      return { status: res.status, text: await res.text() };
    };

    // Warm-up: the routes' code is compiled and the first allocations are made.
    for (let i = 0; i < 20; i++) assert.equal((await post('{"eventType":"warm.up","payload":{"i":1}}')).status, 202);
    if (deliver) await until(() => delivered.size >= 20, 'the warm-up deliveries');
    await sleep(300);
    const base = memory(pid).rss;
    // Linux resets VmHWM to the present size on "5" (Linux 4.0+), so the peak is this run's.
    let peakReset = true;
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
    } catch {
      peakReset = false;
    }
    let sampled = base;
    const sampler = setInterval(() => (sampled = Math.max(sampled, memory(pid).rss)), 5);
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const answers = await Promise.all(bodies.map((b) => post(b)));
        answers.forEach((a, n) => {
          assert.equal(a.status, 202, a.text.slice(0, 200));
          const out = JSON.parse(a.text) as { id: string; payload: unknown };
          sent.set(out.id, n);
          // The 202 echoes the payload (as Svix's MessageOut does); one a round is compared in full.
          if (n === round) assert.deepEqual(out.payload, JSON.parse(payloads[n]!));
        });
        if (deliver) await until(() => [...sent.keys()].every((id) => delivered.has(id)), 'the deliveries');
      }
    } finally {
      clearInterval(sampler);
    }
    const growth = Math.max(sampled, peakReset ? memory(pid).peak : sampled) - base;
    console.log(`${deliver ? 'with delivery' : 'ingest alone'}: peak resident growth ${growth.toFixed(0)} MB over ${base.toFixed(0)} MB`);

    // Every message was stored as sent, character for character, and delivered so.
    assert.equal(sent.size, ROUNDS * CONCURRENT);
    const rows = query<{ id: string; payload: string }>(db, `SELECT id, payload FROM messages WHERE event_type = 'vitals.recorded'`);
    assert.equal(rows.length, ROUNDS * CONCURRENT);
    for (const r of rows) assert.ok(r.payload === payloads[sent.get(r.id)!], `message ${r.id} is stored as sent`);
    if (deliver) {
      const wrong = [...sent].filter(([id, n]) => delivered.get(id) !== hashes[n]).map(([id]) => id);
      assert.deepEqual(wrong, [], 'every delivery carries its payload byte for byte');
    }
    const [someId, n] = [...sent][0]!;
    const got = await childApi(child.url, 'GET', `/api/v1/app/memory/msg/${someId}`);
    assert.deepEqual(got.body.payload, JSON.parse(payloads[n]!));
    return growth;
  } finally {
    child.proc.kill('SIGTERM');
    await child.exited;
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
    tmp.cleanup();
  }
}

describe('memory with large payloads', () => {
  it(`ingest alone grows by less than 200 MB for ${ROUNDS} rounds of ${CONCURRENT} concurrent 1 MB messages, each stored byte for byte`, { timeout: 180_000 }, async () => {
    const growth = await peakGrowth(false);
    assert.ok(growth < 200, `peak resident memory grew by ${growth.toFixed(0)} MB; at most 200 MB is expected`);
  });

  it(`with delivery, grows by less than 300 MB for the same rounds, each delivered byte for byte`, { timeout: 180_000 }, async () => {
    const growth = await peakGrowth(true);
    assert.ok(growth < 300, `peak resident memory grew by ${growth.toFixed(0)} MB; at most 300 MB is expected`);
  });
});
