import type { Logger } from 'pino';
import { newId } from '../domain/ids.js';
import type { BackgroundTask, TaskKind } from '../domain/types.js';
import type { Store } from '../store/store.js';

/** How often a running task's row is touched while its work goes on. */
export const TASK_HEARTBEAT_MS = 10_000;

/**
 * A running task not touched for this long belongs to a process that is gone: it is marked
 * failed. Six heartbeats missed, so a busy database's slow write is not taken for a death.
 */
export const TASK_STALE_MS = 60_000;

/** What a task whose process died says, in its data. */
export const ABANDONED = 'the process running this task stopped before it finished; start the operation again';

/** Records how far a task got; its data so far, replaced. */
export type Progress = (data: Record<string, unknown>) => Promise<void>;

/**
 * Bulk operations done after their request is answered, each recorded as a background task
 * (Svix's QueueBackgroundTask) whose status and data say how far it got: `running` with the
 * progress so far, then `finished` with the totals, or `failed` with `error`.
 *
 * The work runs in the process that took the request. A task is not resumed after its
 * process dies: the operations are safe to start again (a recover or replay queues only
 * what is not already queued, a purge deletes what is left), so a task left `running` by a
 * dead process is marked `failed`, saying so. On start-up every running task of a store
 * only this process uses is such a task; a shared PostgreSQL store fails those whose row
 * has not moved for TASK_STALE_MS, checked every half of that by each API process.
 */
export class Tasks {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  /** Records a running task and answers it; `work` starts after, and its answer is the task's final data. */
  async start(appId: string | null, task: TaskKind, work: (progress: Progress) => Promise<Record<string, unknown>>): Promise<BackgroundTask> {
    const now = Date.now();
    const record: BackgroundTask = { id: newId('qtask', now), appId, task, status: 'running', data: {}, createdAt: now, updatedAt: now };
    await this.store.createTask(record);
    const done = this.run(record, work).finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
    return record;
  }

  private async run(t: BackgroundTask, work: (progress: Progress) => Promise<Record<string, unknown>>): Promise<void> {
    let data: Record<string, unknown> = {};
    // Writes of one task go one after another, so a late heartbeat never undoes progress.
    let writes: Promise<void> = Promise.resolve();
    const write = (status: BackgroundTask['status']) => {
      const snapshot = { ...data };
      writes = writes.then(() => this.store.updateTask(t.id, status, snapshot, Date.now())).catch((err: unknown) => {
        this.log.error({ err, taskId: t.id }, 'recording a background task failed');
      });
      return writes;
    };
    const heartbeat = setInterval(() => void write('running'), TASK_HEARTBEAT_MS);
    heartbeat.unref();
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      data = await work(async (progress) => {
        data = progress;
        await write('running');
      });
      clearInterval(heartbeat);
      await write('finished');
      this.log.info({ taskId: t.id, task: t.task, appId: t.appId, ...data }, 'background task finished');
    } catch (err) {
      clearInterval(heartbeat);
      data = { ...data, error: err instanceof Error ? err.message : String(err) };
      await write('failed');
      this.log.error({ err, taskId: t.id, task: t.task, appId: t.appId }, 'background task failed');
    }
  }

  /**
   * Records a task whose work was done before its request was answered (an aggregate, an
   * export): the answer is the finished task, and `background-task.get` finds it later.
   */
  async finished(appId: string | null, task: TaskKind, data: Record<string, unknown>): Promise<BackgroundTask> {
    const now = Date.now();
    const record: BackgroundTask = { id: newId('qtask', now), appId, task, status: 'finished', data, createdAt: now, updatedAt: now };
    await this.store.createTask(record);
    return record;
  }

  /**
   * Marks failed the running tasks whose process is gone: every one when this process
   * alone uses the store (`exclusive`), otherwise those not touched for TASK_STALE_MS.
   */
  async failAbandoned(exclusive: boolean): Promise<number> {
    const now = Date.now();
    const n = await this.store.failStaleTasks(exclusive ? now + 1 : now - TASK_STALE_MS, { error: ABANDONED }, now);
    if (n > 0) this.log.warn({ tasks: n }, 'marked background tasks of a stopped process failed');
    return n;
  }

  /** Waits for the tasks of this process to end (before the store closes). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}
