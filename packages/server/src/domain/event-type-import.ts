import type { EventType } from './types.js';
import { newestSchema } from './payloads.js';
import { ValidationError } from './errors.js';
import { LIMITS } from './limits.js';
import { isName } from './names.js';
import { MAX_JSON_DEPTH } from './json-limits.js';

/** An event type as imported: from a catalogue file, or from one webhook of an OpenAPI document. */
export interface ImportedEventType {
  name: string;
  description: string;
  groupName: string | null;
  deprecated: boolean;
  featureFlags: string[] | null;
  schemas: Record<string, unknown>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(loc: string[], msg: string): never {
  throw ValidationError.field(['body', ...loc], msg);
}

/** Event types from a catalogue document: `{ "eventTypes": [{ name, description, groupName, schemas }, …] }`. */
export function fromCatalog(entries: unknown[]): ImportedEventType[] {
  return entries.map((e, i) => {
    const loc = ['eventTypes', String(i)];
    if (!isObject(e)) bad(loc, 'must be an object');
    if (typeof e.name !== 'string' || !isName(e.name)) bad([...loc, 'name'], 'must be an event type name (letters, digits, "-", "_" and ".")');
    if (e.description !== undefined && typeof e.description !== 'string') bad([...loc, 'description'], 'must be a string');
    if (typeof e.description === 'string' && e.description.length > LIMITS.description) bad([...loc, 'description'], `must be at most ${LIMITS.description} characters`);
    if (e.groupName !== undefined && e.groupName !== null && typeof e.groupName !== 'string') bad([...loc, 'groupName'], 'must be a string');
    if (typeof e.groupName === 'string' && !isName(e.groupName)) bad([...loc, 'groupName'], 'must be 1 to 256 letters, digits, "-", "_" and "."');
    if (!isObject(e.schemas)) bad([...loc, 'schemas'], 'must be an object of JSON Schemas keyed by version, e.g. {"1": {…}}');
    return {
      name: e.name,
      description: (e.description as string | undefined) ?? '',
      groupName: (e.groupName as string | null | undefined) ?? null,
      deprecated: e.deprecated === true,
      featureFlags: null,
      schemas: e.schemas,
    };
  });
}

/**
 * Event types from the `webhooks` of an OpenAPI 3.1 document, as Svix imports them: the
 * webhook's key is the event type's name, its operation's description (or summary) the
 * description, and the JSON request body's schema (with `#/components/…` references
 * resolved) its schema version 1, carrying the body's example(s) as `examples`.
 * `x-svix-group-name` and `x-svix-feature-flag` are honoured.
 */
export function fromOpenApi(spec: unknown): ImportedEventType[] {
  if (!isObject(spec)) bad(['spec'], 'must be an OpenAPI document (a JSON object)');
  if (!isObject(spec.webhooks)) bad(['spec', 'webhooks'], 'the document has no "webhooks" section (OpenAPI 3.1) to import event types from');
  const out: ImportedEventType[] = [];
  for (const [name, item] of Object.entries(spec.webhooks)) {
    const loc = ['spec', 'webhooks', name];
    if (!isName(name)) bad(loc, 'the webhook name is not a valid event type name (letters, digits, "-", "_" and ".")');
    const op = isObject(item) ? (item.post ?? Object.values(item).find(isObject)) : undefined;
    if (!isObject(op)) bad(loc, 'has no operation');
    const media = isObject(op.requestBody) && isObject(op.requestBody.content) ? op.requestBody.content['application/json'] : undefined;
    const raw = isObject(media) ? media.schema : undefined;
    if (!isObject(raw)) bad([...loc, 'requestBody'], 'has no application/json request body schema');
    const schema = resolveRefs(raw, spec, [...loc, 'requestBody']) as Record<string, unknown>;
    const examples: unknown[] = [];
    if (isObject(media) && media.example !== undefined) examples.push(media.example);
    if (isObject(media) && isObject(media.examples)) {
      for (const ex of Object.values(media.examples)) if (isObject(ex) && ex.value !== undefined) examples.push(ex.value);
    }
    if (examples.length > 0 && !Array.isArray(schema.examples)) schema.examples = examples;
    const flag = op['x-svix-feature-flag'];
    const description = String(op.description ?? op.summary ?? '');
    if (description.length > LIMITS.description) bad([...loc, 'description'], `must be at most ${LIMITS.description} characters`);
    const group = op['x-svix-group-name'];
    if (typeof group === 'string' && !isName(group)) bad([...loc, 'x-svix-group-name'], 'must be 1 to 256 letters, digits, "-", "_" and "."');
    if (typeof flag === 'string' && !isName(flag)) bad([...loc, 'x-svix-feature-flag'], 'must be 1 to 256 letters, digits, "-", "_" and "."');
    out.push({
      name,
      description,
      groupName: typeof op['x-svix-group-name'] === 'string' ? op['x-svix-group-name'] : null,
      deprecated: op.deprecated === true,
      featureFlags: typeof flag === 'string' ? [flag] : null,
      schemas: { '1': schema },
    });
  }
  return out;
}

/**
 * Most values one webhook's schema may hold once its references are resolved. Each
 * reference is copied in where it is used, so a chain of schemas that each use the next
 * twice doubles at every step: 40 of them would be 2^40 values from a small document.
 */
export const MAX_RESOLVED_VALUES = 100_000;

/**
 * Most levels a schema may nest once resolved: stored under `schemas` and a version, it is
 * shown (and may be sent back) two levels down in a body held to MAX_JSON_DEPTH.
 */
const MAX_SCHEMA_DEPTH = MAX_JSON_DEPTH - 2;

/**
 * A copy of `node` with local `$ref`s replaced by what they point to (cycles are refused),
 * held to MAX_SCHEMA_DEPTH and MAX_RESOLVED_VALUES; so its recursion is bounded too.
 */
function resolveRefs(node: unknown, root: Record<string, unknown>, loc: string[], seen: string[] = [], budget = { values: 0 }, depth = 1): unknown {
  if (++budget.values > MAX_RESOLVED_VALUES) {
    bad(loc, `with its references resolved, the schema holds more than ${MAX_RESOLVED_VALUES} values; refer to shared parts fewer times`);
  }
  if (typeof node !== 'object' || node === null) return node;
  if (depth > MAX_SCHEMA_DEPTH) {
    bad(loc, `with its references resolved, the schema nests objects and arrays more than ${MAX_SCHEMA_DEPTH} levels deep (${MAX_JSON_DEPTH} levels with the "schemas" and version around it)`);
  }
  if (Array.isArray(node)) return node.map((n) => resolveRefs(n, root, loc, seen, budget, depth + 1));
  if (!isObject(node)) return node;
  if (typeof node.$ref === 'string') {
    const ref = node.$ref;
    if (!ref.startsWith('#/')) bad(loc, `cannot follow the reference "${ref}": only references within the document are resolved`);
    if (seen.includes(ref)) bad(loc, `the reference "${ref}" refers to itself; recursive schemas cannot be imported`);
    let target: unknown = root;
    for (const part of ref.slice(2).split('/')) {
      let name: string;
      try {
        name = decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~');
      } catch {
        bad(loc, `the reference "${ref}" is not a valid JSON pointer (a malformed %-escape)`);
      }
      target = isObject(target) && Object.hasOwn(target, name) ? target[name] : undefined;
    }
    if (target === undefined) bad(loc, `the reference "${ref}" points at nothing`);
    const { $ref: _ref, ...siblings } = node;
    // What it points to takes its place, at its level.
    const resolved = resolveRefs(target, root, loc, [...seen, ref], budget, depth);
    return Object.keys(siblings).length === 0 ? resolved : { ...(resolved as object), ...(resolveRefs(siblings, root, loc, seen, budget, depth) as object) };
  }
  // Built from entries, so a member named "__proto__" stays a member.
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, resolveRefs(v, root, loc, seen, budget, depth + 1)]));
}

/**
 * An OpenAPI 3.1 document with one webhook per event type, its newest schema as the request
 * body: what fromOpenApi reads back, and what Svix's export produces (`x-svix-*` extensions
 * for the group and feature flag). Types without a schema get an empty object schema.
 */
export function toOpenApi(types: EventType[]): Record<string, unknown> {
  const webhooks: Record<string, unknown> = {};
  for (const t of types) {
    webhooks[t.name] = {
      post: {
        operationId: t.name,
        summary: t.name,
        description: t.description,
        ...(t.deprecated ? { deprecated: true } : {}),
        ...(t.groupName !== null ? { 'x-svix-group-name': t.groupName } : {}),
        ...(t.featureFlags !== null && t.featureFlags.length > 0 ? { 'x-svix-feature-flag': t.featureFlags[0] } : {}),
        requestBody: { content: { 'application/json': { schema: newestSchema(t.schemas) ?? { type: 'object' } } } },
        responses: { '2XX': { description: 'Return any 2XX status to indicate that the data was received successfully' } },
      },
    };
  }
  return { openapi: '3.1.0', info: { title: 'Webhooks', version: '1.0.0' }, paths: {}, webhooks };
}
