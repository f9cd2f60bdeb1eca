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
import { PG_URL, requirePostgres, tempDir, TOKEN } from './helpers.js';

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

  it('after all that, the log holds neither the token nor the marker', async () => {
    proc.kill('SIGTERM');
    await new Promise((resolve) => proc.once('exit', resolve));
    // The log did record the malformed requests: the check below is not vacuous.
    assert.match(output, /client error/);
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
