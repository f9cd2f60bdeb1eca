import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { EventType } from './types.js';
import { ValidationError, type FieldProblem } from './errors.js';
import { linearRegExpEngine } from './schema-regexp.js';

/**
 * Payload validation against event type schemas. A schema is compiled once per version
 * of its event type (by `updatedAt`), never per message. Draft 2020-12 is the default;
 * a schema that names draft-07 (or earlier) in `$schema` is compiled as such.
 */
export class SchemaError extends Error {}

/** The newest version's schema of an event type, or null when it has none. */
export function newestSchema(schemas: Record<string, unknown> | null): Record<string, unknown> | null {
  if (schemas === null) return null;
  const versions = Object.keys(schemas).filter((v) => typeof schemas[v] === 'object' && schemas[v] !== null);
  if (versions.length === 0) return null;
  versions.sort((x, y) => Number(y) - Number(x) || (y < x ? -1 : 1));
  return schemas[versions[0]!] as Record<string, unknown>;
}

function configure<T extends Ajv>(ajv: T): T {
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  // Marks the properties a thin payload keeps; no effect on validity.
  ajv.addKeyword({ keyword: 'x-identifier', schemaType: 'boolean' });
  return ajv;
}

// Patterns run on a linear-time engine (see schema-regexp.ts); one it cannot run makes the
// schema fail to compile, so validate: true refuses it.
const OPTIONS = { allErrors: true, strict: false, validateFormats: true, code: { regExp: linearRegExpEngine } } as const;
// For checking a schema as it is edited: the same, without Ajv's console warnings (each
// check would print them), and a strict twin refusing what OPTIONS lets Ajv skip (unknown
// keywords and formats), to say which parts of a schema would check nothing.
const QUIET = { ...OPTIONS, logger: false } as const;
const STRICT = { ...QUIET, strictSchema: true } as const;
type Mode = 'serve' | 'quiet' | 'strict';
const instances = new Map<string, Ajv>();

function ajvFor(schema: Record<string, unknown>, mode: Mode): Ajv {
  const named = typeof schema.$schema === 'string' ? schema.$schema : '';
  const older = /draft-0[4-7]/.test(named);
  const key = `${mode}:${older ? '07' : '2020'}`;
  let ajv = instances.get(key);
  if (ajv === undefined) {
    const options = mode === 'serve' ? OPTIONS : mode === 'quiet' ? QUIET : STRICT;
    ajv = configure(older ? new Ajv(options) : new Ajv2020(options));
    instances.set(key, ajv);
  }
  return ajv;
}

// Compiled without its $id so that two event types may share one, and a schema can be
// compiled again after a change.
function withoutId(schema: Record<string, unknown>): Record<string, unknown> {
  const { $id: _id, ...body } = schema;
  return body;
}

/** Compiles a payload schema, or throws SchemaError saying why it cannot be used. */
export function compilePayloadSchema(schema: Record<string, unknown>): ValidateFunction {
  try {
    return ajvFor(schema, 'serve').compile(withoutId(schema));
  } catch (err) {
    throw new SchemaError((err as Error).message);
  }
}

export interface SchemaProblem {
  /** Where in the schema, as JSON Pointer segments, when Ajv says. */
  path: string[];
  message: string;
  /** true: the schema compiles, but this part of it is skipped when payloads are checked. */
  ignored: boolean;
}

/**
 * What compilePayloadSchema would refuse in a schema, else the parts of it it would skip;
 * empty when there is neither. Ajv stops at the first problem it meets while compiling, so
 * this names one at a time, except a schema that breaks its meta-schema, named in full.
 */
export function payloadSchemaProblems(schema: Record<string, unknown>): SchemaProblem[] {
  const body = withoutId(schema);
  const ajv = ajvFor(schema, 'quiet');
  try {
    if (ajv.validateSchema(body) === false) {
      // The first error at a place: those after it come from the meta-schema's anyOf
      // branches ("must be array", "must match a schema in anyOf") and say nothing more.
      const first = new Map<string, ErrorObject>();
      for (const e of ajv.errors ?? []) if (!first.has(e.instancePath)) first.set(e.instancePath, e);
      return [...first.values()].map((e) => ({
        path: pointer(e.instancePath),
        message: `${e.instancePath === '' ? 'the schema' : e.instancePath.slice(1)} ${e.message ?? 'is invalid'}`,
        ignored: false,
      }));
    }
  } catch {
    // A meta-schema Ajv does not have: compiling below names it.
  }
  // Each compile here is dropped from Ajv's cache (keyed by the object) afterwards: a
  // schema checked on every pause in typing must not stay in memory.
  for (const mode of ['quiet', 'strict'] as const) {
    const checker = ajvFor(schema, mode);
    try {
      checker.compile(body);
    } catch (err) {
      const message = (err as Error).message;
      const at = /at path "#([^"]*)"/.exec(message);
      return [{ path: pointer(at?.[1] ?? ''), message, ignored: mode === 'strict' }];
    } finally {
      checker.removeSchema(body);
    }
  }
  return [];
}

/** `/properties/a~1b` as ["properties", "a/b"]. */
function pointer(p: string): string[] {
  return p
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** `$.data.calories` for the instance path `/data/calories`. */
function jsonPath(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `${acc}.${p}` : `${acc}[${JSON.stringify(p)}]`), '$');
}

/** ajv's errors as 422 problems: the JSON path in the payload and the rule it breaks. */
export function payloadProblems(errors: ErrorObject[], max = 10): FieldProblem[] {
  return errors.slice(0, max).map((e) => {
    const missing = e.keyword === 'required' ? (e.params as { missingProperty: string }).missingProperty : undefined;
    const path = jsonPath(e.instancePath, missing);
    const loc = ['body', 'payload', ...e.instancePath.split('/').slice(1), ...(missing === undefined ? [] : [missing])];
    const msg = missing !== undefined ? `${path} is required` : `${path} ${e.message ?? 'is invalid'}`;
    return { loc, msg: `${msg} (rule: ${e.keyword} at ${e.schemaPath})`, type: `value_error.payload.${e.keyword}` };
  });
}

interface Compiled {
  updatedAt: number;
  validate: ValidateFunction | null;
}

/**
 * Decides, per message, whether its payload must match its event type's schema, and checks
 * it. Event types are read through the store at most once per `ttlMs` per name, so
 * ingestion does not pay a look-up per message; writes made through this process are seen
 * at once (`forget`), writes by other processes within `ttlMs`.
 */
export class PayloadValidator {
  private readonly types = new Map<string, { at: number; type: EventType | null }>();
  private readonly compiled = new Map<string, Compiled>();

  constructor(
    private readonly lookup: (name: string) => Promise<EventType | null>,
    private readonly validateAll: boolean,
    private readonly ttlMs: number,
    private readonly onUnusableSchema: (name: string, err: SchemaError) => void = () => undefined,
  ) {}

  /** Throws ValidationError (422) when the payload must match and does not. */
  async check(eventType: string, payload: unknown): Promise<void> {
    const type = await this.eventType(eventType);
    if (type === null || !(type.validate || this.validateAll)) return;
    const validate = this.validatorFor(type);
    if (validate === null || validate(payload)) return;
    throw new ValidationError(payloadProblems(validate.errors ?? []));
  }

  /** As check, for a payload kept as JSON text: it is parsed only when it must match a schema. */
  async checkText(eventType: string, text: string): Promise<void> {
    const type = await this.eventType(eventType);
    if (type === null || !(type.validate || this.validateAll)) return;
    const validate = this.validatorFor(type);
    if (validate === null || validate(JSON.parse(text))) return;
    throw new ValidationError(payloadProblems(validate.errors ?? []));
  }

  /** An event type changed here: read it afresh next time. */
  forget(name: string): void {
    this.types.delete(name);
  }

  private async eventType(name: string): Promise<EventType | null> {
    const now = Date.now();
    const hit = this.types.get(name);
    if (hit !== undefined && now - hit.at < this.ttlMs) return hit.type;
    const type = await this.lookup(name);
    if (this.types.size >= 10_000) this.types.clear();
    this.types.set(name, { at: now, type });
    return type;
  }

  private validatorFor(type: EventType): ValidateFunction | null {
    const hit = this.compiled.get(type.name);
    if (hit !== undefined && hit.updatedAt === type.updatedAt) return hit.validate;
    const schema = newestSchema(type.schemas);
    let validate: ValidateFunction | null = null;
    if (schema !== null) {
      try {
        validate = compilePayloadSchema(schema);
      } catch (err) {
        // Refused when the event type is written with validate: true; reached only through
        // HOOKWELL_VALIDATE_PAYLOADS or a schema stored before. Such messages are accepted.
        this.onUnusableSchema(type.name, err as SchemaError);
      }
    }
    if (this.compiled.size >= 10_000) this.compiled.clear();
    this.compiled.set(type.name, { updatedAt: type.updatedAt, validate });
    return validate;
  }
}
