// PostgreSQL housekeeping for the bench: is the server there, and a fresh schema per
// figure, dropped (DROP SCHEMA … CASCADE) when the figure is done with it, whether it
// succeeded or not. Schemas still live when the bench exits some other way (a signal, the
// watchdog) are dropped synchronously by `dropSchemasSync`.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { log } from './clock.ts';
import { ROOT } from './procs.ts';

export const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The URL without its password, for messages. */
export const redacted = (url: string): string => url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/i, '$1****@');

/** Schemas created for this run and not dropped yet. */
const live = new Set<string>();

const run = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`;
let counter = 0;

/** Thrown when PostgreSQL cannot be reached at all: the figure is skipped, not failed. */
export class PgUnreachable extends Error {}

async function withClient<T>(fn: (c: pg.Client) => Promise<T>, connectTimeoutMs = 5_000): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: connectTimeoutMs });
  // An error after connecting (the server going away) must not become an uncaught exception.
  client.on('error', (err) => log('postgres client error:', String(err)));
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** The server's version string; throws PgUnreachable when no connection can be made. */
export async function pgVersion(): Promise<string> {
  try {
    return await withClient(async (c) => (await c.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v);
  } catch (err) {
    throw new PgUnreachable(`PostgreSQL unreachable at ${redacted(PG_URL)}: ${(err as Error)?.message || String(err)}`);
  }
}

/**
 * A schema name nobody uses yet (lower-case letters, digits, _), recorded for dropping.
 * Hookwell creates and migrates it when its first process starts.
 */
export function newSchema(label: string): string {
  const name = `hookwell_bench_${run}_${++counter}_${label.replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
  live.add(name);
  return name;
}

const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;

export async function dropSchema(name: string): Promise<void> {
  await withClient(async (c) => {
    await c.query(`DROP SCHEMA IF EXISTS ${quoteIdent(name)} CASCADE`);
  });
  live.delete(name);
}

/** Rows of one query on a schema's tables (search_path set to it). */
export async function querySchema<R extends pg.QueryResultRow>(schema: string, sql: string, params: unknown[] = []): Promise<R[]> {
  return withClient(async (c) => {
    await c.query(`SET search_path TO ${quoteIdent(schema)}`);
    return (await c.query<R>(sql, params)).rows;
  });
}

/**
 * Drops every schema still recorded, synchronously (for process 'exit' handlers): a short
 * node child does it with the same `pg` package, so no client program is needed.
 */
export function dropSchemasSync(): void {
  if (live.size === 0) return;
  const names = [...live];
  live.clear();
  const script = `
    const pg = require('pg');
    const c = new pg.Client({ connectionString: process.env.URL, connectionTimeoutMillis: 5000 });
    c.connect()
      .then(async () => { for (const s of JSON.parse(process.env.SCHEMAS)) await c.query('DROP SCHEMA IF EXISTS "' + s + '" CASCADE'); })
      .then(() => c.end(), (e) => { process.stderr.write('dropping bench schemas failed: ' + e.message + '\\n'); process.exitCode = 1; return c.end(); });
  `;
  const r = spawnSync(process.execPath, ['-e', script], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '', URL: PG_URL, SCHEMAS: JSON.stringify(names) },
    stdio: ['ignore', 2, 2],
    timeout: 20_000,
  });
  if (r.status !== 0) log(`could not drop schemas ${names.join(', ')} (status ${r.status}, ${r.error?.message ?? ''})`);
}

/**
 * Process ids of the PostgreSQL backends serving the given client processes (Linux): the
 * clients' TCP sockets to the server's port, by inode from /proc/PID/fd and /proc/net/tcp,
 * matched by client port in pg_stat_activity. Empty where /proc cannot tell.
 */
export async function backendsOf(clientPids: (number | undefined)[]): Promise<number[]> {
  const serverPort = Number(new URL(PG_URL).port || 5432);
  const inodes = new Set<string>();
  for (const pid of clientPids) {
    if (pid === undefined) continue;
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9]!)) continue;
      const local = parseInt(f[1]!.split(':')[1]!, 16);
      const remote = parseInt(f[2]!.split(':')[1]!, 16);
      if (remote === serverPort) ports.push(local);
    }
  }
  if (ports.length === 0) return [];
  return withClient(async (c) => (await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1::int[])', [ports])).rows.map((r) => r.pid));
}
