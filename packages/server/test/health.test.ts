// Liveness and readiness probes: on the API, and on a port of their own for a worker.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startHookwell } from '../src/server.js';
import { childApi, startChild } from './child.js';
import { freePort, PG_URL, query, request, requirePostgres, startServer, tempDir, TOKEN } from './helpers.js';

function setUserVersion(file: string, version: number): void {
  const db = new Database(file);
  try {
    db.pragma(`user_version = ${version}`);
  } finally {
    db.close();
  }
}

describe('health probes', () => {
  it('answers live and ready on the API, and not ready, naming why, when the schema is not its own', async () => {
    const server = await startServer();
    try {
      const live = await request(`${server.url}/health/live`, 'GET', {});
      assert.equal(live.status, 200);
      assert.deepEqual(live.body, { status: 'ok' });

      const ready = await request(`${server.url}/health/ready`, 'GET', {});
      assert.equal(ready.status, 200);
      const { status, checks } = ready.body as { status: string; checks: Record<string, string> };
      assert.equal(status, 'ready');
      assert.equal(checks.database, 'ok');
      const version = query<{ user_version: number }>(server.dbPath, 'PRAGMA user_version')[0]!.user_version;
      assert.equal(checks.schema, `version ${version}`);

      // A newer Hookwell migrated the database on: this process should not be sent work.
      setUserVersion(server.dbPath, version + 1);
      const stale = await request(`${server.url}/health/ready`, 'GET', {});
      assert.equal(stale.status, 503);
      assert.equal((stale.body as { status: string }).status, 'not ready');
      assert.equal((stale.body as { checks: Record<string, string> }).checks.schema, `version ${version + 1}, this Hookwell's is ${version}`);
      assert.equal((await request(`${server.url}/health/live`, 'GET', {})).status, 200, 'still alive');
      setUserVersion(server.dbPath, version);
    } finally {
      await server.stop();
    }
  });

  it('answers not ready while draining, on the health port, until the last attempt is recorded', async () => {
    const { dir, cleanup } = tempDir();
    // A receiver that holds the attempt until told to answer.
    let answer: (() => void) | null = null;
    let arrived: () => void;
    const attemptArrived = new Promise<void>((r) => (arrived = r));
    const receiver = createHttpServer((_req, res) => {
      answer = () => res.end('ok');
      arrived();
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
    const healthPort = await freePort();
    const child = await startChild(`${dir}/h.db`, 0, { HOOKWELL_HEALTH_PORT: String(healthPort), HOOKWELL_DRAIN_TIMEOUT_MS: '30000' });
    const probe = `http://127.0.0.1:${healthPort}`;
    try {
      assert.equal((await request(`${probe}/health/ready`, 'GET', {})).status, 200);
      assert.equal((await request(`${probe}/health/live`, 'GET', {})).status, 200);
      // Only the probes are on that port.
      assert.equal((await request(`${probe}/api/v1/app`, 'GET', { authorization: `Bearer ${TOKEN}` })).status, 404);

      assert.equal((await childApi(child.url, 'POST', '/api/v1/app', { name: 'Drain', uid: 'drain' })).status, 201);
      assert.equal((await childApi(child.url, 'POST', '/api/v1/app/drain/endpoint', { url: receiverUrl })).status, 201);
      assert.equal((await childApi(child.url, 'POST', '/api/v1/app/drain/msg', { eventType: 'a.b', payload: {} })).status, 202);
      await attemptArrived;

      child.proc.kill('SIGTERM');
      let draining: { status: number; body: unknown } | null = null;
      for (let i = 0; i < 100 && draining === null; i++) {
        const r = await request(`${probe}/health/ready`, 'GET', {});
        if (r.status === 503) draining = r;
        else await new Promise((res) => setTimeout(res, 50));
      }
      assert.ok(draining !== null, 'ready turned 503 once stopping began');
      assert.equal((draining.body as { checks: Record<string, string> }).checks.draining, 'stopping: no new work is taken');
      assert.equal((await request(`${probe}/health/live`, 'GET', {})).status, 200, 'alive while it drains');
      answer!();
      assert.equal(await child.exited, 0);
    } finally {
      child.proc.kill('SIGKILL');
      receiver.closeAllConnections();
      receiver.close();
      cleanup();
    }
  });

  it('gives a PostgreSQL worker, which serves no API, the probes on its health port', async () => {
    await requirePostgres();
    const schema = `hw_probe_${randomBytes(5).toString('hex')}`;
    const healthPort = await freePort();
    const cfg = loadConfig(
      { db: PG_URL, role: 'worker' },
      { HOOKWELL_DB_SCHEMA: schema, HOOKWELL_HEALTH_PORT: String(healthPort), HOOKWELL_LOG_LEVEL: 'silent', HOOKWELL_DB_POOL_SIZE: '2' },
    );
    const hw = await startHookwell(cfg, createLogger(cfg.logLevel));
    try {
      assert.equal(hw.url, null, 'a worker serves no API');
      const ready = await request(`http://127.0.0.1:${healthPort}/health/ready`, 'GET', {});
      assert.equal(ready.status, 200);
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      try {
        const v = await admin.query(`SELECT MAX(version) AS v FROM ${schema}.hookwell_schema_version`);
        assert.equal((ready.body as { checks: Record<string, string> }).checks.schema, `version ${v.rows[0].v}`);
      } finally {
        await admin.end();
      }
    } finally {
      await hw.close();
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => admin.end());
    }
    // Closed with the process: nothing listens there any more.
    await assert.rejects(request(`http://127.0.0.1:${healthPort}/health/live`, 'GET', {}));
  });
});
