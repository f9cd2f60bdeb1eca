import { createHash } from 'node:crypto';

// Per-key ordering: an endpoint may name a place in the payload (a simple JSON path such as
// `$.data.user_id` or `$.items[0].id`); messages whose payloads hold the same value there
// are delivered to that endpoint one at a time, in the order they were queued.

/** One step of a key path: a member name or an array index. */
export type PathStep = string | number;

// `$`, then one or more `.name` or `[n]` steps. Names are the characters JSON field names
// usually have; anything fancier (quoted names, wildcards, filters) is refused, so that a
// path means one value and reads the same everywhere.
const STEP = /\.([A-Za-z0-9_-]+)|\[(0|[1-9][0-9]{0,8})\]/y;

// Names that lead into an object's prototype chain rather than its data. valueAt reads own
// members only, so they would never match a payload's value anyway; a path naming one is
// refused so that it never reaches code that might read it differently.
const PROTOTYPE_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

/** The steps of a key path, or why it is not one. */
export function parseKeyPath(path: string): { steps: PathStep[] } | { error: string } {
  if (!path.startsWith('$')) return { error: `"${path}" must start with "$", as in "$.data.user_id"` };
  const steps: PathStep[] = [];
  let at = 1;
  while (at < path.length) {
    STEP.lastIndex = at;
    const m = STEP.exec(path);
    if (m === null) {
      return { error: `"${path}" is not a simple JSON path: expected ".name" or "[index]" at position ${at}, as in "$.data.items[0].id"` };
    }
    if (m[1] !== undefined && PROTOTYPE_NAMES.has(m[1])) {
      return { error: `"${path}" names "${m[1]}", which is refused in key paths: __proto__, constructor and prototype name no payload data` };
    }
    steps.push(m[1] !== undefined ? m[1] : Number(m[2]));
    at = STEP.lastIndex;
  }
  if (steps.length === 0) return { error: `"${path}" names the whole payload; name a field in it, as in "$.data.user_id"` };
  return { steps };
}

/** The value at `steps` in `value`, or undefined when the payload does not have it. */
export function valueAt(value: unknown, steps: PathStep[]): unknown {
  let v = value;
  for (const step of steps) {
    if (typeof step === 'number') {
      if (!Array.isArray(v)) return undefined;
      v = v[step];
    } else {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, step)) return undefined;
      v = (v as Record<string, unknown>)[step];
    }
  }
  return v;
}

/** Keys longer than this are kept as a digest, so that any key fits an index entry. */
const MAX_KEY_LENGTH = 200;

/**
 * The ordering key as stored: the value itself, or for a very long one its SHA-256 (equal
 * keys stay equal). The skip call passes the key it is given through this too.
 */
export function storedKey(key: string): string {
  return key.length <= MAX_KEY_LENGTH ? key : `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/**
 * The ordering key of a message for an endpoint that orders by `path`: the string at that
 * place in the payload, or the number there written in decimal (as JavaScript writes it, so
 * integers beyond 2^53 lose digits: send such ids as strings).
 *
 * Null when the payload has no string or number there (the field is missing, null, an
 * object…): such a message is delivered unordered, neither waiting for nor holding up
 * anything, rather than refused — the message was accepted for every other endpoint too.
 */
export function orderKeyOf(path: string, payload: unknown): string | null {
  const parsed = parseKeyPath(path);
  if ('error' in parsed) return null;
  const v = valueAt(payload, parsed.steps);
  if (typeof v === 'string') return storedKey(v);
  if (typeof v === 'number' && Number.isFinite(v)) return storedKey(String(v));
  return null;
}

/**
 * Works out ordering keys for one message, parsing its payload at most once and only when
 * some endpoint orders by a key.
 */
export function keyReader(payload: string): (ordering: { key: string } | null) => string | null {
  let parsed: { value: unknown } | null = null;
  return (ordering) => {
    if (ordering === null) return null;
    if (parsed === null) {
      try {
        parsed = { value: JSON.parse(payload) as unknown };
      } catch {
        parsed = { value: undefined }; // not JSON: no key anywhere in it
      }
    }
    return orderKeyOf(ordering.key, parsed.value);
  };
}

/**
 * The order key of a backfill notification's delivery to an endpoint that does not order by
 * a key of its own: the backfill's, so that its notifications reach each endpoint one at a
 * time, most recent chunk first and the final one last. Null for other messages (a message
 * row's backfill_id, or a Message's backfill id, is null for them).
 */
export function backfillKey(backfillId: unknown): string | null {
  return typeof backfillId === 'string' ? `backfill:${backfillId}` : null;
}

/**
 * The key a message's delivery to an endpoint waits its turn under: the payload's value at
 * the endpoint's key path (`keyOf`, a keyReader of the payload), else, for a backfill's
 * notification, the backfill's; null for an unordered delivery. Every delivery is keyed by
 * this, whether made with its message, resent or replayed.
 */
export function deliveryOrderKey(keyOf: (ordering: { key: string } | null) => string | null, ordering: { key: string } | null, backfillId: unknown): string | null {
  return keyOf(ordering) ?? backfillKey(backfillId);
}
