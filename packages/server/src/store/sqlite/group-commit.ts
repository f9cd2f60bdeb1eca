import type Database from 'better-sqlite3';

interface Job {
  fn: () => unknown;
  durable: boolean;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * Runs writes queued within one turn of the event loop in a single transaction, so
 * concurrent requests share one fsync. Each job runs in its own savepoint: one that
 * throws is rolled back alone and rejected; the others commit. Nobody's promise settles
 * before the shared commit has returned.
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
  }

  run<T>(fn: () => T, durable = true): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, durable, resolve: resolve as (v: unknown) => void, reject });
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
    const outcomes: { ok: boolean; value: unknown }[] = [];
    const sync = jobs.some((j) => j.durable);
    if (sync !== this.synced) {
      this.db.pragma(sync ? 'synchronous = FULL' : 'synchronous = NORMAL');
      this.synced = sync;
    }
    try {
      this.db.exec('BEGIN IMMEDIATE');
      for (const job of jobs) {
        this.db.exec('SAVEPOINT job');
        try {
          outcomes.push({ ok: true, value: job.fn() });
          this.db.exec('RELEASE job');
        } catch (err) {
          this.db.exec('ROLLBACK TO job');
          this.db.exec('RELEASE job');
          outcomes.push({ ok: false, value: err });
        }
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

  private settleIdle(): void {
    if (this.queue.length === 0 && !this.scheduled) {
      const waiters = this.idle;
      this.idle = [];
      for (const w of waiters) w();
    }
  }
}
