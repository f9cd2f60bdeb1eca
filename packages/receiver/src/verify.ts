// Synchronous verification on node:crypto. The checks themselves live in core.ts and are
// shared with verifyAsync (web.ts); only the cryptographic primitives differ.
import { createHash, createPublicKey, timingSafeEqual, verify as ed25519Verify } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { hmacSignature } from './sign.js';
import {
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

function matches(key: VerificationKey, req: SignedRequest): boolean {
  if (key.version === 'v1') {
    if (req.v1.length === 0) return false;
    const expected = Buffer.from(hmacSignature(key.secret, req.content));
    // timingSafeEqual throws on unequal lengths; the expected length is public (44 chars), so checking it leaks nothing.
    return req.v1.some((entry) => {
      const candidate = Buffer.from(entry);
      return candidate.length === expected.length && timingSafeEqual(candidate, expected);
    });
  }
  if (req.v1a.length === 0) return false;
  const publicKey = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(key.publicKey).toString('base64url') },
    format: 'jwk',
  });
  return req.v1a.some((signature) => ed25519Verify(null, req.content, publicKey, signature));
}

/**
 * Verifies a Standard Webhooks request and returns its parsed JSON body.
 * `secret`: `whsec_…` / bare base64 (checks v1 entries) or `whpk_…` (checks v1a), or several for rotation.
 */
export function verify(
  rawBody: string | Uint8Array,
  headers: WebhookHeaders,
  secret: string | string[],
  options: VerifyOptions = {},
): unknown {
  // Check the configuration first so a bad secret is reported as such, not as a forged request.
  const keys = parseVerificationKeys(secret);
  const req = parseSignedRequest(rawBody, headers, keys, options);
  if (!keys.some((key) => matches(key, req))) throw noMatchingSignature(keys);
  return parsePayload(rawBody);
}

/**
 * Checks a static shared key sent in a header (Metriport's `x-webhook-key`). Digests are
 * compared, so neither the contents nor the length of the key leak through timing.
 */
export function verifyKey(headers: WebhookHeaders, key: string, headerName: string = KEY_HEADER): void {
  const received = readKeyHeader(headers, key, headerName);
  const digest = (value: string) => createHash('sha256').update(value).digest();
  if (!timingSafeEqual(digest(received), digest(key))) throw keyMismatch(headerName);
}
