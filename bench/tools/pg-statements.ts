// What delivery costs the database, per delivery: statements, round trips and transactions.
//   node --import tsx bench/tools/pg-statements.ts [messages=2000] [endpoints=8] [workers=1]
// On a fresh schema (dropped afterwards) of BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test):
// messages are stored first (not counted), spread over the endpoints, all pointing at one local
// receiver that answers 204; then `workers` dispatchers, each on its own store (its own pools),
// as worker processes run them (shared: the endpoint limit holds over all of them), deliver
// them. Every query sent by those stores' clients is counted: a round trip is one query call,
// a statement one that is not BEGIN, COMMIT, ROLLBACK or SET, a transaction one BEGIN or one
// query sent outside BEGIN…COMMIT.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { loadConfig } from '../../packages/server/src/config.js';
import { Dispatcher } from '../../packages/server/src/delivery/dispatcher.js';
import { Sender } from '../../packages/server/src/delivery/sender.js';
import { createLogger } from '../../packages/server/src/logger.js';
import { PostgresStore } from '../../packages/server/src/store/postgres/store.js';

const N = Number(process.argv[2] ?? 2000);
const ENDPOINTS = Number(process.argv[3] ?? 8);
const WORKERS = Number(process.argv[4] ?? 1);
const URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `hw_stmts_${randomBytes(4).toString('hex')}`;

interface Count {
  roundTrips: number;
  statements: number;
  transactions: number;
}
const count: Count = { roundTrips: 0, statements: 0, transactions: 0 };
const byStatement = new Map<string, { calls: number; ms: number }>();
let counting = false;
const inTx = new WeakSet<object>();

/** Counts every query sent by any client while `counting` is set (only the dispatchers' stores are busy then). */
function instrument(): void {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: object, ...args: unknown[]) {
    const first = args[0];
    let label = '';
    const t0 = performance.now();
    const text = typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '');
    if (counting) {
      const head = text.trim().split(/\s+/)[0]!.toUpperCase();
      count.roundTrips++;
      if (head === 'BEGIN') {
        count.transactions++;
        inTx.add(this);
      } else if (head === 'COMMIT' || head === 'ROLLBACK') {
        inTx.delete(this);
      } else if (head !== 'SET') {
        count.statements++;
        if (!inTx.has(this)) count.transactions++;
        label = text.replace(/\s+/g, ' ').trim().slice(0, 100);
      }
    }
    const finished = () => {
      const s = byStatement.get(label) ?? { calls: 0, ms: 0 };
      s.calls++;
      s.ms += performance.now() - t0;
      byStatement.set(label, s);
    };
    const last = args[args.length - 1];
    if (label !== '' && typeof last === 'function') {
      // The pool's style: a callback, no promise.
      args[args.length - 1] = (...results: unknown[]) => {
        finished();
        return (last as (...r: unknown[]) => unknown)(...results);
      };
    }
    const result = original.apply(this, args);
    if (label !== '' && result instanceof Promise) result.then(finished, finished);
    return result;
  };
}

async function main(): Promise<void> {
  let received = 0;
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (done = resolve));
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.statusCode = 204;
      res.end();
      if (++received === N) done();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const target = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  const cfg = loadConfig({}, { HOOKWELL_DB: URL, HOOKWELL_ALLOW_PRIVATE_TARGETS: 'true', HOOKWELL_ENDPOINT_CONCURRENCY: '64' });
  const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const writer = await PostgresStore.open(URL, { schema, poolSize: 8 });
  const stores: PostgresStore[] = [];
  try {
    const app = await writer.createApp({ uid: null, name: 'statements', throttleRate: null, metadata: {} });
    const endpoints: string[] = [];
    for (let i = 0; i < ENDPOINTS; i++) {
      const ep = await writer.createEndpoint(app.id, {
        uid: null,
        url: `${target}/${i}`,
        description: '',
        version: 1,
        disabled: false,
        eventTypes: null,
        channels: [`c${i}`],
        throttleRate: null,
        metadata: {},
        headers: {},
        secret: `whsec_${randomBytes(24).toString('base64')}`,
        ping: null,
      });
      endpoints.push(ep.id);
    }
    for (let i = 0; i < N; i += 64) {
      await Promise.all(
        Array.from({ length: Math.min(64, N - i) }, (_, k) =>
          writer.createMessage(app.id, {
            eventId: null,
            eventType: 'bench.statements',
            payload: JSON.stringify({ i: i + k, data: 'x'.repeat(200) }),
            channels: [`c${(i + k) % ENDPOINTS}`],
            tags: null,
            deliverAt: null,
          }),
        ),
      );
    }
    for (let w = 0; w < WORKERS; w++) {
      const store = await PostgresStore.open(URL, { schema, poolSize: cfg.dbPoolSize });
      stores.push(store);
    }
    const senders = stores.map(() => new Sender(cfg));
    const dispatchers = stores.map((store, w) => new Dispatcher(store, senders[w]!, cfg, log, true));
    instrument();
    counting = true;
    const t0 = performance.now();
    const progress = setInterval(() => process.stderr.write(`[pg-statements] ${received}/${N} received, in flight ${dispatchers.map((d) => d.inFlight).join(", ")}\n`), 2000);
    progress.unref();
    for (const d of dispatchers) d.start();
    await all;
    clearInterval(progress);
    const seconds = (performance.now() - t0) / 1000;
    await Promise.all(dispatchers.map((d) => d.stop(5000)));
    counting = false;
    await Promise.all(senders.map((s) => s.close()));
    const per = (n: number) => Math.round((n / N) * 1000) / 1000;
    const rows = [...byStatement.entries()].sort((a, b) => b[1].calls - a[1].calls);
    process.stdout.write(
      `${JSON.stringify({
        deliveries: N,
        endpoints: ENDPOINTS,
        workers: WORKERS,
        seconds: Math.round(seconds * 100) / 100,
        total: count,
        perDelivery: { statements: per(count.statements), roundTrips: per(count.roundTrips), transactions: per(count.transactions) },
      })}\n`,
    );
    for (const [label, { calls, ms }] of rows.slice(0, 15)) {
      process.stdout.write(`${String(calls).padStart(7)} calls ${(ms / calls).toFixed(2).padStart(8)} ms each  ${label}\n`);
    }
  } finally {
    for (const s of stores) await s.close();
    await writer.close();
    const admin = new pg.Client({ connectionString: URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
    receiver.close();
  }
}

await main();
