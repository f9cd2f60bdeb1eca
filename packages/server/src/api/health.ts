import type { FastifyInstance } from 'fastify';
import { UnavailableError } from '../domain/errors.js';
import type { Store } from '../store/store.js';
import type { Deps } from './http.js';

/** What readiness knows beside the database: whether the process has begun to stop. */
export interface Readiness {
  draining: boolean;
}

export function healthRoutes(app: FastifyInstance, d: Deps): void {
  app.get(
    '/api/v1/health',
    {
      config: { public: true },
      schema: {
        operationId: 'v1.health.get',
        summary: 'Answers 204 while the server and its database work; 503 while the database is unreachable or cannot write',
        tags: ['Health'],
        security: [],
        response: { 204: { type: 'null', description: 'Healthy' } },
      },
    },
    async (_req, reply) => {
      await d.store.checkHealth();
      return reply.code(204).send();
    },
  );
  probeRoutes(app, d.store, d.readiness);
}

const PROBE_ANSWER = {
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string' },
    checks: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

/**
 * For load balancers and orchestrators: /health/live answers while the process does;
 * /health/ready only while it should be sent work (its database answers and can write, its
 * schema is the one this code knows, and it is not stopping). Served by the API and, with
 * HOOKWELL_HEALTH_PORT, on a port of their own (a worker's only listener).
 */
export function probeRoutes(app: FastifyInstance, store: Store, readiness: Readiness): void {
  app.get(
    '/health/live',
    {
      config: { public: true },
      schema: {
        operationId: 'hookwell.health.live',
        summary: 'Answers 200 while the process runs (a liveness probe); it looks at nothing else',
        tags: ['Health'],
        security: [],
        response: { 200: PROBE_ANSWER },
      },
    },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/health/ready',
    {
      config: { public: true },
      schema: {
        operationId: 'hookwell.health.ready',
        summary: 'Answers 200 while the process should be sent work, 503 (naming the failing check) while its database is unreachable or cannot write, its schema is not the one it knows, or it is stopping',
        tags: ['Health'],
        security: [],
        response: { 200: PROBE_ANSWER, 503: PROBE_ANSWER },
      },
    },
    async (_req, reply) => {
      const checks: Record<string, string> = {};
      let ready = true;
      try {
        await store.checkHealth();
        checks.database = 'ok';
        const { version, latest } = await store.schemaVersion();
        checks.schema = version === latest ? `version ${version}` : `version ${version}, this Hookwell's is ${latest}`;
        ready = version === latest;
      } catch (err) {
        // A public answer: a reason Hookwell wrote, never a driver's message with hosts in it.
        checks.database = err instanceof UnavailableError ? err.message : 'unreachable';
        ready = false;
      }
      if (readiness.draining) {
        checks.draining = 'stopping: no new work is taken';
        ready = false;
      }
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
    },
  );
}
