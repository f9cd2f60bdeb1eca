import { randomBytes } from 'node:crypto';

// Ids are `prefix_` + 27 base62 characters encoding 20 bytes: a 48-bit millisecond
// timestamp followed by 112 random bits. Fixed width plus an alphabet in ASCII order
// makes string order equal creation order, which pagination relies on. Within one
// millisecond the random part is incremented instead of redrawn, so ids of one prefix made
// by one process are strictly increasing. Each prefix keeps its own clock: an attempt id
// stamped with its attempt's start, or a test's chosen time, must not move the time that
// message ids (and so messages' createdAt, see newIdAt) carry.
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ID_LENGTH = 27;

interface Clock {
  lastMs: number;
  lastBytes: Buffer;
}

const clocks = new Map<string, Clock>();

function nextBytes(clock: Clock, nowMs: number): Buffer {
  const bytes = Buffer.alloc(20);
  if (nowMs <= clock.lastMs) {
    clock.lastBytes.copy(bytes);
    for (let i = 19; i >= 6; i--) {
      bytes[i] = (bytes[i]! + 1) & 0xff;
      if (bytes[i] !== 0) break;
    }
  } else {
    bytes.writeUIntBE(nowMs, 0, 6);
    randomBytes(14).copy(bytes, 6);
    // Keep the top random bit clear so increments within one millisecond cannot overflow.
    bytes[6] = bytes[6]! & 0x7f;
    clock.lastMs = nowMs;
  }
  clock.lastBytes = bytes;
  return bytes;
}

function clockOf(prefix: string): Clock {
  let clock = clocks.get(prefix);
  if (clock === undefined) {
    clock = { lastMs: 0, lastBytes: Buffer.alloc(20) };
    clocks.set(prefix, clock);
  }
  return clock;
}

/** 62³: a long-division pass by it yields three digits at once. */
const CUBE = 62 * 62 * 62;

/**
 * 20 bytes as 27 base62 digits, by long division over five 32-bit words, three digits per
 * pass (every message and attempt id is made this way). CUBE < 2^18, so a remainder times
 * 2^32 plus a word stays below 2^50 and the arithmetic on doubles is exact.
 */
function base62(bytes: Buffer): string {
  const words = [bytes.readUInt32BE(0), bytes.readUInt32BE(4), bytes.readUInt32BE(8), bytes.readUInt32BE(12), bytes.readUInt32BE(16)];
  let out = '';
  for (let pass = 0; pass < ID_LENGTH / 3; pass++) {
    let rem = 0;
    for (let w = 0; w < 5; w++) {
      const cur = rem * 0x100000000 + words[w]!;
      words[w] = Math.floor(cur / CUBE);
      rem = cur - words[w]! * CUBE;
    }
    const hi = Math.floor(rem / 3844);
    const mid = Math.floor((rem - hi * 3844) / 62);
    out = ALPHABET[hi]! + ALPHABET[mid]! + ALPHABET[rem - hi * 3844 - mid * 62]! + out;
  }
  return out;
}

export type IdPrefix = 'app' | 'ep' | 'msg' | 'atmpt' | 'qtask' | 'bf' | 'tok';

export function newId(prefix: IdPrefix, nowMs: number = Date.now()): string {
  return `${prefix}_${base62(nextBytes(clockOf(prefix), nowMs))}`;
}

/**
 * A new id and the millisecond it carries: `nowMs`, or later when the clock went back. A
 * row stamped with this time has `created_at < t` exactly when `id < idFloor(prefix, t)`.
 */
export function newIdAt(prefix: IdPrefix, nowMs: number): { id: string; ms: number } {
  const id = newId(prefix, nowMs);
  return { id, ms: clockOf(prefix).lastMs };
}

/** The smallest id of this prefix created at or after `ms`; used for time-based filters. */
export function idFloor(prefix: IdPrefix, ms: number): string {
  const bytes = Buffer.alloc(20);
  bytes.writeUIntBE(Math.max(0, Math.floor(ms)), 0, 6);
  return `${prefix}_${base62(bytes)}`;
}

const ID_RE = /^(app|ep|msg|atmpt|qtask|bf|tok)_[0-9A-Za-z]{27}$/;

export function isId(prefix: IdPrefix, value: string): boolean {
  const m = ID_RE.exec(value);
  return m !== null && m[1] === prefix;
}
