// Webhook receiver for the bench, run as a child process with an IPC channel.
// Answers every POST with 204 once its body has arrived, counts them, and tells the
// parent when the count reaches a target. In latency mode it also reads the payload's
// `seq` and streams [seq, receiptTime] pairs back to the parent. In verify mode it checks
// every body byte for byte against the bench payload of its `seq` (`{"seq":<seq>,"data":<data>}`,
// data given as JSON text) and counts the bodies that differ and the seqs seen more than once.
import http from 'node:http';
import { wallNow } from '../lib/clock.ts';

type Command =
  | { type: 'ping'; t: number }
  | { type: 'expect'; n: number }
  | { type: 'reset' }
  | { type: 'latency'; on: boolean }
  | { type: 'verify'; data: string | null }
  | { type: 'stats' }
  | { type: 'flush' };

let count = 0;
let target = Number.POSITIVE_INFINITY;
let firstAt = 0;
let lastAt = 0;
let latencyMode = false;
let receipts: number[] = [];
let flushTimer: NodeJS.Timeout | null = null;
/** Verify mode: the payloads' `data` as JSON text, or null when bodies are not checked. */
let verifyData: string | null = null;
let verified = 0;
let mismatched = 0;
let duplicates = 0;
let firstMismatch: string | null = null;
let seen = new Set<number>();

/** Whether `body` is exactly the bench payload of the seq it names. */
function verify(body: Buffer): void {
  let seq: unknown;
  try {
    seq = (JSON.parse(body.toString('utf8')) as { seq?: unknown }).seq;
  } catch {
    seq = undefined;
  }
  const ok = typeof seq === 'number' && body.equals(Buffer.from(`{"seq":${seq},"data":${verifyData}}`, 'utf8'));
  if (!ok) {
    mismatched++;
    firstMismatch ??= body.subarray(0, 200).toString('utf8');
    return;
  }
  verified++;
  if (seen.has(seq as number)) duplicates++;
  else seen.add(seq as number);
}

function send(msg: unknown): void {
  if (process.connected) process.send!(msg);
}

function flush(): void {
  if (flushTimer !== null) clearTimeout(flushTimer);
  flushTimer = null;
  if (receipts.length === 0) return;
  send({ type: 'receipts', data: receipts });
  receipts = [];
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => {
    if (latencyMode || verifyData !== null) chunks.push(c);
  });
  req.on('end', () => {
    const t = wallNow();
    res.writeHead(204);
    res.end();
    if (req.method !== 'POST') return;
    count++;
    if (count === 1) firstAt = t;
    lastAt = t;
    if (verifyData !== null) verify(Buffer.concat(chunks));
    if (latencyMode) {
      try {
        const seq = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { seq?: unknown }).seq;
        if (typeof seq === 'number') {
          receipts.push(seq, t);
          flushTimer ??= setTimeout(flush, 20);
        }
      } catch {
        // Not a bench payload: counted, not timed.
      }
    }
    if (count === target) send({ type: 'reached', count, firstAt, lastAt });
  });
});
server.keepAliveTimeout = 60_000;

process.on('message', (m: Command) => {
  switch (m.type) {
    case 'ping':
      send({ type: 'pong', t: m.t, now: wallNow() });
      break;
    case 'expect':
      target = m.n;
      if (count >= target) send({ type: 'reached', count, firstAt, lastAt });
      break;
    case 'reset':
      count = 0;
      firstAt = 0;
      lastAt = 0;
      target = Number.POSITIVE_INFINITY;
      receipts = [];
      verified = 0;
      mismatched = 0;
      duplicates = 0;
      firstMismatch = null;
      seen = new Set();
      break;
    case 'verify':
      verifyData = m.data;
      break;
    case 'latency':
      latencyMode = m.on;
      break;
    case 'stats':
      send({ type: 'stats', count, firstAt, lastAt, verified, mismatched, duplicates, distinct: seen.size, firstMismatch });
      break;
    case 'flush':
      flush();
      send({ type: 'flushed' });
      break;
  }
});

// The parent going away (normally or not) ends this process.
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  send({ type: 'ready', port: typeof addr === 'object' && addr !== null ? addr.port : 0 });
});
