// Scoped API tokens: bearers of the management API that the admin token makes, limited to
// some applications and/or to reading, with an expiry. Svix has no such API; these routes
// are Hookwell's own. The token is answered once; only its SHA-256 is kept.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { NotFoundError, ValidationError } from '../domain/errors.js';
import type { ApiToken } from '../store/store.js';
import { newId } from '../domain/ids.js';
import { API_TOKEN_PREFIX, tokenKey } from './auth.js';
import { listQuery as toListQuery, timeParam, type Deps } from './http.js';
import { iso } from './present.js';
import { errorResponses, listQuery } from './schemas.js';

interface TokenBody {
  name: string;
  appIds?: string[] | null;
  readOnly?: boolean;
  expiresAt?: string | null;
}

const tags = ['API token'];
const nullableStr = { type: ['string', 'null'] };

const TOKEN_OUT = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    appIds: { type: ['array', 'null'], items: { type: 'string' } },
    readOnly: { type: 'boolean' },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { ...nullableStr, format: 'date-time' },
    revokedAt: { ...nullableStr, format: 'date-time' },
  },
  required: ['id', 'name', 'appIds', 'readOnly', 'createdAt', 'expiresAt', 'revokedAt'],
};

function presentToken(t: ApiToken) {
  return {
    id: t.id,
    name: t.name,
    appIds: t.appIds,
    readOnly: t.readOnly,
    createdAt: iso(t.createdAt),
    expiresAt: t.expiresAt === null ? null : iso(t.expiresAt),
    revokedAt: t.revokedAt === null ? null : iso(t.revokedAt),
  };
}

export function tokenRoutes(app: FastifyInstance, d: Deps): void {
  app.post<{ Body: TokenBody }>(
    '/api/v1/token',
    {
      schema: {
        operationId: 'hookwell.token.create',
        summary: 'Create an API token (admin token only); the token is in this answer alone',
        description:
          'A bearer for the management API, limited to `appIds` (ids or uids; absent or null: every application, and creating new ones), ' +
          'to GET requests (and POST …/msg/search) when `readOnly`, and until `expiresAt` when given. It can never manage tokens or read the audit log. ' +
          'Only its SHA-256 is stored; the audit log names it by its id.',
        tags,
        body: {
          type: 'object',
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 256 },
            appIds: { type: ['array', 'null'], items: { type: 'string', minLength: 1, maxLength: 256 }, minItems: 1, maxItems: 1000, uniqueItems: true },
            readOnly: { type: 'boolean', default: false },
            expiresAt: { ...nullableStr, format: 'date-time' },
          },
          required: ['name'],
          additionalProperties: false,
        },
        response: { 201: { ...TOKEN_OUT, properties: { ...TOKEN_OUT.properties, token: { type: 'string' } }, required: [...TOKEN_OUT.required, 'token'] }, ...errorResponses() },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const now = Date.now();
      const expiresAt = timeParam(b.expiresAt, ['body', 'expiresAt']) ?? null;
      if (expiresAt !== null && expiresAt <= now) throw ValidationError.field(['body', 'expiresAt'], `expiresAt ${b.expiresAt} is not in the future`);
      let appIds: string[] | null = null;
      if (b.appIds != null) {
        appIds = [];
        for (const [i, ref] of b.appIds.entries()) {
          const a = await d.store.getApp(ref);
          if (a === null) throw ValidationError.field(['body', 'appIds', String(i)], `no application "${ref}"`);
          if (!appIds.includes(a.id)) appIds.push(a.id);
        }
      }
      const token = `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
      const t: ApiToken = { id: newId('tok', now), name: b.name, tokenHash: tokenKey(token), appIds, readOnly: b.readOnly ?? false, createdAt: now, expiresAt, revokedAt: null };
      await d.store.createApiToken(t);
      return reply.code(201).send({ ...presentToken(t), token });
    },
  );

  app.get<{ Querystring: { limit?: number; iterator?: string | null; order?: string } }>(
    '/api/v1/token',
    {
      schema: {
        operationId: 'hookwell.token.list',
        summary: 'List API tokens, newest first (admin token only); never the tokens themselves',
        tags,
        querystring: listQuery(),
        response: {
          200: {
            type: 'object',
            properties: { data: { type: 'array', items: TOKEN_OUT }, iterator: nullableStr, prevIterator: nullableStr, done: { type: 'boolean' } },
            required: ['data', 'done'],
          },
          ...errorResponses(),
        },
      },
    },
    async (req) => {
      const page = await d.store.listApiTokens(toListQuery(req.query, 'descending'));
      return { ...page, data: page.data.map(presentToken) };
    },
  );

  app.delete<{ Params: { token_id: string } }>(
    '/api/v1/token/:token_id',
    {
      schema: {
        operationId: 'hookwell.token.revoke',
        summary: 'Revoke an API token (admin token only); its next request is refused',
        tags,
        params: { type: 'object', properties: { token_id: { type: 'string', maxLength: 64 } }, required: ['token_id'] },
        response: { 204: { type: 'null' }, ...errorResponses() },
      },
    },
    async (req, reply) => {
      if (!(await d.store.revokeApiToken(req.params.token_id, Date.now()))) throw new NotFoundError('API token', req.params.token_id);
      return reply.code(204).send();
    },
  );
}
