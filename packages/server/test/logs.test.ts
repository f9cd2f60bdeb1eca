// Nothing a client sends in credentials or bodies reaches the log, at any level: a real
// `hookwell serve` at trace level is sent malformed requests that carry the admin token and
// a marker in their headers and bodies, and its whole output is searched for both.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createLogger } from '../src/logger.js';
import { loadConfig } from '../src/config.js';
import { startHookwell, type Hookwell } from '../src/server.js';
import { BacklogWatch } from '../src/delivery/backlog-watch.js';
import { eventually, PG_URL, requirePostgres, startReceiver, tempDir, TOKEN, type Receiver } from './helpers.js';

const BIN = fileURLToPath(new URL('../bin/hookwell.js', import.meta.url));
const MARKER = 'PAYLOAD-MARKER-7f3a9c';

/**
 * Whether `secret` is in `log`: as text, or as the bytes of a serialised Buffer
 * (`{"type":"Buffer","data":[…]}`, which is how pino writes a raw packet).
 */
function leaks(log: string, secret: string): boolean {
  if (log.includes(secret)) return true;
  for (const m of log.matchAll(/"data":\[([0-9,]*)\]/g)) {
    if (Buffer.from(m[1]!.split(',').filter((b) => b !== '').map(Number)).toString('latin1').includes(secret)) return true;
  }
  return false;
}

/** Writes `data` on a fresh connection and resolves with what comes back once the server closes it (or after 5 s). */
function raw(url: string, data: string | Buffer): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let got = '';
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    socket.write(data);
  });
}

describe('the log at trace level holds no credentials and no bodies', () => {
  let proc: ChildProcess;
  let url: string;
  let output = '';
  const dir = tempDir();

  before(async () => {
    proc = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--db', join(dir.dir, 'hookwell.db')], {
      env: { ...process.env, HOOKWELL_ADMIN_TOKEN: TOKEN, HOOKWELL_LOG_LEVEL: 'trace' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start: ${output}`)), 20_000);
      const look = () => {
        const m = /"url":"(http:\/\/[^"]+)"/.exec(output);
        if (m) {
          clearTimeout(timer);
          proc.stdout!.off('data', look);
          resolve(m[1]!);
        }
      };
      proc.stdout!.on('data', look);
      proc.on('exit', () => reject(new Error(`server exited: ${output}`)));
    });
  });

  after(() => dir.cleanup());

  it('an oversized header is answered 431', async () => {
    const res = await raw(url, `GET /api/v1/app HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nX-Pad: ${MARKER}${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(res, /^HTTP\/1\.1 431 /);
  });

  it('a bad chunk size is answered 400', async () => {
    const body = `${(MARKER.length + 2).toString(16)}\r\n"${MARKER}"\r\nzz${MARKER}\r\n`;
    const res = await raw(url, `POST /api/v1/app HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
    assert.match(res, /^HTTP\/1\.1 400 /);
  });

  it('a malformed header line is answered 400', async () => {
    const res = await raw(url, `POST /api/v1/app HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nBad Header ${MARKER}\r\n\r\n`);
    assert.match(res, /^HTTP\/1\.1 400 /);
  });

  it('a body that is not JSON is answered 400', async () => {
    const res = await fetch(`${url}/api/v1/app`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: `{"name": "${MARKER}", "uid": ${MARKER}}`,
    });
    assert.equal(res.status, 400);
  });

  it('a content link and a wrong token are answered 401', async () => {
    const link = await fetch(`${url}/api/v1/content/msg_x?token=${MARKER}.${TOKEN}`);
    assert.equal(link.status, 401);
    const wrong = await fetch(`${url}/api/v1/app`, { headers: { authorization: `Bearer ${MARKER}-${TOKEN}` } });
    assert.equal(wrong.status, 401);
  });

  it("a caller's plain x-request-id is kept and echoed; anything else is replaced", async () => {
    const kept = await fetch(`${url}/api/v1/app`, { headers: { 'x-request-id': 'trace-4bf92f3577b34da6' } });
    assert.equal(kept.headers.get('x-request-id'), 'trace-4bf92f3577b34da6');
    const replaced = await fetch(`${url}/api/v1/app`, { headers: { 'x-request-id': `"${MARKER}" <b>` } });
    assert.match(replaced.headers.get('x-request-id') ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('after all that, the log holds neither the token nor the marker', async () => {
    proc.kill('SIGTERM');
    await new Promise((resolve) => proc.once('exit', resolve));
    // The log did record the malformed requests: the check below is not vacuous.
    assert.match(output, /client error/);
    const lines = output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = lines.filter((l) => l.msg === 'request');
    const link = requests.find((l) => l.path === '/api/v1/content/msg_x');
    assert.ok(link, 'the content link request is logged, by its path alone');
    assert.equal(link.status, 401);
    assert.equal(typeof link.reqId, 'string');
    assert.equal(typeof link.durationMs, 'number');
    assert.ok(requests.some((l) => l.reqId === 'trace-4bf92f3577b34da6'), "the caller's request id is in its line");
    for (const l of lines) assert.match(String(l.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'times are ISO-8601');
    assert.equal(leaks(output, TOKEN), false, 'the admin token is in the log');
    assert.equal(leaks(output, MARKER), false, 'a request body or header is in the log');
  });
});

describe('logged errors are reduced to what is safe', () => {
  const capture = () => {
    let text = '';
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        text += chunk.toString();
        cb();
      },
    });
    return { log: createLogger('trace', stream), text: () => text };
  };

  it('drops the raw packet, driver details and quoted input, keeps what names the failure', () => {
    const { log, text } = capture();
    const parse = (() => {
      try {
        JSON.parse(`{"payload":"${MARKER}"`);
      } catch (err) {
        return err as Error;
      }
    })()!;
    const packet = Object.assign(new Error('Parse Error: Header overflow'), { code: 'HPE_HEADER_OVERFLOW', rawPacket: Buffer.from(`Authorization: Bearer ${TOKEN}`) });
    const driver = Object.assign(new Error(`invalid input syntax for type integer: "${MARKER}"`), {
      code: '22P02',
      detail: `Key (uid)=(${MARKER}) already exists.`,
      where: `JSON data, line 1: ${MARKER}`,
      parameters: [TOKEN],
      table: 'applications',
    });
    const wrapped = new Error('sending failed', { cause: Object.assign(new Error('socket hang up'), { body: MARKER, headers: { authorization: TOKEN } }) });
    log.error({ err: parse }, 'request failed');
    log.error({ err: packet }, 'client error');
    log.error({ err: driver }, 'query failed');
    log.warn({ err: wrapped }, 'wrapped');
    log.error(driver);
    log.info({ req: { method: 'GET', url: `/api/v1/content/msg_1?token=${TOKEN}`, headers: { authorization: `Bearer ${TOKEN}` } } }, 'request');
    const out = text();
    assert.equal(leaks(out, TOKEN), false, `the token is in the log: ${out}`);
    assert.equal(leaks(out, MARKER), false, `the marker is in the log: ${out}`);
    // What says what failed stays.
    assert.match(out, /HPE_HEADER_OVERFLOW/);
    assert.match(out, /22P02/);
    assert.match(out, /"table":"applications"/);
    assert.match(out, /socket hang up/);
    assert.match(out, /\/api\/v1\/content\/msg_1/);
  });

  it("a real PostgreSQL error about a parameter's value keeps the value out", async () => {
    await requirePostgres();
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    let err: unknown;
    try {
      await client.query('SELECT $1::int, $2::jsonb', [MARKER, `{"a": ${MARKER}}`]);
    } catch (e) {
      err = e;
    } finally {
      await client.end();
    }
    assert.ok(err instanceof Error);
    assert.ok(JSON.stringify({ ...err, message: err.message }).includes(MARKER), 'the driver error carries the value');
    const { log, text } = capture();
    log.error({ err }, 'query failed');
    assert.ok(!text().includes(MARKER), text());
    assert.match(text(), /22P02/);
  });
});

/** A logger at `level` whose lines are kept, parsed. */
function captured(level: string): { log: ReturnType<typeof createLogger>; lines: Record<string, any>[] } {
  const lines: Record<string, any>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      try {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, any>);
      } catch (err) {
        lines.push({ unparsed: chunk.toString(), err: String(err) });
      }
      cb();
    },
  });
  return { log: createLogger(level, stream), lines };
}

describe('at the default info level', () => {
  let hw: Hookwell;
  let rx: Receiver;
  const dir = tempDir();
  const { log, lines } = captured('info');
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(hw.url + path, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, requestId: res.headers.get('x-request-id'), body: (await res.json().catch(() => null)) as any };
  };
  let appId: string;
  const ids: Record<string, string> = {};

  before(async () => {
    rx = await startReceiver();
    rx.respond = (r) => {
      const path = r.path.split('?')[0];
      return { status: path === '/ok' ? 200 : path === '/gone' ? 410 : 500, body: MARKER };
    };
    const cfg = loadConfig(
      { port: '0', db: join(dir.dir, 'info.db') },
      { HOOKWELL_ADMIN_TOKEN: TOKEN, HOOKWELL_ALLOW_PRIVATE_TARGETS: 'true', HOOKWELL_RETRY_SCHEDULE: '0.05' },
    );
    hw = await startHookwell(cfg, log);
    appId = (await call('POST', '/api/v1/app', { name: 'logs', uid: 'logs' })).body.id;
    for (const name of ['ok', 'gone', 'failing']) {
      ids[name] = (await call('POST', '/api/v1/app/logs/endpoint', { url: `${rx.url}/${name}?key=${MARKER}` })).body.id;
    }
  });

  after(async () => {
    await hw.close();
    await rx.close();
    dir.cleanup();
  });

  it('an accepted message logs no request line; a refused request logs one, with the id the response carries', async () => {
    const before = lines.length;
    const accepted = await call('POST', '/api/v1/app/logs/msg', { eventType: 'user.created', payload: { marker: MARKER } });
    assert.equal(accepted.status, 202);
    ids.msg = accepted.body.id;
    const missing = await call('GET', '/api/v1/app/logs/msg/msg_nothing');
    assert.equal(missing.status, 404);
    const requests = lines.slice(before).filter((l) => l.msg === 'request');
    assert.equal(requests.length, 1, JSON.stringify(requests));
    assert.deepEqual(
      { level: requests[0]!.level, reqId: requests[0]!.reqId, method: requests[0]!.method, path: requests[0]!.path, status: requests[0]!.status },
      { level: 30, reqId: missing.requestId, method: 'GET', path: '/api/v1/app/logs/msg/msg_nothing', status: 404 },
    );
  });

  it('a failed attempt is logged once with its ids and next try; the last one and the disabled endpoint once each, at warn', async () => {
    await eventually(() => (lines.some((l) => l.msg === 'endpoint disabled') && lines.some((l) => l.endpointId === ids.failing && l.level === 40) ? true : undefined), 30_000, 'the failures to be logged');
    await rx.waitFor(4);
    const about = (endpoint: string) => lines.filter((l) => l.endpointId === endpoint);

    const failing = about(ids.failing!);
    assert.deepEqual(failing.map((l) => [l.level, l.msg, l.attempt]), [
      [30, 'attempt failed; retrying', 1],
      [40, 'attempt failed; no retries left, the delivery failed', 2],
    ]);
    assert.equal(failing[0]!.msgId, ids.msg);
    assert.equal(failing[0]!.appId, appId);
    assert.equal(failing[0]!.status, 500);
    assert.match(failing[0]!.nextAttemptAt, /^\d{4}-\d\d-\d\dT/);
    assert.ok(Date.parse(failing[0]!.nextAttemptAt) > Date.parse(failing[0]!.time), 'the next try is after the failure');

    const gone = about(ids.gone!);
    assert.deepEqual(gone.map((l) => [l.level, l.msg]), [
      [40, 'attempt answered 410 Gone; the endpoint is disabled and the delivery failed'],
      [40, 'endpoint disabled'],
    ]);
    assert.equal(gone[0]!.msgId, ids.msg);
    assert.equal(gone[1]!.reason, 'the endpoint answered 410 Gone');

    // A success is a debug line: none here.
    assert.ok(rx.received.some((r) => r.path.startsWith('/ok')));
    assert.deepEqual(about(ids.ok!), []);
    // Every line about an attempt names its message and endpoint.
    for (const l of lines.filter((x) => String(x.msg).startsWith('attempt'))) {
      assert.equal(typeof l.msgId, 'string');
      assert.equal(typeof l.endpointId, 'string');
    }
    const all = JSON.stringify(lines);
    assert.equal(all.includes(MARKER), false, 'no URL query, payload or response body is logged');
  });
});

describe('the backlog watch', () => {
  const at = (s: number) => 1_000_000 + s * 1000;
  const backlog = (pending: number, oldestDueAt: number | null) => ({ pending, sending: 0, oldestDueAt });

  it('says once that delivery is behind while due work keeps growing, and once that it caught up', () => {
    const { log, lines } = captured('info');
    const watch = new BacklogWatch(async () => backlog(0, null), log, 1000, 3);
    // The oldest due delivery has waited since t=0.
    const seen = [10, 20, 30, 40, 50, 60, 55].map((pending, i) => watch.observe(backlog(pending, at(0)), at(i + 1)));
    assert.deepEqual(seen, [null, null, null, 'behind', null, null, null]);
    assert.equal(watch.observe(backlog(40, at(8) - 10), at(8)), 'caught-up');
    assert.deepEqual(lines.map((l) => [l.level, l.msg]), [
      [40, 'delivery is falling behind: the queue of due deliveries keeps growing'],
      [30, 'delivery has caught up: no due delivery is waiting'],
    ]);
    assert.equal(lines[0]!.pending, 40);
    assert.equal(lines[0]!.waitedMs, 4000);
    assert.equal(lines[1]!.behindForMs, 4000);
  });

  it('is quiet about retries scheduled for later, however many, and about a rise that pauses', () => {
    const { log, lines } = captured('info');
    const watch = new BacklogWatch(async () => backlog(0, null), log, 1000, 3);
    for (let i = 1; i <= 10; i++) assert.equal(watch.observe(backlog(i * 100, at(i + 60)), at(i)), null, 'nothing is due yet');
    // Due and rising, but flat once in every three checks.
    for (let i = 11; i <= 30; i++) assert.equal(watch.observe(backlog(i % 3 === 0 ? 2000 : 2000 + i, at(0)), at(i)), null);
    assert.deepEqual(lines, []);
  });
});

describe('the pretty format', () => {
  it('writes readable lines, with the same guarantees', () => {
    let text = '';
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        text += chunk.toString();
        cb();
      },
    });
    const log = createLogger('info', stream, 'pretty');
    log.info({ msgId: 'msg_1', endpointId: 'ep_1' }, 'attempt failed; retrying');
    log.error({ err: Object.assign(new Error(`invalid input syntax for type integer: "${MARKER}"`), { code: '22P02', detail: MARKER }) }, 'query failed');
    log.debug('not at info');
    const lines = text.trim().split('\n');
    assert.match(lines[0]!, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: attempt failed; retrying .*"msgId":"msg_1"/);
    assert.ok(lines.some((l) => /ERROR: query failed/.test(l)), text);
    assert.ok(!text.includes('{"level"'), 'not JSON');
    assert.ok(!text.includes('not at info'));
    assert.ok(text.includes('22P02'));
    assert.equal(text.includes(MARKER), false, text);
  });
});
