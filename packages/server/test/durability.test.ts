// The promise behind every 202 from `POST …/msg`: the message is on disk before the answer
// leaves. A killed process cannot show it (the page cache outlives the process), so these
// tests watch the order of the system calls themselves.
//
// SQLite: `hookwell serve` runs under strace, and for every message the trace must show, in
// this order: the -wal frames of the transaction holding the message (found by a marker in
// its payload), then an fdatasync/fsync of the -wal file that began after the last of those
// frames and returned, then the 202 written to the client's socket. Each sync is held back
// 15 ms before it runs (strace's delay injection, a slow disk), so a 202 that does not wait
// for its sync is written before it returns, every time, rather than when a race is lost.
//
// PostgreSQL: the flushed end of the WAL (pg_current_wal_flush_lsn) is read right after each
// 202, and must already be at or past the end of the message's commit record, found later in
// the WAL (pg_walinspect) by the id of the transaction that wrote the message's row. A commit
// made with synchronous_commit off is flushed only when the WAL writer gets to it: within
// wal_writer_delay (200 ms by default) for the last, partly filled WAL page.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { startChild, childApi, type Child } from './child.js';
import { PG_URL, requirePostgres, startReceiver, tempDir, TOKEN, type Receiver } from './helpers.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startHookwell } from '../src/server.js';

// --- strace ----------------------------------------------------------------------------------

/** Why strace cannot watch a child of this process here, or false when it can. */
function straceMissing(): string | false {
  const which = spawnSync('which', ['strace'], { encoding: 'utf8' });
  if (which.status !== 0) return 'strace is not installed (apt-get install strace): these tests read the order of system calls from it';
  const probe = spawnSync('strace', ['-f', '-e', 'trace=none', 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.status !== 0) return `strace cannot trace here (ptrace refused?): ${probe.stderr.trim()}`;
  // strace attaches to the server, a sibling of its own: Yama allows that only to root from scope 1 up.
  let scope = 0;
  try {
    scope = Number(readFileSync('/proc/sys/kernel/yama/ptrace_scope', 'utf8').trim());
  } catch {
    // No Yama: ptrace follows the ordinary permission checks.
  }
  if (scope >= 3 || (scope >= 1 && process.getuid?.() !== 0)) {
    return `kernel.yama.ptrace_scope is ${scope}: strace may not attach to a process it did not start (run as root, or lower the scope)`;
  }
  return false;
}

/** How long each sync is held back before it runs, in microseconds. */
const SYNC_DELAY_US = 15_000;

interface Call {
  /** The thread that made it. */
  tid: number;
  name: string;
  /** The file of its first argument, as strace -y names it. */
  path: string;
  /** The bytes written (all of an iovec, in order), empty for others. */
  data: Buffer;
  /** pwrite's offset. */
  offset: number;
  ret: number | null;
  /**
   * The trace's line numbers of its entry and of its return. strace stops a thread at each
   * entry and return of a traced call and writes that line before letting the thread go on,
   * so a call made because another returned (the 202 after the sync's callback) is always on
   * a later line than that return.
   */
  start: number;
  end: number;
}

const hexText = (s: string) => Buffer.from(s.replace(/\\x/g, ''), 'hex');

/**
 * Reads a trace of `strace -f -y -xx`: every string, paths included, is in \xNN form, so
 * nothing in the data can be taken for the syntax around it. A call another thread's line
 * interrupted is joined from its `<unfinished ...>` and `<... resumed>` lines.
 */
function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  const open = new Map<number, Call>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const m = /^(?:\[pid +)?(\d+)\]? +(.*)$/.exec(line);
    if (m === null) continue;
    const tid = Number(m[1]);
    const rest = m[2]!;
    const resumed = /^<\.\.\. (\w+) resumed>.*\) += (-?\d+)/.exec(rest);
    if (resumed !== null) {
      const call = open.get(tid);
      if (call !== undefined && call.name === resumed[1]) {
        call.ret = Number(resumed[2]);
        call.end = i;
        open.delete(tid);
      }
      continue;
    }
    const c = /^(\w+)\((\d+)<((?:\\x[0-9a-f]{2})*)>(.*)$/.exec(rest);
    if (c === null) continue;
    const args = c[4]!;
    const unfinished = args.endsWith('<unfinished ...>');
    const strings = [...args.matchAll(/"((?:\\x[0-9a-f]{2})*)"/g)].map((s) => hexText(s[1]!));
    const offset = /^, "(?:\\x[0-9a-f]{2})*"(?:\.\.\.)?, \d+, (\d+)/.exec(args);
    const ret = unfinished ? null : /\) += (-?\d+)/.exec(args);
    const call: Call = {
      tid,
      name: c[1]!,
      path: hexText(c[3]!).toString('utf8'),
      data: Buffer.concat(strings),
      offset: offset === null ? -1 : Number(offset[1]),
      ret: ret === null ? null : Number(ret[1]),
      start: i,
      end: i,
    };
    if (unfinished) open.set(tid, call);
    calls.push(call);
  }
  return calls;
}

interface Transaction {
  /** The line the last of its frames was written on (the commit frame's page). */
  lastWrite: number;
  /** The pages it wrote. */
  pages: Buffer[];
}

/**
 * The transactions written to a -wal file, from its writes: each frame is a 24-byte header
 * and then its page; a transaction ends with the frame whose header gives the database's
 * size after the commit (non-zero in bytes 4..7).
 */
function walTransactions(calls: Call[], walPath: string): Transaction[] {
  const writes = calls.filter((c) => c.path === walPath && /^pwrite/.test(c.name) && c.ret !== null && c.ret > 0);
  const txs: Transaction[] = [];
  let current: Buffer[] = [];
  let header: Call | null = null;
  for (const w of writes) {
    if (w.data.length === 24) {
      header = w;
      continue;
    }
    if (header === null || w.offset !== header.offset + 24) continue; // the log's own header
    current.push(w.data);
    if (header.data.readUInt32BE(4) !== 0) {
      txs.push({ lastWrite: w.end, pages: current });
      current = [];
    }
    header = null;
  }
  return txs;
}

interface Traced {
  calls: Call[];
  walPath: string;
}

/**
 * Runs `hookwell serve` on a new SQLite file with strace attached to all its threads (the
 * sync runs on one of libuv's), calls `work` with its URL, then detaches and stops it.
 */
async function traceServer(work: (url: string) => Promise<void>): Promise<Traced> {
  const { dir, cleanup } = tempDir();
  const real = realpathSync(dir);
  const db = join(real, 'hookwell.db');
  const tracePath = join(real, 'trace');
  let child: Child | undefined;
  let strace: ReturnType<typeof spawn> | undefined;
  try {
    child = await startChild(db, 0);
    strace = spawn(
      'strace',
      [
        '-f',
        '-y',
        '-xx',
        '-s', '65536',
        '-o', tracePath,
        '-e', 'trace=pwrite64,pwritev,pwritev2,write,writev,sendto,sendmsg,fdatasync,fsync',
        '-e', `inject=fdatasync,fsync:delay_enter=${SYNC_DELAY_US}`,
        '-p', String(child.proc.pid),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const straceExit = new Promise<number | null>((resolve) => strace!.on('exit', (code) => resolve(code)));
    let err = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`strace did not attach: ${err}`)), 10_000);
      strace!.stderr!.on('data', (chunk: Buffer) => {
        err += chunk.toString();
        if (/attached/.test(err)) {
          clearTimeout(timer);
          resolve();
        }
      });
      strace!.on('exit', () => reject(new Error(`strace exited: ${err}`)));
    });
    await work(child.url);
    strace.kill('SIGINT'); // detaches, and the server goes on untraced
    let timer: NodeJS.Timeout | undefined;
    const detached = await Promise.race([straceExit, new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), 10_000)))]);
    clearTimeout(timer);
    assert.notEqual(detached, 'timeout', 'strace did not detach within 10 s');
    return { calls: parseTrace(readFileSync(tracePath, 'latin1')), walPath: `${db}-wal` };
  } finally {
    if (strace !== undefined && strace.exitCode === null) strace.kill('SIGKILL');
    if (child !== undefined) {
      child.proc.kill('SIGTERM');
      const timer = setTimeout(() => child!.proc.kill('SIGKILL'), 10_000);
      await child.exited;
      clearTimeout(timer);
    }
    cleanup();
  }
}

interface Posted {
  /** Unique text in the message's payload, found again in the -wal frames. */
  marker: string;
  id: string;
}

/**
 * Posts `count` messages, one every `gapMs` whether or not the earlier ones were answered (as
 * independent clients would), so new messages arrive while a commit is being synced.
 */
async function postMessages(url: string, appId: string, count: number, gapMs: number, run: string): Promise<Posted[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      await new Promise((resolve) => setTimeout(resolve, i * gapMs));
      const marker = `durable-${run}-${i}-end`;
      const res = await childApi(url, 'POST', `/api/v1/app/${appId}/msg`, { eventType: 'lab.result', payload: { marker } });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return { marker, id: res.body.id as string };
    }),
  );
}

/**
 * For each message: the transaction whose frames first hold its marker, the 202 that names
 * its id, and a sync of the -wal that began after that transaction's last frame and returned
 * before the 202 was written. Returns the transactions, and that of each message.
 */
function assertSyncedBefore202(t: Traced, posted: Posted[]): { txs: Transaction[]; txOf: Map<string, Transaction> } {
  const txs = walTransactions(t.calls, t.walPath);
  const syncs = t.calls.filter((c) => c.path === t.walPath && (c.name === 'fdatasync' || c.name === 'fsync') && c.ret === 0);
  const answers = t.calls.filter((c) => /^(write|writev|sendto|sendmsg)$/.test(c.name) && c.data.subarray(0, 13).toString('latin1') === 'HTTP/1.1 202 ');
  assert.ok(txs.length > 0, `no -wal transactions in the trace (${t.calls.length} calls traced)`);
  const txOf = new Map<string, Transaction>();
  const problems: string[] = [];
  for (const p of posted) {
    const tx = txs.find((x) => x.pages.some((page) => page.includes(p.marker)));
    const answer = answers.find((a) => a.data.includes(p.id));
    if (tx === undefined || answer === undefined) {
      problems.push(`${p.id}: ${tx === undefined ? 'no -wal frame holds its marker' : 'no 202 naming it was written'}`);
      continue;
    }
    txOf.set(p.marker, tx);
    if (tx.lastWrite > answer.start) {
      problems.push(`${p.id}: 202 written (line ${answer.start}) before its transaction's last frame (line ${tx.lastWrite})`);
      continue;
    }
    if (!syncs.some((s) => s.start > tx.lastWrite && s.end < answer.start)) {
      const next = syncs.find((s) => s.start > tx.lastWrite);
      problems.push(
        `${p.id}: 202 written (line ${answer.start}) with no sync of the -wal begun after its commit (line ${tx.lastWrite}) and returned before it` +
          (next === undefined ? ' (no sync followed the commit at all)' : ` (the next sync returned on line ${next.end})`),
      );
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).join('\n  ');
    assert.fail(`${problems.length} of ${posted.length} messages were answered 202 before they were on disk:\n  ${shown}${problems.length > 10 ? '\n  …' : ''}`);
  }
  return { txs, txOf };
}

const noStrace = straceMissing();

describe('SQLite: a 202 leaves only after the sync that covers its message', { skip: noStrace }, () => {
  it('every message, many to a commit, is in an fdatasync of the -wal that returned before its 202', async () => {
    const run = randomBytes(4).toString('hex');
    let posted: Posted[] = [];
    const trace = await traceServer(async (url) => {
      const app = await childApi(url, 'POST', '/api/v1/app', { name: 'durability' });
      assert.equal(app.status, 201);
      posted = await postMessages(url, app.body.id, 60, 2, run);
    });
    const { txOf } = assertSyncedBefore202(trace, posted);
    // Concurrent requests shared commits: the ordering above held for commits of several.
    const sizes = new Map<Transaction, number>();
    for (const tx of txOf.values()) sizes.set(tx, (sizes.get(tx) ?? 0) + 1);
    assert.ok(Math.max(...sizes.values()) > 1, 'no commit held more than one message: the test did not exercise group commit');
  });

  it('a commit that mixes messages with attempt records (which need no sync) is synced too', async () => {
    const run = randomBytes(4).toString('hex');
    const receiver: Receiver = await startReceiver();
    // Each attempt stores the receiver's answer: a marker that shows which commit wrote it.
    receiver.respond = (_r, n) => ({ status: 200, body: `attempt-${run}-${n}-end` });
    let posted: Posted[] = [];
    try {
      const trace = await traceServer(async (url) => {
        const app = await childApi(url, 'POST', '/api/v1/app', { name: 'durability' });
        assert.equal(app.status, 201);
        const ep = await childApi(url, 'POST', `/api/v1/app/${app.body.id}/endpoint`, { url: `${receiver.url}/hook` });
        assert.equal(ep.status, 201, JSON.stringify(ep.body));
        // Deliveries of the first messages are recorded while the next ones are written.
        posted = await postMessages(url, app.body.id, 60, 5, run);
        await receiver.waitFor(posted.length, 20_000);
        // The last attempts are recorded after the last 202: wait until a commit holds them.
        await new Promise((resolve) => setTimeout(resolve, 300));
      });
      const { txs, txOf } = assertSyncedBefore202(trace, posted);
      // The transaction that wrote an attempt is the first whose frames hold its marker.
      const withAttempts = new Set<Transaction>();
      for (let n = 1; n <= receiver.received.length; n++) {
        const tx = txs.find((x) => x.pages.some((page) => page.includes(`attempt-${run}-${n}-end`)));
        if (tx !== undefined) withAttempts.add(tx);
      }
      const mixed = new Set([...txOf.values()].filter((tx) => withAttempts.has(tx)));
      assert.ok(mixed.size > 0, `no commit held both a message and an attempt record (${withAttempts.size} held attempts): the test did not mix them`);
    } finally {
      await receiver.close();
    }
  });
});

// --- PostgreSQL ------------------------------------------------------------------------------

/** A WAL position ('16/B374D848') as a number, for comparing. */
function lsn(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

/** The same server and credentials, another database. */
function urlOf(database: string): string {
  const u = new URL(PG_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

describe('PostgreSQL: a 202 leaves only once its commit is flushed', () => {
  // A database of its own: pg_walinspect is installed there, and dropped with it.
  const database = `hw_durability_${randomBytes(4).toString('hex')}`;
  let created = false;

  after(async () => {
    if (!created) return;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  });

  it('the WAL is flushed past each message\'s commit record when its 202 arrives', async (t) => {
    await requirePostgres();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      const available = await admin.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'pg_walinspect'`);
      if (available.rowCount === 0) {
        t.skip('pg_walinspect (PostgreSQL 15 and later, in contrib) is not available: it finds each commit record in the WAL');
        return;
      }
      await admin.query(`CREATE DATABASE ${database}`);
      created = true;
    } finally {
      await admin.end();
    }
    const url = urlOf(database);
    const setup = new pg.Client({ connectionString: url });
    await setup.connect();
    await setup.query('CREATE EXTENSION pg_walinspect');
    // One observer per client, connected beforehand, so each reads the flush position at once.
    const WORKERS = 4;
    const observers = await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        return c;
      }),
    );
    const cfg = loadConfig(
      { port: '0', db: url },
      { HOOKWELL_ADMIN_TOKEN: TOKEN, HOOKWELL_LOG_LEVEL: 'silent', HOOKWELL_DB_POOL_SIZE: '4' },
    );
    const hw = await startHookwell(cfg, createLogger(cfg.logLevel));
    try {
      const app = await childApi(hw.url!, 'POST', '/api/v1/app', { name: 'durability' });
      assert.equal(app.status, 201);
      const from = (await setup.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn;
      const seen: { id: string; flushed: string }[] = [];
      await Promise.all(
        observers.map(async (observer, w) => {
          for (let i = 0; i < 10; i++) {
            const res = await childApi(hw.url!, 'POST', `/api/v1/app/${app.body.id}/msg`, { eventType: 'lab.result', payload: { w, i } });
            const flushed = (await observer.query<{ lsn: string }>('SELECT pg_current_wal_flush_lsn()::text AS lsn')).rows[0]!.lsn;
            assert.equal(res.status, 202, JSON.stringify(res.body));
            seen.push({ id: res.body.id, flushed });
          }
        }),
      );
      // Everything written so far is flushed before the WAL is read back.
      const end = (await setup.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn;
      const deadline = Date.now() + 5_000;
      while (lsn((await setup.query<{ lsn: string }>('SELECT pg_current_wal_flush_lsn()::text AS lsn')).rows[0]!.lsn) < lsn(end)) {
        assert.ok(Date.now() < deadline, 'the WAL was not flushed within 5 s');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const rows = (await setup.query<{ id: string; xid: string }>('SELECT id, xmin::text AS xid FROM messages WHERE id = ANY($1)', [seen.map((s) => s.id)])).rows;
      const xidOf = new Map(rows.map((r) => [r.id, r.xid]));
      const commits = (
        await setup.query<{ xid: string; end_lsn: string }>(
          `SELECT xid::text AS xid, end_lsn::text AS end_lsn FROM pg_get_wal_records_info($1, $2)
            WHERE resource_manager = 'Transaction' AND record_type = 'COMMIT'`,
          [from, end],
        )
      ).rows;
      const commitEnd = new Map(commits.map((c) => [c.xid, c.end_lsn]));
      const problems: string[] = [];
      for (const s of seen) {
        const xid = xidOf.get(s.id);
        const committed = xid === undefined ? undefined : commitEnd.get(xid);
        if (committed === undefined) problems.push(`${s.id}: ${xid === undefined ? 'not stored' : `no commit record of transaction ${xid} in the WAL`}`);
        else if (lsn(s.flushed) < lsn(committed)) problems.push(`${s.id}: WAL flushed to ${s.flushed} when its 202 arrived, but its commit record ends at ${committed}`);
      }
      if (problems.length > 0) {
        const shown = problems.slice(0, 10).join('\n  ');
        assert.fail(`${problems.length} of ${seen.length} messages were answered 202 before their commit was flushed:\n  ${shown}${problems.length > 10 ? '\n  …' : ''}`);
      }
    } finally {
      await hw.close();
      await Promise.all(observers.map((c) => c.end()));
      await setup.end();
    }
  });
});
