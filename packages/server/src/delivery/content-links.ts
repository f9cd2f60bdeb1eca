import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a content link's token says, once its MAC is checked; nothing is believed before. */
export type LinkGrant =
  | { verified: false; why: string }
  | { verified: true; appId: string; endpointId: string; expiresAt: number; expired: boolean; secretTag: string };

/**
 * Signed, expiring links to a message's content, each valid for one message and one
 * endpoint. A token is `<appId>.<endpointId>.<expiry ms>.<secret tag>.<mac>`, the MAC
 * (HMAC-SHA256 with the installation's link key) covering those and the message id from the
 * URL, so a token used for another message, altered, or expired is refused. Nothing is
 * stored per link.
 *
 * The secret tag is a keyed fingerprint of the endpoint's signing secret when the link was
 * made. The content route compares it with the endpoint's current secret, so rotating the
 * secret revokes every link made before, as deleting or disabling the endpoint does (the
 * route checks both). It is keyed with the link key, so it tells nothing about the secret.
 */
export class ContentLinks {
  constructor(
    private readonly key: Buffer,
    /** Where receivers reach this installation's API, e.g. https://hooks.example.com (known once listening). */
    private readonly baseUrl: () => string,
    readonly ttlMs: number,
  ) {}

  private mac(appId: string, msgId: string, endpointId: string, expiresAt: number, secretTag: string): string {
    return createHmac('sha256', this.key).update(`${appId}\n${msgId}\n${endpointId}\n${expiresAt}\n${secretTag}`).digest('base64url');
  }

  /** The fingerprint of an endpoint's signing secret that its links carry. */
  secretTag(secret: string): string {
    return createHmac('sha256', this.key).update(`endpoint secret\n${secret}`).digest('base64url').slice(0, 22);
  }

  /** A link for `endpointId`, whose current signing secret is `secret`. */
  make(appId: string, msgId: string, endpointId: string, secret: string, now = Date.now()): { url: string; expiresAt: number } {
    const expiresAt = now + this.ttlMs;
    const tag = this.secretTag(secret);
    const token = `${appId}.${endpointId}.${expiresAt}.${tag}.${this.mac(appId, msgId, endpointId, expiresAt, tag)}`;
    return { url: `${this.baseUrl()}/api/v1/content/${encodeURIComponent(msgId)}?token=${token}`, expiresAt };
  }

  /** What a token for `msgId` says, if its MAC holds; whether it still grants anything is the caller's to decide. */
  read(msgId: string, token: string, now = Date.now()): LinkGrant {
    const parts = token.split('.');
    if (parts.length !== 5) return { verified: false, why: 'the content link is malformed' };
    const [appId, endpointId, expiry, secretTag, mac] = parts as [string, string, string, string, string];
    const expiresAt = Number(expiry);
    if (!/^\d+$/.test(expiry) || !Number.isSafeInteger(expiresAt)) return { verified: false, why: 'the content link is malformed' };
    const expected = Buffer.from(this.mac(appId, msgId, endpointId, expiresAt, secretTag));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { verified: false, why: 'the content link is not valid for this message' };
    }
    return { verified: true, appId, endpointId, expiresAt, expired: expiresAt <= now, secretTag };
  }

  /** Whether a verified link was made under `secret`, the endpoint's signing secret now. */
  madeUnder(grant: { secretTag: string }, secret: string): boolean {
    const a = Buffer.from(grant.secretTag);
    const b = Buffer.from(this.secretTag(secret));
    return a.length === b.length && timingSafeEqual(a, b);
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
