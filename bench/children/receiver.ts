// Webhook receiver for the bench, run as a child process with an IPC channel.
// Answers every POST with 204 once its body has arrived, counts them, and tells the
// parent when the count reaches a target. In latency mode it also reads the payload's
// `seq` and streams [seq, receiptTime] pairs back to the parent.
import http from 'node:http';
import { wallNow } from '../lib/clock.ts';

type Command =
  | { type: 'ping'; t: number }
  | { type: 'expect'; n: number }
  | { type: 'reset' }
  | { type: 'latency'; on: boolean }
  | { type: 'stats' }
  | { type: 'flush' };

let count = 0;
let target = Number.POSITIVE_INFINITY;
let firstAt = 0;
let lastAt = 0;
let latencyMode = false;
let receipts: number[] = [];
let flushTimer: NodeJS.Timeout | null = null;

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
    if (latencyMode) chunks.push(c);
  });
  req.on('end', () => {
    const t = wallNow();
    res.writeHead(204);
    res.end();
    if (req.method !== 'POST') return;
    count++;
    if (count === 1) firstAt = t;
    lastAt = t;
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
      break;
    case 'latency':
      latencyMode = m.on;
      break;
    case 'stats':
      send({ type: 'stats', count, firstAt, lastAt });
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
