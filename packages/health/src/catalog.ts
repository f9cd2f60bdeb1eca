// The shape of the catalogue's files (catalog/*.json in this package, one event type each). The
// files ship in the package, so a server can import them; the Hookwell server validates them
// when it loads them (packages/server/src/catalog.ts).

export const JSON_SCHEMA_DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

/** A JSON Schema (draft 2020-12) as stored in the catalogue. */
export interface CatalogSchema {
  $schema: typeof JSON_SCHEMA_DRAFT_2020_12;
  title: string;
  description: string;
  type: 'object';
  /** Realistic payloads; `send-example` sends the first one of the newest version. */
  examples: unknown[];
  [keyword: string]: unknown;
}

/** One event type, in the Svix shape the event-type API takes (`archived` and `deprecated` default to false). */
export interface CatalogEntry {
  name: string;
  description: string;
  groupName: string;
  archived?: boolean;
  deprecated?: boolean;
  /** Keyed by schema version, "1", "2", …; the highest number is the current one. */
  schemas: Record<string, CatalogSchema>;
}

/** The current (highest-numbered) schema of an entry. */
export function newestSchema(entry: CatalogEntry): CatalogSchema {
  const version = Object.keys(entry.schemas).sort((a, b) => Number(b) - Number(a))[0]!;
  return entry.schemas[version]!;
}
