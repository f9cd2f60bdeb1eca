import type Database from 'better-sqlite3';
import { migrations, pendingMigrations, type Migration } from '../migrations.js';

/**
 * Brings the database's schema up to date from the SQL files in ./migrations. The version is
 * SQLite's user_version, set in the transaction of the migration it records, so a step is
 * applied whole or not at all and a file written by newer code is recognised and refused.
 * Returns the versions applied.
 */
export function migrate(db: Database.Database, all: readonly Migration[] = migrations('sqlite')): number[] {
  const current = db.pragma('user_version', { simple: true }) as number;
  const applied: number[] = [];
  for (const m of pendingMigrations(current, all)) {
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
    applied.push(m.version);
  }
  return applied;
}
