import fs from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';

export class BackupError extends Error {}

export interface BackupProgress {
  pagesDone: number;
  pagesTotal: number;
}

export interface BackupResult {
  file: string;
  pages: number;
  bytes: number;
}

/** Pages copied between two looks at the progress: a few MB, so the line moves. */
const PAGES_PER_STEP = 1024;

/**
 * Copies a SQLite database, live, into `to` with SQLite's online backup, as of one moment:
 * the copy is taken inside one read transaction, so what the serving process commits
 * meanwhile neither shows up half nor makes the backup start over (SQLite restarts a backup
 * whose source changes between steps unless the snapshot is held). In WAL mode that read
 * blocks no writer. Everything committed before the backup began is in the copy, synced
 * to disk before the file takes its name; until then it is `<to>.partial`, so a copy cut off
 * is never mistaken for a whole one. An existing `to` is refused, not overwritten.
 */
export async function backupSqlite(from: string, to: string, progress: (p: BackupProgress) => void): Promise<BackupResult> {
  const source = resolve(from);
  const target = resolve(to);
  if (!fs.existsSync(source)) throw new BackupError(`no database at ${source}`);
  if (source === target) throw new BackupError('the backup must go to another file than the database');
  if (fs.existsSync(target)) throw new BackupError(`${target} already exists; choose a new file (a backup never overwrites one)`);
  if (!fs.existsSync(dirname(target))) throw new BackupError(`the directory ${dirname(target)} does not exist`);
  const partial = `${target}.partial`;
  fs.rmSync(partial, { force: true });

  let db: Database.Database;
  try {
    db = new Database(source, { fileMustExist: true, readonly: true });
    db.pragma('busy_timeout = 5000');
    // Any read starts the transaction whose snapshot the whole copy is taken from.
    db.exec('BEGIN');
    db.prepare('SELECT count(*) FROM sqlite_schema').get();
  } catch (err) {
    throw new BackupError(`cannot read ${source} as a SQLite database: ${(err as Error).message}`);
  }
  try {
    const done = await db.backup(partial, {
      progress: ({ totalPages, remainingPages }) => {
        progress({ pagesDone: totalPages - remainingPages, pagesTotal: totalPages });
        return PAGES_PER_STEP;
      },
    });
    progress({ pagesDone: done.totalPages, pagesTotal: done.totalPages });
    db.exec('COMMIT');
    // Owner-only, as the database's own files are kept (see files.ts).
    fs.chmodSync(partial, 0o600);
    syncPath(partial);
    fs.renameSync(partial, target);
    syncPath(dirname(target));
    return { file: target, pages: done.totalPages, bytes: fs.statSync(target).size };
  } catch (err) {
    fs.rmSync(partial, { force: true });
    throw err instanceof BackupError ? err : new BackupError(`the backup failed: ${(err as Error).message}`);
  } finally {
    db.close();
  }
}

function syncPath(path: string): void {
  const fd = fs.openSync(path, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
