// The audit log's API side: one hook records every management write (and the few reads
// that reveal a credential) before its answer is sent, and GET /api/v1/audit reads the log.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { recordAudit } from '../core/audit.js';
import type { AuditEntry, AuditInput } from '../domain/audit.js';
import { isId } from '../domain/ids.js';
import type { Store } from '../store/store.js';
import { listQuery as toListQuery, timeParam, type Deps } from './http.js';
import { iso } from './present.js';
import { errorResponses } from './schemas.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Recorded although it is a GET: `always` for reads that reveal a secret or a key,
     * `portal` for a portal token's (its sign-in: the portal asks it first).
     */
    audit?: 'always' | 'portal';
  }
  interface FastifyRequest {
    /** Who made the request, as the audit log names them, once the token is known (even if then refused). */
    actor?: string;
    /** Why the request was refused before its handler: a code from a fixed set. */
    refusal?: string;
    /** Ids a handler learnt that the path does not carry. */
    auditIds?: Partial<Pick<AuditInput, 'appId' | 'endpointId' | 'msgId' | 'targetId'>>;
    /** The id at the head of a created record's answer. */
    createdId?: string;
  }
}

/**
 * Accepted messages are not recorded: each is a message row already, and an audit row per
 * message would add a synced write to ingest. Refused ones (authentication, scope) are.
 */
const MESSAGE_CREATE = '/api/v1/app/:app_id/msg';

const ANY_ID = /^[a-z]+_[0-9A-Za-z]{27}$/;
/** Event type names: chosen by the platform, not by its customers, and no longer than this. */
const EVENT_TYPE_NAME = /^[a-zA-Z0-9\-_.]{1,256}$/;
const CREATED = /^\{"id":"([a-z]+_[0-9A-Za-z]{27})"/;

function audited(req: FastifyRequest, status: number): boolean {
  if (!req.url.startsWith('/api/v1/')) return false;
  const config = req.routeOptions.config;
  // Content links record themselves (api/content.ts): they are fetches, allowed or not.
  if (config.public === true) return false;
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') {
    // A portal token's sign-in is recorded refused too (expired, revoked): the token check names it first.
    return config.audit === 'always' || (config.audit === 'portal' && actorOf(req).startsWith('portal:'));
  }
  // Every request passes here: the message route is told apart without building a string.
  if (req.method === 'POST' && req.routeOptions.url === MESSAGE_CREATE) return status === 401 || status === 403;
  return true;
}

/** A path parameter when it has the shape of one of our ids; a uid or other caller text is left out. */
const idParam = (value: string | undefined, prefix: 'app' | 'ep' | 'msg'): string | null => (value !== undefined && isId(prefix, value) ? value : null);

export function actorOf(req: FastifyRequest): string {
  if (req.actor !== undefined) return req.actor;
  const access = req.access;
  if (access === undefined) return 'unauthenticated';
  if (access.kind === 'admin') return 'admin';
  if (access.kind === 'token') return `token:${access.token.id}`;
  return portalActor(access.token.tokenHash);
}

/** A portal session as the audit log names it: the first 12 hex digits of its token's SHA-256. */
export const portalActor = (tokenHash: string): string => `portal:${tokenHash.slice(0, 12)}`;

/** Where the request came from, as recorded. */
export const sourceOf = (req: FastifyRequest): Pick<AuditInput, 'ip' | 'userAgent'> => ({ ip: req.ip ?? null, userAgent: req.headers['user-agent'] ?? null });

function entryOf(req: FastifyRequest, status: number): Omit<AuditInput, 'at'> {
  const p = (req.params ?? {}) as Record<string, string | undefined>;
  const ids = {
    appId: req.auditIds?.appId ?? req.application?.id ?? idParam(p.app_id, 'app'),
    endpointId: req.auditIds?.endpointId ?? idParam(p.endpoint_id, 'ep'),
    msgId: req.auditIds?.msgId ?? idParam(p.msg_id, 'msg'),
    targetId: req.auditIds?.targetId ?? null,
  };
  if (ids.targetId === null) {
    const other = p.token_id ?? p.backfill_id ?? p.attempt_id;
    if (other !== undefined && ANY_ID.test(other)) ids.targetId = other;
    else if (p.event_type_name !== undefined && EVENT_TYPE_NAME.test(p.event_type_name)) ids.targetId = p.event_type_name;
  }
  const created = req.createdId;
  if (created !== undefined) {
    if (created.startsWith('app_')) ids.appId ??= created;
    else if (created.startsWith('ep_')) ids.endpointId ??= created;
    else if (created.startsWith('msg_')) ids.msgId ??= created;
    else ids.targetId ??= created;
  }
  return {
    actor: actorOf(req),
    ...sourceOf(req),
    action: req.routeOptions.schema?.operationId ?? (req.routeOptions.url === undefined ? 'unrouted' : `${req.method} ${req.routeOptions.url}`),
    ...ids,
    outcome: String(status),
    reason: req.refusal ?? null,
  };
}

export function installAudit(app: FastifyInstance, store: Store, log: Logger): void {
  // Before the answer goes out: a caller who saw a write succeed can count on its entry,
  // even if the process stops right after. An unaudited request (an accepted message, a
  // plain read) passes straight through, with no promise made.
  app.addHook('onSend', (req, reply, payload, done) => {
    const status = reply.statusCode;
    if (!audited(req, status)) return done(null, payload);
    // The id of what a POST created, from its answer (every create answers with the id first).
    if (req.method === 'POST' && (status === 200 || status === 201) && typeof payload === 'string') {
      const m = CREATED.exec(payload);
      if (m !== null) req.createdId = m[1];
    }
    recordAudit(store, entryOf(req, status)).then(
      () => done(null, payload),
      (err: unknown) => {
        // The write being recorded is committed already: answering 500 would tell the caller
        // it failed, and its retry would do it again. The answer goes out as it is and the
        // missing entry is logged as an error, for the operator to see.
        log.error({ err, action: req.routeOptions.schema?.operationId, reqId: req.id, status }, 'recording an audit entry failed; answering as done');
        done(null, payload);
      },
    );
  });
}

function presentEntry(e: AuditEntry) {
  return {
    id: e.id,
    timestamp: iso(e.at),
    actor: e.actor,
    ip: e.ip,
    userAgent: e.userAgent,
    action: e.action,
    appId: e.appId,
    endpointId: e.endpointId,
    msgId: e.msgId,
    targetId: e.targetId,
    outcome: e.outcome,
    reason: e.reason,
    prevHash: e.prevHash,
    hash: e.hash,
  };
}

const nullableStr = { type: ['string', 'null'] };
const AUDIT_ENTRY_OUT = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    timestamp: { type: 'string', format: 'date-time' },
    actor: { type: 'string' },
    ip: nullableStr,
    userAgent: nullableStr,
    action: { type: 'string' },
    appId: nullableStr,
    endpointId: nullableStr,
    msgId: nullableStr,
    targetId: nullableStr,
    outcome: { type: 'string' },
    reason: nullableStr,
    prevHash: { type: 'string' },
    hash: { type: 'string' },
  },
  required: ['id', 'timestamp', 'actor', 'action', 'outcome', 'prevHash', 'hash'],
};

interface AuditQuery {
  limit?: number;
  iterator?: string | null;
  order?: string;
  since?: string;
  until?: string;
  action?: string;
  actor?: string;
  app_id?: string;
}

export function auditRoutes(app: FastifyInstance, d: Deps): void {
  app.get<{ Querystring: AuditQuery }>(
    '/api/v1/audit',
    {
      schema: {
        operationId: 'hookwell.audit.list',
        summary: 'The audit log: who did what to which record, and how it ended; oldest first (admin token only)',
        description:
          'Management writes, secret and key reads, portal sessions, content-link fetches, erasures and re-keys. ' +
          'Entries hold ids and stable names, never a payload, secret or header value. Each entry\'s hash covers the previous ' +
          "entry's hash and its own canonical JSON; `hookwell audit verify` checks the chain.",
        tags: ['Audit'],
        querystring: {
          type: 'object',
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 250, default: 50 },
            iterator: { type: ['string', 'null'], pattern: '^-?[0-9]{1,15}$' },
            order: { type: 'string', enum: ['ascending', 'descending'] },
            since: { type: 'string', format: 'date-time', description: 'Entries at or after this time' },
            until: { type: 'string', format: 'date-time', description: 'Entries before this time' },
            action: { type: 'string', maxLength: 128 },
            actor: { type: 'string', maxLength: 128 },
            app_id: { type: 'string', maxLength: 64, description: 'Application id' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              data: { type: 'array', items: AUDIT_ENTRY_OUT },
              iterator: nullableStr,
              prevIterator: nullableStr,
              done: { type: 'boolean' },
            },
            required: ['data', 'done'],
          },
          ...errorResponses(),
        },
      },
    },
    async (req) => {
      const q = req.query;
      const page = await d.store.listAudit(
        {
          since: timeParam(q.since, ['query', 'since']),
          until: timeParam(q.until, ['query', 'until']),
          action: q.action,
          actor: q.actor,
          appId: q.app_id,
        },
        toListQuery(q, 'ascending'),
      );
      return { ...page, data: page.data.map(presentEntry) };
    },
  );
}
