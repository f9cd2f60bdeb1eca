// Runtime-neutral parts of verification, shared by the node:crypto `verify` and the
// Web Crypto `verifyAsync`: only TextEncoder/TextDecoder and atob/btoa, no `node:` imports,
// so both front ends check the same things in the same order and report the same codes.
import {
  ASYMMETRIC_SIGNATURE_VERSION,
  EVENT_TYPE_HEADER,
  HEADER_ID,
  HEADER_SIGNATURE,
  HEADER_TIMESTAMP,
  PUBLIC_KEY_PREFIX,
  SECRET_KEY_PREFIX,
  SECRET_PREFIX,
  SIGNATURE_VERSION,
  SVIX_HEADER_ID,
  SVIX_HEADER_SIGNATURE,
  SVIX_HEADER_TIMESTAMP,
} from './headers.js';

export const DEFAULT_TOLERANCE_SECONDS = 300;

export type WebhookVerificationErrorCode =
  | 'missing_headers'
  | 'invalid_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'no_matching_signature'
  | 'invalid_secret'
  | 'invalid_key'
  | 'invalid_payload';

export class WebhookVerificationError extends Error {
  readonly code: WebhookVerificationErrorCode;

  constructor(code: WebhookVerificationErrorCode, message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
    this.code = code;
  }
}

export type WebhookHeaders = Record<string, string | string[] | undefined> | Headers;

export interface VerifyOptions {
  /** Allowed clock skew in either direction, in seconds. Default 300. */
  toleranceSeconds?: number;
  /** Current time in milliseconds; injectable for tests. Default Date.now. */
  now?: () => number;
}

function isFetchHeaders(headers: WebhookHeaders): headers is Headers {
  // Duck-typed rather than instanceof so Headers from undici or another realm also work.
  return typeof (headers as Headers).get === 'function';
}

export function headerReader(headers: WebhookHeaders): (name: string) => string | undefined {
  if (isFetchHeaders(headers)) return (name) => headers.get(name) ?? undefined;
  const lower = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    lower.set(name.toLowerCase(), Array.isArray(value) ? value.join(' ') : value);
  }
  return (name) => lower.get(name.toLowerCase());
}

// atob() and Node's base64 decoder both tolerate junk (whitespace, missing padding), so a
// typo in a secret would yield a different key instead of an error. Require strict base64.
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function decodeBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (text.length === 0 || !STRICT_BASE64.test(text)) return undefined;
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function encodeBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** HMAC key bytes of a `whsec_<base64>` or bare base64 secret, or undefined if malformed. */
export function decodeSymmetricSecret(secret: string): Uint8Array<ArrayBuffer> | undefined {
  return decodeBase64(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
}

/** What a receiver may verify with: an HMAC secret checks only v1 entries, a public key only v1a. */
export type VerificationKey =
  | { version: typeof SIGNATURE_VERSION; secret: Uint8Array<ArrayBuffer> }
  | { version: typeof ASYMMETRIC_SIGNATURE_VERSION; publicKey: Uint8Array<ArrayBuffer> };

export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

function invalidSecret(detail: string): WebhookVerificationError {
  return new WebhookVerificationError('invalid_secret', `Invalid secret: ${detail}`);
}

export function parseVerificationKeys(secret: string | string[]): VerificationKey[] {
  const list = Array.isArray(secret) ? secret : [secret];
  if (list.length === 0) throw invalidSecret('no secrets given');
  return list.map((s): VerificationKey => {
    if (s.startsWith(PUBLIC_KEY_PREFIX)) {
      const publicKey = decodeBase64(s.slice(PUBLIC_KEY_PREFIX.length));
      if (publicKey?.length !== ED25519_PUBLIC_KEY_BYTES) {
        throw invalidSecret(`expected "${PUBLIC_KEY_PREFIX}" + base64 of a 32-byte ed25519 public key`);
      }
      return { version: ASYMMETRIC_SIGNATURE_VERSION, publicKey };
    }
    if (s.startsWith(SECRET_KEY_PREFIX)) {
      // The point of asymmetric signing is that receivers never hold the signing key.
      throw invalidSecret(`"${SECRET_KEY_PREFIX}" is the sender's private signing key; verify with its "${PUBLIC_KEY_PREFIX}" public key`);
    }
    const key = decodeSymmetricSecret(s);
    if (!key) throw invalidSecret(`expected "${SECRET_PREFIX}<base64>", bare base64 or "${PUBLIC_KEY_PREFIX}<base64>"`);
    return { version: SIGNATURE_VERSION, secret: key };
  });
}

/** The bytes both schemes sign: `msg_id.timestamp.payload`, payload bytes untouched. */
export function signedContent(msgId: string, timestamp: number, payload: string | Uint8Array): Uint8Array<ArrayBuffer> {
  const encoder = new TextEncoder();
  const prefix = encoder.encode(`${msgId}.${timestamp}.`);
  const body = typeof payload === 'string' ? encoder.encode(payload) : payload;
  const content = new Uint8Array(prefix.length + body.length);
  content.set(prefix);
  content.set(body, prefix.length);
  return content;
}

export interface SignedRequest {
  msgId: string;
  timestamp: number;
  content: Uint8Array<ArrayBuffer>;
  /** Base64 text of each v1 entry; compared as text, as the reference libraries do. */
  v1: string[];
  /** Decoded v1a entries of the right length; malformed ones can never verify, so they are dropped. */
  v1a: Uint8Array<ArrayBuffer>[];
}

function versionsOf(keys: VerificationKey[]): string {
  return [...new Set(keys.map((k) => k.version))].join(' or ');
}

/** Header, timestamp and signature-list checks; the caller then does the cryptography. */
export function parseSignedRequest(
  rawBody: string | Uint8Array,
  headers: WebhookHeaders,
  keys: VerificationKey[],
  options: VerifyOptions,
): SignedRequest {
  const get = headerReader(headers);
  const msgId = get(HEADER_ID) || get(SVIX_HEADER_ID);
  const timestampHeader = get(HEADER_TIMESTAMP) || get(SVIX_HEADER_TIMESTAMP);
  const signatureHeader = get(HEADER_SIGNATURE) || get(SVIX_HEADER_SIGNATURE);
  if (!msgId || !timestampHeader || !signatureHeader) {
    throw new WebhookVerificationError(
      'missing_headers',
      `Missing required headers: ${HEADER_ID}, ${HEADER_TIMESTAMP} and ${HEADER_SIGNATURE} (or svix-*)`,
    );
  }

  // parseInt would accept "123abc"; the header must be exactly an integer.
  if (!/^\d{1,15}$/.test(timestampHeader)) {
    throw new WebhookVerificationError('invalid_timestamp', `Invalid ${HEADER_TIMESTAMP}: ${JSON.stringify(timestampHeader)}`);
  }
  const timestamp = Number(timestampHeader);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const nowSeconds = Math.floor((options.now ?? Date.now)() / 1000);
  if (nowSeconds - timestamp > tolerance) {
    throw new WebhookVerificationError('timestamp_too_old', `Timestamp ${timestamp} is older than ${tolerance}s tolerance`);
  }
  if (timestamp - nowSeconds > tolerance) {
    throw new WebhookVerificationError('timestamp_too_new', `Timestamp ${timestamp} is more than ${tolerance}s in the future`);
  }

  const wanted = new Set<string>(keys.map((k) => k.version));
  const v1: string[] = [];
  const v1a: Uint8Array<ArrayBuffer>[] = [];
  let present = false;
  for (const entry of signatureHeader.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma === -1) continue;
    const version = entry.slice(0, comma);
    const value = entry.slice(comma + 1);
    // Unknown versions, and versions none of our keys can check, are not ours to judge.
    if (!wanted.has(version)) continue;
    present = true;
    if (version === SIGNATURE_VERSION) v1.push(value);
    else {
      const signature = decodeBase64(value);
      if (signature?.length === ED25519_SIGNATURE_BYTES) v1a.push(signature);
    }
  }
  if (!present) {
    throw new WebhookVerificationError('no_matching_signature', `No ${versionsOf(keys)} signature present in ${HEADER_SIGNATURE}`);
  }
  return { msgId, timestamp, content: signedContent(msgId, timestamp, rawBody), v1, v1a };
}

export function noMatchingSignature(keys: VerificationKey[]): WebhookVerificationError {
  return new WebhookVerificationError('no_matching_signature', `No matching ${versionsOf(keys)} signature found in ${HEADER_SIGNATURE}`);
}

/** Parses a verified body. Only called after the signature (or key) check passed. */
export function parsePayload(rawBody: string | Uint8Array): unknown {
  let body: string;
  try {
    // fatal: a body that is not UTF-8 cannot be JSON, and lossy decoding would hide that.
    body = typeof rawBody === 'string' ? rawBody : new TextDecoder('utf-8', { fatal: true }).decode(rawBody);
  } catch {
    throw new WebhookVerificationError('invalid_payload', 'Payload is not valid UTF-8');
  }
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new WebhookVerificationError('invalid_payload', 'Payload is authentic but the body is not valid JSON');
  }
}

/** Equal-length comparison whose time does not depend on where the inputs differ. */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  if (a.length !== b.length) return false;
  const at = typeof a === 'string' ? (i: number) => a.charCodeAt(i) : (i: number) => a[i]!;
  const bt = typeof b === 'string' ? (i: number) => b.charCodeAt(i) : (i: number) => b[i]!;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= at(i) ^ bt(i);
  return diff === 0;
}

/**
 * Where a payload names its own type, first match wins: `type` (Standard Webhooks), `eventType`
 * and `event_type` (what Svix suggests besides; Vital sends `event_type`), `event` (Miri) and
 * `meta.type` (Metriport). Kept to what known senders use, so an unrelated field is not taken
 * for a type.
 */
export const EVENT_TYPE_FIELDS = ['type', 'eventType', 'event_type', 'event', 'meta.type'] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The first non-empty string among EVENT_TYPE_FIELDS of a verified payload, or undefined. */
export function payloadEventType(payload: unknown): string | undefined {
  if (!isRecord(payload)) return undefined;
  for (const field of EVENT_TYPE_FIELDS) {
    let value: unknown = payload;
    for (const step of field.split('.')) value = isRecord(value) && Object.hasOwn(value, step) ? value[step] : undefined;
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

/**
 * The event type a request is dispatched by. The signature covers the body, not the headers,
 * so a type the signed payload names wins; only a payload that names none is dispatched by
 * the `x-hookwell-event-type` header Hookwell sends with every delivery.
 */
export function eventTypeOf(payload: unknown, headers: WebhookHeaders): string | undefined {
  return payloadEventType(payload) ?? (headerReader(headers)(EVENT_TYPE_HEADER) || undefined);
}

/** Configuration and presence checks of a static key; the caller compares digests. */
export function readKeyHeader(headers: WebhookHeaders, key: string, headerName: string): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new WebhookVerificationError('invalid_secret', 'Invalid key: expected a non-empty string');
  }
  const received = headerReader(headers)(headerName);
  if (!received) throw new WebhookVerificationError('missing_headers', `Missing required header: ${headerName}`);
  return received;
}

export function keyMismatch(headerName: string): WebhookVerificationError {
  return new WebhookVerificationError('invalid_key', `The ${headerName} header does not match the configured key`);
}
