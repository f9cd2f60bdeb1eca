// What a delivery needs to authenticate to an endpoint beyond its signature: an OAuth 2
// access token (client credentials), and a TLS set-up of its own (client certificate, CA).
import { createHash } from 'node:crypto';
import { request, type Agent, type Dispatcher } from 'undici';
import { parseClientIdentity } from '../domain/endpoint-auth.js';
import type { EndpointAuth, EndpointOauth } from '../domain/types.js';
import { checkLiteralHost } from './target-guard.js';

/** Why no token came; the message is shown with the attempt, so it holds no secret and no token. */
export class TokenError extends Error {}

const TOKEN_BODY_LIMIT = 64 * 1024;
/** How long a token is used that came without `expires_in` (RFC 6749 5.1 leaves it to the server). */
export const DEFAULT_TOKEN_LIFETIME_MS = 5 * 60_000;
/** A token is replaced this long before it expires (at most half its lifetime), so none expires in flight. */
export const TOKEN_REFRESH_MARGIN_MS = 60_000;
/** Endpoints whose token or TLS agent is kept; beyond it the least recently used goes. */
const MAX_CACHED = 1024;

const fingerprint = (...parts: unknown[]): string => createHash('sha256').update(JSON.stringify(parts)).digest('base64url');

/** The token URL as attempts name it: without its query, which may carry credentials. */
export const tokenUrlShown = (tokenUrl: string): string => {
  try {
    const u = new URL(tokenUrl);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid token URL)';
  }
};

/** Keeps at most `max` entries, the least recently used leaving first (through `evict`). */
function touch<V>(map: Map<string, V>, key: string, value: V, max: number, evict: (v: V) => void = () => {}): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const [oldest, v] = map.entries().next().value as [string, V];
    map.delete(oldest);
    evict(v);
  }
}

interface CachedToken {
  fingerprint: string;
  token: string;
  refreshAt: number;
}

/**
 * OAuth 2 access tokens per endpoint (client credentials, RFC 6749 4.4), each fetched once
 * and reused until shortly before it expires. Concurrent deliveries to one endpoint share
 * one token request. A changed configuration (another client, secret or URL) is a miss.
 */
export class OauthTokens {
  private readonly cache = new Map<string, CachedToken>();
  private readonly pending = new Map<string, { fingerprint: string; promise: Promise<string> }>();

  constructor(
    /** Guarded like deliveries: the token URL is a target like any other. */
    private readonly dispatcher: Dispatcher,
    private readonly opts: { timeoutMs: number; allowPrivateTargets: boolean; userAgent: string },
    private readonly now: () => number = Date.now,
  ) {}

  token(endpointId: string, cfg: EndpointOauth): Promise<string> {
    const fp = fingerprint(cfg);
    const hit = this.cache.get(endpointId);
    if (hit !== undefined && hit.fingerprint === fp && this.now() < hit.refreshAt) return Promise.resolve(hit.token);
    const inFlight = this.pending.get(endpointId);
    if (inFlight !== undefined && inFlight.fingerprint === fp) return inFlight.promise;
    const asked = this.now();
    const promise = this.fetch(cfg)
      .then(({ token, lifetimeMs }) => {
        const margin = Math.min(TOKEN_REFRESH_MARGIN_MS, lifetimeMs / 2);
        touch(this.cache, endpointId, { fingerprint: fp, token, refreshAt: asked + lifetimeMs - margin }, MAX_CACHED);
        return token;
      })
      .finally(() => {
        if (this.pending.get(endpointId)?.promise === promise) this.pending.delete(endpointId);
      });
    this.pending.set(endpointId, { fingerprint: fp, promise });
    return promise;
  }

  /** Drops an endpoint's token: the endpoint refused it (401), so the next attempt asks for a new one. */
  forget(endpointId: string): void {
    this.cache.delete(endpointId);
  }

  private async fetch(cfg: EndpointOauth): Promise<{ token: string; lifetimeMs: number }> {
    const shown = tokenUrlShown(cfg.tokenUrl);
    const url = new URL(cfg.tokenUrl);
    if (!this.opts.allowPrivateTargets) checkLiteralHost(url);
    // Extra parameters first: they may add to the request, not replace what the grant needs.
    const form = new URLSearchParams(cfg.extraParams ?? {});
    form.set('grant_type', 'client_credentials');
    if (cfg.scopes !== null && cfg.scopes.length > 0) form.set('scope', cfg.scopes.join(' '));
    const headers: Record<string, string> = {
      ...(cfg.extraHeaders ?? {}),
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      'user-agent': this.opts.userAgent,
    };
    if (cfg.authMethod === 'clientSecretBasic') {
      // RFC 6749 2.3.1: both are form-encoded before they are joined and base64-encoded.
      const enc = (v: string) => new URLSearchParams({ v }).toString().slice(2);
      headers.authorization = `Basic ${Buffer.from(`${enc(cfg.clientId)}:${enc(cfg.clientSecret)}`).toString('base64')}`;
    } else {
      form.set('client_id', cfg.clientId);
      form.set('client_secret', cfg.clientSecret);
    }
    const res = await request(url, {
      method: 'POST',
      headers,
      body: form.toString(),
      dispatcher: this.dispatcher,
      signal: AbortSignal.timeout(this.opts.timeoutMs),
      headersTimeout: this.opts.timeoutMs + 1000,
      bodyTimeout: this.opts.timeoutMs + 1000,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > TOKEN_BODY_LIMIT) {
        res.body.destroy();
        throw new TokenError(`${shown} answered with more than ${TOKEN_BODY_LIMIT / 1024} KiB`);
      }
      chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> | null = null;
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      body = null;
    }
    // A server's words may quote what it was sent: the secret never leaves in them.
    const scrub = (s: string) => s.split(cfg.clientSecret).join('********').slice(0, 200);
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const why = [body?.error, body?.error_description].filter((v): v is string => typeof v === 'string').map(scrub);
      throw new TokenError(`${shown} answered ${res.statusCode}${why.length > 0 ? ` (${why.join(': ')})` : ''}`);
    }
    if (body === null) throw new TokenError(`${shown} answered ${res.statusCode} without a JSON object`);
    const token = body.access_token;
    if (typeof token !== 'string' || token === '') throw new TokenError(`${shown} answered ${res.statusCode} without an access_token`);
    if (typeof body.token_type === 'string' && body.token_type.toLowerCase() !== 'bearer') {
      throw new TokenError(`${shown} issued a "${scrub(body.token_type)}" token; only bearer tokens can be sent`);
    }
    const expiresIn = typeof body.expires_in === 'string' ? Number(body.expires_in) : body.expires_in;
    const lifetimeMs = typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : DEFAULT_TOKEN_LIFETIME_MS;
    return { token, lifetimeMs };
  }
}

/** The TLS options of an endpoint's own agent: its client certificate, and the CA its server must chain to. */
export interface EndpointTls {
  key?: string;
  cert?: string;
  ca?: string;
}

/**
 * One undici Agent per endpoint that has a client certificate or a CA of its own (the shared
 * agent serves all the others): TLS options are per agent, and an agent keeps its warm
 * connections. A changed configuration gets a new agent; the one it replaces, or one that
 * falls out of the cache, is closed once its requests in flight are done.
 */
export class TlsAgents {
  private readonly agents = new Map<string, { fingerprint: string; agent: Agent }>();

  constructor(
    private readonly make: (tls: EndpointTls) => Agent,
    private readonly max = MAX_CACHED,
  ) {}

  /** The agent for an endpoint's TLS set-up, or null when it has none (the shared agent serves it). */
  for(endpointId: string, auth: EndpointAuth): Agent | null {
    const held = this.agents.get(endpointId);
    if (auth.mtlsIdentity === null && auth.serverCa === null) {
      if (held !== undefined) {
        this.agents.delete(endpointId);
        this.retire(held.agent);
      }
      return null;
    }
    const fp = fingerprint(auth.mtlsIdentity, auth.serverCa);
    if (held !== undefined && held.fingerprint === fp) {
      touch(this.agents, endpointId, held, this.max);
      return held.agent;
    }
    if (held !== undefined) this.retire(held.agent);
    const tls: EndpointTls = {};
    if (auth.mtlsIdentity !== null) Object.assign(tls, parseClientIdentity(auth.mtlsIdentity));
    if (auth.serverCa !== null) tls.ca = auth.serverCa;
    const agent = this.make(tls);
    touch(this.agents, endpointId, { fingerprint: fp, agent }, this.max, (v) => this.retire(v.agent));
    return agent;
  }

  get size(): number {
    return this.agents.size;
  }

  private retire(agent: Agent): void {
    agent.close().catch(() => {});
  }

  async close(): Promise<void> {
    const all = [...this.agents.values()];
    this.agents.clear();
    await Promise.all(all.map((e) => e.agent.close().catch(() => {})));
  }
}
