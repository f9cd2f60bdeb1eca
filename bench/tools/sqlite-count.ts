// Instrumentation preload for the Hookwell server child (profiling aid, not part of the run):
//   BENCH_SERVER_NODE_ARGS="--import tsx --import ./bench/tools/sqlite-count.ts" npm run bench
// Counts and times every better-sqlite3 exec() and statement call, and GroupCommit flushes
// (BEGIN IMMEDIATE … COMMIT), and prints a table to stderr when the process exits.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';

const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();

interface Stat {
  calls: number;
  ms: number;
  rows: number;
  maxMs: number;
  over5ms: number;
}
const stats = new Map<string, Stat>();
const add = (key: string, ms: number, rows = 0) => {
  const s = stats.get(key) ?? { calls: 0, ms: 0, rows: 0, maxMs: 0, over5ms: 0 };
  s.calls++;
  s.ms += ms;
  s.rows += rows;
  s.maxMs = Math.max(s.maxMs, ms);
  if (ms > 5) s.over5ms++;
  stats.set(key, s);
};
const label = (sql: string) => sql.replace(/\s+/g, ' ').trim().slice(0, 90);

let flushStart = 0;
let jobsInFlush = 0;
const flushSizes = new Map<number, number>();
let flushMs = 0;
let flushMaxMs = 0;
let flushOver5 = 0;
let flushes = 0;
const started = performance.now();

type Proto = { exec: (sql: string) => unknown; prepare: (sql: string) => unknown };
const proto = (Database as unknown as { prototype: Proto }).prototype;
const exec = proto.exec;
proto.exec = function (this: unknown, sql: string) {
  const t = performance.now();
  if (sql === 'BEGIN IMMEDIATE') {
    flushStart = t;
    jobsInFlush = 0;
  }
  if (sql === 'SAVEPOINT job') jobsInFlush++;
  try {
    return exec.call(this, sql);
  } finally {
    const end = performance.now();
    add(`exec ${label(sql)}`, end - t);
    if (sql === 'COMMIT' && flushStart > 0) {
      flushes++;
      flushMs += end - flushStart;
      flushMaxMs = Math.max(flushMaxMs, end - flushStart);
      if (end - flushStart > 5) flushOver5++;
      flushSizes.set(jobsInFlush, (flushSizes.get(jobsInFlush) ?? 0) + 1);
      flushStart = 0;
    }
  }
};

let patched = false;
const prepare = proto.prepare;
proto.prepare = function (this: unknown, sql: string) {
  const stmt = prepare.call(this, sql) as object;
  if (!patched) {
    patched = true;
    const sp = Object.getPrototypeOf(stmt) as Record<string, (...a: unknown[]) => unknown>;
    for (const m of ['run', 'get', 'all'] as const) {
      const orig = sp[m]!;
      sp[m] = function (this: { source: string }, ...args: unknown[]) {
        const t = performance.now();
        const r = orig.apply(this, args);
        add(`${m} ${label(this.source)}`, performance.now() - t, Array.isArray(r) ? r.length : 0);
        return r;
      };
    }
  }
  return stmt;
};

process.on('exit', () => {
  const wall = performance.now() - started;
  const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const ms = (ns: number) => (ns / 1e6).toFixed(1);
  const out: string[] = [
    `[sqlite-count] process wall ${wall.toFixed(0)} ms; group commits ${flushes}, ${flushMs.toFixed(0)} ms inside BEGIN…COMMIT, ` +
      `longest ${flushMaxMs.toFixed(1)} ms, ${flushOver5} over 5 ms`,
    `[sqlite-count] event-loop delay p50 ${ms(loopDelay.percentile(50))} ms, p99 ${ms(loopDelay.percentile(99))} ms, max ${ms(loopDelay.max)} ms`,
  ];
  out.push(`[sqlite-count] jobs per group commit: ${JSON.stringify(Object.fromEntries([...flushSizes.entries()].sort((a, b) => a[0] - b[0])))}`);
  for (const [k, s] of rows.slice(0, 25)) {
    out.push(`[sqlite-count] ${s.ms.toFixed(0).padStart(7)} ms ${String(s.calls).padStart(8)} calls ${(1000 * s.ms / s.calls).toFixed(0).padStart(6)} µs/call max ${s.maxMs.toFixed(1).padStart(5)} ms ${String(s.over5ms).padStart(4)} >5ms ${s.rows ? `${(s.rows / s.calls).toFixed(1)} rows/call ` : ''} ${k}`);
  }
  process.stderr.write(out.join('\n') + '\n');
});
