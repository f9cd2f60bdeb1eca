import { createHmac, randomBytes } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { SECRET_PREFIX, SIGNATURE_VERSION } from './headers.js';

// Buffer.from(x, 'base64') silently drops invalid characters, so a typo in a
// secret would yield a different key instead of an error. Require strict base64.
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Returns the HMAC key bytes, or undefined if the secret is not valid base64 (with or without `whsec_`). */
export function decodeSecret(secret: string): Buffer | undefined {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (encoded.length === 0 || !STRICT_BASE64.test(encoded)) return undefined;
  return Buffer.from(encoded, 'base64');
}

/** Base64 HMAC-SHA256 of `msgId.timestamp.payload`, without the version prefix. */
export function computeSignature(
  key: Uint8Array,
  msgId: string,
  timestamp: number,
  payload: string | Uint8Array,
): string {
  // Two update() calls hash the same bytes as a concatenation, and byte payloads
  // are never decoded, so non-UTF-8 bodies are signed exactly as sent.
  return createHmac('sha256', key).update(`${msgId}.${timestamp}.`).update(payload).digest('base64');
}

function requireKey(secret: string): Buffer {
  const key = decodeSecret(secret);
  if (!key) throw new TypeError('Invalid webhook secret: expected "whsec_<base64>" or bare base64');
  return key;
}

function requireTimestamp(timestamp: number): void {
  // A fractional or negative value would be signed as "1.5" / "-1", which no receiver can parse.
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new TypeError(`Invalid timestamp ${timestamp}: expected integer unix seconds`);
  }
}

export function sign(secret: string, msgId: string, timestamp: number, payload: string | Uint8Array): string {
  requireTimestamp(timestamp);
  return `${SIGNATURE_VERSION},${computeSignature(requireKey(secret), msgId, timestamp, payload)}`;
}

/** Space-separated signatures, one per secret, so receivers on the old or new secret both verify during rotation. */
export function signatureHeader(
  secrets: string[],
  msgId: string,
  timestamp: number,
  payload: string | Uint8Array,
): string {
  return secrets.map((secret) => sign(secret, msgId, timestamp, payload)).join(' ');
}

/** The spec requires 24–64 random bytes for symmetric secrets. */
export function generateSecret(bytes = 24): string {
  if (!Number.isInteger(bytes) || bytes < 24 || bytes > 64) {
    throw new RangeError(`Secret length must be an integer between 24 and 64 bytes, got ${bytes}`);
  }
  return SECRET_PREFIX + randomBytes(bytes).toString('base64');
}
