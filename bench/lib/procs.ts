import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { log, wallNow } from './clock.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const HOOKWELL_BIN = path.join(ROOT, 'packages', 'server', 'bin', 'hookwell.js');

/** Every child started and not yet seen to exit: killed on the way out, whatever the way. */
const live = new Set<ChildProcess>();
const labels = new WeakMap<ChildProcess, string>();

function track(c: ChildProcess, label: string): ChildProcess {
  live.add(c);
  labels.set(c, label);
  c.once('exit', () => live.delete(c));
  return c;
}

/** The children running now, each with the label it was started under. */
export function liveChildren(): { label: string; pid: number | undefined }[] {
  return [...live].map((c) => ({ label: labels.get(c) ?? 'child', pid: c.pid }));
}

/** Synchronous, for process 'exit' handlers. */
export function killAllSync(): void {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

export function exited(c: ChildProcess): boolean {
  return c.exitCode !== null || c.signalCode !== null;
}

export function waitExit(c: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(c)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      c.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    c.once('exit', onExit);
  });
}

/** Signals the child and waits; SIGKILL if it has not gone within the timeout. */
export async function stopChild(c: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<void> {
  if (exited(c)) return;
  c.kill(signal);
  if (!(await waitExit(c, timeoutMs))) {
    log(`child ${c.pid} did not exit within ${timeoutMs} ms of ${signal}; killing it`);
    c.kill('SIGKILL');
    await waitExit(c, 5_000);
  }
}

type Message = { type: string } & Record<string, unknown>;

/** A forked TypeScript helper (receiver, bare server) that talks over IPC. */
export class Helper {
  private readonly waiters = new Map<string, ((m: Message) => void)[]>();
  private readonly handlers = new Map<string, (m: Message) => void>();
  port = 0;

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    proc.on('message', (m: Message) => {
      this.handlers.get(m.type)?.(m);
      const list = this.waiters.get(m.type);
      const w = list?.shift();
      if (w) w(m);
    });
  }

  static async start(script: string, name: string, timeoutMs = 20_000): Promise<Helper> {
    const proc = track(
      fork(path.join(ROOT, 'bench', 'children', script), [], {
        cwd: ROOT,
        execArgv: ['--import', 'tsx'],
        // The child's stdout goes to our stderr: stdout is for result lines only.
        stdio: ['ignore', 2, 2, 'ipc'],
        env: { ...process.env, NODE_OPTIONS: '' },
      }),
      name,
    );
    const h = new Helper(name, proc);
    const ready = await h.next('ready', timeoutMs);
    h.port = ready.port as number;
    return h;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  send(msg: Message): void {
    this.proc.send(msg);
  }

  /** Calls `fn` for every message of this type (in addition to any waiter). */
  on(type: string, fn: (m: Message) => void): void {
    this.handlers.set(type, fn);
  }

  /** The next message of this type. */
  next(type: string, timeoutMs: number): Promise<Message> {
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(type) ?? [];
      this.waiters.set(type, list);
      const onExit = () => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited while waiting for "${type}"`));
      };
      const timer = setTimeout(() => {
        const i = list.indexOf(deliver);
        if (i >= 0) list.splice(i, 1);
        this.proc.off('exit', onExit);
        reject(new Error(`${this.name}: no "${type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const deliver = (m: Message) => {
        clearTimeout(timer);
        this.proc.off('exit', onExit);
        resolve(m);
      };
      list.push(deliver);
      this.proc.once('exit', onExit);
    });
  }

  async request(msg: Message, replyType: string, timeoutMs = 10_000): Promise<Message> {
    const reply = this.next(replyType, timeoutMs);
    this.send(msg);
    return reply;
  }

  /**
   * Offset of the child's clock from ours (child minus parent), from the IPC ping with the
   * shortest round trip.
   */
  async clockOffset(samples = 25): Promise<{ offsetMs: number; rttMs: number }> {
    let best = { offsetMs: 0, rttMs: Number.POSITIVE_INFINITY };
    for (let i = 0; i < samples; i++) {
      const t0 = wallNow();
      const pong = await this.request({ type: 'ping', t: t0 }, 'pong');
      const t1 = wallNow();
      if (t1 - t0 < best.rttMs) best = { offsetMs: (pong.now as number) - (t0 + t1) / 2, rttMs: t1 - t0 };
    }
    return best;
  }

  async stop(): Promise<void> {
    if (this.proc.connected) this.proc.disconnect();
    await stopChild(this.proc, 'SIGTERM', 5_000);
  }
}

export interface ServerHandle {
  proc: ChildProcess;
  url: string;
  /** Wall-clock ms when spawned and when its "listening" line arrived. */
  spawnedAt: number;
  listeningAt: number;
}

/** A Hookwell process with HOOKWELL_ROLE=worker: it delivers and serves no HTTP. */
export interface WorkerHandle {
  proc: ChildProcess;
  /** Wall-clock ms when spawned and when its "worker started" line arrived. */
  spawnedAt: number;
  startedAt: number;
}

export interface ServerOptions {
  /** A SQLite file path, or a postgres:// URL (then HOOKWELL_DB_SCHEMA, HOOKWELL_ROLE … go in `env`). */
  db: string;
  token: string;
  /** HOOKWELL_* settings on top of the bench defaults. */
  env?: Record<string, string>;
  label: string;
  timeoutMs?: number;
}

/**
 * Starts `hookwell serve --port 0` as a child process and resolves with its URL, taken
 * from the JSON log line "hookwell listening on …". All of its output goes to our stderr.
 * BENCH_SERVER_NODE_ARGS are node flags put before the script (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof",
 * which NODE_OPTIONS does not accept); BENCH_SERVER_NODE_OPTIONS, if set, becomes its NODE_OPTIONS.
 */
export async function startServer(o: ServerOptions): Promise<ServerHandle> {
  const r = await spawnHookwell(o, 'listening');
  return { proc: r.proc, url: r.url, spawnedAt: r.spawnedAt, listeningAt: r.readyAt };
}

/** Starts `hookwell serve` with HOOKWELL_ROLE=worker; resolves on its "hookwell worker started" line. */
export async function startWorker(o: ServerOptions): Promise<WorkerHandle> {
  const r = await spawnHookwell({ ...o, env: { ...o.env, HOOKWELL_ROLE: 'worker' } }, 'worker');
  return { proc: r.proc, spawnedAt: r.spawnedAt, startedAt: r.readyAt };
}

function spawnHookwell(o: ServerOptions, ready: 'listening' | 'worker'): Promise<{ proc: ChildProcess; url: string; spawnedAt: number; readyAt: number }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('HOOKWELL_')) env[k] = v;
  Object.assign(env, {
    HOOKWELL_ADMIN_TOKEN: o.token,
    HOOKWELL_ALLOW_PRIVATE_TARGETS: 'true',
    HOOKWELL_LOG_LEVEL: 'info',
    ...o.env,
  });
  if (process.env.BENCH_SERVER_NODE_OPTIONS !== undefined) env.NODE_OPTIONS = process.env.BENCH_SERVER_NODE_OPTIONS;
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');
  const spawnedAt = wallNow();
  const proc = track(
    spawn(process.execPath, [...nodeArgs, HOOKWELL_BIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--db', o.db], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
    o.label,
  );
  const timeoutMs = o.timeoutMs ?? 30_000;
  const what = ready === 'listening' ? '"listening" line' : '"worker started" line';
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => fail(new Error(`${o.label}: no ${what} within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(err);
    };
    proc.once('exit', (code, signal) => fail(new Error(`${o.label} exited before it was ready (code ${code}, signal ${signal})`)));
    proc.once('error', fail);
    createInterface({ input: proc.stderr! }).on('line', (line) => process.stderr.write(`[${o.label} stderr] ${line}\n`));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const at = wallNow();
      let rec: { msg?: unknown; url?: unknown } | null = null;
      try {
        rec = JSON.parse(line) as { msg?: unknown; url?: unknown };
      } catch {
        rec = null;
      }
      process.stderr.write(`[${o.label}] ${line}\n`);
      if (done || rec === null || typeof rec.msg !== 'string') return;
      const isReady =
        ready === 'listening' ? rec.msg.startsWith('hookwell listening on') && typeof rec.url === 'string' : rec.msg === 'hookwell worker started';
      if (isReady) {
        done = true;
        clearTimeout(timer);
        resolve({ proc, url: typeof rec.url === 'string' ? rec.url : '', spawnedAt, readyAt: at });
      }
    });
  });
}
