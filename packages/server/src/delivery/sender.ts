import { Agent, request } from 'undici';
import { signatureHeader } from '@hookwell/receiver';
import type { Config } from '../config.js';
import type { Work } from '../store/store.js';
import { checkLiteralHost, guardedLookup, TargetRefusedError } from './target-guard.js';
import { parseRetryAfter } from './schedule.js';

export const RESPONSE_BODY_LIMIT = 16 * 1024;
export const USER_AGENT = 'Hookwell/0.1';

export interface SendResult {
  /** 0 when no response arrived. */
  statusCode: number;
  /** The first 16 KiB of the response body. */
  body: string;
  durationMs: number;
  /** Why no response arrived: network failure, timeout or a refused target. */
  error: string | null;
  retryAfterSeconds: number | null;
}

/** Headers that carry the signature scheme, by configured naming. */
function signingHeaders(mode: Config['signatureHeaders'], id: string, ts: number, sig: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (mode !== 'svix') Object.assign(out, { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': sig });
  if (mode !== 'webhook') Object.assign(out, { 'svix-id': id, 'svix-timestamp': String(ts), 'svix-signature': sig });
  return out;
}

function describe(err: unknown, timeoutMs: number): string {
  if (err instanceof TargetRefusedError) return err.message;
  const e = err as { name?: string; code?: string; message?: string; cause?: unknown };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no response within ${timeoutMs} ms`;
  if (e.cause instanceof TargetRefusedError) return e.cause.message;
  const code = e.code ? `${e.code}: ` : '';
  return `${code}${e.message ?? String(err)}`;
}

/** Sends one signed delivery attempt. Redirects are not followed: a 3xx is a failure. */
export class Sender {
  private readonly agent: Agent;

  constructor(private readonly cfg: Config) {
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      // Pools are per origin, and several endpoints may share one: a cap here would let a
      // hanging endpoint starve its neighbours. The dispatcher bounds concurrency instead.
      connections: cfg.concurrency,
      connect: cfg.allowPrivateTargets ? {} : { lookup: guardedLookup },
    });
  }

  async send(w: Work): Promise<SendResult> {
    const started = performance.now();
    const body = Buffer.from(w.payload, 'utf8');
    const ts = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      ...w.headers,
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      ...signingHeaders(this.cfg.signatureHeaders, w.msgId, ts, signatureHeader(w.secrets, w.msgId, ts, body)),
    };
    try {
      const url = new URL(w.url);
      if (!this.cfg.allowPrivateTargets) checkLiteralHost(url);
      const res = await request(url, {
        method: 'POST',
        headers,
        body,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.cfg.requestTimeoutMs),
        headersTimeout: this.cfg.requestTimeoutMs,
        bodyTimeout: this.cfg.requestTimeoutMs,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        const b = chunk as Buffer;
        chunks.push(b);
        size += b.length;
        if (size >= RESPONSE_BODY_LIMIT) {
          res.body.destroy();
          break;
        }
      }
      const text = Buffer.concat(chunks).subarray(0, RESPONSE_BODY_LIMIT).toString('utf8');
      return {
        statusCode: res.statusCode,
        body: text,
        durationMs: Math.round(performance.now() - started),
        error: null,
        retryAfterSeconds: parseRetryAfter(res.headers['retry-after'], Date.now()),
      };
    } catch (err) {
      return {
        statusCode: 0,
        body: '',
        durationMs: Math.round(performance.now() - started),
        error: describe(err, this.cfg.requestTimeoutMs),
        retryAfterSeconds: null,
      };
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
