// Encryption at rest: a ring of AES-256-GCM keys, and sealing of single text values with it.
import { createCipheriv, createDecipheriv, createSecretKey, randomFillSync, type KeyObject } from 'node:crypto';

/** A ring that cannot be used, or stored data that the ring cannot open; the message names why. */
export class KeyRingError extends Error {}

export interface RingKey {
  id: string;
  key: Buffer;
}

/**
 * A sealed value is text: `hwe1:<key id>:<base64url(nonce | ciphertext | tag)>`. Text, not
 * bytes, because every column it replaces is text on both dialects (no migration, no type
 * per dialect), and the prefix tells a sealed value from one written before keys were set,
 * so encryption can be turned on without rewriting anything first. The key id travels with
 * the value so a rotated ring still opens what older keys sealed. base64url costs a third
 * more bytes than the plaintext, which the databases compress no worse than JSON.
 */
const PREFIX = 'hwe1:';
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * `k2:<base64 of 32 bytes>,k1:<…>`: the first key seals, every key opens. Throws
 * KeyRingError naming the entry at fault (never its key material).
 */
export function parseKeyRing(raw: string): RingKey[] {
  const entries = raw.split(',').map((e) => e.trim());
  if (raw.trim() === '' || entries.some((e) => e === '')) {
    throw new KeyRingError('must be a comma-separated list of <key id>:<base64 of 32 bytes>, with no empty entry');
  }
  const ring: RingKey[] = [];
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    if (colon < 0) throw new KeyRingError(`entry ${i + 1} has no "<key id>:" before its key`);
    const id = entry.slice(0, colon);
    const b64 = entry.slice(colon + 1).trim();
    if (!KEY_ID.test(id)) throw new KeyRingError(`entry ${i + 1}: key id "${id.slice(0, 40)}" must be 1 to 32 letters, digits, "_" or "-"`);
    if (ring.some((k) => k.id === id)) throw new KeyRingError(`key id "${id}" appears more than once`);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) && !/^[A-Za-z0-9_-]+$/.test(b64)) throw new KeyRingError(`key "${id}" is not base64`);
    const key = Buffer.from(b64, 'base64');
    if (key.length !== 32) throw new KeyRingError(`key "${id}" is ${key.length} bytes after base64 decoding; AES-256 needs exactly 32`);
    ring.push({ id, key });
  });
  return ring;
}

// Nonces come from the system's CSPRNG, 1,024 at a time: one randomBytes call per value cost
// about 4 µs, a third of sealing a 640-byte payload. Each is handed out once, so none repeats.
const noncePool = Buffer.alloc(NONCE_BYTES * 1024);
let nonceAt = noncePool.length;

function nextNonce(): Buffer {
  if (nonceAt === noncePool.length) {
    randomFillSync(noncePool);
    nonceAt = 0;
  }
  nonceAt += NONCE_BYTES;
  return noncePool.subarray(nonceAt - NONCE_BYTES, nonceAt);
}

/** How many opened values a Sealer keeps for openShared (endpoint secrets, headers, keys). */
const SHARED_KEPT = 4096;

/** Whether `value` is a sealed value (of any key). */
export const isSealed = (value: string): boolean => value.startsWith(PREFIX);

/** The key id a sealed value names, or null for plaintext. */
export function sealedKeyId(value: string): string | null {
  if (!isSealed(value)) return null;
  const end = value.indexOf(':', PREFIX.length);
  return end < 0 ? null : value.slice(PREFIX.length, end);
}

/**
 * Seals and opens values with a ring. Without a ring (encryption not configured) both are the
 * identity: nothing stored is sealed then, which the stores check at start-up.
 */
export class Sealer {
  static readonly none = new Sealer([]);
  // Key objects, made once: handing createCipheriv a Buffer makes one on every call.
  private readonly keys: Map<string, KeyObject>;
  private readonly active: { id: string; key: KeyObject } | null;
  /** openShared's values by their sealed text; cleared when full. */
  private readonly shared = new Map<string, string>();

  constructor(ring: RingKey[]) {
    this.keys = new Map(ring.map((k) => [k.id, createSecretKey(k.key)]));
    this.active = ring[0] === undefined ? null : { id: ring[0].id, key: this.keys.get(ring[0].id)! };
  }

  /** The key id new values are sealed with; null when encryption is off. */
  get activeKeyId(): string | null {
    return this.active?.id ?? null;
  }

  has(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  /**
   * The sealed form of `value`. The empty string stays as it is: sealing it would hide nothing
   * (a sealed value's length shows its plaintext's), and an attempt's empty response body (a
   * receiver's usual 204) would cost a cipher for no secret.
   */
  seal(value: string): string {
    if (this.active === null || value === '') return value;
    const nonce = nextNonce();
    const cipher = createCipheriv('aes-256-gcm', this.active.key, nonce);
    const body = Buffer.concat([nonce, cipher.update(value, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${PREFIX}${this.active.id}:${body.toString('base64url')}`;
  }

  sealNullable(value: string | null): string | null {
    return value === null ? null : this.seal(value);
  }

  /** The plaintext of a sealed value; plaintext stored before keys were set comes back as it is. */
  open(value: string): string {
    if (this.active === null || !isSealed(value)) return value;
    const id = sealedKeyId(value);
    const key = id === null ? undefined : this.keys.get(id);
    if (id === null || key === undefined) throw new KeyRingError(`a stored value is sealed with key id "${id ?? '?'}", which the key ring does not hold`);
    const body = Buffer.from(value.slice(PREFIX.length + id.length + 1), 'base64url');
    if (body.length < NONCE_BYTES + TAG_BYTES) throw new KeyRingError(`a stored value sealed with key "${id}" is truncated`);
    const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, NONCE_BYTES));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(body.subarray(NONCE_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new KeyRingError(`a stored value sealed with key "${id}" does not authenticate: it was altered, or sealed with another key of that id`);
    }
  }

  /** open() for a column that may be null (expunged, absent); other non-strings pass through. */
  openNullable<T>(value: T): T | string {
    return typeof value === 'string' ? this.open(value) : value;
  }

  /**
   * openNullable() for a value that many reads share: an endpoint's secret and headers, read
   * with every delivery claimed for it. What a sealed text opens to never changes (it is
   * authenticated under a key of this ring, which is fixed), so the plaintext is kept, by its
   * sealed text, and later reads cost a map look-up instead of a cipher. At most
   * SHARED_KEPT values are kept; the map starts afresh when full.
   */
  openShared<T>(value: T): T | string {
    if (typeof value !== 'string' || this.active === null || !isSealed(value)) return value;
    const kept = this.shared.get(value);
    if (kept !== undefined) return kept;
    const opened = this.open(value);
    if (this.shared.size >= SHARED_KEPT) this.shared.clear();
    this.shared.set(value, opened);
    return opened;
  }

  /** Whether rekey leaves `value` alone: sealed with the active key already. */
  isCurrent(value: string): boolean {
    return this.active !== null && sealedKeyId(value) === this.active.id;
  }
}

/**
 * The meta record of the key ids stored values may be sealed with, checked against the ring
 * when a store opens: a store refuses to start when its data needs a key the ring lacks,
 * rather than failing on the first read of such a value. Returns the record to store (the
 * active key added), or null when it is unchanged.
 */
export function checkKeyRecord(recorded: string | null, sealer: Sealer, setting = 'HOOKWELL_ENCRYPTION_KEYS'): string | null {
  const ids = recorded === null || recorded === '' ? [] : recorded.split(',');
  const missing = ids.filter((id) => !sealer.has(id));
  if (missing.length > 0) {
    throw new KeyRingError(
      `stored data is encrypted with key id${missing.length > 1 ? 's' : ''} ${missing.map((id) => `"${id}"`).join(', ')}, ` +
        `which ${setting} does not hold; add ${missing.length > 1 ? 'them' : 'it'} to the ring (after the key that encrypts), ` +
        'and remove an old key only after `hookwell rekey` has finished',
    );
  }
  const active = sealer.activeKeyId;
  if (active === null || ids.includes(active)) return null;
  return [...ids, active].join(',');
}

/** The meta key of that record. It is never sealed itself: it must be read before any key is known to work. */
export const KEY_RECORD_META_KEY = 'encryption_key_ids';
