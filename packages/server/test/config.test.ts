import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, SETTINGS } from '../src/config.js';

const BIN = fileURLToPath(new URL('../bin/hookwell.js', import.meta.url));

describe('configuration', () => {
  it('has the documented defaults', () => {
    const cfg = loadConfig({}, {});
    assert.equal(cfg.port, 8071);
    assert.equal(cfg.host, '127.0.0.1');
    assert.equal(cfg.db, './hookwell.db');
    assert.deepEqual(cfg.adminTokens, []);
    assert.equal(cfg.allowPrivateTargets, false);
    assert.deepEqual(cfg.retrySchedule, [5, 300, 1800, 7200, 18000, 36000, 36000]);
    assert.equal(cfg.requestTimeoutMs, 15000);
    assert.equal(cfg.maxPayloadBytes, 1048576);
    assert.equal(cfg.signatureHeaders, 'webhook');
    assert.equal(cfg.role, 'all');
    assert.equal(cfg.dbSchema, null);
    assert.equal(cfg.dbPoolSize, 10);
    assert.equal(cfg.leaseMs, 60000);
    assert.equal(cfg.logLevel, 'info');
    assert.equal(cfg.logFormat, 'json');
  });

  it('takes a PostgreSQL URL, with the roles only it allows', () => {
    const cfg = loadConfig({ role: 'worker' }, { HOOKWELL_DB: 'postgresql://postgres@127.0.0.1:5432/test', HOOKWELL_DB_SCHEMA: 'hw_1' });
    assert.equal(cfg.db, 'postgresql://postgres@127.0.0.1:5432/test');
    assert.equal(cfg.role, 'worker');
    assert.equal(cfg.dbSchema, 'hw_1');
  });

  it('reads the environment, and a flag wins over it', () => {
    const env = { HOOKWELL_PORT: '9000', HOOKWELL_DB: '/tmp/env.db', HOOKWELL_RETRY_SCHEDULE: '1, 2.5', HOOKWELL_SIGNATURE_HEADERS: 'both' };
    const cfg = loadConfig({ port: '9001' }, env);
    assert.equal(cfg.port, 9001);
    assert.equal(cfg.db, '/tmp/env.db');
    assert.deepEqual(cfg.retrySchedule, [1, 2.5]);
    assert.equal(cfg.signatureHeaders, 'both');
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ['a port that is not a number', { HOOKWELL_PORT: 'eighty' }, /HOOKWELL_PORT must be a whole number/],
    ['a port out of range', { HOOKWELL_PORT: '70000' }, /HOOKWELL_PORT must be between 0 and 65535/],
    ['a role other than api, worker or all', { HOOKWELL_ROLE: 'both' }, /HOOKWELL_ROLE must be api, worker or all, got "both"/],
    ['a split role on a SQLite file', { HOOKWELL_ROLE: 'worker' }, /HOOKWELL_ROLE=worker needs a shared PostgreSQL database/],
    ['a schema name SQL could not take as is', { HOOKWELL_DB_SCHEMA: 'hw; drop' }, /HOOKWELL_DB_SCHEMA must be lower-case letters/],
    ['a pool of no connections', { HOOKWELL_DB_POOL_SIZE: '0' }, /HOOKWELL_DB_POOL_SIZE must be between 1 and 1000/],
    ['a lease under a second', { HOOKWELL_LEASE_MS: '10' }, /HOOKWELL_LEASE_MS must be between 1000/],
    ['a schedule with a word in it', { HOOKWELL_RETRY_SCHEDULE: '5,soon' }, /"soon" is not a number of seconds/],
    ['an empty schedule entry', { HOOKWELL_RETRY_SCHEDULE: '5,,10' }, /comma-separated list of seconds/],
    ['an unknown signature mode', { HOOKWELL_SIGNATURE_HEADERS: 'hmac' }, /webhook, svix or both/],
    ['a boolean that is not one', { HOOKWELL_ALLOW_PRIVATE_TARGETS: 'maybe' }, /must be true or false/],
    ['a short admin token', { HOOKWELL_ADMIN_TOKEN: 'short' }, /at least 16 characters/],
    ['a short second admin token', { HOOKWELL_ADMIN_TOKEN: 'first-admin-token-0123,short' }, /HOOKWELL_ADMIN_TOKEN \(token 2 of 2\) must be at least 16/],
    ['an empty admin token in the list', { HOOKWELL_ADMIN_TOKEN: 'first-admin-token-0123,,second-admin-token-0123' }, /token 2 of 3\) is empty/],
    ['a zero timeout', { HOOKWELL_REQUEST_TIMEOUT_MS: '0' }, /HOOKWELL_REQUEST_TIMEOUT_MS must be between/],
    ['a log format other than json or pretty', { HOOKWELL_LOG_FORMAT: 'logfmt' }, /HOOKWELL_LOG_FORMAT must be json or pretty, got "logfmt"/],
  ];
  for (const [what, env, message] of bad) {
    it(`refuses ${what} with a message naming it`, () => {
      assert.throws(() => loadConfig({}, env), (err: unknown) => err instanceof ConfigError && message.test((err as Error).message));
    });
  }

  it('takes several admin tokens, separated by commas', () => {
    const cfg = loadConfig({}, { HOOKWELL_ADMIN_TOKEN: ' first-admin-token-0123 , second-admin-token-0123' });
    assert.deepEqual(cfg.adminTokens, ['first-admin-token-0123', 'second-admin-token-0123']);
  });

  it('names the flag when the bad value came from a flag', () => {
    assert.throws(() => loadConfig({ port: '-1' }, {}), /--port must be a whole number/);
  });
});

describe('the hookwell command', () => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });

  it('lists every setting in --help and serve --help', () => {
    for (const args of [['--help'], ['serve', '--help']]) {
      const out = run(args);
      assert.equal(out.status, 0, out.stderr);
      for (const s of SETTINGS) assert.ok(out.stdout.includes(s.env), `${args.join(' ')} mentions ${s.env}`);
      for (const flag of ['--port', '--host', '--db', '--role']) assert.ok(out.stdout.includes(flag));
    }
  });

  it('exits 2 with a clear message for a bad value, before touching anything', () => {
    const out = run(['serve', '--port', 'abc']);
    assert.equal(out.status, 2);
    assert.match(out.stderr, /invalid configuration: --port must be a whole number, got "abc"/);
    const role = run(['serve', '--role', 'worker'], { HOOKWELL_DB: './never-created.db' });
    assert.equal(role.status, 2);
    assert.match(role.stderr, /--role=worker needs a shared PostgreSQL database/);
  });
});
