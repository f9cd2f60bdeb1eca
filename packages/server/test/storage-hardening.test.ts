// How Hookwell treats its SQLite files: who may read them, what a start-up failure says,
// one server per file, and a full disk. Some tests mount a tmpfs and need root.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, statfsSync, statSync, unlinkSync, writeFileSync, writeSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startHookwell, type Hookwell } from '../src/server.js';
import { query, tempDir, TOKEN } from './helpers.js';
import { childApi, startChild, type Child } from './child.js';

const BIN = fileURLToPath(new URL('../bin/hookwell.js', import.meta.url));

const modeOf = (path: string): string => (statSync(path).mode & 0o777).toString(8).padStart(4, '0');

/** Runs the CLI to its end: its exit code and what it printed. */
function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<{ code: number | null; out: string }> {
  const proc = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, HOOKWELL_ADMIN_TOKEN: TOKEN, HOOKWELL_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      // The pipes may still hold the last lines.
      setImmediate(() => resolve({ code, out }));
    });
  });
}

/** Mounts a tmpfs at dir; false, or why not (for a skip). */
function mountTmpfs(dir: string, options: string): string | false {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) return `mount -t tmpfs failed: ${r.stderr || r.error?.message}`;
  return false;
}

function unmount(dir: string): void {
  spawnSync('umount', ['-l', dir]);
}

async function serveAt(db: string): Promise<Hookwell> {
  const cfg = loadConfig(
    { port: '0', db },
    { HOOKWELL_ADMIN_TOKEN: TOKEN, HOOKWELL_ALLOW_PRIVATE_TARGETS: 'true', HOOKWELL_LOG_LEVEL: 'silent' },
  );
  return startHookwell(cfg, createLogger(cfg.logLevel));
}

async function call(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text === '' ? undefined : JSON.parse(text) };
}

describe('database file permissions', () => {
  const tmp = tempDir();
  let umask = 0;
  before(() => {
    // The usual umask, under which SQLite alone would create 0644 files.
    umask = process.umask(0o022);
  });
  after(() => {
    process.umask(umask);
    tmp.cleanup();
  });

  it('creates the database, its -wal and -shm owner-only, and again when the log is made anew', async () => {
    const db = join(tmp.dir, 'fresh.db');
    let hw = await serveAt(db);
    try {
      assert.equal((await call(hw.url!, 'POST', '/api/v1/app', { name: 'perm', uid: 'perm' })).status, 201);
      for (const file of [db, `${db}-wal`, `${db}-shm`]) assert.equal(modeOf(file), '0600', file);
      // A checkpoint that truncates the log, then a write that grows it again.
      (hw.store as unknown as { db: Database.Database }).db.pragma('wal_checkpoint(TRUNCATE)');
      assert.equal(statSync(`${db}-wal`).size, 0, 'the log was truncated');
      assert.equal((await call(hw.url!, 'POST', '/api/v1/app', { name: 'perm2', uid: 'perm2' })).status, 201);
      assert.equal(modeOf(`${db}-wal`), '0600');
    } finally {
      await hw.close();
    }
    assert.equal(existsSync(`${db}-wal`), false, 'closing removed the log');
    hw = await serveAt(db);
    try {
      assert.equal((await call(hw.url!, 'POST', '/api/v1/app', { name: 'perm3', uid: 'perm3' })).status, 201);
      for (const file of [db, `${db}-wal`, `${db}-shm`]) assert.equal(modeOf(file), '0600', `${file} after a restart`);
    } finally {
      await hw.close();
    }
  });

  it('tightens an existing database, -wal and -shm readable by others at start', async () => {
    const db = join(tmp.dir, 'loose.db');
    // Another connection keeps the log and its index in place while Hookwell starts.
    const other = new Database(db);
    try {
      other.pragma('journal_mode = WAL');
      other.exec('CREATE TABLE other (x); INSERT INTO other VALUES (1)');
      for (const file of [db, `${db}-wal`, `${db}-shm`]) {
        chmodSync(file, 0o644);
        assert.equal(modeOf(file), '0644');
      }
      const hw = await serveAt(db);
      try {
        for (const file of [db, `${db}-wal`, `${db}-shm`]) assert.equal(modeOf(file), '0600', file);
      } finally {
        await hw.close();
      }
    } finally {
      other.close();
    }
  });
});

describe('start-up errors name the database file', () => {
  const tmp = tempDir();
  const ro = join(tmp.dir, 'ro');
  let roSkip: string | false = 'not mounted';
  before(() => {
    roSkip = mountTmpfs(ro, 'ro,size=1m');
  });
  after(() => {
    if (roSkip === false) unmount(ro);
    tmp.cleanup();
  });

  const expectFailure = async (db: string, reason: RegExp, commands: string[][] = [['serve', '--port', '0']]) => {
    for (const command of commands) {
      const { code, out } = await runCli([...command, '--db', db]);
      assert.notEqual(code, 0, `${command[0]} exited non-zero: ${out}`);
      assert.ok(out.includes(`cannot open the SQLite database ${db}`), `${command[0]} names the file: ${out}`);
      assert.match(out, reason, `${command[0]} gives the reason`);
      assert.doesNotMatch(out, /hookwell listening/);
    }
  };
  const all = [['serve', '--port', '0'], ['migrate'], ['catalog', 'import']];

  it('a directory that does not exist', async () => {
    await expectFailure(join(tmp.dir, 'missing', 'hookwell.db'), new RegExp(`the directory ${join(tmp.dir, 'missing')} does not exist`), all);
  });

  it('a path through a regular file', async () => {
    const file = join(tmp.dir, 'plain');
    writeFileSync(file, 'x');
    await expectFailure(join(file, 'hookwell.db'), new RegExp(`${file} is not a directory`));
  });

  it('a file that is not a database', async () => {
    const db = join(tmp.dir, 'notes.txt');
    writeFileSync(db, 'These are my notes, not a database. '.repeat(50));
    await expectFailure(db, /is not a SQLite database/, all);
  });

  it('a directory in place of the file', async () => {
    const db = join(tmp.dir, 'adir');
    mkdirSync(db);
    await expectFailure(db, /is a directory/);
  });

  it('a read-only directory', async (t) => {
    if (roSkip !== false) return t.skip(roSkip);
    await expectFailure(join(ro, 'hookwell.db'), new RegExp(`the directory ${ro} is not writable`), all);
  });

  it('an existing database in a directory made read-only', async (t) => {
    const dir = join(tmp.dir, 'later-ro');
    const skip = mountTmpfs(dir, 'size=4m');
    if (skip !== false) return t.skip(skip);
    try {
      const db = join(dir, 'hookwell.db');
      assert.equal((await runCli(['migrate', '--db', db])).code, 0, 'migrated while writable');
      const r = spawnSync('mount', ['-o', 'remount,ro', dir], { encoding: 'utf8' });
      if (r.status !== 0) return t.skip(`remount ro failed: ${r.stderr}`);
      await expectFailure(db, new RegExp(`the directory ${dir} is not writable`));
    } finally {
      unmount(dir);
    }
  });
});

describe('one server per database file', () => {
  const tmp = tempDir();
  const db = join(tmp.dir, 'hookwell.db');
  let first: Child | undefined;
  after(async () => {
    first?.proc.kill('SIGKILL');
    if (first) await first.exited;
    tmp.cleanup();
  });

  it('refuses a second server, naming the first; tools still work; a SIGKILLed holder frees it', { timeout: 120_000 }, async () => {
    first = await startChild(db, 0);
    assert.equal((await childApi(first.url, 'POST', '/api/v1/app', { name: 'one', uid: 'one' })).status, 201);

    const second = await runCli(['serve', '--port', '0', '--db', db]);
    assert.notEqual(second.code, 0, `the second server exited non-zero: ${second.out}`);
    assert.doesNotMatch(second.out, /hookwell listening/);
    assert.ok(second.out.includes(db), `names the file: ${second.out}`);
    assert.match(second.out, new RegExp(`pid ${first.proc.pid}\\b`), `names the holder's pid: ${second.out}`);

    assert.equal((await runCli(['migrate', '--db', db])).code, 0, 'migrate works beside the server');
    const imported = await runCli(['catalog', 'import', '--db', db]);
    assert.equal(imported.code, 0, `catalog import works beside the server: ${imported.out}`);
    assert.equal((await childApi(first.url, 'GET', '/api/v1/app/one')).status, 200, 'the first server still serves');
    assert.equal(modeOf(`${db}.lock`), '0600');

    first.proc.kill('SIGKILL');
    assert.equal(await first.exited, null);
    first = await startChild(db, 0);
    assert.equal((await childApi(first.url, 'GET', '/api/v1/app/one')).status, 200, 'the restarted server serves the same file');
    first.proc.kill('SIGTERM');
    assert.equal(await first.exited, 0);
    first = undefined;
  });

  it('refuses a second store in the same process too', async () => {
    const other = join(tmp.dir, 'same-process.db');
    const hw = await serveAt(other);
    try {
      await assert.rejects(serveAt(other), (err: Error) => err.message.includes(`pid ${process.pid}`) && err.message.includes(other));
    } finally {
      await hw.close();
    }
    // Closed, the file is free again.
    await (await serveAt(other)).close();
  });
});

describe('a full disk', () => {
  const tmp = tempDir();
  const vol = join(tmp.dir, 'vol');
  let skip: string | false = 'not mounted';
  let child: Child | undefined;
  before(() => {
    skip = mountTmpfs(vol, 'size=8m');
  });
  after(async () => {
    child?.proc.kill('SIGKILL');
    if (child) await child.exited;
    if (skip === false) unmount(vol);
    tmp.cleanup();
  });

  it('answers 503 with Retry-After and fails health while writes fail, recovers, and loses nothing accepted', { timeout: 120_000 }, async (t) => {
    if (skip !== false) return t.skip(skip);
    const db = join(vol, 'hookwell.db');
    // Attempts fail at once (nothing listens on port 9) and are not retried during the test.
    child = await startChild(db, 0, { HOOKWELL_RETRY_SCHEDULE: '36000' });
    const url = child.url;
    assert.equal((await childApi(url, 'POST', '/api/v1/app', { name: 'full', uid: 'full' })).status, 201);
    assert.equal((await childApi(url, 'POST', '/api/v1/app/full/endpoint', { url: 'http://127.0.0.1:9/hook' })).status, 201);

    const filler = join(vol, 'filler');
    const free = () => {
      const s = statfsSync(vol);
      return s.bavail * s.bsize;
    };
    writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 512 * 1024)));

    const accepted = new Set<string>();
    const refused: string[] = [];
    let seq = 0;
    const send = async () => {
      const eventId = `evt-${seq++}`;
      const res = await call(url, 'POST', '/api/v1/app/full/msg', { eventType: 'disk.full', eventId, payload: { pad: 'x'.repeat(8000), eventId } });
      if (res.status === 202) accepted.add(res.body.id);
      else refused.push(eventId);
      return res;
    };
    let res = await send();
    for (let i = 0; res.status === 202 && i < 500; i++) res = await send();
    assert.equal(res.status, 503, `a write on a full disk is answered 503: ${res.text}`);
    assert.deepEqual(res.body, { code: 'unavailable', detail: 'the database cannot write: the disk is full' });
    assert.match(res.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/, 'Retry-After in seconds');

    // Take what room is left, including any a checkpoint of the log gave back.
    const takeTheRest = () => {
      const fd = openSync(filler, 'a');
      try {
        const page = Buffer.alloc(4096);
        for (;;) writeSync(fd, page);
      } catch (err) {
        assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
      } finally {
        closeSync(fd);
      }
    };
    takeTheRest();
    const health = await call(url, 'GET', '/api/v1/health');
    assert.equal(health.status, 503, `health fails while writes fail: ${health.text}`);
    assert.equal(health.body.code, 'unavailable');
    assert.match(health.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
    takeTheRest();
    res = await send();
    assert.equal(res.status, 503, res.text);
    assert.equal(res.body.detail, 'the database cannot write: the disk is full');
    assert.equal((await call(url, 'GET', '/api/v1/app/full')).status, 200, 'reads still work');

    unlinkSync(filler);
    assert.equal((await call(url, 'GET', '/api/v1/health')).status, 204, 'healthy once a write succeeds again');
    for (let i = 0; i < 5; i++) assert.equal((await send()).status, 202);
    assert.ok(accepted.size >= 6, `messages were accepted before and after (${accepted.size})`);

    child.proc.kill('SIGTERM');
    assert.equal(await child.exited, 0);
    child = undefined;

    const stored = query<{ id: string; event_id: string; deliveries: number }>(
      db,
      `SELECT m.id, m.event_id, (SELECT count(*) FROM deliveries d WHERE d.msg_id = m.id) AS deliveries FROM messages m`,
    );
    assert.deepEqual(new Set(stored.map((m) => m.id)), accepted, 'exactly the messages answered 202 are stored');
    assert.deepEqual(stored.filter((m) => m.deliveries !== 1), [], 'each with its delivery');
    assert.deepEqual(stored.filter((m) => refused.includes(m.event_id)), [], 'nothing answered 503 was stored');
  });

  it('keeps the write-ahead log small while free space is low, so it does not fill the volume', { timeout: 120_000 }, async (t) => {
    if (skip !== false) return t.skip(skip);
    const db = join(vol, 'small-log.db');
    child = await startChild(db, 0);
    const url = child.url;
    assert.equal((await childApi(url, 'POST', '/api/v1/app', { name: 'log', uid: 'log' })).status, 201);
    const filler = join(vol, 'filler2');
    const s = statfsSync(vol);
    writeFileSync(filler, Buffer.alloc(Math.max(0, s.bavail * s.bsize - 3 * 1024 * 1024)));
    // Each small commit logs a few pages again: 1,000 of them make a log of about 10 MB
    // when nothing truncates it, far more than the 3 MB left.
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const res = await childApi(url, 'POST', '/api/v1/app/log/msg', { eventType: 'small', payload: { i } });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    assert.deepEqual([...statuses], [[202, 1000]], 'every message was accepted');
    assert.ok(statSync(`${db}-wal`).size < 3 * 1024 * 1024, `the log stayed small (${statSync(`${db}-wal`).size} bytes)`);

    child.proc.kill('SIGTERM');
    assert.equal(await child.exited, 0);
    child = undefined;
    unlinkSync(filler);
    assert.deepEqual(query<{ n: number }>(db, `SELECT count(*) AS n FROM messages`), [{ n: 1000 }]);
  });
});
