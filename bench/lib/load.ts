import { Pool } from 'undici';
import { sleep } from './clock.ts';

export interface Target {
  origin: string;
  path: string;
  headers: Record<string, string>;
}

export interface ClosedLoopOptions extends Target {
  /** The request body of the i-th request. */
  body: (i: number) => string;
  /** Headers of the i-th request beyond `headers` (e.g. a key of its own). */
  headersOf?: (i: number) => Record<string, string>;
  /** Requests in flight at once; the pool has as many keep-alive connections. */
  concurrency: number;
  expectStatus: number;
  warmupMs: number;
  measureMs: number;
  /** Called as the measured window opens ('start') and closes ('end'), e.g. to read a server's CPU time. */
  onWindow?: (edge: 'start' | 'end') => void;
}

export interface ClosedLoopResult {
  /** Responses with the expected status completed inside the measured window. */
  ok: number;
  /** Anything else completed inside the window (other status or network error), by kind. */
  failures: Record<string, number>;
  seconds: number;
  perSec: number;
}

function newPool(origin: string, concurrency: number): Pool {
  return new Pool(origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 60_000 });
}

/**
 * `concurrency` workers each keep one request in flight, back to back, for the warm-up and
 * then the measured window; only completions inside the window count. The same code
 * drives Hookwell and the bare baseline.
 */
export async function closedLoop(o: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const pool = newPool(o.origin, o.concurrency);
  let phase: 'warmup' | 'measure' | 'stop' = 'warmup';
  let ok = 0;
  const failures: Record<string, number> = {};
  let seq = 0;
  const worker = async () => {
    while (phase !== 'stop') {
      const i = seq++;
      const body = o.body(i);
      const headers = o.headersOf === undefined ? o.headers : { ...o.headers, ...o.headersOf(i) };
      let kind: string;
      try {
        const res = await pool.request({ path: o.path, method: 'POST', headers, body });
        await res.body.dump();
        kind = res.statusCode === o.expectStatus ? 'ok' : `status ${res.statusCode}`;
      } catch (err) {
        kind = (err as { code?: string }).code ?? (err as Error).message;
        await sleep(1);
      }
      if (phase !== 'measure') continue;
      if (kind === 'ok') ok++;
      else failures[kind] = (failures[kind] ?? 0) + 1;
    }
  };
  const workers = Array.from({ length: o.concurrency }, worker);
  await sleep(o.warmupMs);
  phase = 'measure';
  o.onWindow?.('start');
  const start = performance.now();
  await sleep(o.measureMs);
  phase = 'stop';
  const seconds = (performance.now() - start) / 1000;
  o.onWindow?.('end');
  await Promise.all(workers);
  await pool.close();
  return { ok, failures, seconds, perSec: ok / seconds };
}

export interface CountOptions extends Target {
  body: (i: number) => string;
  concurrency: number;
  expectStatus: number;
  total: number;
  /** performance.now() after which no new request starts. */
  deadline?: number;
}

export interface CountResult {
  accepted: number;
  failed: number;
  seconds: number;
  perSec: number;
  /** Stopped by the deadline before `total` were accepted. */
  timedOut: boolean;
}

/** Sends requests 0 … total-1 with `concurrency` in flight; a refused one is retried. */
export async function sendCount(o: CountOptions): Promise<CountResult> {
  const pool = newPool(o.origin, o.concurrency);
  const retry: number[] = [];
  let next = 0;
  let accepted = 0;
  let failed = 0;
  let timedOut = false;
  const start = performance.now();
  const worker = async () => {
    for (;;) {
      if (o.deadline !== undefined && performance.now() > o.deadline) {
        timedOut = true;
        return;
      }
      const i = retry.length > 0 ? retry.pop()! : next < o.total ? next++ : -1;
      if (i < 0) return;
      try {
        const res = await pool.request({ path: o.path, method: 'POST', headers: o.headers, body: o.body(i) });
        await res.body.dump();
        if (res.statusCode === o.expectStatus) {
          accepted++;
          continue;
        }
      } catch {
        // counted below
      }
      failed++;
      retry.push(i);
      if (failed > 1000) throw new Error(`more than 1000 requests failed while sending ${o.total}`);
      await sleep(5);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  await pool.close();
  return { accepted, failed, seconds, perSec: accepted / seconds, timedOut: timedOut && accepted < o.total };
}
