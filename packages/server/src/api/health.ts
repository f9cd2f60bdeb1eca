import type { FastifyInstance } from 'fastify';
import type { Deps } from './http.js';

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
}
