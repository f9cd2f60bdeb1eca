// The operator dashboard's reads: the whole installation at a glance, and the applications
// with their counts. Admin only: they span every application, so auth.ts opens them to no portal token.
import type { FastifyInstance } from 'fastify';
import { BUCKET_MS } from '../domain/series.js';
import { LIMITS } from '../domain/limits.js';
import { errorResponses, listQuery, ref } from './schemas.js';
import { listQuery as toListQuery, type Deps } from './http.js';
import { iso, presentApp } from './present.js';

const tags = ['Dashboard'];
const DAY_MS = 86_400_000;
const FAILING_LIMIT = 50;
/** A day of samples a minute apart. */
const MAX_SAMPLES = 1440;

export interface DashboardOptions {
  /** How often the backlog is sampled for the overview's backlogSeries; a minute by default. */
  backlogEveryMs?: number;
}

interface BacklogSample {
  at: number;
  pending: number;
  sending: number;
}

/**
 * The backlog over time, sampled by this process into memory: the queue keeps no history of
 * its size, and a table of samples would be one more thing written every minute by every
 * process for a chart. The series starts when the process started.
 */
function sampleBacklog(app: FastifyInstance, d: Deps, everyMs: number): () => BacklogSample[] {
  const samples: BacklogSample[] = [];
  let busy = false;
  const take = async () => {
    // A slow database must not stack reads up behind each other.
    if (busy) return;
    busy = true;
    try {
      const b = await d.store.backlog();
      const at = Date.now();
      while (samples.length > 0 && (samples[0]!.at <= at - DAY_MS || samples.length >= MAX_SAMPLES)) samples.shift();
      samples.push({ at, pending: b.pending, sending: b.sending });
    } catch (err) {
      // A gap in the chart; the store already says when the database fails.
      d.log.debug({ err }, 'sampling the backlog failed');
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void take(), everyMs);
  timer.unref();
  app.addHook('onReady', async () => {
    void take();
  });
  app.addHook('onClose', async () => clearInterval(timer));
  return () => samples.slice();
}

export function dashboardRoutes(app: FastifyInstance, d: Deps, opts: DashboardOptions = {}): void {
  const backlogSamples = sampleBacklog(app, d, opts.backlogEveryMs ?? 60_000);

  app.get(
    '/api/v1/dashboard/overview',
    {
      schema: {
        operationId: 'hookwell.dashboard.overview',
        summary: 'The queue, the last 24 hours of traffic, and the failing endpoints of every application',
        tags,
        response: { 200: ref('DashboardOverviewOut'), ...errorResponses() },
      },
    },
    async () => {
      const now = Date.now();
      const hour = BUCKET_MS.hour;
      // 24 whole hours, the last one the hour in progress.
      const start = Math.floor(now / hour) * hour - 23 * hour;
      const o = await d.store.overview({ since: start, until: now + 1, bucketMs: hour, failingLimit: FAILING_LIMIT, countSince: now - DAY_MS });
      // The overview's own read of the queue is the last point, so the two cannot disagree.
      const backlogSeries = [...backlogSamples(), { at: Date.now(), pending: o.backlog.pending, sending: o.backlog.sending }].map((s) => ({ ...s, at: iso(s.at) }));
      const throughput = Array.from({ length: 24 }, (_, i) => ({
        start: iso(start + i * hour),
        messages: o.messages.get(i) ?? 0,
        success: o.success.get(i) ?? 0,
        fail: o.fail.get(i) ?? 0,
      }));
      return {
        backlog: { ...o.backlog, oldestDueAt: iso(o.backlog.oldestDueAt) },
        throughput,
        backlogSeries,
        failingEndpoints: o.failingEndpoints.map((f) => ({ ...f, lastFailureAt: iso(f.lastFailureAt) })),
        totals: { applications: o.totals.applications, endpoints: o.totals.endpoints, messages24h: o.totals.messagesSince },
      };
    },
  );

  app.get<{ Querystring: { search?: string; limit?: number; iterator?: string } }>(
    '/api/v1/dashboard/app',
    {
      schema: {
        operationId: 'hookwell.dashboard.list-apps',
        summary: 'List applications with their endpoints, messages of the last 24 hours and failing endpoints',
        tags,
        querystring: listQuery(
          { search: { type: 'string', maxLength: LIMITS.name, description: 'Only applications whose name or uid holds this text, in any case.' } },
          false,
        ),
        response: { 200: ref('ListResponse_DashboardAppOut_'), ...errorResponses() },
      },
    },
    async (req) => {
      const page = await d.store.listAppSummaries(toListQuery(req.query, 'ascending'), req.query.search ?? null, Date.now() - DAY_MS);
      return {
        ...page,
        data: page.data.map((s) => ({ ...presentApp(s.app), endpoints: s.endpoints, messages24h: s.messagesSince, failing: s.failing })),
      };
    },
  );
}
