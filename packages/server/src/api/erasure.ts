import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../domain/errors.js';
import type { Identifiers } from '../domain/erasure.js';
import { errorResponses, ref } from './schemas.js';
import type { Deps } from './http.js';
import { requireApp } from './applications.js';

interface EraseBody {
  identifiers?: Identifiers;
  dataId?: string;
}

export function erasureRoutes(app: FastifyInstance, d: Deps): void {
  app.post<{ Params: { app_id: string }; Body: EraseBody }>(
    '/api/v1/app/:app_id/erase',
    {
      schema: {
        operationId: 'hookwell.application.erase',
        summary: "Erase one person's data from the application: payloads, attempts' response bodies, backfill records",
        description:
          'Deletes at once, from the database, the content of every message of this application about the person ' +
          '(by identifiers found in payloads, or by dataId) and the records of their backfills (user_id). ' +
          'What remains is what the messages and attempts were, when, and to whom: ids, event types, times, status codes. ' +
          "Deliveries of those messages not yet made are canceled. Other applications' data is never read.",
        tags: ['Application'],
        params: { type: 'object', properties: { app_id: { type: 'string' } }, required: ['app_id'] },
        body: ref('EraseIn'),
        response: { 200: ref('EraseOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const b = req.body;
      if (b.identifiers === undefined && b.dataId === undefined) {
        throw ValidationError.field(['body'], 'give identifiers (such as {"user_id": "U1"}) or dataId, or both, to say whose data to erase', 'value_error.missing');
      }
      const a = await requireApp(d, req);
      const erased = await d.core.erasure.erase(a.id, { identifiers: b.identifiers, dataId: b.dataId });
      return {
        messages: erased.messages,
        attempts: erased.attempts,
        backfillRecords: erased.backfillRecords,
        deliveriesCanceled: erased.deliveries,
        backfills: erased.backfills,
        msgIds: erased.msgIds,
        more: erased.more,
      };
    },
  );
}
