// The files of a SQLite database: who may read them, why one cannot be opened, and the
// lock that lets one server at a time use them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';

/** What SQLite keeps beside the database file; each holds the same data. */
const SIDE_FILES = ['-wal', '-shm', '-journal'];

const OWNER_ONLY = 0o600;

/** A file whose mode gave group or others access, and was tightened. */
export interface Tightened {
  file: string;
  was: string;
}

/**
 * Makes the database and the files beside it owner-only: they hold payloads, signing
 * secrets and header values. A new database file is created 0600 here, before SQLite
 * opens it, because SQLite creates its -wal and -shm with the main file's mode (and sets
 * it even against the umask), also each time it makes them anew; existing files that give
 * anyone else access are tightened. Returns those, for a warning.
 */
export function secureFiles(file: string): Tightened[] {
  createOwnerOnly(file);
  const tightened: Tightened[] = [];
  for (const f of [file, ...SIDE_FILES.map((s) => file + s)]) {
    let mode: number;
    try {
      mode = fs.statSync(f).mode & 0o777;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    if ((mode & 0o077) === 0) continue;
    fs.chmodSync(f, mode & 0o700);
    tightened.push({ file: f, was: mode.toString(8).padStart(4, '0') });
  }
  return tightened;
}

/** Creates file empty and 0600 unless it exists (an empty file is an empty database to SQLite). */
function createOwnerOnly(file: string): void {
  try {
    fs.closeSync(fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, OWNER_ONLY));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/** A start-up failure that names the database file and says why, in place of SQLite's "unable to open database file". */
export function openFailure(file: string, err: unknown): Error {
  return new Error(`cannot open the SQLite database ${file}: ${whyNot(file, err)}`, { cause: err });
}

function whyNot(file: string, err: unknown): string {
  const code = (err as { code?: string }).code ?? '';
  const dir = path.dirname(file);
  const problem = directoryProblem(dir);
  if (problem !== null) return problem;
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    return `the directory ${dir} is not writable (${reason(e)}); SQLite keeps its log and lock files beside the database`;
  }
  let stat: fs.Stats | null = null;
  try {
    stat = fs.statSync(file);
  } catch {
    stat = null;
  }
  if (stat?.isDirectory()) return `${file} is a directory`;
  if (stat !== null && !stat.isFile()) return `${file} is not a regular file`;
  if (code === 'SQLITE_NOTADB') return 'the file is not a SQLite database';
  if (stat !== null) {
    try {
      fs.accessSync(file, fs.constants.R_OK | fs.constants.W_OK);
    } catch (e) {
      return `the file is not readable and writable (${reason(e)})`;
    }
  }
  if (code === 'SQLITE_CORRUPT') return 'the file is damaged (SQLite reports it malformed)';
  if (code === 'SQLITE_FULL' || (err as NodeJS.ErrnoException).code === 'ENOSPC') return 'the disk is full';
  return (err as Error).message;
}

/** Why dir cannot hold the database: it, or a directory above it, is missing or not a directory. */
function directoryProblem(dir: string): string | null {
  try {
    if (fs.statSync(dir).isDirectory()) return null;
    return `${dir} is not a directory`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') {
      // Some directory above is a file: name the first one.
      for (let d = path.dirname(dir); d !== path.dirname(d); d = path.dirname(d)) {
        try {
          if (!fs.statSync(d).isDirectory()) return `${d} is not a directory`;
        } catch {
          continue;
        }
      }
      return `${dir} is not a directory`;
    }
    if (code === 'ENOENT') return `the directory ${dir} does not exist`;
    return `the directory ${dir} cannot be read (${reason(err)})`;
  }
}

function reason(err: unknown): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EROFS':
      return 'read-only file system';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return (err as Error).message;
  }
}

/** The database is held by another serving process. */
export class DatabaseInUseError extends Error {}

interface Holder {
  pid: number;
  host: string;
  startedAt: string;
}

export const HOLDER_META_KEY = 'serving_process';

export function holderRecord(): string {
  const holder: Holder = { pid: process.pid, host: os.hostname(), startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString() };
  return JSON.stringify(holder);
}

/**
 * The lock one serving process holds on a database: a write transaction held open on a
 * small SQLite file beside it, `<db>.lock`. The operating system drops the lock with the
 * process, however that ends (SIGKILL too), so a crash never leaves a server that cannot
 * start again, as a pid file would. The file itself stays; only its lock matters. Tools
 * that are safe beside a server (migrate, catalogue import) do not take it.
 */
export class ServeLock {
  private constructor(private readonly db: Database.Database) {}

  /** Throws DatabaseInUseError, naming the holder as it recorded itself, when another process holds it. */
  static acquire(file: string): ServeLock {
    const lockFile = `${file}.lock`;
    createOwnerOnly(lockFile);
    const mode = fs.statSync(lockFile).mode & 0o777;
    if ((mode & 0o077) !== 0) fs.chmodSync(lockFile, mode & 0o700);
    const db = new Database(lockFile, { timeout: 0 });
    try {
      // The lock file holds no data: no journal, and the lock kept for the connection's life.
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = MEMORY');
      db.exec('BEGIN EXCLUSIVE');
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY')) {
        throw new DatabaseInUseError(
          `the SQLite database ${file} is in use by another Hookwell server (${describeHolder(file)}). ` +
            'One file serves one process: stop that one first, or use PostgreSQL to run more than one. ' +
            '(hookwell migrate and hookwell catalog import may run beside it.)',
        );
      }
      throw err;
    }
    return new ServeLock(db);
  }

  release(): void {
    if (this.db.open) this.db.close();
  }
}

/** The holder as recorded in the database when it started. */
function describeHolder(file: string): string {
  let holder: Holder;
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 1000 });
    try {
      const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(HOLDER_META_KEY) as { value: string } | undefined;
      if (row === undefined) return 'a process that has not recorded itself yet';
      holder = JSON.parse(row.value) as Holder;
    } finally {
      db.close();
    }
  } catch {
    return 'a process that has not recorded itself yet';
  }
  // The record is written just after the lock is taken: a record of a process that is gone
  // belongs to an earlier holder, and the new one is still starting.
  if (holder.host === os.hostname() && !alive(holder.pid)) return 'a process that is still starting';
  return `pid ${holder.pid} on ${holder.host}, started ${holder.startedAt}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
