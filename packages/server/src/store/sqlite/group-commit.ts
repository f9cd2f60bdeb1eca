import type Database from 'better-sqlite3';

interface Job {
  fn: () => unknown;
  durable: boolean;
  /** fn may be run again after a rollback: it changes nothing outside the database. */
  replayable: boolean;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

type Outcome = { ok: boolean; value: unknown };

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
 * A commit that holds a durable job is synced to disk before it returns (synchronous=FULL).
 * One holding only bookkeeping whose loss merely repeats a delivery (claims, attempt
 * records) skips the sync; in WAL mode the next synced commit makes it durable too, and
 * a crashed process loses nothing either way, only a power cut can.
 */
export class GroupCommit {
  private queue: Job[] = [];
  private scheduled = false;
  private idle: (() => void)[] = [];
  private synced = true;

  /** `onRollback`: a transaction was rolled back whole; what was read from it may be undone. */
  constructor(
    private readonly db: Database.Database,
    private readonly onRollback: () => void = () => undefined,
  ) {
    this.db.pragma('synchronous = FULL');
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
    if (this.queue.length === 0 && !this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private flush(): void {
    const jobs = this.queue;
    this.queue = [];
    this.scheduled = false;
    const outcomes: Outcome[] = [];
    const sync = jobs.some((j) => j.durable);
    if (sync !== this.synced) {
      this.db.pragma(sync ? 'synchronous = FULL' : 'synchronous = NORMAL');
      this.synced = sync;
    }
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
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.onRollback();
      for (const job of jobs) job.reject(err);
      this.settleIdle();
      return;
    }
    jobs.forEach((job, i) => {
      const o = outcomes[i]!;
      if (o.ok) job.resolve(o.value);
      else job.reject(o.value);
    });
    this.settleIdle();
  }

  private runAlone(job: Job): Outcome {
    this.savepoint.run();
    try {
      const value = job.fn();
      this.releaseSavepoint.run();
      return { ok: true, value };
    } catch (err) {
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
    } catch {
      this.rollbackSavepoint.run();
      this.releaseSavepoint.run();
      return false;
    }
    for (const value of values) outcomes.push({ ok: true, value });
    return true;
  }

  private settleIdle(): void {
    if (this.queue.length === 0 && !this.scheduled) {
      const waiters = this.idle;
      this.idle = [];
      for (const w of waiters) w();
    }
  }
}
