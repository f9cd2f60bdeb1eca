import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, type Dispatcher } from 'undici';
import { EVENT_TYPE_HEADER, signatureHeader } from '@hookwell/receiver';
import type { Config } from '../config.js';
import type { Work } from '../store/store.js';
import type { EndpointAuth } from '../domain/types.js';
import type { TraceContext } from '../domain/trace-context.js';
import { checkLiteralHost, guardedLookup, TARGET_UNRESOLVED, TargetRefusedError } from './target-guard.js';
import { parseRetryAfter } from './schedule.js';
import { OauthTokens, TlsAgents, tokenUrlShown, type EndpointTls } from './endpoint-auth.js';

export const RESPONSE_BODY_LIMIT = 16 * 1024;
export { USER_AGENT } from '../domain/signing.js';
import { USER_AGENT } from '../domain/signing.js';
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

/** Resolver failures: all are "could not resolve", whatever the resolver said. */
const DNS_ERRORS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME', 'ENODATA', 'ESERVFAIL', 'EREFUSED']);

/** Why an attempt got no response, in words the endpoint's owner may read (attempts, ping). */
function describe(err: unknown, timeoutMs: number): string {
  if (err instanceof TargetRefusedError) return err.message;
  const e = err as { name?: string; code?: string; message?: string; cause?: unknown };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no response within ${timeoutMs} ms`;
  if (e.cause instanceof TargetRefusedError) return e.cause.message;
  if ((e.code !== undefined && DNS_ERRORS.has(e.code)) || DNS_ERRORS.has((e.cause as { code?: string } | undefined)?.code ?? '')) return TARGET_UNRESOLVED;
  const code = e.code ? `${e.code}: ` : '';
  return `${code}${e.message ?? String(err)}`;
}

function failure(started: number, error: string): SendResult {
  return { statusCode: 0, body: '', durationMs: Math.round(performance.now() - started), error, retryAfterSeconds: null };
}

/**
 * One exchange, driven by undici's dispatcher callbacks rather than a response stream:
 * at thousands of attempts a second the stream machinery costs more than the attempt.
 * Settles exactly once: on the response's end, on an error, on the timeout, or once the
 * first 16 KiB of the body are in (the rest is not read; the connection is dropped).
 */
class Attempt implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private readonly timer: NodeJS.Timeout;
  private done = false;
  private statusCode = 0;
  private retryAfter: string | string[] | undefined;
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly started: number,
    private readonly timeoutMs: number,
    private readonly resolve: (r: SendResult) => void,
  ) {
    this.timer = setTimeout(() => this.timeout(), timeoutMs);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.done) controller.abort(new Error('attempt already settled'));
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.statusCode = statusCode;
    this.retryAfter = headers['retry-after'];
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.done) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size >= RESPONSE_BODY_LIMIT) {
      this.finish();
      controller.abort(new Error('response body limit reached'));
    }
  }

  onResponseEnd(): void {
    this.finish();
  }

  onResponseError(_c: Dispatcher.DispatchController | null, err: Error): void {
    this.settle(failure(this.started, describe(err, this.timeoutMs)));
  }

  private timeout(): void {
    this.settle(failure(this.started, `no response within ${this.timeoutMs} ms`));
    this.controller?.abort(new Error(`no response within ${this.timeoutMs} ms`));
  }

  private finish(): void {
    if (this.done) return;
    const bytes = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.settle({
      statusCode: this.statusCode,
      body: bytes.length === 0 ? '' : bytes.subarray(0, RESPONSE_BODY_LIMIT).toString('utf8'),
      durationMs: Math.round(performance.now() - this.started),
      error: null,
      retryAfterSeconds: parseRetryAfter(this.retryAfter, Date.now()),
    });
  }

  private settle(r: SendResult): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.resolve(r);
  }
}

/** Where a ping goes: an endpoint's URL (or the one it would have), its headers and secrets, and its authentication if it has any. */
export interface PingTarget {
  url: string;
  headers: Record<string, string>;
  secrets: string[];
  auth?: (EndpointAuth & { endpointId: string }) | null;
}

/** Sends one signed delivery attempt. Redirects are not followed: a 3xx is a failure. */
export class Sender {
  private readonly agent: Agent;
  private readonly urls = new Map<string, URL>();
  private readonly tokens: OauthTokens;
  private readonly tlsAgents: TlsAgents;

  constructor(private readonly cfg: Config) {
    const agentFor = (tls: EndpointTls = {}) =>
      new Agent({
        keepAliveTimeout: 30_000,
        // Pools are per origin, and several endpoints may share one: a cap here would let a
        // hanging endpoint starve its neighbours. The dispatcher bounds concurrency instead.
        connections: cfg.concurrency,
        connect: { ...tls, ...(cfg.allowPrivateTargets ? {} : { lookup: guardedLookup }) },
      });
    this.agent = agentFor();
    this.tlsAgents = new TlsAgents(agentFor);
    this.tokens = new OauthTokens(this.agent, { timeoutMs: cfg.requestTimeoutMs, allowPrivateTargets: cfg.allowPrivateTargets, userAgent: USER_AGENT });
  }

  /**
   * One signed attempt of a delivery: its payload, or `body` in its place (a thin delivery).
   * Every attempt names its message's event type in `x-hookwell-event-type`, so a receiver can
   * dispatch a payload that does not name it (the header is not signed: a payload that names
   * its type is trusted over it). `trace` goes out as `traceparent` and `tracestate`: the
   * message's own, or the attempt's span's when tracing is on.
   */
  send(w: Work, body: string = w.payload, trace: TraceContext | null = w.trace): Promise<SendResult> {
    if (w.auth !== null) return this.sendAuthenticated(w, w.auth, body, trace);
    return this.post(w.url, w.headers, w.secrets, w.msgId, Buffer.from(body, 'utf8'), this.cfg.requestTimeoutMs, w.eventType, this.agent, trace);
  }

  /**
   * An attempt to an endpoint with OAuth, a client certificate or a CA of its own. A token
   * that cannot be had fails the attempt (no response, the reason recorded) like a refused
   * connection would, and the attempt is retried on the schedule.
   */
  private async sendAuthenticated(w: Work, auth: EndpointAuth, body: string, trace: TraceContext | null): Promise<SendResult> {
    const started = performance.now();
    const prepared = await this.authenticate(w.endpointId, auth, w.headers);
    if (typeof prepared === 'string') return failure(started, prepared);
    const r = await this.post(w.url, prepared.headers, w.secrets, w.msgId, Buffer.from(body, 'utf8'), this.cfg.requestTimeoutMs, w.eventType, prepared.agent, trace);
    if (auth.oauth !== null && r.statusCode === 401) this.tokens.forget(w.endpointId);
    return r;
  }

  /** The agent and headers a request to the endpoint goes with, or why there are none. */
  private async authenticate(endpointId: string, auth: EndpointAuth, headers: Record<string, string>): Promise<{ agent: Agent; headers: Record<string, string> } | string> {
    let agent: Agent;
    try {
      agent = this.tlsAgents.for(endpointId, auth) ?? this.agent;
    } catch (err) {
      return `the endpoint's client certificate cannot be used: ${(err as Error).message}`;
    }
    if (auth.oauth === null) return { agent, headers };
    let token: string;
    try {
      token = await this.tokens.token(endpointId, auth.oauth);
    } catch (err) {
      return `could not get an OAuth token from ${tokenUrlShown(auth.oauth.tokenUrl)}: ${describe(err, this.cfg.requestTimeoutMs)}`;
    }
    const out = Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'authorization'));
    out.authorization = `Bearer ${token}`;
    return { agent, headers: out };
  }

  /**
   * The ping/pong check of a URL: a signed `{"ping": "<random>"}` that passes only if the
   * answer, within two seconds, is a 2xx carrying `{"pong": "<the same>"}`. A ping is no
   * message and has no event type, so it carries no event type header: receivers know it by
   * its body, as Metriport's do.
   */
  async ping(target: PingTarget): Promise<{ ok: boolean; detail: string }> {
    const challenge = randomBytes(18).toString('base64url');
    const body = Buffer.from(JSON.stringify({ ping: challenge }));
    const id = `ping_${randomBytes(12).toString('base64url')}`;
    let headers = target.headers;
    let agent = this.agent;
    if (target.auth !== undefined && target.auth !== null) {
      const prepared = await this.authenticate(target.auth.endpointId, target.auth, headers);
      if (typeof prepared === 'string') return { ok: false, detail: prepared };
      ({ headers, agent } = prepared);
    }
    const r = await this.post(target.url, headers, target.secrets, id, body, PING_TIMEOUT_MS, null, agent);
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

  private post(
    target: string,
    extraHeaders: Record<string, string>,
    secrets: string[],
    id: string,
    body: Buffer,
    timeoutMs: number,
    eventType: string | null = null,
    agent: Agent = this.agent,
    trace: TraceContext | null = null,
  ): Promise<SendResult> {
    const started = performance.now();
    const ts = Math.floor(Date.now() / 1000);
    // Endpoint headers first: those Hookwell sets win over a stored header of the same name
    // (the API refuses such names, see RESERVED_HEADERS in api/endpoints.ts).
    const headers: Record<string, string> = {
      ...extraHeaders,
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      ...signingHeaders(this.cfg.signatureHeaders, id, ts, signatureHeader(secrets, id, ts, body)),
    };
    if (eventType !== null) {
      // An endpoint stored before the name was refused may hold it in another casing, which
      // would go out as a second header beside this one.
      for (const name in extraHeaders) if (name !== EVENT_TYPE_HEADER && name.toLowerCase() === EVENT_TYPE_HEADER) delete headers[name];
      headers[EVENT_TYPE_HEADER] = eventType;
    }
    if (trace !== null) {
      // The message's context replaces any an endpoint's stored headers name, in any casing;
      // a tracestate belongs to its traceparent, so an endpoint's own goes too.
      for (const name in extraHeaders) {
        const lower = name.toLowerCase();
        if (lower === 'traceparent' || lower === 'tracestate') delete headers[name];
      }
      headers.traceparent = trace.traceparent;
      if (trace.tracestate !== null) headers.tracestate = trace.tracestate;
    }
    let url: URL;
    try {
      url = this.parse(target);
      if (!this.cfg.allowPrivateTargets) checkLiteralHost(url);
    } catch (err) {
      return Promise.resolve(failure(started, describe(err, timeoutMs)));
    }
    return new Promise<SendResult>((resolve) => {
      const attempt = new Attempt(started, timeoutMs, resolve);
      try {
        agent.dispatch(
          {
            origin: url.origin,
            path: url.pathname + url.search,
            method: 'POST',
            headers,
            body,
            // The attempt's own timer bounds the whole exchange; these only back it up.
            headersTimeout: timeoutMs + 1000,
            bodyTimeout: timeoutMs + 1000,
          },
          attempt,
        );
      } catch (err) {
        attempt.onResponseError(null, err as Error);
      }
    });
  }

  /** Endpoint URLs repeat from one delivery to the next: each is parsed once. */
  private parse(target: string): URL {
    let url = this.urls.get(target);
    if (url === undefined) {
      url = new URL(target);
      if (this.urls.size >= 4096) this.urls.clear();
      this.urls.set(target, url);
    }
    return url;
  }

  async close(): Promise<void> {
    await Promise.all([this.agent.close(), this.tlsAgents.close()]);
  }
}
