import { hash } from 'node:crypto';

/**
 * Where each idempotency record of a SQLite file is, by its scope and key: in the serving
 * process's memory, rebuilt from the table when first needed. One process serves a SQLite
 * file, so it sees every record written. The table has no index of keys on disk: with random
 * keys (the svix 2.x SDK makes one per POST) a B-tree of them has each keyed message dirty a
 * page of its own in every commit, which cost ingest a third of its rate; an entry here
 * costs about 40 bytes of memory for as long as its record lives (24 hours).
 *
 * Entries are hashes of scope and key (52 bits) to row ids, in one map per hour of
 * creation, so expired hours are dropped whole. A hit is only a hint: the caller reads the
 * row and compares its scope and key, so an entry left by a rolled-back write, or by a row
 * since purged, finds nothing. Two live keys sharing a hash (about one chance in 10⁹ at ten
 * million live keys) would hide the older one's record.
 */
export class KeyIndex {
  private readonly hours: { until: number; rows: Map<number, number> }[] = [];

  constructor(private readonly spanMs = 60 * 60 * 1000) {}

  /** The hash a record is indexed by (stored with it as key_hash). */
  static hashOf(scope: string, key: string): number {
    const h = hash('sha256', `${scope}\n${key}`, 'buffer');
    // 52 bits: an exact double, and a Map key compared by value.
    return h.readUIntBE(0, 6) * 16 + (h[6]! >> 4);
  }

  /** The row last indexed under `keyHash`, if any. */
  get(keyHash: number): number | undefined {
    for (let i = this.hours.length - 1; i >= 0; i--) {
      const id = this.hours[i]!.rows.get(keyHash);
      if (id !== undefined) return id;
    }
    return undefined;
  }

  /** Indexes row `id`, created at `createdAt`; it shadows any earlier row under the hash. */
  set(keyHash: number, id: number, createdAt: number): void {
    let last = this.hours[this.hours.length - 1];
    if (last === undefined || createdAt >= last.until) {
      last = { until: (Math.floor(createdAt / this.spanMs) + 1) * this.spanMs, rows: new Map() };
      this.hours.push(last);
    }
    // An older time than the last hour's goes in it all the same: kept a little longer.
    last.rows.set(keyHash, id);
  }

  /** Forgets the hours whose records were all created before `olderThan`. */
  drop(olderThan: number): void {
    while (this.hours.length > 0 && this.hours[0]!.until <= olderThan) this.hours.shift();
  }

  get size(): number {
    let n = 0;
    for (const h of this.hours) n += h.rows.size;
    return n;
  }
}
