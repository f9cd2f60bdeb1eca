// Svix's application and usage statistics, and an application's alert email. Where Svix
// answers with a background task, the work here is a few indexed counts: it is done before
// answering, and the answer is the finished task with its result in `data`.
import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../domain/errors.js';
import { Status } from '../domain/types.js';
import { errorResponses, ref } from './schemas.js';
import { iso, presentTaskWithData } from './present.js';
import { requireApp } from './applications.js';
import { timeParam, type Deps } from './http.js';

const DAY_MS = 86_400_000;
/** Statistics without a range cover the last 28 days. */
const DEFAULT_RANGE_MS = 28 * DAY_MS;
const PERIOD_MS = { OneDay: DAY_MS, OneHour: 3_600_000, FiveMinutes: 300_000 } as const;
type Period = keyof typeof PERIOD_MS;
/** Most points of one attempt series. */
export const MAX_STATISTICS_POINTS = 1000;

const EMAIL = /^[^\s@,]+@[^\s@,]+\.[^\s@,]+$/;

/** The meta key an application's alert email is kept under (removed with the application). */
export const alertEmailKey = (appId: string): string => `alert-email:${appId}`;

const appParams = { type: 'object', properties: { app_id: { type: 'string' } }, required: ['app_id'] };
const eventTypesQuery = { type: 'array', items: { type: 'string', maxLength: 2560, pattern: '^[a-zA-Z0-9\\-_.,]+$' }, maxItems: 100 };

/** `event_types`, repeated or comma-joined (as the SDKs send it); null for all. */
const eventTypesOf = (q: string[] | undefined): string[] | null => {
  const list = q?.flatMap((t) => t.split(',')).filter((t) => t !== '') ?? [];
  return list.length > 0 ? list : null;
};

/** A range from optional date-times: until defaults to now, since to `DEFAULT_RANGE_MS` before until. */
function rangeOf(since: string | undefined, until: string | undefined, names: [string, string]): { since: number; until: number } {
  const u = timeParam(until, ['query', names[1]]) ?? Date.now();
  const s = timeParam(since, ['query', names[0]]) ?? u - DEFAULT_RANGE_MS;
  if (s >= u) throw ValidationError.field(['query', names[0]], `${names[0]} must be before ${names[1]}`, 'value_error');
  return { since: s, until: u };
}


export function statisticsRoutes(app: FastifyInstance, d: Deps): void {
  app.patch<{ Params: { app_id: string }; Body: { email?: string | null } }>(
    '/api/v1/app/:app_id/alert-email',
    {
      schema: {
        operationId: 'v1.application.patch-alert-email',
        summary: "Set the addresses told of this application's failing endpoints",
        description: 'Kept with the application; Hookwell sends no email itself: operational webhooks carry the same events.',
        tags: ['Application'],
        params: appParams,
        body: ref('AlertEmailPatch'),
        response: { 204: { type: 'null', description: 'Done' }, ...errorResponses() },
      },
    },
    async (req, reply) => {
      const a = await requireApp(d, req);
      const given = req.body.email ?? '';
      const addresses = given.split(',').map((e) => e.trim()).filter((e) => e !== '');
      const bad = addresses.find((e) => !EMAIL.test(e));
      if (bad !== undefined) throw ValidationError.field(['body', 'email'], `"${bad}" is not an email address (give a comma-separated list)`, 'value_error.email');
      await d.store.setMeta(alertEmailKey(a.id), addresses.join(', '));
      return reply.code(204).send();
    },
  );

  app.get<{ Querystring: { exclude_svix_play?: boolean; exclude_disabled?: boolean } }>(
    '/api/v1/app/stats/count-active',
    {
      schema: {
        operationId: 'v1.application.count-active',
        summary: 'Count the applications with at least one endpoint (enabled, by default)',
        tags: ['Application'],
        querystring: {
          type: 'object',
          properties: { exclude_svix_play: { type: 'boolean', default: true }, exclude_disabled: { type: 'boolean', default: true } },
        },
        response: { 200: ref('ActiveAppCount'), ...errorResponses() },
      },
    },
    async (req) => ({ count: await d.store.sending.countActiveApps(req.query.exclude_disabled === false, req.query.exclude_svix_play !== false) }),
  );

  app.get<{ Params: { app_id: string }; Querystring: { since?: string; until?: string; event_types?: string[] } }>(
    '/api/v1/app/:app_id/stats/attempts',
    {
      schema: {
        operationId: 'v1.application.stats.attempts',
        summary: "The application's attempts in a range by event type: successes, failures, and deliveries canceled",
        description: 'Default range: the 28 days up to now.',
        tags: ['Application'],
        params: appParams,
        querystring: {
          type: 'object',
          properties: { since: { type: 'string', format: 'date-time' }, until: { type: 'string', format: 'date-time' }, event_types: eventTypesQuery },
        },
        response: { 200: ref('AppAttemptStatsOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const a = await requireApp(d, req);
      const { since, until } = rangeOf(req.query.since, req.query.until, ['since', 'until']);
      const rows = await d.store.sending.appOutcomes(a.id, since, until, eventTypesOf(req.query.event_types));
      const byType: Record<string, { success: number; failure: number; canceled: number }> = {};
      const totals = { success: 0, failure: 0, canceled: 0 };
      for (const r of rows) {
        const key = r.status === Status.Success ? 'success' : r.status === Status.Fail ? 'failure' : 'canceled';
        const t = (byType[r.eventType] ??= { success: 0, failure: 0, canceled: 0 });
        t[key] += r.count;
        totals[key] += r.count;
      }
      return {
        by_event_type: byType,
        total_success: totals.success,
        total_failure: totals.failure,
        total_canceled: totals.canceled,
        since: iso(since),
        until: iso(until),
      };
    },
  );

  app.get<{ Params: { app_id: string }; Querystring: { startDate?: string; endDate?: string; period?: Period; event_types?: string[] } }>(
    '/api/v1/stats/app/:app_id/attempt',
    {
      schema: {
        operationId: 'v1.stats.app-attempts',
        summary: "The application's successful and failed attempts (and canceled deliveries) per period",
        description: `Periods start at startDate rounded down to a whole period (UTC); at most ${MAX_STATISTICS_POINTS} of them. Default: the 28 days up to now, per day.`,
        tags: ['Statistics'],
        params: appParams,
        querystring: {
          type: 'object',
          properties: {
            startDate: { type: 'string', format: 'date-time' },
            endDate: { type: 'string', format: 'date-time' },
            period: { type: 'string', enum: Object.keys(PERIOD_MS) },
            event_types: eventTypesQuery,
          },
        },
        response: { 200: ref('AttemptStatisticsResponse'), ...errorResponses() },
      },
    },
    async (req) => {
      const a = await requireApp(d, req);
      const period = req.query.period ?? 'OneDay';
      const bucketMs = PERIOD_MS[period];
      const range = rangeOf(req.query.startDate, req.query.endDate, ['startDate', 'endDate']);
      const start = Math.floor(range.since / bucketMs) * bucketMs;
      const points = Math.ceil((range.until - start) / bucketMs);
      if (points > MAX_STATISTICS_POINTS) {
        throw ValidationError.field(['query', 'startDate'], `startDate to endDate spans ${points} periods of ${period}; at most ${MAX_STATISTICS_POINTS}`, 'value_error.range');
      }
      const success = new Array<number>(points).fill(0);
      const failure = new Array<number>(points).fill(0);
      const canceled = new Array<number>(points).fill(0);
      for (const r of await d.store.sending.appOutcomeSeries(a.id, start, range.until, bucketMs, eventTypesOf(req.query.event_types))) {
        const series = r.status === Status.Success ? success : r.status === Status.Fail ? failure : canceled;
        if (r.bucket >= 0 && r.bucket < points) series[r.bucket]! += r.count;
      }
      return { startDate: iso(start), endDate: iso(range.until), period, data: { successCount: success, failureCount: failure, canceledCount: canceled } };
    },
  );

  app.get<{ Querystring: { exclude_svix_play?: boolean } }>(
    '/api/v1/stats/endpoint/count',
    {
      schema: {
        operationId: 'v1.statistics.endpoint-count',
        summary: 'Count the endpoints of every application, enabled and disabled',
        tags: ['Statistics'],
        querystring: { type: 'object', properties: { exclude_svix_play: { type: 'boolean', default: true } } },
        response: { 200: ref('EndpointCountOut'), ...errorResponses() },
      },
    },
    async (req) => d.store.sending.countEndpoints(req.query.exclude_svix_play !== false),
  );

  app.put(
    '/api/v1/stats/usage/event-types',
    {
      schema: {
        operationId: 'v1.statistics.aggregate-event-types',
        summary: 'Which event types each application has sent, with message counts',
        description: 'Answered at once as the finished task (which `background-task.get` finds later too); `data.eventTypes` maps each event type to its messages per application id, over all time.',
        tags: ['Statistics'],
        response: { 202: ref('AggregateEventTypesOut'), ...errorResponses() },
      },
    },
    async (_req, reply) => {
      const eventTypes: Record<string, Record<string, number>> = {};
      for (const r of await d.store.sending.messagesByEventType(0, Date.now() + 1, null)) (eventTypes[r.eventType] ??= {})[r.appId] = r.count;
      return reply.code(202).send(presentTaskWithData(await d.core.tasks.finished(null, 'event-type.aggregate', { eventTypes })));
    },
  );

  app.post<{ Body: { since: string; until: string; appIds?: string[] | null } }>(
    '/api/v1/stats/usage/app',
    {
      schema: {
        operationId: 'v1.statistics.aggregate-app-stats',
        summary: 'Messages per application (and per event type) in a range',
        description:
          'Answered at once as the finished task (which `background-task.get` finds later too); `data.apps` lists each application with its messages in [since, until). 422 when appIds are given and none is found.',
        tags: ['Statistics'],
        body: ref('AppUsageStatsIn'),
        response: { 202: ref('AppUsageStatsOut'), ...errorResponses() },
      },
    },
    async (req, reply) => {
      const since = timeParam(req.body.since, ['body', 'since'])!;
      const until = timeParam(req.body.until, ['body', 'until'])!;
      if (since >= until) throw ValidationError.field(['body', 'since'], 'since must be before until', 'value_error');
      let ids: string[] | null = null;
      const unresolved: string[] = [];
      if (req.body.appIds != null && req.body.appIds.length > 0) {
        ids = [];
        for (const ref of req.body.appIds) {
          const found = await d.store.getApp(ref);
          if (found === null) unresolved.push(ref);
          else ids.push(found.id);
        }
        if (ids.length === 0) throw ValidationError.field(['body', 'appIds'], 'none of the given applications exists', 'value_error.app_ids');
      }
      const apps = new Map<string, { appId: string; messages: number; byEventType: Record<string, number> }>();
      for (const id of ids ?? []) apps.set(id, { appId: id, messages: 0, byEventType: {} });
      for (const r of await d.store.sending.messagesByEventType(since, until, ids)) {
        let entry = apps.get(r.appId);
        if (entry === undefined) apps.set(r.appId, (entry = { appId: r.appId, messages: 0, byEventType: {} }));
        entry.messages += r.count;
        entry.byEventType[r.eventType] = r.count;
      }
      const data = { since: iso(since), until: iso(until), apps: [...apps.values()].sort((x, y) => (x.appId < y.appId ? -1 : 1)) };
      return reply.code(202).send({ ...presentTaskWithData(await d.core.tasks.finished(null, 'application.stats', data)), unresolvedAppIds: unresolved });
    },
  );
}
