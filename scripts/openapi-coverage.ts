// How much of Svix's sending API Hookwell's /openapi.json covers, per tag, and which of
// Svix's request and response fields its implemented operations lack.
//
//   npm run openapi:coverage            # the report
//   npm run openapi:coverage -- --json  # the same as JSON
//
// The reference is reference/svix-openapi-sender.json. Operations are matched by method and
// path (parameter names aside), so one Hookwell names differently still counts. Out of scope
// for now: endpoint transformations, the connector lookup and the message pollers. The
// Authentication and Webhook Endpoint tags are reported apart: other work covers them.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

type Json = Record<string, any>;

export const REFERENCE_PATH = new URL('../reference/svix-openapi-sender.json', import.meta.url);
export const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
/** Tags whose coverage other work owns: reported, but apart. */
export const SEPARATE_TAGS = ['Authentication', 'Webhook Endpoint'];

export interface RefOperation {
  operationId: string;
  method: string;
  path: string;
  tag: string;
}

/** Why an operation of the reference is out of scope, or null when it is in. */
export function outOfScope(op: Pick<RefOperation, 'path' | 'operationId'>): string | null {
  if (/\/transformation(\/|$)/.test(op.path)) return 'transformations';
  if (op.path.endsWith('/connector') || op.operationId.includes('connector')) return 'connector';
  if (/\/(poller|polling-endpoint)\//.test(op.path)) return 'pollers';
  return null;
}

/** A path with its parameters' names left out: /api/v1/app/{} … */
const shape = (path: string): string => path.replace(/\{[^}]+\}/g, '{}').replace(/\/$/, '');

export function operations(doc: Json): RefOperation[] {
  const out: RefOperation[] = [];
  for (const [path, item] of Object.entries<Json>(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (op === undefined) continue;
      out.push({ operationId: op.operationId ?? `${method} ${path}`, method, path, tag: op.tags?.[0] ?? '(none)' });
    }
  }
  return out;
}

function resolve(doc: Json, schema: Json | undefined, seen = new Set<string>()): Json | undefined {
  let s = schema;
  while (s?.$ref !== undefined) {
    const ref: string = s.$ref;
    if (seen.has(ref)) return undefined;
    seen.add(ref);
    const name = ref.replace(/^#\/components\/schemas\//, '').replace(/#$/, '');
    s = doc.components?.schemas?.[name];
  }
  // One branch of a nullable union (anyOf/oneOf/allOf with null) is the object.
  for (const key of ['allOf', 'anyOf', 'oneOf']) {
    const branches: Json[] | undefined = s?.[key];
    if (branches === undefined) continue;
    const merged: Json = { properties: {} };
    for (const b of branches) Object.assign(merged.properties, resolve(doc, b, new Set(seen))?.properties ?? {});
    return merged;
  }
  return s;
}

/**
 * The property paths a schema has, to `depth` levels: `data[].msgId`, `lastPing.ok`…, so
 * the two documents' shapes can be compared whatever they name their components.
 */
export function fieldPaths(doc: Json, schema: Json | undefined, depth = 4, prefix = '', seen = new Set<string>()): string[] {
  const s = resolve(doc, schema);
  if (s === undefined || depth === 0) return [];
  if (s.type === 'array' || (Array.isArray(s.type) && s.type.includes('array'))) return fieldPaths(doc, s.items, depth, `${prefix}[]`, seen);
  const out: string[] = [];
  for (const [name, sub] of Object.entries<Json>(s.properties ?? {})) {
    const path = prefix === '' ? name : `${prefix}.${name}`;
    out.push(path);
    const key = typeof sub?.$ref === 'string' ? sub.$ref : null;
    if (key !== null && seen.has(key)) continue;
    out.push(...fieldPaths(doc, sub, depth - 1, path, key === null ? seen : new Set([...seen, key])));
  }
  return out;
}

const body = (op: Json | undefined): Json | undefined => op?.requestBody?.content?.['application/json']?.schema;
const success = (op: Json | undefined): Json | undefined => {
  const status = Object.keys(op?.responses ?? {}).find((s) => /^2\d\d$/.test(s));
  return status === undefined ? undefined : op!.responses[status]?.content?.['application/json']?.schema;
};
const parameters = (op: Json | undefined): string[] =>
  (op?.parameters ?? []).filter((p: Json) => p.in === 'query' || p.in === 'header').map((p: Json) => `${p.in}:${p.name}`);

export interface OperationReport extends RefOperation {
  implemented: boolean;
  scope: 'core' | 'separate' | string;
  /** Fields of Svix's request body, response body and query/header parameters that ours lacks. */
  missingRequest: string[];
  missingResponse: string[];
  missingParameters: string[];
}

export interface Report {
  operations: OperationReport[];
  /** Per tag, of the in-scope operations: how many Hookwell implements of how many. */
  tags: { tag: string; separate: boolean; implemented: number; total: number; missing: string[] }[];
  outOfScope: { operationId: string; why: string }[];
}

export function compare(ours: Json, reference: Json): Report {
  const byShape = new Map<string, Json>();
  for (const [path, item] of Object.entries<Json>(ours.paths ?? {})) {
    for (const method of METHODS) if (item[method] !== undefined) byShape.set(`${method} ${shape(path)}`, item[method]);
  }
  const report: Report = { operations: [], tags: [], outOfScope: [] };
  for (const op of operations(reference)) {
    const why = outOfScope(op);
    if (why !== null) {
      report.outOfScope.push({ operationId: op.operationId, why });
      continue;
    }
    const refOp = reference.paths[op.path][op.method];
    const ourOp = byShape.get(`${op.method} ${shape(op.path)}`);
    const lacking = (theirs: string[], mine: string[]) => {
      const have = new Set(mine);
      return theirs.filter((f) => !have.has(f));
    };
    report.operations.push({
      ...op,
      implemented: ourOp !== undefined,
      scope: SEPARATE_TAGS.includes(op.tag) ? 'separate' : 'core',
      missingRequest: ourOp === undefined ? [] : lacking(fieldPaths(reference, body(refOp)), fieldPaths(ours, body(ourOp))),
      missingResponse: ourOp === undefined ? [] : lacking(fieldPaths(reference, success(refOp)), fieldPaths(ours, success(ourOp))),
      missingParameters: ourOp === undefined ? [] : lacking(parameters(refOp), parameters(ourOp)),
    });
  }
  const tags = [...new Set(report.operations.map((o) => o.tag))].sort();
  report.tags = tags.map((tag) => {
    const of = report.operations.filter((o) => o.tag === tag);
    return {
      tag,
      separate: SEPARATE_TAGS.includes(tag),
      implemented: of.filter((o) => o.implemented).length,
      total: of.length,
      missing: of.filter((o) => !o.implemented).map((o) => o.operationId),
    };
  });
  return report;
}

const pct = (n: number, of: number): string => (of === 0 ? '-' : `${((100 * n) / of).toFixed(0)}%`);

export function format(report: Report): string {
  const lines: string[] = [];
  const section = (title: string, separate: boolean) => {
    const rows = report.tags.filter((t) => t.separate === separate);
    const implemented = rows.reduce((n, t) => n + t.implemented, 0);
    const total = rows.reduce((n, t) => n + t.total, 0);
    lines.push(`${title}: ${implemented}/${total} (${pct(implemented, total)})`);
    for (const t of rows) {
      lines.push(`  ${t.tag.padEnd(18)} ${`${t.implemented}/${t.total}`.padStart(6)}  ${pct(t.implemented, t.total).padStart(4)}`);
      for (const m of t.missing) lines.push(`      missing: ${m}`);
    }
  };
  section('Sending operations in scope', false);
  section('Covered by other work (reported apart)', true);
  lines.push(`Out of scope: ${report.outOfScope.map((o) => `${o.operationId} (${o.why})`).join(', ')}`);
  const gaps = report.operations.filter((o) => o.implemented && (o.missingRequest.length + o.missingResponse.length + o.missingParameters.length) > 0);
  lines.push('', `Field differences (Svix has, Hookwell lacks), in ${gaps.length} implemented operations:`);
  for (const o of gaps) {
    lines.push(`  ${o.operationId} (${o.method.toUpperCase()} ${o.path})`);
    if (o.missingRequest.length > 0) lines.push(`      request:    ${o.missingRequest.join(', ')}`);
    if (o.missingResponse.length > 0) lines.push(`      response:   ${o.missingResponse.join(', ')}`);
    if (o.missingParameters.length > 0) lines.push(`      parameters: ${o.missingParameters.join(', ')}`);
  }
  return lines.join('\n');
}

export function readReference(): Json {
  return JSON.parse(readFileSync(REFERENCE_PATH, 'utf8')) as Json;
}

async function main(): Promise<void> {
  // A server of its own on a temporary SQLite file, answering its document as a client sees it.
  const { startServer } = await import('../packages/server/test/helpers.js');
  const server = await startServer();
  let ours: Json;
  try {
    const res = await fetch(`${server.url}/openapi.json`);
    ours = (await res.json()) as Json;
  } finally {
    await server.stop();
  }
  const report = compare(ours, readReference());
  process.stdout.write(process.argv.includes('--json') ? `${JSON.stringify(report, null, 2)}\n` : `${format(report)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
