import type { WorkSignals } from '../delivery/dispatcher.js';
import { POLL_MS } from '../delivery/dispatcher.js';
import type { Attempt, Message } from '../domain/types.js';
import type { MessageInput, ReplayRecord, Store, Work } from '../store/store.js';

/**
 * Creating and erasing messages: the store's commit and what the dispatchers must hear of it.
 * As Svix's create_message_inner, one place for what every caller of "create a message" needs.
 */
export class Messages {
  constructor(
    private readonly store: Store,
    private readonly signals: WorkSignals,
    /** How long a message's content is kept when it does not say (ms). */
    private readonly retentionMs: number,
  ) {}

  /**
   * Stores the message and its deliveries, then calls `answer` with it (the 202 goes out
   * there) before any leased delivery starts: the caller hears of its message first.
   * `replay`: the request's idempotency record, stored in the message's commit.
   */
  async create<R>(appId: string, input: MessageInput, answer: (message: Message) => R, replay?: ReplayRecord): Promise<R> {
    // A store used by this process alone (SQLite) leases deliveries the dispatcher has room
    // for to it in the same commit; a shared one (PostgreSQL) leaves them all to be claimed.
    const offer = this.store.leasesOnCreate ? this.signals.leaseOffer() : undefined;
    let leased: Work[] = [];
    try {
      const created = await this.store.createMessage(appId, { ...input, retentionMs: input.retentionMs ?? this.retentionMs }, { lease: offer, replay });
      leased = created.leased;
      // What was not leased waits in the store for a claim. Deliveries due after the
      // dispatchers' next regular look are left to it (it sets its timer by them): a claim
      // now would find nothing, and at ingest rates that is a claim per commit.
      const dueSoon = input.deliverAt === null || input.deliverAt <= Date.now() + POLL_MS;
      if (created.deliveries > leased.length && dueSoon) this.signals.notify();
      return answer(created.message);
    } finally {
      this.signals.settle(offer, leased);
    }
  }

  /** Stores a message for one endpoint only (an event type's example), due now. */
  async sendTo(appId: string, endpointId: string, input: MessageInput): Promise<Message> {
    const { message } = await this.store.createMessage(appId, { ...input, retentionMs: input.retentionMs ?? this.retentionMs }, { onlyEndpointId: endpointId });
    this.signals.notify();
    return message;
  }

  /**
   * Sends a message to one endpoint and waits for its first attempt to be recorded (Svix's
   * test-attempt), polling the store: the attempt may be made by another process. Null when
   * none is recorded within `waitMs`.
   */
  async testAttempt(appId: string, endpointId: string, input: MessageInput, waitMs: number): Promise<{ message: Message; attempt: Attempt | null }> {
    const message = await this.sendTo(appId, endpointId, input);
    const deadline = Date.now() + waitMs;
    for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
      const page = await this.store.listAttempts(appId, { limit: 1, iterator: null, order: 'ascending' }, { msgId: message.id, endpointId });
      if (page.data.length > 0) return { message, attempt: page.data[0]! };
      if (Date.now() >= deadline) return { message, attempt: null };
      await new Promise((r) => setTimeout(r, pause));
    }
  }

  /** Deletes a message's content (payload, attempts' response bodies, its backfill's records); its deliveries not yet made are canceled. */
  async expunge(appId: string, msgId: string): Promise<void> {
    await this.store.expungeMessage(appId, msgId);
    // Its canceled deliveries may have been the heads of ordering keys.
    this.signals.notify();
  }
}
