import type { Logger } from 'pino';
import type { WorkSignals } from '../delivery/dispatcher.js';
import { ConflictError } from '../domain/errors.js';
import { storedKey } from '../domain/ordering.js';
import type { BackgroundTask, Message } from '../domain/types.js';
import type { BulkReplayFilter, RequeueBatch, Store } from '../store/store.js';
import type { Progress, Tasks } from './tasks.js';

/** Deliveries queued again per commit by a recover or a bulk replay. */
export const REQUEUE_BATCH = 1000;

/** The response of the attempt that records a skipped head. */
const SKIP_NOTE = 'not sent: skipped by POST …/ordering/skip, so that later messages with its ordering key can go';

/**
 * Sending again what was sent, failed or never sent: each queues deliveries in the store,
 * then tells the dispatchers there is work.
 */
export class Requeue {
  constructor(
    private readonly store: Store,
    private readonly signals: WorkSignals,
    private readonly log: Logger,
    private readonly tasks: Tasks,
  ) {}

  /** One manual attempt of the message to the endpoint, now; refused once its content is expunged. */
  async resend(appId: string, message: Message, endpointId: string): Promise<void> {
    if (message.payload === null) throw new ConflictError('the message content was expunged; it cannot be sent again', 'content_expunged');
    await this.store.resend(appId, message.id, endpointId);
    this.signals.notify();
  }

  /** Messages of [since, until) that the endpoint never had a delivery of. */
  async replayMissing(appId: string, endpointId: string, since: number, until: number | null): Promise<number> {
    const n = await this.store.replayMissing(appId, endpointId, since, until);
    this.log.info({ endpointId, deliveries: n }, 'replaying missing messages');
    this.signals.notify();
    return n;
  }

  /**
   * recover as a background task: REQUEUE_BATCH deliveries a commit, each batch handed to
   * the dispatchers at once and counted in data.messagesSent.
   */
  recoverTask(appId: string, endpointId: string, since: number, until: number | null): Promise<BackgroundTask> {
    return this.tasks.start(appId, 'endpoint.recover', async (progress) => {
      const n = await this.inBatches((after) => this.store.recoverBatch(appId, endpointId, since, until, after, REQUEUE_BATCH), progress);
      this.log.info({ endpointId, deliveries: n }, 'recovering failed deliveries');
      return { messagesSent: n };
    });
  }

  /** replayMissing, as a background task whose data ends with messagesSent. */
  replayMissingTask(appId: string, endpointId: string, since: number, until: number | null): Promise<BackgroundTask> {
    return this.tasks.start(appId, 'endpoint.replay', async () => ({ messagesSent: await this.replayMissing(appId, endpointId, since, until) }));
  }

  /**
   * The endpoint's sent and failed deliveries of messages of [since, until) that still hold
   * their content, queued again behind new traffic, as a background task counting
   * data.messagesSent batch by batch.
   */
  bulkReplayTask(appId: string, endpointId: string, since: number, until: number | null, filter: BulkReplayFilter): Promise<BackgroundTask> {
    return this.tasks.start(appId, 'endpoint.bulk-replay', async (progress) => {
      const n = await this.inBatches((after) => this.store.bulkReplay(appId, endpointId, since, until, filter, after, REQUEUE_BATCH), progress);
      this.log.info({ endpointId, deliveries: n }, 'replaying messages in bulk');
      return { messagesSent: n };
    });
  }

  /** Runs `batch` from the first delivery id until none are left; the total queued. */
  private async inBatches(batch: (afterId: number) => Promise<RequeueBatch>, progress: Progress): Promise<number> {
    let total = 0;
    for (let after = 0; ; ) {
      const b = await batch(after);
      total += b.queued;
      if (b.queued > 0) this.signals.notify();
      if (b.lastId === null) return total;
      after = b.lastId;
      await progress({ messagesSent: total });
    }
  }

  /**
   * Cancels the endpoint's pending deliveries of messages created before `before`; they end
   * with status canceled and no new attempt. Deliveries being sent finish their attempt.
   */
  async cancelPending(appId: string, endpointId: string, before: number): Promise<number> {
    const n = await this.store.cancelPending(appId, endpointId, before);
    this.log.info({ endpointId, deliveries: n }, 'canceled pending deliveries');
    // Canceled deliveries may have been the heads of ordering keys.
    if (n > 0) this.signals.notify();
    return n;
  }

  /** Every failed delivery of the application, oldest first, behind new traffic. */
  async retryFailed(appId: string): Promise<number> {
    const queued = await this.store.retryFailed(appId);
    this.log.info({ appId, queued }, 'retrying failed deliveries');
    this.signals.notify();
    return queued;
  }

  /**
   * Fails the head of an ordering key so the key's later messages can go; its message id,
   * or null when nothing of that key was waiting. A head being sent is not skipped (409).
   */
  async skipOrderHead(appId: string, endpointId: string, key: string): Promise<string | null> {
    const outcome = await this.store.skipOrderHead(appId, endpointId, storedKey(key), Date.now(), SKIP_NOTE);
    if ('sending' in outcome) {
      throw new ConflictError(`the head of this key (${outcome.sending}) is being sent now; skip it once this attempt has ended`, 'head_sending');
    }
    if (outcome.skipped !== null) {
      this.log.info({ endpointId, msgId: outcome.skipped }, 'skipped the head of an ordering key');
      this.signals.notify();
    }
    return outcome.skipped;
  }
}
