// hookwell listen as a real child process, driven by a real Hookwell server.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generateSecret } from '@hookwell/receiver';
import { eventually, startServer, type TestServer } from './helpers.js';

const BIN = fileURLToPath(new URL('../bin/hookwell.js', import.meta.url));

interface Listener {
  proc: ChildProcess;
  url: string;
  lines: string[];
}

function listen(args: string[]): Promise<Listener> {
  const proc = spawn(process.execPath, [BIN, 'listen', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`listen did not start: ${lines.join('\n')}`)), 20_000);
    proc.stdout!.on('data', (chunk: Buffer) => {
      partial += chunk.toString();
      const parts = partial.split('\n');
      partial = parts.pop()!;
      lines.push(...parts);
      const m = lines.map((l) => /receiving on (http:\/\/\S+)/.exec(l)).find((x) => x);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1]!, lines });
      }
    });
    proc.stderr!.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    proc.on('exit', (code) => reject(new Error(`listen exited ${code}: ${lines.join('\n')}`)));
  });
}

function stop(l: Listener): Promise<void> {
  return new Promise((resolve) => {
    l.proc.once('exit', () => resolve());
    l.proc.kill('SIGTERM');
  });
}

describe('hookwell listen', () => {
  let server: TestServer;
  const listeners: Listener[] = [];
  before(async () => {
    server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '0' });
    await server.api('POST', '/api/v1/app', { name: 'dev', uid: 'dev' });
  });
  after(async () => {
    await Promise.all(listeners.map(stop));
    await server.stop();
  });

  it('verifies, answers the ping and prints one line per event', async () => {
    const secret = generateSecret();
    const l = await listen(['--secret', secret, '--verbose']);
    listeners.push(l);
    const ep = await server.api('POST', '/api/v1/app/dev/endpoint', { url: l.url, secret, verify: true, channels: ['ok'] });
    assert.equal(ep.status, 201, `${ep.status} ${ep.text}`);
    assert.equal(ep.body.lastPing.ok, true, 'the ping through listen got its pong');
    const msg = await server.api('POST', '/api/v1/app/dev/msg', {
      eventType: 'meal.logged',
      channels: ['ok'],
      payload: { type: 'meal.logged', user_id: 'USER12345', calories: 640 },
    });
    const line = await eventually(() => l.lines.find((x) => x.includes(msg.body.id)));
    assert.match(line, /meal\.logged/);
    assert.match(line, / verified -> 200/);
    assert.ok(l.lines.some((x) => x.includes('"calories": 640')), '--verbose prints the payload');
    assert.ok(l.lines.some((x) => /\sping\s+ping_\S+\s+verified -> 200/.test(x)), 'the ping is printed as verified');
  });

  it("prints each message's event type: the payload's own, else the x-hookwell-event-type header", async () => {
    const secret = generateSecret();
    const l = await listen(['--secret', secret]);
    listeners.push(l);
    assert.equal((await server.api('POST', '/api/v1/app/dev/endpoint', { url: l.url, secret, channels: ['types'] })).status, 201);
    const send = async (eventType: string, payload: unknown) =>
      (await server.api('POST', '/api/v1/app/dev/msg', { eventType, channels: ['types'], payload })).body.id as string;
    const untyped = await send('meal_log_created', { user_id: 'USER12345', calories: 640 });
    const metriport = await send('devices.provider-connected', { meta: { messageId: 'm-1', type: 'devices.provider-connected' }, users: [] });
    const named = await send('goal_completed', { event: 'goal_completed', user_id: 'USER12345' });
    const differs = await send('x.header', { type: 'x.payload' });
    const typeOf = async (id: string) => (await eventually(() => l.lines.find((x) => x.includes(id)))).trim().split(/\s+/)[1];
    assert.equal(await typeOf(untyped), 'meal_log_created', 'from the header');
    assert.equal(await typeOf(metriport), 'devices.provider-connected', 'from meta.type');
    assert.equal(await typeOf(named), 'goal_completed', 'from the event field');
    assert.equal(await typeOf(differs), 'x.payload', 'the signed payload wins over the header');
  });

  it('rejects a request signed with another secret, and the server records the 401', async () => {
    const l = await listen(['--secret', generateSecret()]);
    listeners.push(l);
    const ep = (await server.api('POST', '/api/v1/app/dev/endpoint', { url: l.url, channels: ['wrong'] })).body;
    const msg = (await server.api('POST', '/api/v1/app/dev/msg', { eventType: 'x.y', channels: ['wrong'], payload: {} })).body.id;
    const line = await eventually(() => l.lines.find((x) => x.includes(msg)));
    assert.match(line, /REJECTED \(no_matching_signature/);
    const attempts = await eventually(async () => {
      const a = (await server.api('GET', `/api/v1/app/dev/attempt/endpoint/${ep.id}`)).body.data;
      return a.length > 0 ? a : undefined;
    });
    assert.equal(attempts[0].responseStatusCode, 401);
  });

  it('fails on purpose with the chosen status, so retries can be watched', async () => {
    const secret = generateSecret();
    const l = await listen(['--secret', secret, '--fail-rate', '1', '--status', '503']);
    listeners.push(l);
    const ep = (await server.api('POST', '/api/v1/app/dev/endpoint', { url: l.url, secret, channels: ['flaky'] })).body;
    const msg = (await server.api('POST', '/api/v1/app/dev/msg', { eventType: 'x.y', channels: ['flaky'], payload: {} })).body.id;
    const attempts = await eventually(async () => {
      const a = (await server.api('GET', `/api/v1/app/dev/attempt/msg/${msg}?endpoint_id=${ep.id}`)).body.data;
      return a.length === 2 ? a : undefined;
    });
    assert.deepEqual(attempts.map((a: any) => a.responseStatusCode), [503, 503], 'the first attempt and its one retry');
    assert.equal(l.lines.filter((x) => x.includes(msg) && x.includes('failing on purpose -> 503')).length, 2);
  });

  it('checks a webhook key and answers a mismatch 401 with no body', async () => {
    const l = await listen(['--key', 'the-right-key']);
    listeners.push(l);
    const wrong = await fetch(l.url, { method: 'POST', headers: { 'x-webhook-key': 'a-wrong-key' }, body: '{}' });
    assert.equal(wrong.status, 401);
    assert.equal(await wrong.text(), '');
    const right = await fetch(l.url, { method: 'POST', headers: { 'x-webhook-key': 'the-right-key' }, body: '{"ping":"abc"}' });
    assert.deepEqual(await right.json(), { pong: 'abc' });
  });

  it('refuses a bad option with a message naming it', async () => {
    const proc = spawn(process.execPath, [BIN, 'listen', '--fail-rate', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise((resolve) => proc.on('exit', resolve));
    assert.equal(code, 2);
    assert.match(err, /--fail-rate must be a number from 0 to 1, got "2"/);
  });
});
