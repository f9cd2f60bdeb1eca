// Verification on Web Crypto only (globalThis.crypto.subtle): runs on Node 20+, Deno, Bun and
// edge workers. Same checks and error codes as the sync `verify`, via core.ts.
import {
  constantTimeEqual,
  encodeBase64,
  keyMismatch,
  noMatchingSignature,
  parsePayload,
  parseSignedRequest,
  parseVerificationKeys,
  readKeyHeader,
  type SignedRequest,
  type VerificationKey,
  type VerifyOptions,
  type WebhookHeaders,
} from './core.js';
import { KEY_HEADER } from './headers.js';

// Looked up per call rather than at import time, so importing never throws where crypto is absent.
const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

async function matches(key: VerificationKey, req: SignedRequest): Promise<boolean> {
  if (key.version === 'v1') {
    if (req.v1.length === 0) return false;
    const hmacKey = await subtle().importKey('raw', key.secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const expected = encodeBase64(new Uint8Array(await subtle().sign('HMAC', hmacKey, req.content)));
    return req.v1.some((candidate) => constantTimeEqual(candidate, expected));
  }
  if (req.v1a.length === 0) return false;
  const publicKey = await subtle().importKey('raw', key.publicKey, { name: 'Ed25519' }, false, ['verify']);
  for (const signature of req.v1a) {
    if (await subtle().verify('Ed25519', publicKey, signature, req.content)) return true;
  }
  return false;
}

/** `verify` on Web Crypto: resolves to the parsed JSON body or rejects with WebhookVerificationError. */
export async function verifyAsync(
  rawBody: string | Uint8Array,
  headers: WebhookHeaders,
  secret: string | string[],
  options: VerifyOptions = {},
): Promise<unknown> {
  const keys = parseVerificationKeys(secret);
  const req = parseSignedRequest(rawBody, headers, keys, options);
  for (const key of keys) {
    if (await matches(key, req)) return parsePayload(rawBody);
  }
  throw noMatchingSignature(keys);
}

async function sha256(value: string): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-256', new TextEncoder().encode(value)));
}

/** `verifyKey` on Web Crypto: compares SHA-256 digests so the key's length does not leak. */
export async function verifyKeyAsync(headers: WebhookHeaders, key: string, headerName: string = KEY_HEADER): Promise<void> {
  const received = readKeyHeader(headers, key, headerName);
  const [a, b] = await Promise.all([sha256(received), sha256(key)]);
  if (!constantTimeEqual(a, b)) throw keyMismatch(headerName);
}
