import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { signatureHeader } from '@hookwell/receiver';
import type { Config } from '../config.js';
import type { Work } from '../store/store.js';
import { checkLiteralHost, guardedLookup, TargetRefusedError } from './target-guard.js';
import { parseRetryAfter } from './schedule.js';

export const RESPONSE_BODY_LIMIT = 16 * 1024;
export const USER_AGENT = 'Hookwell/0.1';
export const PING_TIMEOUT_MS = 2000;

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

  /** One signed attempt of a delivery. */
  send(w: Work): Promise<SendResult> {
    return this.post(w.url, w.headers, w.secrets, w.msgId, Buffer.from(w.payload, 'utf8'), this.cfg.requestTimeoutMs);
  }

  /**
   * The ping/pong check of a URL: a signed `{"ping": "<random>"}` that passes only if the
   * answer, within two seconds, is a 2xx carrying `{"pong": "<the same>"}`.
   */
  async ping(target: { url: string; headers: Record<string, string>; secrets: string[] }): Promise<{ ok: boolean; detail: string }> {
    const challenge = randomBytes(18).toString('base64url');
    const body = Buffer.from(JSON.stringify({ ping: challenge }));
    const id = `ping_${randomBytes(12).toString('base64url')}`;
    const r = await this.post(target.url, target.headers, target.secrets, id, body, PING_TIMEOUT_MS);
    if (r.error !== null) return { ok: false, detail: r.error };
    const shown = r.body.length > 200 ? `${r.body.slice(0, 200)}…` : r.body;
    if (r.statusCode < 200 || r.statusCode >= 300) return { ok: false, detail: `answered ${r.statusCode}${shown ? `: ${shown}` : ''}` };
    let pong: unknown;
    try {
      pong = (JSON.parse(r.body) as { pong?: unknown }).pong;
    } catch {
      pong = undefined;
    }
    if (pong !== challenge) return { ok: false, detail: `answered ${r.statusCode} without the matching pong: ${shown || '(empty body)'}` };
    return { ok: true, detail: `pong received in ${r.durationMs} ms` };
  }

  private async post(
    target: string,
    extraHeaders: Record<string, string>,
    secrets: string[],
    id: string,
    body: Buffer,
    timeoutMs: number,
  ): Promise<SendResult> {
    const started = performance.now();
    const ts = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      ...extraHeaders,
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      ...signingHeaders(this.cfg.signatureHeaders, id, ts, signatureHeader(secrets, id, ts, body)),
    };
    try {
      const url = new URL(target);
      if (!this.cfg.allowPrivateTargets) checkLiteralHost(url);
      const res = await request(url, {
        method: 'POST',
        headers,
        body,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(timeoutMs),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
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
        error: describe(err, timeoutMs),
        retryAfterSeconds: null,
      };
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
