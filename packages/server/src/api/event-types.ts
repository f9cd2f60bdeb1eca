import type { FastifyInstance } from 'fastify';
import { NotFoundError, ValidationError } from '../domain/errors.js';
import { compilePayloadSchema, newestSchema, payloadSchemaProblems, SchemaError } from '../domain/payloads.js';
import { checkName } from '../domain/names.js';
import type { EventTypeInput, Store } from '../store/store.js';
import type { EventType } from '../domain/types.js';
import { fromCatalog, fromOpenApi, toOpenApi, type ImportedEventType } from '../domain/event-type-import.js';
import { loadCatalog } from '../catalog.js';
import { BadRequestError } from '../domain/errors.js';
import { errorResponses, listQuery, ref } from './schemas.js';
import { listQuery as toListQuery, tooDeep, type Deps } from './http.js';
import { depthExceeds, tooDeepAt } from '../domain/json-limits.js';
import { presentEventType, presentTaskWithData } from './present.js';

interface EventTypeBody {
  name?: string;
  description?: string;
  archived?: boolean;
  deprecated?: boolean;
  schemas?: Record<string, unknown> | null;
  featureFlags?: string[] | null;
  featureFlag?: string | null;
  groupName?: string | null;
  validate?: boolean;
}

/** Svix's Duration: whole seconds and nanoseconds. */
interface Duration {
  secs: number;
  nanos: number;
}

// Stored as seconds to the millisecond, the dispatcher's resolution.
const fromDuration = (d: Duration): number => d.secs + Math.round(d.nanos / 1e6) / 1000;
const toDuration = (seconds: number): Duration => {
  const secs = Math.floor(seconds);
  return { secs, nanos: Math.round((seconds - secs) * 1000) * 1e6 };
};

const params = { type: 'object', properties: { event_type_name: { type: 'string' } }, required: ['event_type_name'] };
const tags = ['Event Type'];

function fields(b: EventTypeBody): Partial<EventTypeInput> {
  const f: Partial<EventTypeInput> = {};
  if (b.description !== undefined) f.description = b.description;
  if (b.archived !== undefined) f.archived = b.archived;
  if (b.deprecated !== undefined) f.deprecated = b.deprecated;
  if (b.schemas !== undefined) f.schemas = b.schemas;
  if (b.featureFlags !== undefined) f.featureFlags = b.featureFlags;
  else if (b.featureFlag !== undefined) f.featureFlags = b.featureFlag === null ? null : [b.featureFlag];
  if (b.groupName !== undefined) f.groupName = b.groupName;
  if (b.validate !== undefined) f.validate = b.validate;
  return f;
}

function fullInput(name: string, b: EventTypeBody): EventTypeInput {
  return {
    name,
    description: b.description ?? '',
    archived: b.archived ?? false,
    deprecated: b.deprecated ?? false,
    schemas: b.schemas ?? null,
    featureFlags: b.featureFlags ?? (b.featureFlag ? [b.featureFlag] : null),
    groupName: b.groupName ?? null,
    validate: b.validate ?? false,
  };
}

/**
 * An event type that validates its messages needs a schema that compiles, its patterns
 * included (they must run on the linear-time engine): checked before anything is written.
 * `at` is where the event type is in the request body.
 */
function checkValidation(t: { schemas: Record<string, unknown> | null; validate: boolean }, at: string[] = ['body']): void {
  if (!t.validate) return;
  const schema = newestSchema(t.schemas);
  if (schema === null) throw ValidationError.field([...at, 'validate'], 'validate: true needs a JSON Schema in schemas', 'value_error.validate');
  const version = Object.keys(t.schemas!).find((v) => t.schemas![v] === schema)!;
  try {
    compilePayloadSchema(schema);
  } catch (err) {
    if (!(err instanceof SchemaError)) throw err;
    throw ValidationError.field([...at, 'schemas', version], `not a usable JSON Schema: ${err.message}`, 'value_error.schema');
  }
}

/** Same content, whatever the key order: JSON Schemas compare by meaning here. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function differs(existing: EventType, e: ImportedEventType): boolean {
  return (
    existing.archived ||
    existing.description !== e.description ||
    existing.groupName !== e.groupName ||
    existing.deprecated !== e.deprecated ||
    canonical(existing.featureFlags) !== canonical(e.featureFlags) ||
    // One stored before JSON input was held to the depth limit is too deep to walk; the
    // imported one, within it, replaces it.
    depthExceeds(existing.schemas) ||
    canonical(existing.schemas) !== canonical(e.schemas)
  );
}

export interface ImportResult {
  /** Names of the event types created, changed or (with replaceAll) archived. */
  modified: string[];
  /** With dryRun: what would be written. */
  toModify: ImportedEventType[] | null;
}

/**
 * Creates or updates event types so they match `entries`; running it again changes nothing.
 * An existing type keeps its `validate` flag; an archived one is brought back. With
 * `replaceAll`, types not in `entries` are archived. With `dryRun`, nothing is written.
 */
export async function importEventTypes(
  store: Store,
  entries: ImportedEventType[],
  opts: { dryRun?: boolean; replaceAll?: boolean; onChange?: (name: string) => void } = {},
): Promise<ImportResult> {
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.name)) throw ValidationError.field(['body'], `event type "${e.name}" appears twice`);
    seen.add(e.name);
  }
  const changes: { entry: ImportedEventType; existing: EventType | null }[] = [];
  for (const entry of entries) {
    const existing = await store.getEventType(entry.name);
    if (existing === null || differs(existing, entry)) changes.push({ entry, existing });
    // A type that validates keeps doing so: its new schema must compile.
    if (existing?.validate) checkValidation({ schemas: entry.schemas, validate: true }, ['body', entry.name]);
  }
  const archive: string[] = [];
  if (opts.replaceAll) {
    for (let iterator: string | null = null; ; ) {
      const page = await store.listEventTypes({ limit: 250, iterator, order: 'ascending' }, false);
      for (const t of page.data) if (!seen.has(t.name)) archive.push(t.name);
      if (page.done || page.iterator === null) break;
      iterator = page.iterator;
    }
  }
  const modified = [...changes.map((c) => c.entry.name), ...archive];
  if (opts.dryRun) return { modified, toModify: changes.map((c) => c.entry) };
  for (const { entry, existing } of changes) {
    const fields = { ...entry, archived: false };
    if (existing === null) await store.createEventType({ ...fields, validate: false });
    else await store.updateEventType(entry.name, fields);
    opts.onChange?.(entry.name);
  }
  for (const name of archive) {
    await store.updateEventType(name, { archived: true });
    opts.onChange?.(name);
  }
  return { modified, toModify: null };
}

interface ImportBody {
  catalog?: string;
  eventTypes?: unknown[];
  spec?: unknown;
  specRaw?: string | null;
  dryRun?: boolean;
  replaceAll?: boolean;
}

/** The event types a request names: a built-in catalogue, a catalogue document, or an OpenAPI document. */
function entriesOf(b: ImportBody): ImportedEventType[] {
  const given = [b.catalog, b.eventTypes, b.spec ?? undefined, b.specRaw ?? undefined].filter((v) => v !== undefined).length;
  if (given !== 1) {
    throw new BadRequestError('send exactly one of catalog (a built-in catalogue\'s name), eventTypes, spec or specRaw', 'invalid_import');
  }
  if (b.catalog !== undefined) {
    try {
      return fromCatalog(loadCatalog(b.catalog));
    } catch (err) {
      throw ValidationError.field(['body', 'catalog'], (err as Error).message);
    }
  }
  if (b.eventTypes !== undefined) return fromCatalog(b.eventTypes);
  if (b.spec !== undefined && b.spec !== null) return fromOpenApi(b.spec);
  let parsed: unknown;
  try {
    parsed = JSON.parse(b.specRaw!);
  } catch (err) {
    throw ValidationError.field(['body', 'specRaw'], `is not a JSON document: ${(err as Error).message}`);
  }
  // Text inside the body: the body parser's depth limit has not seen into it.
  if (tooDeepAt(b.specRaw!) !== -1) throw tooDeep(b.specRaw!, ['body', 'specRaw'], 'specRaw');
  return fromOpenApi(parsed);
}

export function eventTypeRoutes(app: FastifyInstance, d: Deps): void {
  const importBody = {
    type: 'object',
    properties: {
      catalog: { type: 'string', maxLength: 64, description: 'A built-in catalogue: "health"' },
      eventTypes: {
        type: 'array',
        items: { type: 'object' },
        maxItems: 1000,
        description: 'A catalogue document: [{name, description, groupName, schemas}]; description at most 4096 characters',
      },
      spec: { type: ['object', 'null'], description: 'An OpenAPI 3.1 document whose webhooks become event types' },
      specRaw: { type: ['string', 'null'], description: 'The same, as JSON text' },
      dryRun: { type: 'boolean', default: false },
      replaceAll: { type: 'boolean', default: false, description: 'Archive the event types not imported' },
    },
  };
  const importResponse = {
    type: 'object',
    properties: {
      data: {
        type: 'object',
        properties: {
          modified: { type: 'array', items: { type: 'string' } },
          // Svix's EventTypeFromOpenApi: what a dry run would write for each event type.
          to_modify: {
            type: ['array', 'null'],
            items: {
              type: 'object',
              properties: {
                name: { type: 'string' },
                description: { type: 'string' },
                schemas: { type: ['object', 'null'], additionalProperties: true },
                deprecated: { type: 'boolean' },
                groupName: { type: ['string', 'null'] },
                featureFlags: { type: ['array', 'null'], items: { type: 'string' } },
              },
              required: ['name', 'description', 'deprecated'],
            },
          },
        },
      },
    },
  };
  for (const [url, operationId] of [
    ['/api/v1/event-type/import', 'v1.event-type.import'],
    ['/api/v1/event-type/import/openapi', 'v1.event-type.import-openapi'],
  ] as const) {
    app.post<{ Body: ImportBody }>(
      url,
      {
        schema: {
          operationId,
          summary:
            operationId === 'v1.event-type.import'
              ? 'Create or update event types from a built-in catalogue, a catalogue document or an OpenAPI document'
              : "Create or update event types from an OpenAPI document's webhooks",
          tags,
          body: importBody,
          response: { 200: importResponse, ...errorResponses() },
        },
      },
      async (req) => {
        const result = await importEventTypes(d.store, entriesOf(req.body), {
          dryRun: req.body.dryRun,
          replaceAll: req.body.replaceAll,
          onChange: (name) => d.payloads.forget(name),
        });
        return { data: { modified: result.modified, to_modify: result.toModify } };
      },
    );
  }

  // For an editor of schemas, checking as the operator types: the compile `validate: true`
  // runs on save, so what it answers here is what saving would meet. Admin only (not in
  // PORTAL_ROUTES): a portal reads event types, it does not write them.
  app.post<{ Body: { schemas: Record<string, Record<string, unknown>> } }>(
    '/api/v1/event-type/check-schema',
    {
      schema: {
        operationId: 'hookwell.event-type.check-schema',
        summary: 'Check that JSON Schemas compile as payload schemas, without saving anything',
        description:
          'Each version is compiled as an event type with validate: true compiles it (its patterns on RE2, its $refs resolved). ' +
          '422 names each problem under body.schemas.<version>: type value_error.schema for what saving with validate: true would refuse, ' +
          'value_error.schema.ignored for a part the compiled schema would skip (an unknown keyword or format), which checks nothing.',
        tags,
        body: ref('EventTypeSchemaCheckIn'),
        response: { 200: ref('EventTypeSchemaCheckOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const problems = Object.entries(req.body.schemas).flatMap(([version, schema]) =>
        payloadSchemaProblems(schema).map((p) => ({
          loc: ['body', 'schemas', version, ...p.path],
          msg: p.ignored ? `${p.message}: payloads would be checked without it` : `not a usable JSON Schema: ${p.message}`,
          type: p.ignored ? 'value_error.schema.ignored' : 'value_error.schema',
        })),
      );
      if (problems.length > 0) throw new ValidationError(problems);
      return { ok: true };
    },
  );

  app.get<{ Querystring: { limit?: number; iterator?: string; order?: string; include_archived?: boolean; with_content?: boolean } }>(
    '/api/v1/event-type',
    {
      schema: {
        operationId: 'v1.event-type.list',
        summary: 'List event types',
        tags,
        querystring: listQuery({ include_archived: { type: 'boolean', default: false }, with_content: { type: 'boolean', default: false } }),
        response: { 200: ref('ListResponse_EventTypeOut_'), ...errorResponses() },
      },
    },
    async (req) => {
      const page = await d.store.listEventTypes(toListQuery(req.query, 'ascending'), req.query.include_archived === true);
      return {
        ...page,
        data: page.data.map((t) => (req.query.with_content ? presentEventType(t) : { ...presentEventType(t), schemas: null })),
      };
    },
  );

  app.post<{ Body: EventTypeBody & { name: string } }>(
    '/api/v1/event-type',
    {
      schema: {
        operationId: 'v1.event-type.create',
        summary: 'Create an event type',
        tags,
        body: ref('EventTypeIn'),
        response: { 201: ref('EventTypeOut'), ...errorResponses() },
      },
    },
    async (req, reply) => {
      const input = fullInput(req.body.name, req.body);
      checkValidation(input);
      const created = await d.store.createEventType(input);
      d.payloads.forget(created.name);
      req.auditIds = { targetId: created.name };
      return reply.code(201).send(presentEventType(created));
    },
  );

  app.get<{ Params: { event_type_name: string } }>(
    '/api/v1/event-type/:event_type_name',
    { schema: { operationId: 'v1.event-type.get', summary: 'Get an event type', tags, params, response: { 200: ref('EventTypeOut'), ...errorResponses() } } },
    async (req) => {
      const t = await d.store.getEventType(req.params.event_type_name);
      if (t === null) throw new NotFoundError('event type', req.params.event_type_name);
      return presentEventType(t);
    },
  );

  app.put<{ Params: { event_type_name: string }; Body: EventTypeBody }>(
    '/api/v1/event-type/:event_type_name',
    {
      schema: {
        operationId: 'v1.event-type.upsert',
        summary: 'Create or replace an event type',
        tags,
        params,
        body: ref('EventTypeUpsertIn'),
        response: { 200: ref('EventTypeOut'), 201: ref('EventTypeOut'), ...errorResponses() },
      },
    },
    async (req, reply) => {
      const name = req.params.event_type_name;
      const existing = await d.store.getEventType(name);
      if (existing === null) checkName(name, ['path', 'event_type_name']);
      const input = fullInput(name, req.body);
      checkValidation(input);
      const { name: _ignored, ...replacement } = input;
      const result = existing === null ? await d.store.createEventType(input) : await d.store.updateEventType(name, replacement);
      d.payloads.forget(name);
      return reply.code(existing === null ? 201 : 200).send(presentEventType(result));
    },
  );

  app.patch<{ Params: { event_type_name: string }; Body: EventTypeBody }>(
    '/api/v1/event-type/:event_type_name',
    {
      schema: {
        operationId: 'v1.event-type.patch',
        summary: 'Update some fields of an event type',
        tags,
        params,
        body: ref('EventTypePatch'),
        response: { 200: ref('EventTypeOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const existing = await d.store.getEventType(req.params.event_type_name);
      if (existing === null) throw new NotFoundError('event type', req.params.event_type_name);
      const changes = fields(req.body);
      checkValidation({ ...existing, ...changes });
      const updated = await d.store.updateEventType(req.params.event_type_name, changes);
      d.payloads.forget(updated.name);
      return presentEventType(updated);
    },
  );

  app.delete<{ Params: { event_type_name: string }; Querystring: { expunge?: boolean } }>(
    '/api/v1/event-type/:event_type_name',
    {
      schema: {
        operationId: 'v1.event-type.delete',
        summary: 'Archive an event type, or delete it for good with expunge=true',
        tags,
        params,
        querystring: { type: 'object', properties: { expunge: { type: 'boolean', default: false } } },
        response: { 204: { type: 'null', description: 'Done' }, ...errorResponses() },
      },
    },
    async (req, reply) => {
      const name = req.params.event_type_name;
      if ((await d.store.getEventType(name)) === null) throw new NotFoundError('event type', name);
      if (req.query.expunge) await d.store.deleteEventType(name);
      else await d.store.updateEventType(name, { archived: true });
      d.payloads.forget(name);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { event_type_name: string } }>(
    '/api/v1/event-type/:event_type_name/retry-schedule',
    {
      schema: {
        operationId: 'v1.event-type.get-retry-schedule',
        summary: "Get an event type's retry schedule",
        tags,
        params,
        response: { 200: ref('RetryScheduleInOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const schedule = await d.store.getRetrySchedule(req.params.event_type_name);
      if (schedule === undefined) throw new NotFoundError('event type', req.params.event_type_name);
      return { retrySchedule: schedule === null ? null : schedule.map(toDuration) };
    },
  );

  app.put<{ Params: { event_type_name: string }; Body: { retrySchedule?: Duration[] | null } }>(
    '/api/v1/event-type/:event_type_name/retry-schedule',
    {
      schema: {
        operationId: 'v1.event-type.set-retry-schedule',
        summary: "Set an event type's retry schedule, which its deliveries then follow",
        tags,
        params,
        body: ref('RetryScheduleInOut'),
        response: { 200: ref('RetryScheduleInOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const name = req.params.event_type_name;
      const given = req.body.retrySchedule ?? null;
      const schedule = given === null ? null : given.map(fromDuration);
      if (!(await d.store.setRetrySchedule(name, schedule))) throw new NotFoundError('event type', name);
      req.auditIds = { targetId: name };
      return { retrySchedule: schedule === null ? null : schedule.map(toDuration) };
    },
  );

  app.post(
    '/api/v1/event-type/export/openapi',
    {
      schema: {
        operationId: 'v1.event-type.export-openapi',
        summary: 'Export the event types as an OpenAPI document with one webhook each',
        description:
          'Svix answers with a background task; Hookwell builds the document at once and answers the finished task, the document in `data.openapi`. Archived types are left out.',
        tags,
        response: { 202: ref('ExportEventTypeOut'), ...errorResponses() },
      },
    },
    async (_req, reply) => {
      const types: EventType[] = [];
      let iterator: string | null = null;
      do {
        const page = await d.store.listEventTypes({ limit: 250, iterator, order: 'ascending' }, false);
        types.push(...page.data);
        iterator = page.done ? null : page.iterator;
      } while (iterator !== null);
      return reply.code(202).send(presentTaskWithData(await d.core.tasks.finished(null, 'sdk.generate', { openapi: toOpenApi(types) })));
    },
  );
}
