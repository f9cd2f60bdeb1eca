import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { UnavailableError } from '../../domain/errors.js';
import type { CommitObserver } from '../store.js';

interface Job {
  fn: () => unknown;
  durable: boolean;
  /** fn may be run again after a rollback: it changes nothing outside the database. */
  replayable: boolean;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

type Outcome = { ok: boolean; value: unknown };

/** A committed transaction's jobs and their outcomes, to settle once it is on disk. */
interface Committed {
  jobs: Job[];
  outcomes: Outcome[];
  durable: boolean;
}

/** Hears when writes start failing for want of disk (or the disk failing), and when one works again. */
export interface WriteHealth {
  failed(err: unknown): void;
  succeeded(): void;
}

/** A checkpoint made elsewhere (see Checkpointer) that may ask commits to wait for one catch-up. */
export interface LogCheckpoints {
  readonly wantsCatchUp: boolean;
  catchUp(): Promise<unknown>;
  /** Copies the whole log into the file and cuts it to nothing; false when a reader kept it from being emptied. */
  truncate(): Promise<boolean>;
}

/** Below this much free space the log is kept small (see watchSpace): a little above the ~40 MB it reaches between checkpoints. */
const LOW_SPACE_BYTES = 64 * 1024 * 1024;
const TRUNCATE_LOG_AT = 1024 * 1024;

/** How long a client told the disk is full is asked to wait: freeing space takes a person or a clean-up job. */
const FULL_RETRY_AFTER_S = 30;

/**
 * A write that failed because the disk did, not because of what was written: the disk is
 * full, an I/O error, or the file system turned read-only. Such a failure is the server's,
 * answered 503 (try again later), and it sinks the whole transaction, never one job of it.
 */
export function storageFailure(err: unknown): UnavailableError | null {
  if (err instanceof UnavailableError) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return null;
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') {
    return new UnavailableError('the database cannot write: the disk is full', FULL_RETRY_AFTER_S);
  }
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO') {
    return new UnavailableError(`the database cannot write: a disk I/O error (${code})`, FULL_RETRY_AFTER_S);
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS') {
    return new UnavailableError(`the database cannot write: its file system is read-only (${code})`, FULL_RETRY_AFTER_S);
  }
  return null;
}

/**
 * Runs writes queued within one turn of the event loop in a single transaction, so
 * concurrent requests share one fsync. Each job runs in its own savepoint: one that
 * throws is rolled back alone and rejected; the others commit. Nobody's promise settles
 * before the shared commit has returned.
 *
 * A savepoint costs a copy of every page its job changes, and consecutive inserts mostly
 * change the same few pages. So a run of consecutive replayable jobs (message writes)
 * shares one savepoint; if one of them throws, the run is rolled back and done again a
 * job per savepoint, which gives each job the same outcome as on its own.
 *
 * A commit that holds a durable job is on disk before any of its promises settle. In WAL
 * mode that is an fdatasync of the -wal file once COMMIT has written its frames there:
 * the connection runs with synchronous=NORMAL (commits write, checkpoints sync), and the
 * sync is made here, on libuv's thread pool, so the serving thread goes on reading,
 * checking and committing the next requests meanwhile. One sync is out at a time: what is
 * committed while it is waits for the next one, begun as soon as it returns, so a sync
 * never waits for the thread to finish writing a commit. Only one commit is made while a
 * sync is out; what arrives after it waits for that sync and then goes together, which
 * keeps commits large (each writes its pages of every index, however few jobs it holds).
 * Commits settle in the order they were made. A commit holding only bookkeeping whose loss
 * merely repeats a delivery (claims, attempt records) waits for no sync of its own, only for
 * those of the commits before it (a claim never hands out a message not yet on disk); the
 * next synced commit makes it durable too. A database not in WAL mode (in memory) is
 * synced by SQLite itself (synchronous=FULL) for durable commits.
 */
export class GroupCommit {
  private queue: Job[] = [];
  private scheduled = false;
  private idle: (() => void)[] = [];
  /** Without a WAL: whether the connection is at synchronous=FULL. */
  private synced = true;
  /** The -wal file, synced here; null when SQLite syncs (not in WAL mode). */
  private readonly walPath: string | null;
  private walFd: number | null = null;
  /** An fdatasync is out. */
  private syncing = false;
  /** Committed while a sync was out (or since it returned), oldest first: for the next one. */
  private unsynced: Committed[] = [];
  /** When free space was last looked at, and whether it was low then (see watchSpace). */
  private spaceCheckedAt = 0;
  private lowSpace = false;
  /** Commits are held back for a checkpoint that lets the log start over (see Checkpointer). */
  private catchingUp = false;
  /** Set when the log is checkpointed by another connection, which may ask for a catch-up. */
  checkpoints: LogCheckpoints | null = null;
  /** Told of each commit and each sync of the log, for /metrics. */
  observer: CommitObserver | null = null;
  /** Waiting for the log to be emptied (truncateLog). */
  private truncations: { resolve: (done: boolean) => void; reject: (e: unknown) => void }[] = [];

  /**
   * `onRollback`: a transaction was rolled back whole; what was read from it may be undone.
   * `health`: told of each commit that failed for the disk's sake, and of each durable one
   * that succeeded (bookkeeping commits may write nothing, so they prove nothing).
   */
  constructor(
    private readonly db: Database.Database,
    private readonly onRollback: () => void = () => undefined,
    private readonly health: WriteHealth = { failed: () => undefined, succeeded: () => undefined },
  ) {
    const wal = this.db.pragma('journal_mode', { simple: true }) === 'wal' && !this.db.memory;
    this.walPath = wal ? `${path.resolve(this.db.name)}-wal` : null;
    this.db.pragma(wal ? 'synchronous = NORMAL' : 'synchronous = FULL');
    // A savepoint keeps the old content of every page its job changes, in a sub-journal.
    // That is a temporary file by default: a write syscall per page per job, most of the
    // system time of a busy commit. In memory it is a copy; it never needs to outlive
    // the transaction.
    this.db.pragma('temp_store = MEMORY');
    // Prepared once: exec would parse them again for every job.
    this.savepoint = this.db.prepare('SAVEPOINT job');
    this.releaseSavepoint = this.db.prepare('RELEASE job');
    this.rollbackSavepoint = this.db.prepare('ROLLBACK TO job');
  }

  private readonly savepoint: Database.Statement;
  private readonly releaseSavepoint: Database.Statement;
  private readonly rollbackSavepoint: Database.Statement;

  /** `replayable`: see the class comment; only for a fn that touches nothing but the database. */
  run<T>(fn: () => T, durable = true, replayable = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, durable, replayable, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Resolves once everything queued so far has been committed. */
  drain(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /**
   * Copies the log into the database and cuts it to nothing, as soon as no transaction is
   * open and no sync is out: deleted content then leaves the -wal file, whose older frames
   * still hold it. Runs on the checkpointing thread while commits wait (or, without one, on
   * the serving thread, with its syncs), so it is for rare moments such as a purge that
   * deleted something. Resolves false when another connection's reader kept the log from
   * being emptied.
   */
  truncateLog(): Promise<boolean> {
    if (this.walPath === null) return Promise.resolve(true);
    return new Promise((resolve, reject) => {
      this.truncations.push({ resolve, reject });
      this.truncateIfAsked();
    });
  }

  private truncateIfAsked(): void {
    if (this.truncations.length === 0 || this.syncing || this.catchingUp || !this.db.open || this.db.inTransaction) return;
    const waiters = this.truncations;
    this.truncations = [];
    if (this.checkpoints !== null) {
      // The checkpointing thread empties the log, with commits held back meanwhile (as for a
      // catch-up): the serving thread neither waits for its checkpoint nor syncs.
      this.catchingUp = true;
      this.checkpoints.truncate().then(
        (emptied) => {
          for (const w of waiters) w.resolve(emptied);
          this.resumeAfterCheckpoint();
        },
        (err: unknown) => {
          for (const w of waiters) w.reject(err);
          this.resumeAfterCheckpoint();
        },
      );
      return;
    }
    try {
      const [r] = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      for (const w of waiters) w.resolve(r?.busy === 0);
    } catch (err) {
      for (const w of waiters) w.reject(err);
    }
  }

  private resumeAfterCheckpoint(): void {
    this.catchingUp = false;
    this.truncateIfAsked();
    this.flush();
  }

  /** Closes the -wal file's descriptor; call after drain, before the database closes. */
  close(): void {
    if (this.walFd !== null) fs.closeSync(this.walFd);
    this.walFd = null;
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && !this.scheduled && !this.syncing && this.unsynced.length === 0;
  }

  private flush(): void {
    // One commit at most waits for the next sync (see the class comment); the rest go when
    // the sync that is out returns.
    if (this.syncing && this.unsynced.length > 0) return;
    if (this.catchingUp) return;
    if (this.queue.length === 0) {
      this.scheduled = false;
      return;
    }
    // Between transactions, with no sync out: the one place a checkpoint can always run.
    if (!this.syncing) this.keepLogSmall();
    if (this.checkpoints?.wantsCatchUp === true) {
      // What is queued stays queued (and `scheduled` set) until the checkpoint returns.
      this.catchingUp = true;
      void this.checkpoints.catchUp().then(() => this.resumeAfterCheckpoint());
      return;
    }
    const jobs = this.queue;
    this.queue = [];
    this.scheduled = false;
    const outcomes: Outcome[] = [];
    const durable = jobs.some((j) => j.durable);
    // Only without a -wal file of our own to sync does SQLite sync in COMMIT.
    if (this.walPath === null && durable !== this.synced) {
      this.db.pragma(durable ? 'synchronous = FULL' : 'synchronous = NORMAL');
      this.synced = durable;
    }
    const started = performance.now();
    try {
      this.db.exec('BEGIN IMMEDIATE');
      for (let i = 0; i < jobs.length; ) {
        let end = i + 1;
        while (end < jobs.length && jobs[i]!.replayable && jobs[end]!.replayable) end++;
        if (end - i === 1 || !this.runTogether(jobs, i, end, outcomes)) {
          for (let k = i; k < end; k++) outcomes.push(this.runAlone(jobs[k]!));
        }
        i = end;
      }
      this.db.exec('COMMIT');
    } catch (err) {
      // After SQLITE_FULL or an I/O error SQLite may have rolled back already.
      if (this.db.inTransaction) {
        try {
          this.db.exec('ROLLBACK');
        } catch {
          // Nothing of it was committed either way.
        }
      }
      this.onRollback();
      const failure = storageFailure(err);
      if (failure !== null) this.health.failed(err);
      for (const job of jobs) job.reject(failure ?? err);
      this.settleIdle();
      return;
    }
    this.observer?.committed((performance.now() - started) / 1000, jobs.length);
    if (this.walPath !== null && (durable || this.syncing || this.unsynced.length > 0)) {
      // Settled after every commit before it, and after a sync begun after its own COMMIT.
      this.unsynced.push({ jobs, outcomes, durable });
      if (!this.syncing) this.syncWal();
    } else {
      if (durable) this.health.succeeded();
      settle(jobs, outcomes);
      this.settleIdle();
    }
    this.watchSpace();
  }

  /**
   * Between checkpoints the log grows to about 40 MB (wal_autocheckpoint), and a checkpoint
   * lets it be written again from its start but does not shrink it. On a volume with less
   * free than that, the log would take the last of it, and then the database could not take
   * the log's content either: no checkpoint and no write until a person frees space (the
   * commit that fails leaves its partial frames in the log, so nothing is left to grow the
   * database by). So while free space is below LOW_SPACE_BYTES, the log is checkpointed and
   * truncated whenever it passes TRUNCATE_LOG_AT: the database grows only by what is new,
   * and the many copies of the same pages in the log give their space back. Free space is
   * looked at four times a second at most, off the serving thread; the checkpoint runs on
   * it, before the next transaction (keepLogSmall). Checking the log's size only there, at
   * every flush while space is low, keeps it small however busy the server is: a check made
   * whenever the look-up returns would mostly find a sync out and have to skip.
   */
  private watchSpace(): void {
    if (this.walPath === null || Date.now() - this.spaceCheckedAt < 250) return;
    this.spaceCheckedAt = Date.now();
    fs.statfs(path.dirname(this.walPath), (err, stats) => {
      if (err === null) this.lowSpace = stats.bavail * stats.bsize < LOW_SPACE_BYTES;
    });
  }

  private keepLogSmall(): void {
    if (!this.lowSpace || this.walFd === null || !this.db.open || this.db.inTransaction) return;
    try {
      if (fs.fstatSync(this.walFd).size >= TRUNCATE_LOG_AT) this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // Tried again at the next flush.
    }
  }

  /**
   * Syncs the -wal file, then settles the commits made before the sync began, or fails
   * them; what was committed meanwhile goes into the next sync, begun at once.
   */
  private syncWal(): void {
    const commits = this.unsynced;
    this.unsynced = [];
    this.syncing = true;
    const started = performance.now();
    const done = (err: NodeJS.ErrnoException | null) => {
      this.syncing = false;
      if (err === null) this.observer?.synced((performance.now() - started) / 1000);
      this.truncateIfAsked();
      if (err === null) {
        this.health.succeeded();
        for (const c of commits) settle(c.jobs, c.outcomes);
      } else {
        // Committed, but not known to be on disk: the caller must not be told it is stored.
        // (Told 503, a client sends again; the copy it may make is whole, never half.)
        const failure = storageFailure(err);
        if (failure !== null) this.health.failed(err);
        const reason = failure ?? new Error(`syncing the database's write-ahead log failed: ${err.message}`);
        for (const c of commits) for (const job of c.jobs) job.reject(reason);
      }
      if (this.queue.length > 0) setImmediate(() => this.flush());
      if (this.unsynced.some((c) => c.durable)) {
        this.syncWal();
        return;
      }
      // Only bookkeeping committed meanwhile: the sync just made was all it waited for.
      const rest = this.unsynced;
      this.unsynced = [];
      for (const c of rest) settle(c.jobs, c.outcomes);
      this.settleIdle();
    };
    try {
      this.walFd ??= fs.openSync(this.walPath!, 'r+');
    } catch (err) {
      done(err as NodeJS.ErrnoException);
      return;
    }
    fs.fdatasync(this.walFd, done);
  }

  private runAlone(job: Job): Outcome {
    this.savepoint.run();
    try {
      const value = job.fn();
      this.releaseSavepoint.run();
      return { ok: true, value };
    } catch (err) {
      // The disk failing sinks the transaction (SQLite may have rolled it back already).
      if (storageFailure(err) !== null) throw err;
      this.rollbackSavepoint.run();
      this.releaseSavepoint.run();
      return { ok: false, value: err };
    }
  }

  /** Runs jobs[from, to) in one savepoint; false, with nothing left of them, if one throws. */
  private runTogether(jobs: Job[], from: number, to: number, outcomes: Outcome[]): boolean {
    const values: unknown[] = [];
    this.savepoint.run();
    try {
      for (let k = from; k < to; k++) values.push(jobs[k]!.fn());
      this.releaseSavepoint.run();
    } catch (err) {
      if (storageFailure(err) !== null) throw err;
      this.rollbackSavepoint.run();
      this.releaseSavepoint.run();
      return false;
    }
    for (const value of values) outcomes.push({ ok: true, value });
    return true;
  }

  private settleIdle(): void {
    if (this.isIdle()) {
      const waiters = this.idle;
      this.idle = [];
      for (const w of waiters) w();
    }
  }
}

function settle(jobs: Job[], outcomes: Outcome[]): void {
  jobs.forEach((job, i) => {
    const o = outcomes[i]!;
    if (o.ok) job.resolve(o.value);
    else job.reject(o.value);
  });
}
