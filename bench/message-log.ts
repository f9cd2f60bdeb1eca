// message-log: how fast the message log's pages answer with 100,000 messages in one
// application (the portal's and the dashboard's busiest read).
//
// Hookwell runs in this process (its API built as `hookwell serve` builds it); the
// application gets two endpoints and 100,000 messages, written through the store with 64
// in flight, so each is one message and two deliveries exactly as the API writes them.
// Their deliveries are then put into mixed statuses (90 % success, 5 % fail, 3 % pending,
// 2 % sending; both deliveries of a message alike) and every message is due far ahead, so
// nothing is sent meanwhile. Event types: 10 common ones and one rare (1 in 200 messages);
// dataId: 1,000 records, 100 messages each.
//
// Each query is answered 5 times to warm up and then timed 50 times, server-side: the time
// around `app.inject` (routing, validation, the store's query, serialisation; no socket).
// The query plan of each one's SQL (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN ANALYZE)
// goes to stderr.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../packages/server/src/config.ts';
import { createLogger } from '../packages/server/src/logger.ts';
import { startHookwell } from '../packages/server/src/server.ts';
import type { SqliteStore } from '../packages/server/src/store/sqlite/store.ts';
import type { PostgresStore } from '../packages/server/src/store/postgres/store.ts';
import type { Store } from '../packages/server/src/store/store.ts';
import { log, percentile, round } from './lib/clock.ts';

export interface MessageLogOptions {
  backend: 'sqlite' | 'postgres';
  /** The SQLite file, or the PostgreSQL URL. */
  db: string;
  /** PostgreSQL: the schema (fresh). */
  schema: string | null;
  messages: number;
  calls: number;
}

/** The last statement the store ran, and a way to have it explained. */
interface Tracer {
  reset(): void;
  explain(): Promise<string>;
}

function traceSqlite(store: SqliteStore): Tracer {
  const db = store.db;
  const prepare = db.prepare.bind(db);
  let last: { sql: string; params: unknown[] } | null = null;
  // The store prepares each statement once and keeps it; each prepared one records its runs.
  db.prepare = ((sql: string) => {
    const st = prepare(sql);
    const all = st.all.bind(st);
    st.all = ((...params: unknown[]) => {
      last = { sql, params };
      return all(...params);
    }) as typeof st.all;
    return st;
  }) as typeof db.prepare;
  return {
    reset: () => (last = null),
    explain: async () => {
      if (last === null) return '(no statement)';
      const rows = prepare(`EXPLAIN QUERY PLAN ${last.sql}`).all(...last.params) as { id: number; parent: number; detail: string }[];
      const depth = new Map<number, number>([[0, 0]]);
      return rows
        .map((r) => {
          const d = (depth.get(r.parent) ?? 0) + 1;
          depth.set(r.id, d);
          return `${'  '.repeat(d)}${r.detail}`;
        })
        .join('\n');
    },
  };
}

function tracePostgres(store: PostgresStore): Tracer {
  const pool = store.pool;
  const query = pool.query.bind(pool) as (text: string, params?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;
  let last: { text: string; params: unknown[] } | null = null;
  (pool as unknown as { query: unknown }).query = (text: string, params?: unknown[]) => {
    if (typeof text === 'string' && /^\s*SELECT/i.test(text)) last = { text, params: params ?? [] };
    return query(text, params);
  };
  return {
    reset: () => (last = null),
    explain: async () => {
      if (last === null) return '(no statement)';
      const r = await query(`EXPLAIN (ANALYZE, BUFFERS) ${last.text}`, last.params);
      return r.rows.map((row) => `  ${String(row['QUERY PLAN'])}`).join('\n');
    },
  };
}

async function fill(store: Store, appId: string, n: number): Promise<void> {
  const later = Date.now() + 10 * 86_400_000;
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      await store.createMessage(appId, {
        eventId: null,
        eventType: i % 200 === 7 ? 'rare.event' : `common.event${i % 10}`,
        payload: JSON.stringify({ seq: i, user_id: `user-${i % 1000}`, data: 'x'.repeat(200) }),
        channels: null,
        tags: null,
        deliverAt: later,
        dataId: `record-${i % 1000}`,
      });
      if (i > 0 && i % 20_000 === 0) log(`message-log: ${i} messages written (${round((performance.now() - started) / 1000, 1)} s)`);
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  log(`message-log: ${n} messages written in ${round((performance.now() - started) / 1000, 1)} s`);
}

/**
 * Mixed statuses, by message (both of its deliveries alike). Pending and sending stay
 * due far ahead, so no dispatcher touches them.
 */
const STATUS_SQL = `UPDATE deliveries SET status = CASE
    WHEN abs(hash) % 100 < 90 THEN 0 WHEN abs(hash) % 100 < 95 THEN 2 WHEN abs(hash) % 100 < 98 THEN 1 ELSE 3 END
  FROM (SELECT id AS mid, SUBST AS hash FROM messages) h WHERE h.mid = deliveries.msg_id`;

export async function messageLogFigure(o: MessageLogOptions): Promise<Record<string, unknown>> {
  const token = `bench_${randomBytes(18).toString('base64url')}`;
  const cfg = loadConfig(
    { port: '0', db: o.db },
    {
      HOOKWELL_ADMIN_TOKEN: token,
      HOOKWELL_LOG_LEVEL: 'silent',
      ...(o.backend === 'postgres' ? { HOOKWELL_DB_SCHEMA: o.schema!, HOOKWELL_ROLE: 'api' } : {}),
    },
  );
  const hw = await startHookwell(cfg, createLogger('silent'));
  try {
    const app: FastifyInstance = hw.app!;
    const store = hw.store;
    const a = await store.createApp({ uid: 'bench', name: 'Bench', throttleRate: null, metadata: {} });
    for (const host of ['one', 'two']) {
      await store.createEndpoint(a.id, {
        uid: host, url: `https://${host}.example/hook`, description: '', version: 1, disabled: false, eventTypes: null,
        channels: null, throttleRate: null, metadata: {}, headers: {}, secret: `whsec_${randomBytes(24).toString('base64')}`, ping: null,
      });
    }
    await fill(store, a.id, o.messages);
    const tracer = o.backend === 'sqlite' ? traceSqlite(store as SqliteStore) : tracePostgres(store as PostgresStore);
    // A message's status bucket from a hash of its id: the same in both dialects' arithmetic.
    if (o.backend === 'sqlite') {
      (store as SqliteStore).db.exec(STATUS_SQL.replace('SUBST', `unicode(substr(id, -1)) * 31 + unicode(substr(id, -2, 1)) * 7 + unicode(substr(id, -3, 1))`));
      (store as SqliteStore).db.exec('ANALYZE');
    } else {
      const pool = (store as PostgresStore).pool;
      await pool.query(STATUS_SQL.replace('SUBST', `ascii(right(id, 1)) * 31 + ascii(substr(id, length(id) - 1, 1)) * 7 + ascii(substr(id, length(id) - 2, 1))`));
      await pool.query('VACUUM ANALYZE');
    }

    // Reference points: the message in the middle of the log, and a tenth of it around that.
    const all: { id: string; createdAt: number }[] = [];
    for (let it: string | null = null; ; ) {
      const p = await store.listMessages(a.id, { limit: 250, iterator: it, order: 'descending' }, {});
      for (const m of p.data) all.push({ id: m.id, createdAt: m.createdAt });
      if (p.done || p.iterator === null) break;
      it = p.iterator;
    }
    const mid = all[Math.floor(all.length / 2)]!;
    const after = new Date(all[Math.floor(all.length * 0.55)]!.createdAt).toISOString();
    const before = new Date(all[Math.floor(all.length * 0.45)]!.createdAt).toISOString();
    const base = `/api/v1/app/${a.id}/msg?limit=50`;
    const queries: [string, string][] = [
      ['first page', base],
      ['deep page (iterator at 50%)', `${base}&iterator=${mid.id}`],
      ['event type (10%)', `${base}&event_types=common.event3`],
      ['event type (0.5%)', `${base}&event_types=rare.event`],
      ['status fail (~5%)', `${base}&status=2`],
      ['status sending (~2%)', `${base}&status=3`],
      ['time range (middle 10%)', `${base}&after=${after}&before=${before}`],
      ['data_id (100 msgs)', `${base}&data_id=record-42`],
      ['status fail + event type', `${base}&status=2&event_types=common.event3`],
    ];
    const headers = { authorization: `Bearer ${token}` };
    const rows: Record<string, unknown>[] = [];
    for (const [name, url] of queries) {
      const times: number[] = [];
      let count = 0;
      for (let i = 0; i < 5 + o.calls; i++) {
        tracer.reset();
        const t = process.hrtime.bigint();
        const res = await app.inject({ method: 'GET', url, headers });
        const ms = Number(process.hrtime.bigint() - t) / 1e6;
        if (res.statusCode !== 200) throw new Error(`${name}: ${url} answered ${res.statusCode}: ${res.body}`);
        if (i >= 5) times.push(ms);
        count = (JSON.parse(res.body) as { data: unknown[] }).data.length;
      }
      log(`message-log ${o.backend} ${name}: plan\n${await tracer.explain()}`);
      times.sort((x, y) => x - y);
      rows.push({ query: name, rows: count, p50Ms: round(percentile(times, 0.5), 2), p99Ms: round(percentile(times, 0.99), 2), maxMs: round(times[times.length - 1]!, 2) });
    }
    const table = [
      `message-log on ${o.backend}, ${o.messages} messages, ${o.calls} calls each (ms, server-side):`,
      `${'query'.padEnd(30)} ${'rows'.padStart(5)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)}`,
      ...rows.map((r) => `${String(r.query).padEnd(30)} ${String(r.rows).padStart(5)} ${String(r.p50Ms).padStart(8)} ${String(r.p99Ms).padStart(8)} ${String(r.maxMs).padStart(8)}`),
    ].join('\n');
    log(`\n${table}`);
    return {
      figure: o.backend === 'sqlite' ? 'message-log' : 'pg-message-log',
      backend: o.backend,
      messages: o.messages,
      calls: o.calls,
      queries: rows,
      worstP99Ms: Math.max(...rows.map((r) => r.p99Ms as number)),
    };
  } finally {
    await hw.close();
  }
}
