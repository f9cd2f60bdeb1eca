import type pg from 'pg';
import { UnavailableError } from '../../domain/errors.js';
import type { CommitObserver } from '../store.js';

/** What one job of a batch came to: its result, or the error that is its alone. */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * Writes a batch of jobs with a few statements for all of them, durably, and says what each
 * came to. Outside a transaction (`inTransaction` false) it makes its own, or writes with
 * one statement, which commits by itself; inside one it leaves the commit to its caller. A
 * failure that belongs to one job and leaves the statement whole (a duplicate found with ON
 * CONFLICT DO NOTHING) is that job's outcome; a statement that fails throws, having written
 * nothing, and then which job caused it is not known.
 */
export type BatchWrite<J, R> = (c: pg.PoolClient, jobs: J[], inTransaction: boolean) => Promise<Outcome<R>[]>;

/** Runs fn on a client of its own, in no transaction (Session) or in one: BEGIN, fn, COMMIT, or ROLLBACK and throw (Transaction). */
export type Session = <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>;
export type Transaction = Session;

export interface GroupCommitOptions<J> {
  /** Most jobs in one transaction: bounds the size of its statements and of a retry. */
  maxBatch?: number;
  /**
   * A job's size, as what it writes (bytes, roughly): a batch holds jobs up to `maxWeight`
   * of it together (and at least one job), since each of its statements holds every job's
   * values at once, escaped into array literals and copied into the message sent.
   */
  weight?: (job: J) => number;
  maxWeight?: number;
  /** Most transactions out at once (each on a pooled connection of its own). */
  maxInFlight?: number;
}

interface Queued<J, R> {
  job: J;
  resolve: (v: R) => void;
  reject: (e: unknown) => void;
}

/**
 * Writes the jobs that queue up while a write is out together in the next one: a few
 * multi-row statements and one commit for the lot (see BatchWrite: a write that one
 * statement can make commits with it, with no BEGIN and COMMIT), where a transaction per
 * job took a COMMIT (a WAL flush) and five or more round trips each. Nobody's promise
 * settles before the commit holding its job has returned, so a caller told its write is
 * stored is told after it is durable. Measured on messages (one endpoint each, 64 writers
 * at once, PostgreSQL on the same 2-core machine): a transaction per message took about
 * 215 µs of this process's CPU and 420 µs of the database's per message, and 1.4k messages
 * a second; in batches, 35 µs and 30 µs. Under load the round trips of a batch are most of
 * a request's wait (the server idles half the time at 4.5k messages a second), so a batch
 * takes as few as it can.
 *
 * The first job after a quiet spell goes at the next turn of the event loop, with whatever
 * else arrived in that turn; the jobs that arrive while transactions are out wait for one
 * of them to end. At most `maxInFlight` writes are out at once: with one, the next
 * batch would wait through a whole commit (its round trips and its WAL flush) that it
 * could overlap, which a database on another machine makes long; with many, the queue
 * would be split into small batches again. (On the shared 2-core machine of the bench, 1,
 * 2 and 4 differed by less than its noise.)
 *
 * A statement that fails writes nothing (and sinks the transaction it is in), and with
 * multi-row statements which job it failed for is unknown. Such a batch is written again
 * in a transaction with each job in a savepoint of its own: the job at fault is rolled
 * back alone and rejected with its error, the others commit. Savepoints are used only
 * then: on the usual path, a savepoint per job would cost a round trip per job (SAVEPOINT,
 * RELEASE) and a subtransaction each, which is what batching is for avoiding; and a
 * bisecting retry (the batch without its first half, and so on) would take several
 * transactions to single out one job, where the savepoints take one. A failure to reach
 * the database fails every job of the batch: nothing of it was committed, or it is not
 * known to be.
 */
export class GroupCommit<J, R> {
  private queue: Queued<J, R>[] = [];
  private inFlight = 0;
  private scheduled = false;
  private idle: (() => void)[] = [];
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private readonly weight: (job: J) => number;
  private readonly maxWeight: number;
  /** Told of each batch committed, for /metrics. */
  observer: CommitObserver | null = null;

  constructor(
    private readonly session: Session,
    private readonly transaction: Transaction,
    private readonly write: BatchWrite<J, R>,
    opts: GroupCommitOptions<J> = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 500;
    this.maxInFlight = opts.maxInFlight ?? 2;
    this.weight = opts.weight ?? (() => 0);
    this.maxWeight = opts.maxWeight ?? Infinity;
  }

  run(job: J): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      if (!this.scheduled && this.inFlight < this.maxInFlight) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Resolves once everything queued so far has been committed or failed. */
  drain(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.inFlight === 0 && !this.scheduled;
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.queue.splice(0, this.batchLength());
      this.inFlight++;
      void this.commit(batch).finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.flush();
        else if (this.isIdle()) this.settleIdle();
      });
    }
  }

  /** How many of the queue's first jobs go in the next batch. */
  private batchLength(): number {
    let n = 0;
    let weight = 0;
    while (n < this.queue.length && n < this.maxBatch) {
      weight += this.weight(this.queue[n]!.job);
      if (n > 0 && weight > this.maxWeight) break;
      n++;
    }
    return n;
  }

  private async commit(batch: Queued<J, R>[]): Promise<void> {
    const jobs = batch.map((q) => q.job);
    let outcomes: Outcome<R>[];
    const started = performance.now();
    try {
      outcomes = await this.session((c) => this.write(c, jobs, false));
    } catch (err) {
      if (err instanceof UnavailableError || batch.length === 1) {
        for (const q of batch) q.reject(err);
        return;
      }
      try {
        outcomes = await this.transaction((c) => this.writeEach(c, jobs));
      } catch (retryErr) {
        for (const q of batch) q.reject(retryErr);
        return;
      }
    }
    this.observer?.committed((performance.now() - started) / 1000, batch.length);
    batch.forEach((q, i) => {
      const o = outcomes[i]!;
      if (o.ok) q.resolve(o.value);
      else q.reject(o.error);
    });
  }

  /** The batch again, each job in a savepoint of its own: one that fails is undone alone. */
  private async writeEach(c: pg.PoolClient, jobs: J[]): Promise<Outcome<R>[]> {
    const outcomes: Outcome<R>[] = [];
    for (const job of jobs) {
      await c.query('SAVEPOINT job');
      try {
        const [o] = await this.write(c, [job], true);
        outcomes.push(o!);
        await c.query('RELEASE SAVEPOINT job');
      } catch (err) {
        if (err instanceof UnavailableError) throw err;
        await c.query('ROLLBACK TO SAVEPOINT job');
        outcomes.push({ ok: false, error: err });
      }
    }
    return outcomes;
  }

  private settleIdle(): void {
    const waiters = this.idle;
    this.idle = [];
    for (const w of waiters) w();
  }
}
