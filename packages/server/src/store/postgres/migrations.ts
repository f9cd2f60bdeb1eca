import type pg from 'pg';
import { migrations, pendingMigrations, type Migration } from '../migrations.js';

// The schema for PostgreSQL is the SQL files in ./migrations; applied versions are rows of
// hookwell_schema_version, so a database written by newer code is recognised and refused.
// Version 1 is the SQLite schema after all of its migrations at the time. Times are epoch
// milliseconds (bigint). JSON columns are text, so values (above all payloads) come back
// exactly as written. Ids and names sort in byte order (COLLATE "C"), as keyset pagination
// over time-ordered ids needs.

/**
 * Key of the transaction-level advisory lock that serialises migrations, so that
 * processes starting together migrate once. ("hookwell" in ASCII, as a 64-bit integer.)
 */
export const MIGRATION_LOCK = '7525356009714707564';

/** The schema version the database is at after `migrate`, and the versions applied by this call. */
export interface MigrationResult {
  version: number;
  applied: number[];
}

/**
 * Brings the schema on the pool's search_path up to date. Everything runs in one
 * transaction holding pg_advisory_xact_lock(MIGRATION_LOCK): a concurrent caller waits,
 * then finds the migrations applied and does nothing. Refuses a database whose version is
 * newer than this code knows.
 */
export async function migrate(pool: pg.Pool, all: readonly Migration[] = migrations('postgres')): Promise<MigrationResult> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS hookwell_schema_version (version integer PRIMARY KEY, applied_at bigint NOT NULL)`,
    );
    const r = await client.query<{ v: number | null }>('SELECT MAX(version) AS v FROM hookwell_schema_version');
    const current = r.rows[0]?.v ?? 0;
    const applied: number[] = [];
    for (const m of pendingMigrations(current, all)) {
      await client.query(m.sql);
      await client.query('INSERT INTO hookwell_schema_version (version, applied_at) VALUES ($1, $2)', [m.version, Date.now()]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return { version: Math.max(current, all.length), applied };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
