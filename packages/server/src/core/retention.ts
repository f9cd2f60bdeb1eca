import type { Logger } from 'pino';
import type { WorkSignals } from '../delivery/dispatcher.js';
import { addDeleted, NOTHING_DELETED, type ContentDeleted } from '../store/retention.js';
import type { Store } from '../store/store.js';

/** Messages whose content one commit deletes: each is short, so ingest waits behind it briefly. */
export const PURGE_BATCH = 500;

/**
 * Deletes the content of messages past their retention period, every `intervalMs`, in
 * batches of PURGE_BATCH until none is left. Every process runs it (api, worker, all):
 * on PostgreSQL they take different messages (SKIP LOCKED), so none waits for another.
 */
export class RetentionPurge {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<ContentDeleted> | null = null;

  constructor(
    private readonly store: Store,
    private readonly signals: WorkSignals,
    private readonly log: Logger,
    private readonly batch = PURGE_BATCH,
  ) {}

  start(intervalMs: number): void {
    const tick = () => {
      this.runOnce().catch((err: unknown) => this.log.error({ err }, 'deleting expired payloads failed'));
    };
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
    tick();
  }

  /** Stops the timer and waits for a run under way. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** One run: every batch due now. A run already under way is joined, not doubled. */
  runOnce(now = Date.now()): Promise<ContentDeleted> {
    this.running ??= this.purge(now).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async purge(now: number): Promise<ContentDeleted> {
    let total = NOTHING_DELETED;
    for (;;) {
      const d = await this.store.purgeExpiredContent(now, this.batch);
      total = addDeleted(total, d);
      if (d.messages < this.batch) break;
    }
    if (total.messages + total.attempts + total.backfillRecords > 0) {
      this.log.info(total, 'deleted expired payloads');
    }
    // Failed deliveries may have been the heads of ordering keys.
    if (total.deliveries > 0) this.signals.notify();
    return total;
  }
}
