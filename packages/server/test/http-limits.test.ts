// How long a client may hold a connection, and how many it may hold: real servers with the
// limits lowered, driven over raw sockets that send too little, too slowly, or nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { query, startServer, TOKEN, type TestServer } from './helpers.js';

interface Conn {
  socket: Socket;
  /** Everything the server sent. */
  text: () => string;
  /** Resolves with the ms from connecting to the server closing the connection (or null after `capMs`). */
  closed: Promise<number | null>;
  /** Writes unless the connection is gone. */
  send: (data: string) => void;
}

function open(url: string, capMs = 8000): Promise<Conn> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let got = '';
    const started = Date.now();
    let gone = false;
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('error', () => undefined);
    const closed = new Promise<number | null>((done) => {
      const cap = setTimeout(() => {
        done(null);
        socket.destroy();
      }, capMs);
      socket.on('close', () => {
        gone = true;
        clearTimeout(cap);
        done(Date.now() - started);
      });
    });
    socket.once('connect', () =>
      resolve({
        socket,
        text: () => got,
        closed,
        send: (data) => {
          if (!gone && !socket.destroyed) socket.write(data);
        },
      }),
    );
    socket.once('error', reject);
  });
}

/** Sends `data` one byte every `everyMs` until the connection closes or all is sent. */
function trickle(c: Conn, data: string, everyMs = 50): () => void {
  let i = 0;
  const timer = setInterval(() => {
    if (i >= data.length || c.socket.destroyed) return clearInterval(timer);
    c.send(data[i++]!);
  }, everyMs);
  return () => clearInterval(timer);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const post = (path: string, length: number | 'chunked', type = 'application/json', auth = true) =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\n${auth ? `Authorization: Bearer ${TOKEN}\r\n` : ''}Content-Type: ${type}\r\n` +
  (length === 'chunked' ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${length}\r\n`) +
  '\r\n';

const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;

describe('timeouts of the API', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      HOOKWELL_HTTP_HEADERS_TIMEOUT_MS: '600',
      HOOKWELL_HTTP_BODY_TIMEOUT_MS: '1000',
      HOOKWELL_HTTP_IDLE_TIMEOUT_MS: '600',
    });
    assert.equal((await server.api('POST', '/api/v1/app', { name: 'B', uid: 'b' })).status, 201);
  });
  after(() => server.stop());

  const apps = () => query<{ n: number }>(server.dbPath, 'SELECT count(*) AS n FROM applications')[0]!.n;
  const backfills = () => query<{ n: number }>(server.dbPath, 'SELECT count(*) AS n FROM backfills')[0]!.n;
  const records = () => query<{ n: number }>(server.dbPath, 'SELECT count(*) AS n FROM backfill_records')[0]!.n;

  it('a connection that sends nothing is closed within the header timeout', async () => {
    const c = await open(server.url);
    const ms = await c.closed;
    assert.ok(ms !== null && ms < 2500, `closed after ${ms} ms`);
    assert.match(c.text(), /^HTTP\/1\.1 408 /);
  });

  it('headers sent a byte at a time are cut off', async () => {
    const c = await open(server.url);
    const stop = trickle(c, `GET /api/v1/app HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nX-Slow: ${'a'.repeat(500)}\r\n\r\n`);
    const ms = await c.closed;
    stop();
    assert.ok(ms !== null && ms < 2500, `closed after ${ms} ms`);
  });

  it('a body sent a byte at a time is cut off within the body timeout, and nothing is stored', async () => {
    const before = apps();
    const body = JSON.stringify({ name: 'slow', uid: 'slow', metadata: { pad: 'x'.repeat(200) } });
    const c = await open(server.url);
    c.send(post('/api/v1/app', Buffer.byteLength(body)));
    const stop = trickle(c, body);
    const ms = await c.closed;
    stop();
    assert.ok(ms !== null && ms < 3000, `closed after ${ms} ms`);
    assert.match(c.text(), /^HTTP\/1\.1 408 /);
    assert.equal(apps(), before);
  });

  it('an unauthenticated body is answered 401 and its connection closed at once', async () => {
    const c = await open(server.url);
    c.send(post('/api/v1/app', 100_000, 'application/json', false));
    const stop = trickle(c, 'x'.repeat(100_000));
    const ms = await c.closed;
    stop();
    assert.match(c.text(), /^HTTP\/1\.1 401 /);
    assert.match(c.text(), /connection: close/i);
    assert.ok(ms !== null && ms < 500, `closed after ${ms} ms`);
  });

  it('a kept-alive connection is closed after the idle timeout', async () => {
    const c = await open(server.url);
    c.send(`GET /api/v1/app HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
    const ms = await c.closed;
    assert.match(c.text(), /^HTTP\/1\.1 200 /);
    assert.ok(ms !== null && ms < 3000, `closed after ${ms} ms`);
  });

  it('a backfill upload that stalls is cut off and leaves no backfill', async () => {
    const c = await open(server.url);
    c.send(post('/api/v1/app/b/backfill?userId=u&resource=workouts&provider=p', 'chunked', 'application/x-ndjson'));
    c.send(chunk('{"id":1,"time_start":"2024-01-02T00:00:00Z"}\n{"id":2,"time_start":"2024-01-01T00:00:00Z"}\n'));
    // The upload is under way: its backfill exists while it is received.
    for (let i = 0; i < 40 && backfills() === 0; i++) await sleep(25);
    assert.equal(backfills(), 1, 'the upload started');
    const ms = await c.closed;
    assert.ok(ms !== null && ms < 3500, `closed after ${ms} ms`);
    for (let i = 0; i < 40 && backfills() !== 0; i++) await sleep(25);
    assert.equal(backfills(), 0);
    assert.equal(records(), 0);
  });

  it('a backfill upload trickled a byte at a time is cut off too', async () => {
    const c = await open(server.url);
    c.send(post('/api/v1/app/b/backfill?userId=u&resource=workouts&provider=p', 'chunked', 'application/x-ndjson'));
    const line = '{"id":1,"time_start":"2024-01-02T00:00:00Z"}\n';
    const stop = trickle(c, Array.from({ length: 100 }, () => chunk(line)).join(''), 20);
    const ms = await c.closed;
    stop();
    assert.ok(ms !== null && ms < 3500, `closed after ${ms} ms`);
    for (let i = 0; i < 40 && backfills() !== 0; i++) await sleep(25);
    assert.equal(backfills(), 0);
  });
});

describe('honest slow clients and the connection limit', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      HOOKWELL_HTTP_HEADERS_TIMEOUT_MS: '5000',
      HOOKWELL_HTTP_BODY_TIMEOUT_MS: '5000',
      HOOKWELL_HTTP_MAX_CONNECTIONS: '5',
    });
    assert.equal((await server.api('POST', '/api/v1/app', { name: 'B', uid: 'b' })).status, 201);
  });
  after(() => server.stop());

  /** Sends `body` after `head` in four pieces over two seconds, and reads the answer. */
  async function inPieces(head: string, body: string): Promise<string> {
    const c = await open(server.url);
    c.send(head);
    const quarter = Math.ceil(body.length / 4);
    for (let i = 0; i < 4; i++) {
      await sleep(500);
      c.send(body.slice(i * quarter, (i + 1) * quarter));
    }
    for (let i = 0; i < 100 && !/\r\n\r\n/.test(c.text()); i++) await sleep(20);
    c.socket.destroy();
    return c.text();
  }

  it('a body sent in four pieces over two seconds is accepted', async () => {
    const body = JSON.stringify({ name: 'steady', uid: 'steady' });
    const answer = await inPieces(post('/api/v1/app', Buffer.byteLength(body)), body);
    assert.match(answer, /^HTTP\/1\.1 201 /);
  });

  it('a backfill sent in four pieces over two seconds is accepted', async () => {
    const records = Array.from({ length: 8 }, (_, i) => `{"id":${i},"time_start":"2024-01-${String(20 - i).padStart(2, '0')}T00:00:00Z"}\n`).join('');
    const body = [0, 1, 2, 3].map((i) => chunk(records.slice(i * (records.length / 4), (i + 1) * (records.length / 4)))).join('') + '0\r\n\r\n';
    const answer = await inPieces(post('/api/v1/app/b/backfill?userId=u&resource=workouts&provider=p', 'chunked', 'application/x-ndjson'), body);
    assert.match(answer, /^HTTP\/1\.1 202 /);
  });

  it('connections past the limit are closed as they arrive', async () => {
    const held = await Promise.all(Array.from({ length: 5 }, () => open(server.url)));
    await sleep(100);
    const extra = await open(server.url);
    const ms = await extra.closed;
    // At once, not at the 5 s header timeout; the margin is for a busy machine.
    assert.ok(ms !== null && ms < 2500, `the sixth connection was ${ms === null ? 'kept' : `closed after ${ms} ms`}`);
    assert.equal(extra.text(), '');
    // The held ones still work, and a place that frees up is taken again.
    held[0]!.send(`GET /api/v1/app HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`);
    await held[0]!.closed;
    assert.match(held[0]!.text(), /^HTTP\/1\.1 200 /);
    for (const c of held.slice(1)) c.socket.destroy();
    await sleep(100);
    assert.equal((await server.api('GET', '/api/v1/app')).status, 200);
  });
});
