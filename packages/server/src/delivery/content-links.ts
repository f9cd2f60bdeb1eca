import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed, expiring links to a message's content, each valid for one message and one
 * endpoint. A token is `<appId>.<endpointId>.<expiry ms>.<mac>`, the MAC (HMAC-SHA256 with
 * the installation's link key) covering those and the message id from the URL, so a token
 * used for another message, altered, or expired is refused. Nothing is stored per link.
 */
export class ContentLinks {
  constructor(
    private readonly key: Buffer,
    /** Where receivers reach this installation's API, e.g. https://hooks.example.com (known once listening). */
    private readonly baseUrl: () => string,
    readonly ttlMs: number,
  ) {}

  private mac(appId: string, msgId: string, endpointId: string, expiresAt: number): string {
    return createHmac('sha256', this.key).update(`${appId}\n${msgId}\n${endpointId}\n${expiresAt}`).digest('base64url');
  }

  make(appId: string, msgId: string, endpointId: string, now = Date.now()): { url: string; expiresAt: number } {
    const expiresAt = now + this.ttlMs;
    const token = `${appId}.${endpointId}.${expiresAt}.${this.mac(appId, msgId, endpointId, expiresAt)}`;
    return { url: `${this.baseUrl()}/api/v1/content/${encodeURIComponent(msgId)}?token=${token}`, expiresAt };
  }

  /** What a token grants for `msgId`, or why it grants nothing. */
  read(
    msgId: string,
    token: string,
    now = Date.now(),
  ): { ok: true; appId: string; endpointId: string } | { ok: false; why: string; appId?: string; endpointId?: string } {
    const parts = token.split('.');
    if (parts.length !== 4) return { ok: false, why: 'the content link is malformed' };
    const [appId, endpointId, expiry, mac] = parts as [string, string, string, string];
    const expiresAt = Number(expiry);
    if (!/^\d+$/.test(expiry) || !Number.isSafeInteger(expiresAt)) return { ok: false, why: 'the content link is malformed' };
    const expected = Buffer.from(this.mac(appId, msgId, endpointId, expiresAt));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, why: 'the content link is not valid for this message', appId, endpointId };
    }
    if (expiresAt <= now) return { ok: false, why: 'the content link has expired', appId, endpointId };
    return { ok: true, appId, endpointId };
  }
}

/**
 * A copy of `payload` holding only the values at `paths` (property names; `*` is every
 * element of an array), at the same places: the identifiers a thin delivery carries.
 */
export function pick(payload: unknown, paths: string[][]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const path of paths) {
    const value = at(payload, path);
    if (value !== undefined) merge(out, value);
  }
  return out;
}

/** The subtree of `node` along `path`, as an object shaped like the original, or undefined. */
function at(node: unknown, path: string[]): Record<string, unknown> | unknown[] | undefined {
  if (path.length === 0) return undefined;
  const [head, ...rest] = path as [string, ...string[]];
  if (head === '*') {
    if (!Array.isArray(node)) return undefined;
    return node.map((el) => (rest.length === 0 ? el : (at(el, rest) ?? {})));
  }
  if (typeof node !== 'object' || node === null || Array.isArray(node) || !(head in node)) return undefined;
  const value = (node as Record<string, unknown>)[head];
  if (rest.length === 0) return { [head]: value };
  const inner = at(value, rest);
  return inner === undefined ? undefined : { [head]: inner };
}

function merge(into: Record<string, unknown> | unknown[], from: Record<string, unknown> | unknown[]): void {
  if (Array.isArray(into) && Array.isArray(from)) {
    from.forEach((v, i) => {
      const cur = into[i];
      if (isContainer(cur) && isContainer(v)) merge(cur, v);
      else into[i] = v;
    });
    return;
  }
  for (const [k, v] of Object.entries(from)) {
    const cur = (into as Record<string, unknown>)[k];
    if (isContainer(cur) && isContainer(v)) merge(cur, v);
    else (into as Record<string, unknown>)[k] = v;
  }
}

function isContainer(v: unknown): v is Record<string, unknown> | unknown[] {
  return typeof v === 'object' && v !== null;
}
