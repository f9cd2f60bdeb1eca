// `hookwell rekey`: every sealed column rewritten under the ring's first key, written once for
// both dialects. It runs beside serving processes: rows go in key order, a batch per
// transaction, and each value is replaced only if it is still the one read, so a value a
// server rewrote meanwhile (under the same first key) is left as that server wrote it.
import { KEY_RECORD_META_KEY, KeyRingError, type Sealer } from '../domain/sealing.js';
import type { Row } from './rows.js';

/** Where rekey is: rows of `table` read so far, and how many values (a row may hold several) it rewrote. */
export interface RekeyProgress {
  table: string;
  rows: number;
  rewritten: number;
}

export interface RekeyDriver {
  select(sql: string, params: unknown[]): Promise<Row[]>;
  /** Runs the statements in one transaction; answers how many rows they changed. */
  update(statements: { sql: string; params: unknown[] }[]): Promise<number>;
  readKeyRecord(): Promise<string | null>;
  /** Replaces the key record by `change` of it, in one transaction that processes opening the store wait for. */
  updateKeyRecord(change: (recorded: string | null) => string): Promise<void>;
}

interface SealedTable {
  table: string;
  /** The primary key, walked in order. */
  keys: string[];
  columns: string[];
  where?: string;
}

// Every column the stores seal (rows.ts, endpoints.ts, idempotency.ts and the stores' meta,
// attempt and backfill record writes). Meta rows the stores write themselves, not through
// setMeta, are not sealed: the key record, SQLite's serving-process record and health probe.
export const SEALED_TABLES: SealedTable[] = [
  { table: 'endpoints', keys: ['id'], columns: ['secret', 'previous_secrets', 'headers', 'key_value', 'oauth', 'mtls_identity'] },
  { table: 'meta', keys: ['key'], columns: ['value'], where: `key NOT IN ('${KEY_RECORD_META_KEY}', 'serving_process', 'health_probe')` },
  // Only answers kept as text (a message's is rendered from it); SQLite indexes just those.
  { table: 'idempotency', keys: ['scope', 'key'], columns: ['body'], where: 'body IS NOT NULL' },
  { table: 'backfill_records', keys: ['backfill_id', 'seq'], columns: ['record'] },
  { table: 'messages', keys: ['id'], columns: ['payload'] },
  { table: 'attempts', keys: ['id'], columns: ['response'] },
];

/**
 * Seals every value of SEALED_TABLES not sealed with the first key yet (plaintext included),
 * `batch` rows a transaction, then records that only the first key is in use, so the others
 * can leave the ring. Every process sharing the database must have the new first key
 * before: one still sealing with an older key would write values the record no longer names.
 */
export async function rekeyTables(db: RekeyDriver, sealer: Sealer, batch: number, progress: (p: RekeyProgress) => void): Promise<void> {
  const active = sealer.activeKeyId;
  if (active === null) throw new KeyRingError('rekey needs HOOKWELL_ENCRYPTION_KEYS: the key to encrypt with comes first in it');
  const ids = (record: string | null): string[] => (record === null || record === '' ? [] : record.split(','));
  // Keys recorded from now on (by a process started meanwhile) are not rekeyed away: kept below.
  const before = new Set(ids(await db.readKeyRecord()));
  for (const t of SEALED_TABLES) {
    const keys = t.keys.join(', ');
    const after = `(${keys}) > (${t.keys.map(() => '?').join(', ')})`;
    const matches = t.keys.map((k) => `${k} = ?`).join(' AND ');
    let cursor: unknown[] | null = null;
    const done: RekeyProgress = { table: t.table, rows: 0, rewritten: 0 };
    for (;;) {
      const where = [...(t.where === undefined ? [] : [t.where]), ...(cursor === null ? [] : [after])];
      const rows = await db.select(
        `SELECT ${keys}, ${t.columns.join(', ')} FROM ${t.table} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${keys} LIMIT ?`,
        [...(cursor ?? []), batch],
      );
      const updates: { sql: string; params: unknown[] }[] = [];
      for (const r of rows) {
        const at = t.keys.map((k) => r[k]);
        for (const c of t.columns) {
          const v = r[c];
          if (typeof v !== 'string' || v === '' || sealer.isCurrent(v)) continue;
          updates.push({ sql: `UPDATE ${t.table} SET ${c} = ? WHERE ${matches} AND ${c} = ?`, params: [sealer.seal(sealer.open(v)), ...at, v] });
        }
      }
      if (updates.length > 0) done.rewritten += await db.update(updates);
      done.rows += rows.length;
      if (rows.length > 0 || cursor === null) progress({ ...done });
      if (rows.length < batch) break;
      cursor = t.keys.map((k) => rows[rows.length - 1]![k]);
    }
  }
  await db.updateKeyRecord((now) => [active, ...ids(now).filter((id) => id !== active && !before.has(id))].join(','));
}
