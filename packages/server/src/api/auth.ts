// Who may call what. The admin token may call everything. An app portal token (Svix's
// "app portal access") is a bearer for one application's API, limited by its capabilities;
// the routes it may reach are listed here, in one table, and every other route refuses it.
// The portal's screens only hide what a token cannot do: this is where it is enforced.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { allows, grantedCapabilities, PORTAL_CAPABILITIES, type PortalCapability } from '../domain/access.js';
import { BadRequestError, NotFoundError, ValidationError } from '../domain/errors.js';
import { checkName } from '../domain/names.js';
import type { ApiToken, PortalToken, Store } from '../store/store.js';
import { appInput, requireApp, type ApplicationBody } from './applications.js';
import { hashToken, type Deps } from './http.js';
import { errorResponses, ref } from './schemas.js';
import { iso } from './present.js';
import { portalActor } from './audit.js';

/** How a request was authenticated. */
export type Access = { kind: 'admin' } | { kind: 'portal'; token: PortalToken } | { kind: 'token'; token: ApiToken };

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without a token: health, the OpenAPI document, content links (the link is the credential), the UI's pages and files. */
    public?: boolean;
  }
  interface FastifyRequest {
    access?: Access;
  }
}

export const PORTAL_TOKEN_PREFIX = 'hwp_';
/** Scoped API tokens' (see api/tokens.ts); a generated admin token has it too, and is matched first. */
export const API_TOKEN_PREFIX = 'hwk_';

const ADMIN: Access = { kind: 'admin' };

const VIEW: readonly PortalCapability[] = ['ViewBase'];
const SEE_SECRET: readonly PortalCapability[] = ['ViewEndpointSecret', 'ManageEndpointSecret', 'ManageEndpoint'];
const ROTATE_SECRET: readonly PortalCapability[] = ['ManageEndpointSecret', 'ManageEndpoint'];
const MANAGE: readonly PortalCapability[] = ['ManageEndpoint'];
const RESEND: readonly PortalCapability[] = ['CreateAttempts'];
/** Any valid token: the caller's own session. */
const ANY: readonly PortalCapability[] = PORTAL_CAPABILITIES;

const app = '/api/v1/app/:app_id';
const ep = `${app}/endpoint/:endpoint_id`;
const msg = `${app}/msg/:msg_id`;

/**
 * The routes a portal token may call (`METHOD path`, as registered), and the capabilities
 * that each opens to (any one suffices). Not listed: the admin token only. Custom headers
 * and webhook keys are credentials of the customer's receiver, so reading them needs
 * ManageEndpoint. Creating messages, uploading backfills, erasing content, event type
 * changes and the application itself are the platform's, never its customer's.
 */
export const PORTAL_ROUTES: ReadonlyMap<string, readonly PortalCapability[]> = new Map([
  ['GET /api/v1/auth/whoami', ANY],
  ['POST /api/v1/auth/logout', ANY],
  ['GET /api/v1/event-type', VIEW],
  ['GET /api/v1/event-type/:event_type_name', VIEW],
  [`GET ${app}`, VIEW],
  [`GET ${app}/status`, VIEW],
  [`POST ${app}/retry-failed`, RESEND],
  [`GET ${app}/endpoint`, VIEW],
  [`POST ${app}/endpoint`, MANAGE],
  [`GET ${ep}`, VIEW],
  [`PUT ${ep}`, MANAGE],
  [`PATCH ${ep}`, MANAGE],
  [`DELETE ${ep}`, MANAGE],
  [`GET ${ep}/secret`, SEE_SECRET],
  [`POST ${ep}/secret/rotate`, ROTATE_SECRET],
  [`GET ${ep}/headers`, MANAGE],
  [`PUT ${ep}/headers`, MANAGE],
  [`PATCH ${ep}/headers`, MANAGE],
  [`POST ${ep}/ping`, MANAGE],
  [`GET ${ep}/key`, MANAGE],
  [`POST ${ep}/key`, MANAGE],
  [`DELETE ${ep}/key`, MANAGE],
  [`POST ${ep}/ordering/skip`, MANAGE],
  [`POST ${ep}/recover`, RESEND],
  [`POST ${ep}/replay-missing`, RESEND],
  [`POST ${ep}/bulk-replay`, RESEND],
  [`POST ${ep}/cancel-msgs`, MANAGE],
  [`POST ${ep}/send-example`, RESEND],
  [`GET ${ep}/stats`, VIEW],
  [`GET ${ep}/stats/series`, VIEW],
  [`GET ${ep}/msg`, VIEW],
  [`GET ${app}/msg`, VIEW],
  [`POST ${app}/msg/search`, VIEW],
  [`GET ${app}/events`, VIEW],
  [`GET ${msg}`, VIEW],
  [`GET ${msg}/content-fetches`, VIEW],
  [`GET ${msg}/endpoint`, VIEW],
  [`POST ${msg}/endpoint/:endpoint_id/resend`, RESEND],
  [`GET ${msg}/attempt/:attempt_id`, VIEW],
  [`GET ${app}/attempt/endpoint/:endpoint_id`, VIEW],
  [`GET ${app}/attempt/msg/:msg_id`, VIEW],
  [`GET ${app}/attempt/endpoint/:endpoint_id/count`, VIEW],
  [`GET ${msg}/raw`, VIEW],
  [`GET ${msg}/attempt/:attempt_id/headers`, MANAGE],
  [`POST ${ep}/msg/test-attempt`, RESEND],
  [`GET ${ep}/rate-limit-status`, VIEW],
  [`GET ${app}/stats/attempts`, VIEW],
  [`GET ${app}/backfill`, VIEW],
  [`GET ${app}/backfill/:backfill_id`, VIEW],
]);

/**
 * Non-application routes a token scoped to applications may call (`METHOD path`): reading
 * the shared event types, its own identity, and the list of applications (filtered to its
 * own). Every other route without an application in its path is platform-wide.
 */
const SCOPED_GLOBAL_ROUTES: ReadonlySet<string> = new Set([
  'GET /api/v1/app',
  'GET /api/v1/event-type',
  'GET /api/v1/event-type/:event_type_name',
  'GET /api/v1/auth/whoami',
]);

/** POST routes that only read (Svix's search takes its filters in a body): open to read-only tokens. */
const READS_BY_POST: ReadonlySet<string> = new Set(['POST /api/v1/app/:app_id/msg/search']);

/** Routes for the admin token alone, whatever a scoped token's scope. */
const ADMIN_ONLY = /^\/api\/v1\/(token|audit)(\/|$)/;

/** A bearer token's key in the store: SHA-256, hex. */
export const tokenKey = (token: string): string => hashToken(token).toString('hex');

/** Why a request is refused: its status, what the caller is told, and a code for the audit log. */
interface Refusal {
  status: 401 | 403;
  detail: string;
  reason: string;
}

function refuse(req: FastifyRequest, reply: FastifyReply, r: Refusal): void {
  req.refusal = r.reason;
  reply.code(r.status).send({ code: r.status === 401 ? 'authentication_failed' : 'forbidden', detail: r.detail });
}

/** Whether `hash` is one of `hashes`; each is compared in constant time, all of them every time. */
function oneOf(hash: Buffer, hashes: readonly Buffer[]): boolean {
  let found = false;
  for (const h of hashes) found = timingSafeEqual(hash, h) || found;
  return found;
}

export function installAuth(fastify: FastifyInstance, adminHashes: readonly Buffer[], store: Store): void {
  const accepted = new Set<string>();
  // Callback style, as are the idempotency hooks: every request runs them, and an async
  // hook costs a promise and a turn of the microtask queue each time. A hook that answers
  // itself does not call done.
  fastify.addHook('onRequest', (req, reply, done) => {
    if (req.routeOptions.config.public === true) return done();
    const header = req.headers.authorization;
    // Clients send the same header on every request: an admin header already found valid
    // is not hashed again. Only valid ones are kept, so a wrong token is always compared
    // in constant time. Portal tokens are looked up each time, so a revoked one stops at once.
    if (header !== undefined && accepted.has(header)) {
      req.access = ADMIN;
      return done();
    }
    const m = header === undefined ? null : /^Bearer\s+(.+)$/i.exec(header);
    if (m === null) return refuse(req, reply, { status: 401, detail: 'missing "Authorization: Bearer <token>" header', reason: 'missing_token' });
    const token = m[1]!.trim();
    const later = (check: Promise<Refusal | null>) => {
      check.then((refusal) => (refusal === null ? done() : refuse(req, reply, refusal)), done);
    };
    if (token.startsWith(PORTAL_TOKEN_PREFIX)) return later(portalAccess(store, req, token));
    const hash = hashToken(token);
    if (!oneOf(hash, adminHashes)) {
      // Scoped tokens are looked up on every request, so a revoked one stops at once.
      if (token.startsWith(API_TOKEN_PREFIX)) return later(apiTokenAccess(store, req, hash.toString('hex')));
      return refuse(req, reply, { status: 401, detail: 'invalid token', reason: 'invalid_token' });
    }
    if (accepted.size >= 64) accepted.clear();
    accepted.add(header!);
    req.access = ADMIN;
    done();
  });
}

/**
 * Checks a portal token against the route and its application; null when it may go on.
 * A route it cannot reach is refused before its application is looked at, and another
 * application is "not found", as one that does not exist, so a token learns nothing of others.
 */
async function portalAccess(store: Store, req: FastifyRequest, token: string): Promise<Refusal | null> {
  const found = await store.getPortalToken(tokenKey(token));
  if (found === null) return { status: 401, detail: 'invalid token', reason: 'invalid_token' };
  req.actor = portalActor(found.tokenHash);
  if (found.expiresAt <= Date.now()) return { status: 401, detail: 'the token has expired or was revoked; ask for a new portal link', reason: 'expired' };
  const needs = PORTAL_ROUTES.get(routeKey(req));
  if (needs === undefined) return { status: 403, detail: `an app portal token cannot call ${describeRoute(req)}; it needs the admin token`, reason: 'not_allowed' };
  await scopeToApps(store, req, [found.appId]);
  if (!allows(found.capabilities, needs)) {
    return { status: 403, detail: `this portal token lacks the capability for ${req.method} ${req.routeOptions.url}: it needs ${needs.join(' or ')}`, reason: 'capability' };
  }
  req.access = { kind: 'portal', token: found };
  return null;
}

/** The route as PORTAL_ROUTES and SCOPED_GLOBAL_ROUTES name it; HEAD is served by the GET route. */
const routeKey = (req: FastifyRequest): string => `${req.method === 'HEAD' ? 'GET' : req.method} ${req.routeOptions.url ?? ''}`;
const describeRoute = (req: FastifyRequest): string => `${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}`;

/**
 * When the path names an application: 404 unless it is one of `appIds`, as though it did
 * not exist, so a token learns nothing of others. The route's handler takes the
 * application from here (requireApp) rather than looking it up again.
 */
async function scopeToApps(store: Store, req: FastifyRequest, appIds: readonly string[]): Promise<void> {
  const appRef = (req.params as { app_id?: string }).app_id;
  if (appRef === undefined) return;
  const a = await store.getApp(appRef);
  if (a === null || !appIds.includes(a.id)) {
    req.refusal = 'out_of_scope';
    throw new NotFoundError('application', appRef);
  }
  req.application = a;
}

/** Checks a scoped API token against its expiry, revocation, scope and read-only flag; null when it may go on. */
async function apiTokenAccess(store: Store, req: FastifyRequest, tokenHash: string): Promise<Refusal | null> {
  const found = await store.getApiTokenByHash(tokenHash);
  if (found === null) return { status: 401, detail: 'invalid token', reason: 'invalid_token' };
  req.actor = `token:${found.id}`;
  const now = Date.now();
  if (found.revokedAt !== null && found.revokedAt <= now) return { status: 401, detail: `the API token ${found.id} was revoked`, reason: 'revoked' };
  if (found.expiresAt !== null && found.expiresAt <= now) return { status: 401, detail: `the API token ${found.id} has expired`, reason: 'expired' };
  const url = req.routeOptions.url;
  // Not a route: the not-found handler answers, whoever asks.
  if (url === undefined) return grant(req, found);
  if (ADMIN_ONLY.test(url)) return { status: 403, detail: `${describeRoute(req)} needs the admin token: API tokens cannot manage tokens or read the audit log`, reason: 'admin_only' };
  if (found.readOnly && req.method !== 'GET' && req.method !== 'HEAD' && !READS_BY_POST.has(routeKey(req))) {
    return { status: 403, detail: `the API token ${found.id} is read-only: it cannot call ${describeRoute(req)}`, reason: 'read_only' };
  }
  if (found.appIds !== null) {
    if ((req.params as { app_id?: string }).app_id !== undefined) await scopeToApps(store, req, found.appIds);
    else if (!SCOPED_GLOBAL_ROUTES.has(routeKey(req))) {
      const what = routeKey(req) === 'POST /api/v1/app' ? 'create applications' : `call ${describeRoute(req)}`;
      return { status: 403, detail: `the API token ${found.id} is limited to some applications, so it cannot ${what}; that needs a token for every application`, reason: 'out_of_scope' };
    }
  }
  return grant(req, found);
}

function grant(req: FastifyRequest, token: ApiToken): null {
  req.access = { kind: 'token', token };
  return null;
}

/** The portal token a request came with; a 400 naming `what` when it came with the admin token. */
function portalOf(req: FastifyRequest, what: string): PortalToken {
  if (req.access?.kind === 'portal') return req.access.token;
  throw new BadRequestError(`${what} is for app portal tokens; the admin token is set in configuration (HOOKWELL_ADMIN_TOKEN)`);
}

interface PortalAccessBody {
  application?: ApplicationBody | null;
  expiry?: number | null;
  readOnly?: boolean | null;
  capabilities?: string[] | null;
  featureFlags?: string[];
  sessionId?: string | null;
}

const appParams = { type: 'object', properties: { app_id: { type: 'string', description: 'Application id or uid' } }, required: ['app_id'] };
const tags = ['Authentication'];

export function authRoutes(fastify: FastifyInstance, d: Deps): void {
  fastify.post<{ Params: { app_id: string }; Body: PortalAccessBody | undefined }>(
    '/api/v1/auth/app-portal-access/:app_id',
    {
      schema: {
        operationId: 'v1.authentication.app-portal-access',
        summary: "A link to the app portal, and its token: a bearer for this one application's API",
        tags,
        params: appParams,
        body: ref('AppPortalAccessIn'),
        response: { 200: ref('AppPortalAccessOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const b = req.body ?? {};
      const capabilities = grantedCapabilities(b.readOnly, b.capabilities);
      if (typeof capabilities === 'string') throw ValidationError.field(['body', b.readOnly === true ? 'readOnly' : 'capabilities'], capabilities);
      let a = await d.store.getApp(req.params.app_id);
      if (a === null) {
        if (b.application == null) throw new NotFoundError('application', req.params.app_id);
        checkName(req.params.app_id, ['path', 'app_id']);
        a = await d.store.createApp(appInput(b.application, req.params.app_id));
      }
      const token = `${PORTAL_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
      const now = Date.now();
      await d.store.createPortalToken({
        tokenHash: tokenKey(token),
        appId: a.id,
        capabilities,
        featureFlags: b.featureFlags ?? [],
        sessionId: b.sessionId ?? null,
        createdAt: now,
        expiresAt: now + (b.expiry ?? 604800) * 1000,
      });
      req.auditIds = { appId: a.id, targetId: portalActor(tokenKey(token)) };
      // In the fragment: a browser never sends it, so no proxy or access log sees it.
      return { url: `${d.publicUrl()}/portal#key=${token}`, token };
    },
  );

  fastify.post<{ Params: { app_id: string }; Body: { expiry?: number | null; sessionIds?: string[] } | undefined }>(
    '/api/v1/auth/app/:app_id/expire-all',
    {
      schema: {
        operationId: 'v1.authentication.expire-all',
        summary: "End the application's portal tokens, now or after `expiry` seconds; only those of `sessionIds` when given",
        tags,
        params: appParams,
        body: ref('ApplicationTokenExpireIn'),
        response: { 204: { type: 'null' }, ...errorResponses() },
      },
    },
    async (req, reply) => {
      const a = await requireApp(d, req);
      await d.store.expirePortalTokens(a.id, Date.now() + (req.body?.expiry ?? 0) * 1000, req.body?.sessionIds);
      return reply.code(204).send();
    },
  );

  fastify.post(
    '/api/v1/auth/logout',
    {
      schema: {
        operationId: 'v1.authentication.logout',
        summary: 'End the portal token this request is made with',
        tags,
        response: { 204: { type: 'null' }, ...errorResponses() },
      },
    },
    async (req, reply) => {
      await d.store.expirePortalToken(portalOf(req, 'logout').tokenHash, Date.now());
      return reply.code(204).send();
    },
  );

  fastify.get(
    '/api/v1/auth/whoami',
    {
      // The portal asks it first with a new token: a portal token's is its sign-in.
      config: { audit: 'portal' },
      schema: {
        operationId: 'v1.authentication.whoami',
        summary: 'What the token of this request is: the admin token, or a portal token with its application and capabilities',
        tags,
        response: { 200: ref('WhoamiOut'), ...errorResponses() },
      },
    },
    async (req) => {
      // Svix's envId and streamAppId: Hookwell has one environment and no streams.
      const none = { envId: null, streamAppId: null };
      const access = req.access ?? ADMIN;
      if (access.kind === 'admin') {
        return { permissionSource: 'admin', appId: null, readOnly: false, capabilities: [...PORTAL_CAPABILITIES], featureFlags: [], expiresAt: null, sessionId: null, ...none };
      }
      if (access.kind === 'token') {
        const t = access.token;
        const expiresAt = t.expiresAt === null ? null : iso(t.expiresAt);
        const capabilities = t.readOnly ? ['ViewBase'] : [...PORTAL_CAPABILITIES];
        return { permissionSource: 'apiToken', appId: null, tokenId: t.id, appIds: t.appIds, readOnly: t.readOnly, capabilities, featureFlags: [], expiresAt, sessionId: null, ...none };
      }
      const t = access.token;
      return {
        permissionSource: 'appPortal',
        appId: t.appId,
        readOnly: !t.capabilities.some((c) => c !== 'ViewBase'),
        capabilities: t.capabilities,
        featureFlags: t.featureFlags,
        expiresAt: iso(t.expiresAt),
        sessionId: t.sessionId,
        ...none,
      };
    },
  );
}
