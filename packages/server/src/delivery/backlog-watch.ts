import type { Logger } from 'pino';
import type { Backlog } from '../store/insights.js';

/** How often the backlog is looked at by default: the query counts the queue, as the dashboard's minute sample does. */
export const BACKLOG_CHECK_MS = 30_000;
/** Rises in a row, each while a due delivery waited, before delivery is said to be falling behind. */
export const BACKLOG_RISES = 3;

export type BacklogChange = 'behind' | 'caught-up';

/**
 * Says in the log once when delivery falls behind and once when it has caught up, whatever
 * the queue does in between. Behind: the queued deliveries rose on `rises` checks in a row
 * while the oldest due one had waited at least a check's interval. A queue of retries
 * scheduled for later is not behind, however long: nothing in it is due. Caught up: no due
 * delivery has waited a check's interval.
 */
export class BacklogWatch {
  private last: number | null = null;
  private rising = 0;
  private behindSince: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly read: () => Promise<Backlog>,
    private readonly log: Logger,
    private readonly everyMs = BACKLOG_CHECK_MS,
    private readonly rises = BACKLOG_RISES,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async check(): Promise<void> {
    // A slow database must not stack reads up behind each other.
    if (this.busy) return;
    this.busy = true;
    try {
      this.observe(await this.read(), Date.now());
    } catch (err) {
      // The store says itself when the database fails.
      this.log.debug({ err }, 'reading the backlog failed');
    } finally {
      this.busy = false;
    }
  }

  /** Takes one look at the queue; answers what changed, after logging it. */
  observe(b: Backlog, now: number): BacklogChange | null {
    const waitedMs = b.oldestDueAt === null ? 0 : Math.max(0, now - b.oldestDueAt);
    const overdue = waitedMs >= this.everyMs;
    const rose = this.last !== null && b.pending > this.last;
    this.last = b.pending;
    this.rising = overdue && rose ? this.rising + 1 : 0;
    const fields = { pending: b.pending, sending: b.sending, oldestDueAt: b.oldestDueAt === null ? null : new Date(b.oldestDueAt).toISOString(), waitedMs };
    if (this.behindSince === null) {
      if (this.rising < this.rises) return null;
      this.behindSince = now;
      this.log.warn({ ...fields, checks: this.rising + 1, checkEveryMs: this.everyMs }, 'delivery is falling behind: the queue of due deliveries keeps growing');
      return 'behind';
    }
    if (overdue) return null;
    this.log.info({ ...fields, behindForMs: now - this.behindSince }, 'delivery has caught up: no due delivery is waiting');
    this.behindSince = null;
    this.rising = 0;
    return 'caught-up';
  }
}
