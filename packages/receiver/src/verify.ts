import { timingSafeEqual } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { computeSignature, decodeSecret } from './sign.js';
import {
  HEADER_ID,
  HEADER_SIGNATURE,
  HEADER_TIMESTAMP,
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

function headerReader(headers: WebhookHeaders): (name: string) => string | undefined {
  if (isFetchHeaders(headers)) return (name) => headers.get(name) ?? undefined;
  const lower = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    lower.set(name.toLowerCase(), Array.isArray(value) ? value.join(' ') : value);
  }
  return (name) => lower.get(name);
}

function decodeBody(rawBody: string | Uint8Array): string {
  if (typeof rawBody === 'string') return rawBody;
  try {
    // fatal: a body that is not UTF-8 cannot be JSON, and lossy decoding would hide that.
    return new TextDecoder('utf-8', { fatal: true }).decode(rawBody);
  } catch {
    throw new WebhookVerificationError('invalid_payload', 'Payload is not valid UTF-8');
  }
}

export function verify(
  rawBody: string | Uint8Array,
  headers: WebhookHeaders,
  secret: string | string[],
  options: VerifyOptions = {},
): unknown {
  // Check the configuration first so a bad secret is reported as such, not as a forged request.
  const keys: Buffer[] = [];
  for (const s of Array.isArray(secret) ? secret : [secret]) {
    const key = decodeSecret(s);
    if (!key) throw new WebhookVerificationError('invalid_secret', 'Invalid secret: expected "whsec_<base64>" or bare base64');
    keys.push(key);
  }
  if (keys.length === 0) throw new WebhookVerificationError('invalid_secret', 'Invalid secret: no secrets given');

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

  const candidates: Buffer[] = [];
  for (const entry of signatureHeader.split(' ')) {
    const comma = entry.indexOf(',');
    // Other versions (e.g. v1a asymmetric) may sit alongside v1; they are not ours to judge.
    if (comma === -1 || entry.slice(0, comma) !== SIGNATURE_VERSION) continue;
    candidates.push(Buffer.from(entry.slice(comma + 1)));
  }

  if (candidates.length === 0) {
    throw new WebhookVerificationError('no_matching_signature', `No ${SIGNATURE_VERSION} signature present in ${HEADER_SIGNATURE}`);
  }
  const matched = keys.some((key) => {
    const expected = Buffer.from(computeSignature(key, msgId, timestamp, rawBody));
    // timingSafeEqual throws on unequal lengths; the expected length is public (44 chars), so checking it leaks nothing.
    return candidates.some((candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected));
  });
  if (!matched) {
    throw new WebhookVerificationError('no_matching_signature', `No matching ${SIGNATURE_VERSION} signature found in ${HEADER_SIGNATURE}`);
  }

  const body = decodeBody(rawBody);
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new WebhookVerificationError('invalid_payload', 'Payload signature is valid but the body is not valid JSON');
  }
}
