import type { FastifyInstance } from 'fastify';
import type { Deps } from './http.js';

export function healthRoutes(app: FastifyInstance, d: Deps): void {
  app.get(
    '/api/v1/health',
    {
      schema: {
        operationId: 'v1.health.get',
        summary: 'Answers 204 while the server and its database work',
        tags: ['Health'],
        security: [],
        response: { 204: { type: 'null', description: 'Healthy' } },
      },
    },
    async (_req, reply) => {
      await d.store.getMeta('schema');
      return reply.code(204).send();
    },
  );
}
