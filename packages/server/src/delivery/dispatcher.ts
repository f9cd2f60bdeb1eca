import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { Status } from '../domain/types.js';
import type { AttemptRecord, Store, Work } from '../store/store.js';
import { decide, isSuccess } from './schedule.js';
import type { Sender } from './sender.js';

interface EndpointState {
  queue: Work[];
  inflight: number;
  /** With a throttle rate: the earliest time the next attempt may start. */
  nextStartAt: number;
  throttleTimer: NodeJS.Timeout | null;
}

/**
 * Claims due deliveries from the store and sends them, with a cap on attempts in flight
 * overall and per endpoint. A slow endpoint fills only its own slots: claims skip
 * endpoints with no room, so other endpoints' work keeps flowing.
 */
export class Dispatcher {
  readonly owner = `w_${randomBytes(6).toString('hex')}`;
  private readonly endpoints = new Map<string, EndpointState>();
  /** Claimed and not yet recorded: these leases are renewed. */
  private readonly held = new Set<number>();
  private active = 0;
  private queued = 0;
  private filling = false;
  private again = false;
  private stopping = false;
  private wakeTimer: NodeJS.Timeout | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private readonly writes = new Set<Promise<void>>();
  private idleWaiters: (() => void)[] = [];
  private readonly leaseMs: number;
  /** How many deliveries of one endpoint may be held locally, in flight or waiting. */
  private readonly endpointWindow: number;

  constructor(
    private readonly store: Store,
    private readonly sender: Sender,
    private readonly cfg: Config,
    private readonly log: Logger,
  ) {
    this.leaseMs = Math.max(60_000, 2 * cfg.requestTimeoutMs);
    this.endpointWindow = cfg.endpointConcurrency * 2;
  }

  start(): void {
    this.renewTimer = setInterval(() => this.renew(), Math.floor(this.leaseMs / 3));
    this.renewTimer.unref();
    this.notify();
  }

  /** New work may be due: look now rather than at the next timer. */
  notify(): void {
    if (this.stopping) return;
    if (this.filling) {
      this.again = true;
      return;
    }
    this.filling = true;
    setImmediate(() => void this.fill());
  }

  private state(endpointId: string): EndpointState {
    let s = this.endpoints.get(endpointId);
    if (s === undefined) {
      s = { queue: [], inflight: 0, nextStartAt: 0, throttleTimer: null };
      this.endpoints.set(endpointId, s);
    }
    return s;
  }

  private async fill(): Promise<void> {
    let claimedAny = false;
    try {
      do {
        this.again = false;
        const free = this.cfg.concurrency * 2 - this.active - this.queued;
        if (free <= 0 || this.stopping) break;
        const exclude: string[] = [];
        for (const [id, s] of this.endpoints) {
          if (s.inflight + s.queue.length >= this.endpointWindow) exclude.push(id);
        }
        const limit = Math.min(free, 512);
        const work = await this.store.claim({
          now: Date.now(),
          owner: this.owner,
          leaseMs: this.leaseMs,
          limit,
          perEndpoint: this.cfg.endpointConcurrency,
          excludeEndpoints: exclude,
        });
        for (const w of work) {
          this.held.add(w.deliveryId);
          this.state(w.endpointId).queue.push(w);
          this.queued++;
        }
        for (const w of work) this.pump(w.endpointId);
        if (work.length > 0) claimedAny = true;
        if (work.length >= limit) this.again = true;
      } while (this.again && !this.stopping);
    } catch (err) {
      this.log.error({ err }, 'claiming deliveries failed; retrying shortly');
    } finally {
      this.filling = false;
    }
    if (this.again && !this.stopping) return this.notify();
    await this.armTimer(claimedAny);
  }

  private async armTimer(claimedAny: boolean): Promise<void> {
    if (this.stopping) return;
    let delay = 1000;
    try {
      const due = await this.store.nextDueAt();
      // Due work that was not claimed belongs to full endpoints; finishing attempts wake
      // us for those, so this timer only needs to catch future retries and other writers.
      if (due !== null) delay = Math.min(1000, Math.max(claimedAny ? 0 : 50, due - Date.now()));
    } catch {
      // A failed look-up falls back to the one-second poll.
    }
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = setTimeout(() => this.notify(), delay);
    this.wakeTimer.unref();
  }

  private pump(endpointId: string): void {
    const s = this.endpoints.get(endpointId);
    if (s === undefined) return;
    while (!this.stopping && s.queue.length > 0 && s.inflight < this.cfg.endpointConcurrency && this.active < this.cfg.concurrency) {
      const rate = s.queue[0]!.throttleRate;
      if (rate !== null && rate > 0) {
        // The endpoint's throttle rate spaces attempt starts evenly.
        const now = Date.now();
        if (s.nextStartAt > now) {
          s.throttleTimer ??= setTimeout(() => {
            s.throttleTimer = null;
            this.pump(endpointId);
          }, s.nextStartAt - now);
          return;
        }
        s.nextStartAt = Math.max(now, s.nextStartAt) + 1000 / rate;
      }
      const w = s.queue.shift()!;
      this.queued--;
      s.inflight++;
      this.active++;
      void this.attempt(w, s);
    }
    if (s.queue.length === 0 && s.inflight === 0 && s.nextStartAt <= Date.now()) this.endpoints.delete(endpointId);
  }

  private async attempt(w: Work, s: EndpointState): Promise<void> {
    const result = await this.sender.send(w);
    const now = Date.now();
    const attemptsMade = w.attempts + 1;
    const decision = decide(this.cfg.retrySchedule, attemptsMade, result, now);
    const record: AttemptRecord = {
      deliveryId: w.deliveryId,
      owner: this.owner,
      attempt: {
        msgId: w.msgId,
        endpointId: w.endpointId,
        appId: w.appId,
        url: w.url,
        status: isSuccess(result.statusCode) ? Status.Success : Status.Fail,
        responseStatusCode: result.statusCode,
        response: result.error ?? result.body,
        responseDurationMs: result.durationMs,
        triggerType: w.trigger,
        error: result.error,
        createdAt: now,
      },
      next: decision.next,
      nextAttemptAt: decision.nextAttemptAt,
      attempts: attemptsMade,
      disableEndpoint: decision.disableEndpoint,
    };
    if (result.error !== null) this.log.debug({ msgId: w.msgId, endpointId: w.endpointId, error: result.error }, 'attempt failed');
    if (decision.disableEndpoint) this.log.warn({ endpointId: w.endpointId }, 'endpoint answered 410 Gone; disabling it');

    const write = this.store
      .recordAttempts([record])
      .catch((err: unknown) => {
        // The lease runs out and the delivery is attempted again: at least once holds.
        this.log.error({ err, msgId: w.msgId, endpointId: w.endpointId }, 'recording an attempt failed');
      })
      .finally(() => {
        this.held.delete(w.deliveryId);
        this.writes.delete(write);
      });
    this.writes.add(write);

    s.inflight--;
    this.active--;
    this.pump(w.endpointId);
    if (this.active === 0) this.settleIdle();
    this.notify();
  }

  private renew(): void {
    if (this.held.size === 0) return;
    this.store.renewLeases(this.owner, [...this.held], Date.now() + this.leaseMs).catch((err: unknown) => {
      this.log.error({ err }, 'renewing delivery leases failed');
    });
  }

  private settleIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Stops claiming, gives back work not yet started, waits up to `timeoutMs` for attempts
   * in flight and for their records to be written.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    const unstarted: number[] = [];
    for (const s of this.endpoints.values()) {
      if (s.throttleTimer) clearTimeout(s.throttleTimer);
      for (const w of s.queue.splice(0)) {
        unstarted.push(w.deliveryId);
        this.held.delete(w.deliveryId);
      }
    }
    this.queued = 0;
    if (unstarted.length > 0) await this.store.release(this.owner, unstarted);
    if (this.active > 0) {
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
      ]);
    }
    await Promise.allSettled([...this.writes]);
    if (this.renewTimer) clearInterval(this.renewTimer);
  }

  /** Attempts in flight now. */
  get inFlight(): number {
    return this.active;
  }
}
