// The event type catalogue: ready-made event types (name, description, group, versioned JSON
// Schemas with examples) for the health-data platforms Hookwell was built for. One JSON file per
// event type, shipped by @hookwell/health in its catalog/ folder, so a reviewer reads one file per
// event and a diff shows exactly which schema changed; here they are found, validated and loaded.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { JSON_SCHEMA_DRAFT_2020_12, type CatalogEntry } from '@hookwell/health';

export { JSON_SCHEMA_DRAFT_2020_12, newestSchema, type CatalogEntry, type CatalogSchema } from '@hookwell/health';

/** Marks a property whose value identifies something (a user, a record, a provider). Annotation only: it never fails validation. */
export const IDENTIFIER_KEYWORD = 'x-identifier';

/** Draft 2020-12, all formats, strict (an unknown keyword or a misplaced one is an error), and the `x-identifier` annotation. */
export function createCatalogAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addKeyword({ keyword: IDENTIFIER_KEYWORD, schemaType: 'boolean' });
  return ajv;
}

let shared: Ajv2020 | undefined;
const sharedAjv = (): Ajv2020 => (shared ??= createCatalogAjv());

/** A validator for one catalogue schema; throws if the schema itself is not valid draft 2020-12. */
export function compileCatalogSchema(schema: object, ajv: Ajv2020 = sharedAjv()): ValidateFunction {
  return ajv.compile(schema);
}

/**
 * The property paths marked `"x-identifier": true`, in declaration order. Walks `properties`
 * and array `items` (written as a `*` segment, so `["users", "*", "userId"]` is every user's id).
 */
export function identifierPaths(schema: unknown): string[][] {
  const paths: string[][] = [];
  const walk = (node: unknown, path: string[]): void => {
    if (!isObject(node)) return;
    if (isObject(node.properties)) {
      for (const [key, sub] of Object.entries(node.properties)) {
        if (isObject(sub) && sub[IDENTIFIER_KEYWORD] === true) paths.push([...path, key]);
        walk(sub, [...path, key]);
      }
    }
    if (isObject(node.items)) walk(node.items, [...path, '*']);
  };
  walk(schema, []);
  return paths;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// The shape of a catalogue file; the schemas inside are checked by compiling them (see the tests).
const ENTRY_SCHEMA = {
  type: 'object',
  required: ['name', 'description', 'groupName', 'schemas'],
  additionalProperties: false,
  properties: {
    // The pattern and length Svix (and Hookwell's API) allow for event type names.
    name: { type: 'string', pattern: '^[a-zA-Z0-9\\-_.]+$', maxLength: 256 },
    description: { type: 'string', minLength: 1 },
    groupName: { type: 'string', minLength: 1 },
    archived: { type: 'boolean' },
    deprecated: { type: 'boolean' },
    schemas: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[1-9][0-9]*$' },
      additionalProperties: {
        type: 'object',
        required: ['$schema', 'title', 'description', 'type', 'examples'],
        properties: {
          $schema: { const: JSON_SCHEMA_DRAFT_2020_12 },
          title: { type: 'string', minLength: 1 },
          description: { type: 'string', minLength: 1 },
          type: { const: 'object' },
          examples: { type: 'array', minItems: 1 },
        },
      },
    },
  },
} as const;

let checkEntry: ValidateFunction | undefined;

// Found through the package's own package.json, so it is the copy Node resolves from here:
// the workspace's in this repository, the one under node_modules once installed.
const CATALOGS: Record<string, URL> = {
  health: new URL('catalog/', pathToFileURL(createRequire(import.meta.url).resolve('@hookwell/health/package.json'))),
};

/** Every event type of a named catalogue, sorted by name. Throws an Error naming the file for a file that is not a valid entry. */
export function loadCatalog(name = 'health'): CatalogEntry[] {
  const dir = Object.hasOwn(CATALOGS, name) ? CATALOGS[name] : undefined;
  if (!dir) throw new Error(`Unknown catalogue "${name}"; known: ${Object.keys(CATALOGS).join(', ')}`);
  return loadCatalogDir(dir);
}

/** Every `*.json` entry in a folder, sorted by name; for catalogues kept outside this package. */
export function loadCatalogDir(dir: string | URL): CatalogEntry[] {
  const base = typeof dir === 'string' ? pathToFileURL(dir.endsWith(sep) ? dir : dir + sep) : dir;
  const ajv = sharedAjv();
  const check = (checkEntry ??= ajv.compile(ENTRY_SCHEMA));
  const files = readdirSync(base)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const entries = files.map((file) => {
    const url = new URL(file, base);
    const where = `catalogue file ${fileURLToPath(url)}`;
    let entry: unknown;
    try {
      entry = JSON.parse(readFileSync(url, 'utf8'));
    } catch (error) {
      throw new Error(`${where}: not valid JSON (${(error as Error).message})`, { cause: error });
    }
    if (!check(entry)) throw new Error(`${where}: ${ajv.errorsText(check.errors, { dataVar: 'entry' })}`);
    const e = entry as CatalogEntry;
    if (`${e.name}.json` !== file) throw new Error(`${where}: holds event type "${e.name}", so it must be named "${e.name}.json"`);
    return e;
  });
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
