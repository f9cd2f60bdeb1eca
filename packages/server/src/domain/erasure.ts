// Which payloads are about a person: the rule erasure applies, apart from how payloads are
// read. Payloads are matched here, in TypeScript, over their text as the store gives it
// back, never by SQL over the payload column (which may hold sealed bytes).

/**
 * Identifiers of one person, such as {"user_id": "U1"}. A payload is about them when it
 * holds ANY of them: erasure should sooner delete one payload too many about someone than
 * keep one that names them under another key.
 */
export type Identifiers = Record<string, string>;

/**
 * Whether the payload names the person. A key is looked for at the payload's top level and
 * under `data` (the shape of every event in the health catalogue, and the only one known
 * for event types without a schema), and at every path the event type's schema marks
 * `"x-identifier": true` whose last name is that key (`*` steps go through arrays). A value
 * matches when it is the same string, or a number written the same way.
 */
export function payloadNames(payload: unknown, identifiers: Identifiers, schemaPaths: readonly string[][]): boolean {
  for (const [key, value] of Object.entries(identifiers)) {
    const paths = [[key], ['data', key], ...schemaPaths.filter((p) => p[p.length - 1] === key)];
    if (paths.some((p) => valuesAt(payload, p).some((v) => sameIdentifier(v, value)))) return true;
  }
  return false;
}

function sameIdentifier(found: unknown, wanted: string): boolean {
  return (typeof found === 'string' && found === wanted) || (typeof found === 'number' && String(found) === wanted);
}

/** Every value at `path` in `node`, a `*` step taking each element of an array. */
function valuesAt(node: unknown, path: readonly string[]): unknown[] {
  if (path.length === 0) return [node];
  const [head, ...rest] = path as [string, ...string[]];
  if (head === '*') return Array.isArray(node) ? node.flatMap((el) => valuesAt(el, rest)) : [];
  if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, head)) return [];
  return valuesAt((node as Record<string, unknown>)[head], rest);
}

/** Svix's bounds on a message's own retention: 1 to 90 days, or 1 to 2,160 hours. */
export const MESSAGE_RETENTION = { maxDays: 90, maxHours: 2160 } as const;

/**
 * How long a message's content is kept (ms): `payloadRetentionHours` when given (it wins
 * over `payloadRetentionPeriod`, the finer of the two), else `payloadRetentionPeriod` days,
 * else the server's default.
 */
export function retentionMs(hours: number | null | undefined, days: number | null | undefined, serverDefaultMs: number): number {
  if (hours !== null && hours !== undefined) return hours * 3_600_000;
  if (days !== null && days !== undefined) return days * 86_400_000;
  return serverDefaultMs;
}
