import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign as ed25519Sign,
  type KeyObject,
} from 'node:crypto';
import { Buffer } from 'node:buffer';
import { decodeBase64, decodeSymmetricSecret, signedContent } from './core.js';
import {
  ASYMMETRIC_SIGNATURE_VERSION,
  PUBLIC_KEY_PREFIX,
  SECRET_KEY_PREFIX,
  SECRET_PREFIX,
  SIGNATURE_VERSION,
} from './headers.js';

/** Base64 HMAC-SHA256 of the signed content, without the version prefix. */
export function hmacSignature(key: Uint8Array, content: Uint8Array): string {
  return createHmac('sha256', key).update(content).digest('base64');
}

// A PKCS#8 wrapper for a raw 32-byte ed25519 seed: node:crypto imports keys only in
// standard containers, and this fixed 16-byte header is the whole difference.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function rawPublicKey(key: KeyObject): Buffer {
  return Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url');
}

/**
 * Accepts Svix's serialisation (base64 of the 64-byte seed + public key) and, for keys made by
 * other tools, a bare 32-byte seed.
 */
function signingKey(secretKey: string): KeyObject {
  const bytes = decodeBase64(secretKey.slice(SECRET_KEY_PREFIX.length));
  if (!bytes || (bytes.length !== 32 && bytes.length !== 64)) {
    throw new TypeError(`Invalid signing key: expected "${SECRET_KEY_PREFIX}" + base64 of a 64-byte ed25519 secret key (or its 32-byte seed)`);
  }
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, bytes.subarray(0, 32)]), format: 'der', type: 'pkcs8' });
  if (bytes.length === 64 && !rawPublicKey(key).equals(bytes.subarray(32))) {
    throw new TypeError('Invalid signing key: its public half does not match its seed');
  }
  return key;
}

function requireSymmetricKey(secret: string): Uint8Array {
  if (secret.startsWith(PUBLIC_KEY_PREFIX)) {
    throw new TypeError(`Cannot sign with a "${PUBLIC_KEY_PREFIX}" public key; sign with the "${SECRET_KEY_PREFIX}" secret key`);
  }
  const key = decodeSymmetricSecret(secret);
  if (!key) throw new TypeError(`Invalid webhook secret: expected "${SECRET_PREFIX}<base64>", bare base64 or "${SECRET_KEY_PREFIX}<base64>"`);
  return key;
}

function requireTimestamp(timestamp: number): void {
  // A fractional or negative value would be signed as "1.5" / "-1", which no receiver can parse.
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new TypeError(`Invalid timestamp ${timestamp}: expected integer unix seconds`);
  }
}

// A sender signs every delivery with the same few secrets: decoding each once matters.
const KEY_CACHE = new Map<string, Uint8Array | KeyObject>();

function keyFor(secret: string): Uint8Array | KeyObject {
  let key = KEY_CACHE.get(secret);
  if (key === undefined) {
    key = secret.startsWith(SECRET_KEY_PREFIX) ? signingKey(secret) : requireSymmetricKey(secret);
    if (KEY_CACHE.size >= 1024) KEY_CACHE.clear();
    KEY_CACHE.set(secret, key);
  }
  return key;
}

/**
 * One signature entry: `v1,<hmac>` for a `whsec_` (or bare base64) secret, `v1a,<ed25519>` for a
 * `whsk_` secret key. Sync, so the server can sign without awaiting.
 */
export function sign(secret: string, msgId: string, timestamp: number, payload: string | Uint8Array): string {
  requireTimestamp(timestamp);
  const key = keyFor(secret);
  if (key instanceof Uint8Array) {
    // Fed in pieces, so the payload is never copied into one signed-content buffer.
    const mac = createHmac('sha256', key).update(`${msgId}.${timestamp}.`).update(payload).digest('base64');
    return `${SIGNATURE_VERSION},${mac}`;
  }
  return `${ASYMMETRIC_SIGNATURE_VERSION},${ed25519Sign(null, signedContent(msgId, timestamp, payload), key).toString('base64')}`;
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

export interface KeyPair {
  /** `whsk_…`: the sender signs with it; never give it to receivers. */
  secretKey: string;
  /** `whpk_…`: receivers verify with it; safe to publish. */
  publicKey: string;
}

/** A fresh ed25519 key pair in the Svix / Standard Webhooks serialisation. */
export function generateKeyPair(): KeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const pub = rawPublicKey(privateKey);
  return {
    secretKey: SECRET_KEY_PREFIX + Buffer.concat([seed, pub]).toString('base64'),
    publicKey: PUBLIC_KEY_PREFIX + pub.toString('base64'),
  };
}

/** The `whpk_` public key belonging to a `whsk_` secret key, e.g. to show it to a customer. */
export function publicKeyOf(secretKey: string): string {
  if (!secretKey.startsWith(SECRET_KEY_PREFIX)) throw new TypeError(`Expected a "${SECRET_KEY_PREFIX}" secret key`);
  return PUBLIC_KEY_PREFIX + rawPublicKey(signingKey(secretKey)).toString('base64');
}
