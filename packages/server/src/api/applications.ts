import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NotFoundError } from '../domain/errors.js';
import { checkName } from '../domain/names.js';
import type { Application, ListQuery, Page } from '../domain/types.js';
import { pageOf } from '../domain/paging.js';
import type { AppInput, AppListFilter } from '../store/store.js';
import { SVIX_PLAY_URL_PREFIX } from '../domain/routing.js';
import { errorResponses, listQuery, ref } from './schemas.js';
import { listQuery as toListQuery, type Deps } from './http.js';
import { presentApp } from './present.js';

export interface ApplicationBody {
  name: string;
  uid?: string | null;
  throttleRate?: number | null;
  rateLimit?: number | null;
  metadata?: Record<string, string>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The application the path's app_id names, once looked up (by the portal token check, or requireApp). */
    application?: Application;
  }
}

/** A request whose path names an application. */
export type AppRequest = Pick<FastifyRequest, 'application' | 'auditIds'> & { params: { app_id: string } };

/** The application the request's path names, looked up once per request; 404 when there is none. */
export async function requireApp(d: Deps, req: AppRequest): Promise<Application> {
  if (req.application !== undefined) return req.application;
  const ref = req.params.app_id;
  const app = await d.store.getApp(ref);
  if (app === null) throw new NotFoundError('application', ref);
  req.application = app;
  return app;
}

export function appInput(b: ApplicationBody, uidFallback: string | null = null): AppInput {
  return {
    name: b.name,
    uid: b.uid ?? uidFallback,
    throttleRate: b.throttleRate ?? b.rateLimit ?? null,
    metadata: b.metadata ?? {},
  };
}

const appParams = { type: 'object', properties: { app_id: { type: 'string', description: 'Application id or uid' } }, required: ['app_id'] };
const tags = ['Application'];

/**
 * A page of the applications a scoped API token may see, in the order and by the keys of
 * listApps. Such a token names a few applications, so they are read one by one.
 */
async function scopedApps(d: Deps, appIds: readonly string[], q: ListQuery, filter: AppListFilter): Promise<Page<Application>> {
  const found = (await Promise.all(appIds.map((id) => d.store.getApp(id)))).filter((a): a is Application => a !== null);
  const kept = [];
  for (const a of found) if (await passes(d, a, filter)) kept.push(a);
  return pageOf(kept, (a) => a.id, q);
}

/** listApplications' filter, for the few applications of a scoped token. */
async function passes(d: Deps, a: Application, filter: AppListFilter): Promise<boolean> {
  if (!filter.noEndpoints && !filter.disabledEndpoints && !filter.svixPlayEndpoints) return true;
  const endpoints = [];
  for (let iterator: string | null = null, done = false; !done; ) {
    const page = await d.store.listEndpoints(a.id, { limit: 250, iterator, order: 'ascending' });
    endpoints.push(...page.data);
    ({ iterator, done } = page);
  }
  if (endpoints.length === 0) return !filter.noEndpoints;
  if (filter.disabledEndpoints && endpoints.every((e) => e.disabled)) return false;
  if (filter.svixPlayEndpoints && endpoints.every((e) => e.url.startsWith(SVIX_PLAY_URL_PREFIX))) return false;
  return true;
}

interface AppListQuery {
  limit?: number;
  iterator?: string;
  order?: string;
  exclude_apps_with_no_endpoints?: boolean;
  exclude_apps_with_disabled_endpoints?: boolean;
  exclude_apps_with_svix_play_endpoints?: boolean;
}

export function applicationRoutes(app: FastifyInstance, d: Deps): void {
  app.get<{ Querystring: AppListQuery }>(
    '/api/v1/app',
    {
      schema: {
        operationId: 'v1.application.list',
        summary: 'List applications',
        tags,
        querystring: listQuery({
          exclude_apps_with_no_endpoints: { type: 'boolean', default: false, description: 'Leave out applications without endpoints.' },
          exclude_apps_with_disabled_endpoints: { type: 'boolean', default: false, description: 'Leave out applications whose endpoints are all disabled.' },
          exclude_apps_with_svix_play_endpoints: {
            type: 'boolean',
            default: false,
            description: 'Leave out applications whose endpoints all send to Svix Play (https://play.svix.com/).',
          },
        }),
        response: { 200: ref('ListResponse_ApplicationOut_'), ...errorResponses() },
      },
    },
    async (req) => {
      const q = toListQuery(req.query, 'ascending');
      const filter: AppListFilter = {
        noEndpoints: req.query.exclude_apps_with_no_endpoints,
        disabledEndpoints: req.query.exclude_apps_with_disabled_endpoints,
        svixPlayEndpoints: req.query.exclude_apps_with_svix_play_endpoints,
      };
      const scope = req.access?.kind === 'token' ? req.access.token.appIds : null;
      const page = scope === null ? await d.store.listApps(q, filter) : await scopedApps(d, scope, q, filter);
      return { ...page, data: page.data.map(presentApp) };
    },
  );

  app.post<{ Body: ApplicationBody; Querystring: { get_if_exists?: boolean } }>(
    '/api/v1/app',
    {
      schema: {
        operationId: 'v1.application.create',
        summary: 'Create an application',
        tags,
        querystring: { type: 'object', properties: { get_if_exists: { type: 'boolean', default: false } } },
        body: ref('ApplicationIn'),
        response: { 200: ref('ApplicationOut'), 201: ref('ApplicationOut'), ...errorResponses() },
      },
    },
    async (req, reply) => {
      if (req.query.get_if_exists && req.body.uid) {
        const existing = await d.store.getApp(req.body.uid);
        if (existing !== null) return reply.code(200).send(presentApp(existing));
      }
      const created = await d.store.createApp(appInput(req.body));
      return reply.code(201).send(presentApp(created));
    },
  );

  app.get<{ Params: { app_id: string } }>(
    '/api/v1/app/:app_id',
    {
      schema: {
        operationId: 'v1.application.get',
        summary: 'Get an application',
        tags,
        params: appParams,
        response: { 200: ref('ApplicationOut'), ...errorResponses() },
      },
    },
    async (req) => presentApp(await requireApp(d, req)),
  );

  app.put<{ Params: { app_id: string }; Body: ApplicationBody }>(
    '/api/v1/app/:app_id',
    {
      schema: {
        operationId: 'v1.application.upsert',
        summary: 'Create or replace an application',
        tags,
        params: appParams,
        body: ref('ApplicationIn'),
        response: { 200: ref('ApplicationOut'), 201: ref('ApplicationOut'), ...errorResponses() },
      },
    },
    async (req, reply) => {
      const existing = await d.store.getApp(req.params.app_id);
      if (existing === null) {
        // Upserting an unknown name creates the application with that name as its uid.
        checkName(req.params.app_id, ['path', 'app_id']);
        const created = await d.store.createApp(appInput(req.body, req.params.app_id));
        return reply.code(201).send(presentApp(created));
      }
      const updated = await d.store.updateApp(existing.id, appInput(req.body, existing.uid));
      return reply.code(200).send(presentApp(updated));
    },
  );

  app.patch<{ Params: { app_id: string }; Body: Partial<ApplicationBody> }>(
    '/api/v1/app/:app_id',
    {
      schema: {
        operationId: 'v1.application.patch',
        summary: 'Update some fields of an application',
        tags,
        params: appParams,
        body: ref('ApplicationPatch'),
        response: { 200: ref('ApplicationOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const existing = await requireApp(d, req);
      const b = req.body;
      const fields: Partial<AppInput> = {};
      if (b.name !== undefined) fields.name = b.name;
      if (b.uid !== undefined) fields.uid = b.uid;
      if (b.metadata !== undefined) fields.metadata = b.metadata;
      if (b.throttleRate !== undefined || b.rateLimit !== undefined) fields.throttleRate = b.throttleRate ?? b.rateLimit ?? null;
      return presentApp(await d.store.updateApp(existing.id, fields));
    },
  );

  app.delete<{ Params: { app_id: string } }>(
    '/api/v1/app/:app_id',
    {
      schema: {
        operationId: 'v1.application.delete',
        summary: 'Delete an application with its endpoints, messages and attempts',
        tags,
        params: appParams,
        response: { 204: { type: 'null', description: 'Deleted' }, ...errorResponses() },
      },
    },
    async (req, reply) => {
      const existing = await requireApp(d, req);
      await d.store.deleteApp(existing.id);
      return reply.code(204).send();
    },
  );
}
