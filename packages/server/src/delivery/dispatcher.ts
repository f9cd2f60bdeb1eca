import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { Status } from '../domain/types.js';
import type { AttemptRecord, DisabledEndpoint, LeaseOffer, Store, Work } from '../store/store.js';
import { attemptEvent, type AttemptEventType } from '../domain/endpoint-health.js';
import { newId } from '../domain/ids.js';
import { decide, isSuccess, type Decision } from './schedule.js';
import type { Sender, SendResult } from './sender.js';
import type { Tracing } from '../tracing.js';
import { scrub } from '../logger.js';
import type { ThinPayloads } from './thin.js';

/** What the API tells the delivery side: new work is stored (and, in one process, an offer to lease it at once). */
export interface WorkSignals {
  leaseOffer(): DispatchOffer | undefined;
  settle(offer: DispatchOffer | undefined, leased: Work[]): void;
  /** Work may have become due (a message stored, a retry queued, an endpoint re-enabled). */
  notify(): void;
  /**
   * These messages' content was deleted and their unfinished deliveries canceled in the
   * store: what this process holds of them and has not started yet is dropped, not sent.
   */
  forget(msgIds: readonly string[]): void;
}

/** An attempt worth telling about (see domain/endpoint-health.ts attemptEvent). */
export interface AttemptEvent {
  type: AttemptEventType;
  appId: string;
  msgId: string;
  endpointId: string;
  attemptId: string;
  responseStatusCode: number;
  at: number;
}

/**
 * Told what recorded attempts did, once they are stored; given at wiring time, so delivery
 * needs to know nothing of who listens. Called off the sending path, and what it throws is
 * only logged.
 */
export interface DeliveryEvents {
  recorded(events: AttemptEvent[], disabled: DisabledEndpoint[]): void;
  /** An attempt's response came (statusCode 0: none did), before it is recorded: for /metrics. */
  attempted?(statusCode: number, durationMs: number): void;
}

/** Every dispatcher looks for due work at least this often (ms), whether told of any or not. */
export const POLL_MS = 1000;

/**
 * How long an event type's retry schedule is used from memory before it is read again (ms):
 * a change reaches every process within this, and a burst of failures of one type costs one
 * read.
 */
export const RETRY_SCHEDULE_TTL_MS = 1000;

/** A lease offer for one message's deliveries, with what it has taken so far. */
export interface DispatchOffer extends LeaseOffer {
  readonly reserved: Map<string, number>;
}

interface EndpointState {
  queue: Work[];
  inflight: number;
  /** Taken by offers whose commit has not finished yet. */
  reserved: number;
  /** Due rows of this endpoint may be waiting in the store beyond what was claimed. */
  backlogged: boolean;
  /** With a throttle rate: the earliest time the next attempt may start. */
  nextStartAt: number;
  throttleTimer: NodeJS.Timeout | null;
}

/**
 * Sends deliveries with a cap on attempts in flight overall and per endpoint. A slow
 * endpoint fills only its own slots: claims leave out endpoints with no room, so other
 * endpoints' work keeps flowing.
 *
 * Work arrives two ways. New messages offer their deliveries through `leaseOffer()`,
 * leased in the message's own commit, while the endpoint has room and nothing older
 * waiting. Everything else (retries, backlogs, work left by a crash) is claimed from the
 * store in batches. Claims run only when something may have become claimable: new work
 * was refused, an endpoint drained to half its window, or the timer for the next due
 * retry fired.
 */
export class Dispatcher implements WorkSignals {
  readonly owner = `w_${randomBytes(6).toString('hex')}`;
  private readonly endpoints = new Map<string, EndpointState>();
  /** Endpoints with queued work that waits for a slot of the overall limit, oldest first. */
  private readonly starved = new Set<string>();
  /** Leased and not yet recorded: these leases are renewed. */
  private readonly held = new Set<number>();
  private active = 0;
  private queued = 0;
  private reserved = 0;
  private dirty = true;
  private scheduled = false;
  private filling = false;
  private stopping = false;
  private wakeTimer: NodeJS.Timeout | null = null;
  private wakeTime = Infinity;
  private renewTimer: NodeJS.Timeout | null = null;
  private readonly writes = new Set<Promise<void>>();
  private unrecorded: AttemptRecord[] = [];
  /** Some of `unrecorded` free what a claim waits for (a key's turn, a lease counted against an endpoint's limit): claim once they land. */
  private unrecordedUnblocks = false;
  /** The store failed and has not succeeded since: further failures are logged at debug level. */
  private storeDown = false;
  /** The last claim left work behind because of the limit across processes. */
  private capped = false;
  private idleWaiters: (() => void)[] = [];
  private readonly leaseMs: number;
  /** Most deliveries of one endpoint held here, in flight or waiting. */
  private readonly window: number;
  /** Most deliveries held here over all endpoints. */
  private readonly capacity: number;
  /** Event types' own retry schedules (null: the server's), with when each was read. */
  private readonly schedules = new Map<string, { schedule: number[] | null; at: number }>();

  /**
   * `shared`: other processes claim from the same store, so each endpoint's concurrency
   * is enforced by the store's claims over all of them, not only here.
   */
  constructor(
    private readonly store: Store,
    private readonly sender: Sender,
    private readonly cfg: Config,
    private readonly log: Logger,
    private readonly shared = false,
    private readonly thin: ThinPayloads | null = null,
    private readonly events: DeliveryEvents | null = null,
    private readonly tracing: Tracing | null = null,
  ) {
    this.leaseMs = cfg.leaseMs;
    // Alone, a process queues ahead of what it sends, so sending never waits on a claim.
    // Shared, what it holds is what the others cannot have: an endpoint's limit is over all
    // of them, and leases queued here while others could send them would make a second
    // process subtract rather than add.
    this.window = shared ? cfg.endpointConcurrency : cfg.endpointConcurrency * 4;
    this.capacity = shared ? cfg.concurrency : cfg.concurrency * 2;
  }

  start(): void {
    // Not unref'd: it keeps a worker, which serves no HTTP, alive while its database
    // connections are down and being re-made. stop() clears it.
    this.renewTimer = setInterval(() => this.renew(), Math.floor(this.leaseMs / 3));
    this.notify();
  }

  /** Work may have become due (a retry queued, an endpoint re-enabled): claim soon. */
  notify(): void {
    this.dirty = true;
    this.schedule();
  }

  forget(msgIds: readonly string[]): void {
    if (this.queued === 0 || msgIds.length === 0) return;
    const gone = new Set(msgIds);
    for (const s of this.endpoints.values()) {
      if (s.queue.length === 0) continue;
      const kept = s.queue.filter((w) => !gone.has(w.msgId));
      if (kept.length === s.queue.length) continue;
      // Their leases were given up in the store with the cancel: nothing to release.
      for (const w of s.queue) if (gone.has(w.msgId)) this.held.delete(w.deliveryId);
      this.queued -= s.queue.length - kept.length;
      s.queue = kept;
    }
  }

  /**
   * An offer to pass to the store when a message is written; see the class comment.
   * Every offer must be settled, whether or not the write succeeded.
   */
  leaseOffer(): DispatchOffer | undefined {
    if (this.stopping) return undefined;
    const reserved = new Map<string, number>();
    return {
      owner: this.owner,
      leaseMs: this.leaseMs,
      reserved,
      take: (endpointId) => {
        const s = this.state(endpointId);
        const full = this.active + this.queued + this.reserved >= this.capacity || s.inflight + s.queue.length + s.reserved >= this.window;
        if (full || s.backlogged || this.stopping) {
          // It stays pending in the store, where a claim picks it up in order. No claim is
          // started here: this endpoint (or everything) is full, and the attempt that makes
          // room starts one; claiming now would only scan past rows it cannot take.
          s.backlogged = true;
          return false;
        }
        // Counted now, so one burst of messages cannot take more than the window.
        s.reserved++;
        this.reserved++;
        reserved.set(endpointId, (reserved.get(endpointId) ?? 0) + 1);
        return true;
      },
    };
  }

  /** Ends an offer: its reservations are dropped and what it leased is queued to send. */
  settle(offer: DispatchOffer | undefined, leased: Work[]): void {
    if (offer === undefined) return;
    for (const [endpointId, n] of offer.reserved) {
      this.state(endpointId).reserved -= n;
      this.reserved -= n;
    }
    const touched = [...offer.reserved.keys()];
    offer.reserved.clear();
    if (leased.length === 0) {
      for (const id of touched) this.pump(id);
      return;
    }
    if (this.stopping) {
      this.store.release(this.owner, leased.map((w) => w.deliveryId)).catch((err: unknown) => this.log.error({ err }, 'releasing deliveries failed'));
      return;
    }
    for (const w of leased) this.enqueue(w);
    for (const w of leased) this.pump(w.endpointId);
  }

  private enqueue(w: Work): void {
    this.held.add(w.deliveryId);
    this.state(w.endpointId).queue.push(w);
    this.queued++;
  }

  private state(endpointId: string): EndpointState {
    let s = this.endpoints.get(endpointId);
    if (s === undefined) {
      s = { queue: [], inflight: 0, reserved: 0, backlogged: false, nextStartAt: 0, throttleTimer: null };
      this.endpoints.set(endpointId, s);
    }
    return s;
  }

  private schedule(): void {
    if (this.scheduled || this.filling || this.stopping) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.fill();
    });
  }

  private async fill(): Promise<void> {
    if (this.filling) return;
    this.filling = true;
    let full = false;
    try {
      while (this.dirty && !this.stopping) {
        const free = this.capacity - this.active - this.queued - this.reserved;
        if (free <= 0) {
          full = true; // a finishing attempt makes room and sets dirty again
          break;
        }
        this.dirty = false;
        const allowance: Record<string, number> = {};
        for (const [id, s] of this.endpoints) allowance[id] = Math.max(0, this.window - s.inflight - s.queue.length - s.reserved);
        const limit = Math.min(free, 512);
        const capped = new Set<string>();
        const work = await this.store.claim({
          now: Date.now(),
          owner: this.owner,
          leaseMs: this.leaseMs,
          limit,
          perEndpoint: this.window,
          allowance,
          ...(this.shared ? { endpointLimit: this.cfg.endpointConcurrency, onCapped: (id: string) => capped.add(id) } : {}),
        });
        this.storeUp();
        this.capped = capped.size > 0 && work.length === 0;
        const taken = new Map<string, number>();
        for (const w of work) {
          this.enqueue(w);
          taken.set(w.endpointId, (taken.get(w.endpointId) ?? 0) + 1);
        }
        for (const [id, s] of this.endpoints) {
          // Taking less than allowed means nothing more of it was due.
          if (allowance[id] !== 0) s.backlogged = (taken.get(id) ?? 0) >= (allowance[id] ?? this.window);
        }
        for (const [id, n] of taken) {
          if (allowance[id] === undefined) this.state(id).backlogged = n >= this.window;
        }
        // Held back by other processes' leases: claimed again as this process's attempts
        // to it finish, or on the timer.
        for (const id of capped) this.state(id).backlogged = true;
        for (const id of taken.keys()) this.pump(id);
        if (work.length >= limit) this.dirty = true;
      }
    } catch (err) {
      this.storeFailed(err, 'claiming deliveries failed; retrying every second');
    } finally {
      this.filling = false;
    }
    await this.armTimer(full);
  }

  /**
   * Wakes the dispatcher when the next pending delivery falls due, or in a second at most.
   * With no room left (`full`), the next claim waits for an attempt to finish whatever falls
   * due meanwhile, so the store is not asked: with two PostgreSQL workers delivering 2,000
   * messages (bench/tools/pg-statements.ts), that look-up was about one statement in six.
   */
  private async armTimer(full = false): Promise<void> {
    if (this.stopping) return;
    if (full) {
      this.wakeAt(Date.now() + POLL_MS, true);
      return;
    }
    // Work held back by other processes' limits is due already: it is looked at again soon,
    // not at once, and asking the store when the next work falls due would only say "now".
    if (this.capped) {
      this.wakeAt(Date.now() + 100, true);
      return;
    }
    let at = Date.now() + POLL_MS;
    try {
      const due = await this.store.nextDueAt();
      if (due !== null) at = Math.min(at, due);
    } catch {
      // A failed look-up falls back to the one-second poll.
    }
    this.wakeAt(at, true);
  }

  /** Sets the wake-up timer to `at`, or only brings it forward unless `replace`. */
  private wakeAt(at: number, replace = false): void {
    if (this.stopping || (!replace && at >= this.wakeTime)) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTime = at;
    this.wakeTimer = setTimeout(() => {
      this.wakeTime = Infinity;
      this.notify();
    }, Math.max(20, at - Date.now()));
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
    if (s.queue.length > 0 && this.active >= this.cfg.concurrency) this.starved.add(endpointId);
    if (s.queue.length === 0 && s.inflight === 0 && s.reserved === 0 && !s.backlogged && s.nextStartAt <= Date.now()) {
      this.endpoints.delete(endpointId);
    }
  }

  private async attempt(w: Work, s: EndpointState): Promise<void> {
    const body = this.thin === null ? undefined : w.backfill !== null ? this.thin.withLink(w) : this.thin.isThin(w) ? await this.thin.body(w) : undefined;
    const span = this.tracing?.attempt(w);
    const result = await this.sender.send(w, body, span === undefined ? w.trace : span.trace);
    span?.end(result);
    this.events?.attempted?.(result.statusCode, result.durationMs);
    const now = Date.now();
    const attemptsMade = w.attempts + 1;
    const schedule = isSuccess(result.statusCode) ? this.cfg.retrySchedule : await this.retrySchedule(w.eventType, now);
    const decision = decide(schedule, attemptsMade, result, now);
    const record: AttemptRecord = {
      deliveryId: w.deliveryId,
      owner: this.owner,
      attempt: {
        id: newId('atmpt', now),
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
    this.logAttempt(w, attemptsMade, result, decision);

    const wasFull = this.active + this.queued + this.reserved >= this.capacity;
    s.inflight--;
    this.active--;
    this.pump(w.endpointId);
    // The slot freed over all endpoints may be another endpoint's turn: its own attempts,
    // all finished, will not start it again.
    for (const id of this.starved) {
      if (this.active >= this.cfg.concurrency) break;
      this.starved.delete(id);
      this.pump(id);
    }
    if (this.active === 0) this.settleIdle();
    // Claim again once this endpoint has drained to half its window (so claims come in
    // batches), or when everything was full and now is not. When the store enforces the
    // endpoint's limit over all processes, this attempt's lease counts against it until its
    // record lands, so the claim waits for that, as it does for a keyed delivery that
    // succeeded or failed for good: it lets the next of its key go only once recorded.
    const held = s.inflight + s.queue.length;
    const claim = (s.backlogged && held <= this.window / 2) || wasFull;
    this.record(record, (w.orderKey !== null && decision.next !== Status.Pending) || (claim && this.shared));
    if (claim && !this.shared) this.notify();
  }

  /** The schedule a failed delivery of this event type follows: the type's own, or the server's. */
  private async retrySchedule(eventType: string, now: number): Promise<number[]> {
    let cached = this.schedules.get(eventType);
    if (cached === undefined || now - cached.at > RETRY_SCHEDULE_TTL_MS) {
      try {
        cached = { schedule: (await this.store.getRetrySchedule(eventType)) ?? null, at: now };
        if (this.schedules.size >= 4096) this.schedules.clear();
        this.schedules.set(eventType, cached);
      } catch (err) {
        // The store being down is reported where attempts are recorded; until then the
        // schedule last read (or the server's) stands.
        this.log.debug({ err, eventType }, 'reading the retry schedule failed');
      }
    }
    return cached?.schedule ?? this.cfg.retrySchedule;
  }

  /**
   * One line per attempt, every one with its message's, endpoint's and application's ids: a
   * success at debug (at webhook volumes it would be most of the log), a failure to be retried
   * at info, the last failure of a delivery at warn. No URL (its query may hold a credential)
   * and no response body.
   */
  private logAttempt(w: Work, attempt: number, result: SendResult, decision: Decision): void {
    const ok = decision.next === Status.Success;
    const level = ok ? 'debug' : decision.next === Status.Pending ? 'info' : 'warn';
    if (!this.log.isLevelEnabled(level)) return;
    const line: Record<string, unknown> = {
      msgId: w.msgId,
      endpointId: w.endpointId,
      appId: w.appId,
      attempt,
      status: result.statusCode,
      durationMs: result.durationMs,
    };
    if (result.error !== null) line.error = scrub(result.error);
    if (ok) {
      this.log.debug(line, 'attempt succeeded');
    } else if (decision.nextAttemptAt !== null) {
      line.nextAttemptAt = new Date(decision.nextAttemptAt).toISOString();
      this.log.info(line, 'attempt failed; retrying');
    } else if (decision.disableEndpoint) {
      this.log.warn(line, 'attempt answered 410 Gone; the endpoint is disabled and the delivery failed');
    } else {
      this.log.warn(line, 'attempt failed; no retries left, the delivery failed');
    }
  }

  /**
   * Attempts finished in one turn are recorded in one store call, and while one call is under
   * way the records of the turns meanwhile wait for it and go together in the next: one write
   * at a time, each as large as the store's speed makes it. `unblocks`: claim again once it lands.
   */
  private record(record: AttemptRecord, unblocks: boolean): void {
    this.unrecorded.push(record);
    if (unblocks) this.unrecordedUnblocks = true;
    if (this.unrecorded.length > 1 || this.writes.size > 0) return;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    if (this.unrecorded.length === 0 || this.writes.size > 0) return;
    const batch = this.unrecorded;
    const unblocking = this.unrecordedUnblocks;
    this.unrecorded = [];
    this.unrecordedUnblocks = false;
    const write = this.persist(batch)
      .then(() => {
        if (unblocking && !this.stopping) this.notify();
      })
      .finally(() => {
        this.writes.delete(write);
        this.flush();
      });
    this.writes.add(write);
  }

  /**
   * Writes attempt records, retrying with back-off while the store is unreachable (the
   * leases are renewed meanwhile, so no one else sends them again). Only when stopping
   * does it give up, after a few tries: the leases then run out and the deliveries are
   * attempted again, so at least once still holds.
   */
  private async persist(batch: AttemptRecord[]): Promise<void> {
    for (let failures = 0; ; failures++) {
      try {
        const disabled = await this.store.recordAttempts(batch, this.cfg.disableAfterMs);
        this.storeUp();
        this.told(batch, disabled);
        break;
      } catch (err) {
        this.storeFailed(err, 'recording attempts failed; retrying');
        if (this.stopping && failures >= 2) {
          this.log.error({ attempts: batch.length }, 'gave up recording attempts while stopping; they will be attempted again');
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** failures, 5000)));
      }
    }
    for (const r of batch) {
      this.held.delete(r.deliveryId);
      if (r.nextAttemptAt !== null) this.wakeAt(r.nextAttemptAt);
    }
  }

  /** Logs the endpoints a batch disabled, and tells the listener what the batch did. */
  private told(batch: AttemptRecord[], disabled: DisabledEndpoint[]): void {
    for (const d of disabled) {
      this.log.warn(
        { appId: d.appId, endpointId: d.endpointId, failingSince: d.failingSince === null ? null : new Date(d.failingSince).toISOString(), reason: d.reason },
        'endpoint disabled',
      );
    }
    if (this.events === null) return;
    const events: AttemptEvent[] = [];
    for (const r of batch) {
      const type = attemptEvent(r.attempts, r.next === Status.Success, r.next === Status.Pending);
      if (type === null) continue;
      const a = r.attempt;
      events.push({ type, appId: a.appId, msgId: a.msgId, endpointId: a.endpointId, attemptId: a.id!, responseStatusCode: a.responseStatusCode, at: a.createdAt });
    }
    if (events.length === 0 && disabled.length === 0) return;
    try {
      this.events.recorded(events, disabled);
    } catch (err) {
      this.log.error({ err }, 'telling of recorded attempts failed');
    }
  }

  private renew(): void {
    if (this.held.size === 0) return;
    this.store.renewLeases(this.owner, [...this.held], Date.now() + this.leaseMs).then(
      () => this.storeUp(),
      (err: unknown) => this.storeFailed(err, 'renewing delivery leases failed'),
    );
  }

  /** Logs the first failure of an outage as an error, and the rest at debug level. */
  private storeFailed(err: unknown, what: string): void {
    if (this.storeDown) {
      this.log.debug({ err }, what);
      return;
    }
    this.storeDown = true;
    this.log.error({ err }, what);
  }

  private storeUp(): void {
    if (!this.storeDown) return;
    this.storeDown = false;
    this.log.info('the store answers again; delivery continues');
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
    // Let a batch of records queued in this turn reach the store before waiting on writes.
    await new Promise((resolve) => setImmediate(resolve));
    // Each write, as it ends, starts the next with what came in meanwhile.
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
    if (this.renewTimer) clearInterval(this.renewTimer);
  }

  /** Attempts in flight now. */
  get inFlight(): number {
    return this.active;
  }
}
