// What /metrics reports, in the Prometheus text format. One Registry per started Hookwell
// (never prom-client's global one), so several servers in one process (the tests) keep
// their counts apart. The hot paths (every message, every attempt, every commit) only
// increment counters and observe histograms whose label values were bound at start-up;
// the queue's figures are read from the store when scraped, never kept up to date.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CommitObserver, QueueStats, Store } from './store/store.js';

/**
 * The endpoints with the most due deliveries reported one by one. A fixed, small number
 * bounds the series an endpoint label can make, however many endpoints there are: at most
 * this many per gauge, each labelled by its application and endpoint id.
 */
export const TOP_ENDPOINTS = 10;

/**
 * How long a queue reading answers further scrapes (several Prometheus servers, or the
 * gauges of one scrape): a second, or 50 times as long as the read took, whichever is
 * longer. SQLite reads on the serving thread, in time that grows with the backlog (about
 * 0.6 s with 200,000 deliveries due and as many delivered, on a 2-core machine under a load
 * of 12, where the first form of the query took 1.2 s); reading no more often than that
 * keeps scrapes below 2% of the thread however often they come.
 */
const QUEUE_READ_REUSE_MS = 1000;
const QUEUE_READ_REUSE_FACTOR = 50;

/** Why a message was not accepted: the `reason` label of hookwell_messages_refused_total. */
export const REFUSAL_REASONS = ['validation', 'size', 'auth', 'idempotency', 'unavailable', 'other'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** The reason a message-create answer of `status` counts under (null: accepted). `replayed`: an idempotent repeat's answer. */
export function refusalReason(status: number, replayed: boolean): RefusalReason | null {
  if (replayed || status === 409) return 'idempotency';
  if (status >= 200 && status < 300) return null;
  if (status === 413) return 'size';
  if (status === 401 || status === 403) return 'auth';
  if (status === 400 || status === 415 || status === 422) return 'validation';
  if (status === 503) return 'unavailable';
  return 'other';
}

const ATTEMPT_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60];
const COMMIT_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const BATCH_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/**
 * prom-client's defaults (CPU, memory, heap, event-loop delay, GC) describe the process, not
 * one server in it: collected once per process, into a registry every server's scrape shares.
 * Per server, each would add an event-loop monitor and a GC observer that are never removed.
 */
let processMetrics: Registry | null = null;

function processRegistry(): Registry {
  if (processMetrics === null) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

export class Metrics implements CommitObserver {
  readonly registry = new Registry();
  /** This server's metrics and the process's, as scraped. */
  private readonly scraped: Registry;
  private readonly accepted: Counter;
  // Labelled counts are kept as plain numbers and handed to their counters when scraped: a
  // prom-client child's inc() hashes its labels on every call (about 0.6 µs, against 0.1 µs
  // for an unlabelled counter), which the message and attempt paths should not pay.
  private readonly refused: Record<RefusalReason, number> = { validation: 0, size: 0, auth: 0, idempotency: 0, unavailable: 0, other: 0 };
  /** By the status code's hundreds: 0 (no response) to 5. */
  private readonly attemptsByClass = [0, 0, 0, 0, 0, 0];
  private readonly attemptSeconds: Histogram;
  private readonly commitSeconds: Histogram;
  private readonly commitWrites: Histogram;
  private readonly syncSeconds: Histogram;
  private queueRead: { at: number; stats: Promise<QueueStats | null> } | null = null;
  /** How long the last queue read took, in ms. */
  private queueReadMs = 0;
  private store: Store | null = null;
  private onReadFailure: (err: unknown) => void = () => undefined;

  constructor() {
    const registers = [this.registry];

    this.accepted = new Counter({ name: 'hookwell_messages_accepted_total', help: 'Messages answered 202: stored durably, with their deliveries', registers });
    const metrics = this;
    // Every series is there from the start, at 0, so rate() sees the first refusal of a kind.
    new Counter({
      name: 'hookwell_messages_refused_total',
      help: 'Messages not accepted, by reason: validation (400/415/422), size (413), auth (401/403), idempotency (a repeated idempotency-key or eventId), unavailable (503), other',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const r of REFUSAL_REASONS) this.labels(r).inc(metrics.refused[r]);
      },
    });
    new Counter({
      name: 'hookwell_delivery_attempts_total',
      help: 'Delivery attempts made, by outcome (success: 2xx; failure: another status; error: no response) and status class',
      labelNames: ['outcome', 'status_class'],
      registers,
      collect() {
        this.reset();
        metrics.attemptsByClass.forEach((n, hundreds) => {
          if (hundreds === 0) this.labels('error', 'none').inc(n);
          else this.labels(hundreds === 2 ? 'success' : 'failure', `${hundreds}xx`).inc(n);
        });
      },
    });
    this.attemptSeconds = new Histogram({
      name: 'hookwell_delivery_attempt_duration_seconds',
      help: 'Time from sending a delivery attempt to its response (or failure)',
      buckets: ATTEMPT_SECONDS,
      registers,
    });

    this.commitSeconds = new Histogram({
      name: 'hookwell_store_commit_duration_seconds',
      help: "Time of one batched commit: SQLite's group-commit transaction, or one PostgreSQL batch of messages",
      buckets: COMMIT_SECONDS,
      registers,
    });
    this.commitWrites = new Histogram({ name: 'hookwell_store_commit_batch_size', help: 'Writes made together in one batched commit', buckets: BATCH_SIZES, registers });
    this.syncSeconds = new Histogram({
      name: 'hookwell_store_sync_duration_seconds',
      help: "SQLite: time of one sync (fdatasync) of the write-ahead log, after which the commits it covers are answered",
      buckets: COMMIT_SECONDS,
      registers,
    });

    new Gauge({
      name: 'hookwell_store_pool_waiting_clients',
      help: 'PostgreSQL: callers waiting for a connection of the pool (main: the API and messages; queue: claims and attempt records)',
      labelNames: ['pool'],
      registers,
      collect() {
        for (const p of metrics.store?.poolUsage() ?? []) this.labels(p.pool).set(p.waiting);
      },
    });
    new Gauge({
      name: 'hookwell_store_pool_connections',
      help: 'PostgreSQL: connections open in the pool',
      labelNames: ['pool'],
      registers,
      collect() {
        for (const p of metrics.store?.poolUsage() ?? []) this.labels(p.pool).set(p.total);
      },
    });

    // The queue: one store read per scrape, shared by every gauge below (see queueStats).
    const queueGauge = (name: string, help: string, value: (q: QueueStats, now: number) => number) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          const read = await metrics.queueStats();
          if (read !== null) this.set(value(read.stats, read.now));
        },
      });
    queueGauge('hookwell_backlog_due_deliveries', 'Deliveries waiting whose time has come', (q) => q.due);
    queueGauge('hookwell_backlog_oldest_due_age_seconds', 'How long the longest-waiting due delivery has been due (0 when none is)', (q, now) =>
      q.oldestDueAt === null ? 0 : Math.max(0, now - q.oldestDueAt) / 1000,
    );
    queueGauge('hookwell_backlog_scheduled_deliveries', 'Deliveries waiting for a later time: retries after a failed attempt, and messages sent for later', (q) => q.scheduled);
    queueGauge('hookwell_backlog_retrying_deliveries', 'Deliveries waiting (due or not) that have failed at least once: failed, awaiting a retry', (q) => q.retrying);
    queueGauge('hookwell_backlog_leased_deliveries', 'Deliveries claimed by a dispatcher and being sent', (q) => q.leased);
    queueGauge('hookwell_deliveries_failed', 'Deliveries out of retries, failed until resent or recovered', (q) => q.failed);
    queueGauge('hookwell_endpoints_disabled', 'Endpoints disabled, by Hookwell (failing for too long, 410 Gone) or by a call', (q) => q.disabledEndpoints);
    new Gauge({
      name: 'hookwell_backlog_read_success',
      help: 'Whether the queue could be read for this scrape (1) or not (0: the backlog gauges keep their last values)',
      registers,
      async collect() {
        this.set((await metrics.queueStats()) === null ? 0 : 1);
      },
    });
    const endpointGauge = (name: string, help: string, value: (e: QueueStats['endpoints'][number], now: number) => number) =>
      new Gauge({
        name,
        help: `${help}; only the ${TOP_ENDPOINTS} endpoints with the most due deliveries`,
        labelNames: ['app_id', 'endpoint_id'],
        registers,
        async collect() {
          const read = await metrics.queueStats();
          if (read === null) return;
          // Only this scrape's endpoints: one that left the top is not reported with a stale figure.
          this.reset();
          for (const e of read.stats.endpoints) this.labels(e.appId, e.endpointId).set(value(e, read.now));
        },
      });
    endpointGauge('hookwell_endpoint_backlog_due_deliveries', "An endpoint's due deliveries", (e) => e.due);
    endpointGauge('hookwell_endpoint_backlog_oldest_due_age_seconds', "How long an endpoint's longest-waiting due delivery has been due", (e, now) => Math.max(0, now - e.oldestDueAt) / 1000);
    this.scraped = Registry.merge([this.registry, processRegistry()]);
  }

  /** The store the queue gauges read and whose commits are counted; `failed`: told when a read for a scrape fails. */
  watch(store: Store, failed: (err: unknown) => void): void {
    this.store = store;
    this.onReadFailure = failed;
    store.observeCommits(this);
  }

  /** A message-create request was answered `status`; `replayed`: with a stored answer to an earlier one. */
  messageAnswered(status: number, replayed: boolean): void {
    const reason = refusalReason(status, replayed);
    if (reason === null) this.accepted.inc();
    else this.refused[reason]++;
  }

  /** A delivery attempt ended: `statusCode` 0 when no response came. */
  attempted(statusCode: number, durationMs: number): void {
    const hundreds = Math.floor(statusCode / 100);
    this.attemptsByClass[hundreds >= 1 && hundreds <= 5 ? hundreds : 0]!++;
    this.attemptSeconds.observe(durationMs / 1000);
  }

  committed(seconds: number, writes: number): void {
    this.commitSeconds.observe(seconds);
    this.commitWrites.observe(writes);
  }

  synced(seconds: number): void {
    this.syncSeconds.observe(seconds);
  }

  get contentType(): string {
    return this.scraped.contentType;
  }

  text(): Promise<string> {
    return this.scraped.metrics();
  }

  /** One read of the queue for the gauges of a scrape (and of scrapes within a second); null when it failed. */
  private queueStats(): Promise<{ stats: QueueStats; now: number } | null> {
    const now = Date.now();
    if (this.queueRead === null || now - this.queueRead.at >= Math.max(QUEUE_READ_REUSE_MS, QUEUE_READ_REUSE_FACTOR * this.queueReadMs)) {
      const store = this.store;
      const started = performance.now();
      const stats: Promise<QueueStats | null> =
        store === null
          ? Promise.resolve(null)
          : store.queueStats(now, TOP_ENDPOINTS).then(
              (s) => {
                this.queueReadMs = performance.now() - started;
                return s;
              },
              (err: unknown) => {
                this.onReadFailure(err);
                return null;
              },
            );
      this.queueRead = { at: now, stats };
    }
    const { at, stats } = this.queueRead;
    return stats.then((s) => (s === null ? null : { stats: s, now: at }));
  }
}
