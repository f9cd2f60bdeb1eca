// What the generated OpenAPI document says beyond the route schemas: the answers and the
// header every Svix operation documents, so clients generated from Hookwell's document and
// from Svix's handle the same cases.
import { IDEMPOTENCY_TTL_MS } from './http.js';

type Operation = {
  parameters?: { in: string; name: string }[];
  responses?: Record<string, { description?: string; content?: unknown }>;
  security?: unknown[];
};

/** Svix's wording for each answer a route schema names only by its body. */
const DESCRIPTIONS: Record<string, string> = {
  '400': 'Bad request',
  '401': 'Unauthorized',
  '403': 'Forbidden',
  '404': 'Not Found',
  '409': 'Conflict',
  '413': 'Payload too large',
  '422': 'Validation Error',
};

const ERROR_BODY = { 'application/json': { schema: { $ref: '#/components/schemas/HttpErrorOut' } } };

const TOO_MANY = {
  description:
    'Too Many Requests. Hookwell sets no rate limit on its API and does not answer 429 itself; a proxy in front of it may. ' +
    'Listed as Svix lists it, so clients handle it alike.',
  content: ERROR_BODY,
};

export const IDEMPOTENCY_HEADER = {
  in: 'header',
  name: 'idempotency-key',
  required: false,
  schema: { type: 'string' },
  description:
    `The request's idempotency key: the same POST with the same key and body within ${IDEMPOTENCY_TTL_MS / 3_600_000} hours gets the first answer again ` +
    '(with `idempotent-replayed: true`); with another body, 409.',
};

/** Adds to each API operation the 401/403/429 answers and, on a POST, the idempotency-key header. */
export function completeDocument<T extends object>(doc: T): T {
  const paths = (doc as { paths?: Record<string, Record<string, Operation>> }).paths ?? {};
  for (const [path, methods] of Object.entries(paths)) {
    if (!path.startsWith('/api/')) continue;
    for (const [method, op] of Object.entries(methods)) {
      const responses = (op.responses ??= {});
      for (const [status, answer] of Object.entries(responses)) {
        if (DESCRIPTIONS[status] && (answer.description === undefined || answer.description === 'Default Response')) answer.description = DESCRIPTIONS[status];
      }
      // Public operations (the health check) answer no one's credentials.
      const secured = op.security === undefined || op.security.length > 0;
      if (secured) {
        responses['401'] ??= { description: DESCRIPTIONS['401']!, content: ERROR_BODY };
        responses['403'] ??= { description: DESCRIPTIONS['403']!, content: ERROR_BODY };
      }
      responses['429'] ??= TOO_MANY;
      if (method === 'post') {
        const parameters = (op.parameters ??= []);
        if (!parameters.some((p) => p.in === 'header' && p.name === 'idempotency-key')) parameters.push({ ...IDEMPOTENCY_HEADER });
      }
    }
  }
  return doc;
}
