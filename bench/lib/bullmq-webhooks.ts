// What a Node user would build instead of Hookwell, for the bullmq figure: a BullMQ queue on
// Redis, one `queue.add` per event, and a BullMQ Worker that POSTs each job's payload with
// undici, signed per Standard Webhooks (HMAC-SHA256 with node:crypto). Jobs are retried with
// exponential back-off, as a webhook sender would; completed jobs are removed (BullMQ's advice
// for queues that are not a log), failed ones kept.
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';

export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export class RedisUnreachable extends Error {}

function client(extra: Record<string, unknown> = {}): Redis {
  // BullMQ requires maxRetriesPerRequest: null on its connections.
  return new Redis(REDIS_URL, { maxRetriesPerRequest: null, ...extra });
}

/** Redis's version; throws RedisUnreachable when no connection can be made. */
export async function redisVersion(): Promise<string> {
  const probe = client({ lazyConnect: true, connectTimeout: 2_000, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  // The socket's error (e.g. ECONNREFUSED) says more than the "Connection is closed" that follows it.
  let cause: Error | null = null;
  probe.on('error', (err: Error) => (cause ??= err));
  try {
    await probe.connect();
    const info = await probe.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  } catch (err) {
    throw new RedisUnreachable(`Redis unreachable at ${REDIS_URL}: ${(cause ?? (err as Error))?.message || String(err)}`);
  } finally {
    probe.disconnect();
  }
}

/** Redis's resident set in bytes (INFO memory used_memory_rss), on a connection of its own. */
export class RedisRssSampler {
  private readonly redis = client({ enableOfflineQueue: false });
  private readonly timer: NodeJS.Timeout;
  before: number | null = null;
  peak = 0;

  constructor(intervalMs = 200) {
    this.redis.on('error', () => {});
    this.timer = setInterval(() => void this.sample(), intervalMs);
  }

  async sample(): Promise<void> {
    const info = await this.redis.info('memory').catch(() => '');
    const rss = Number(/used_memory_rss:(\d+)/.exec(info)?.[1] ?? NaN);
    if (!Number.isFinite(rss)) return;
    this.before ??= rss;
    this.peak = Math.max(this.peak, rss);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sample();
    this.redis.disconnect();
  }
}

interface WebhookJob {
  /** webhook-id: one per event, the same on every attempt. */
  id: string;
  payload: unknown;
}

export interface WebhookQueueOptions {
  /** Queue name (fresh per run). */
  name: string;
  /** Where every job is POSTed. */
  url: string;
  /** BullMQ Worker concurrency: jobs in flight at once. */
  concurrency: number;
}

/** A queue, its producer connection, and a Worker delivering its jobs, in this process. */
export class WebhookQueue {
  readonly queue: Queue<WebhookJob>;
  readonly worker: Worker<WebhookJob>;
  private readonly agent = new Agent({ keepAliveTimeout: 30_000 });
  /** Connections passed to BullMQ are the caller's to close. */
  private readonly connections = [client(), client()];
  /** The endpoint's signing secret (whsec_ + base64 of these bytes). */
  private readonly key = randomBytes(24);
  failed = 0;

  private constructor(readonly o: WebhookQueueOptions) {
    this.queue = new Queue<WebhookJob>(o.name, {
      connection: this.connections[0]!,
      defaultJobOptions: { attempts: 5, backoff: { type: 'exponential', delay: 1_000 }, removeOnComplete: true, removeOnFail: false },
    });
    this.worker = new Worker<WebhookJob>(o.name, (job) => this.deliver(job), { connection: this.connections[1]!, concurrency: o.concurrency, autorun: false });
    this.worker.on('failed', () => this.failed++);
    this.worker.on('error', () => {});
  }

  /** Empties any leftover queue of this name, then starts the worker. */
  static async open(o: WebhookQueueOptions): Promise<WebhookQueue> {
    const q = new WebhookQueue(o);
    await q.queue.waitUntilReady();
    await q.queue.obliterate({ force: true });
    void q.worker.run();
    await q.worker.waitUntilReady();
    return q;
  }

  /** One event: one `queue.add`. */
  add(payload: unknown): Promise<unknown> {
    return this.queue.add('webhook', { id: `msg_${randomUUID()}`, payload });
  }

  private async deliver(job: Job<WebhookJob>): Promise<void> {
    const body = JSON.stringify(job.data.payload);
    const timestamp = Math.floor(Date.now() / 1000).toString();
    const signature = createHmac('sha256', this.key).update(`${job.data.id}.${timestamp}.${body}`).digest('base64');
    const res = await request(this.o.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': job.data.id,
        'webhook-timestamp': timestamp,
        'webhook-signature': `v1,${signature}`,
      },
      body,
      dispatcher: this.agent,
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
    await res.body.dump();
    if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`endpoint answered ${res.statusCode}`);
  }

  /** Stops the worker, removes the queue's keys, closes every connection. */
  async close(): Promise<void> {
    await this.worker.close(true).catch(() => {});
    await this.queue.obliterate({ force: true }).catch(() => {});
    await this.queue.close().catch(() => {});
    await this.agent.close().catch(() => {});
    for (const c of this.connections) c.disconnect();
  }
}
