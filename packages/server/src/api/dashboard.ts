// The operator dashboard's reads: the whole installation at a glance, and the applications
// with their counts. Admin only: they span every application.
import type { FastifyInstance } from 'fastify';
import { BUCKET_MS } from '../domain/series.js';
import { LIMITS } from '../domain/limits.js';
import { errorResponses, listQuery, ref } from './schemas.js';
import { listQuery as toListQuery, type Deps } from './http.js';
import { iso, presentApp } from './present.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Documents that the route spans applications: the auth hook opens it to no portal token. */
    adminOnly?: boolean;
  }
}

const tags = ['Dashboard'];
const DAY_MS = 86_400_000;
const FAILING_LIMIT = 50;

export function dashboardRoutes(app: FastifyInstance, d: Deps): void {
  app.get(
    '/api/v1/dashboard/overview',
    {
      config: { adminOnly: true },
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
      const throughput = Array.from({ length: 24 }, (_, i) => ({
        start: iso(start + i * hour),
        messages: o.messages.get(i) ?? 0,
        success: o.success.get(i) ?? 0,
        fail: o.fail.get(i) ?? 0,
      }));
      return {
        backlog: { ...o.backlog, oldestDueAt: iso(o.backlog.oldestDueAt) },
        throughput,
        failingEndpoints: o.failingEndpoints.map((f) => ({ ...f, lastFailureAt: iso(f.lastFailureAt) })),
        totals: { applications: o.totals.applications, endpoints: o.totals.endpoints, messages24h: o.totals.messagesSince },
      };
    },
  );

  app.get<{ Querystring: { search?: string; limit?: number; iterator?: string } }>(
    '/api/v1/dashboard/app',
    {
      config: { adminOnly: true },
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
