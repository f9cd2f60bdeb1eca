import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../domain/errors.js';
import type { TaskKind, TaskStatus } from '../domain/types.js';
import { errorResponses, listQuery, ref } from './schemas.js';
import { listQuery as toListQuery, type Deps } from './http.js';
import { presentTaskWithData } from './present.js';

const tags = ['Background Task'];
const TASK_ID = '^qtask_[A-Za-z0-9]{27}$';

export function taskRoutes(app: FastifyInstance, d: Deps): void {
  app.get<{ Querystring: { limit?: number; iterator?: string; order?: string; status?: TaskStatus; task?: TaskKind } }>(
    '/api/v1/background-task',
    {
      schema: {
        operationId: 'v1.background-task.list',
        summary: 'List background tasks, newest first',
        description: 'The tasks of every application: recover, replay, bulk replay and purging content.',
        tags,
        querystring: listQuery({
          status: { type: 'string', enum: ['running', 'finished', 'failed'], description: 'Filter the response based on the status.' },
          task: {
            type: 'string',
            enum: ['endpoint.replay', 'endpoint.recover', 'application.stats', 'message.broadcast', 'sdk.generate', 'event-type.aggregate', 'application.purge_content', 'endpoint.bulk-replay'],
            description: 'Filter the response based on the type.',
          },
        }),
        response: { 200: ref('ListResponse_BackgroundTaskOut_'), ...errorResponses() },
      },
    },
    async (req) => {
      const page = await d.store.listTasks(toListQuery(req.query, 'descending'), { status: req.query.status, task: req.query.task });
      return { ...page, data: page.data.map(presentTaskWithData) };
    },
  );

  app.get<{ Params: { task_id: string } }>(
    '/api/v1/background-task/:task_id',
    {
      schema: {
        operationId: 'v1.background-task.get',
        summary: 'Get a background task: its status and what it did so far',
        tags,
        params: { type: 'object', properties: { task_id: { type: 'string', pattern: TASK_ID, description: "The task's id" } }, required: ['task_id'] },
        response: { 200: ref('BackgroundTaskOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const t = await d.store.getTask(req.params.task_id);
      if (t === null) throw new NotFoundError('background task', req.params.task_id);
      return presentTaskWithData(t);
    },
  );
}
