// The audit log: what a workload of writes, reveals, a portal session, a scoped token and
// content fetches records (actors, actions, targets), that no payload, secret or header
// value reaches it, its paging and filters, export, and that `hookwell audit verify` (a real
// child process) names an entry changed in the database. With HOOKWELL_TEST_BACKEND=postgres
// the same runs on PostgreSQL; concurrent appends from two PostgreSQL stores always do.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { eventually, PG_URL, request, requirePostgres, startReceiver, startServer, type Receiver, type TestServer } from './helpers.js';
import { PostgresStore } from '../src/store/postgres/store.js';
import { recordAudit, verifyAudit } from '../src/core/audit.js';
import type { AuditEntry } from '../src/domain/audit.js';

const BIN = fileURLToPath(new URL('../bin/hookwell.js', import.meta.url));
const ON_POSTGRES = process.env.HOOKWELL_TEST_BACKEND === 'postgres';

const PAYLOAD_MARKER = 'PAYLOAD-MARKER-9f2c';
const HEADER_VALUE = 'HEADER-VALUE-MARKER-51aa';
const SECRET = `whsec_${Buffer.from('audit-test-secret-0123456789abcdef').toString('base64')}`;

/** An entry as GET /api/v1/audit presents it. */
type Entry = Omit<AuditEntry, 'at'> & { timestamp: string };

function cli(server: TestServer, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), HOOKWELL_DB: server.cfg.db, HOOKWELL_LOG_LEVEL: 'silent' };
  if (server.cfg.dbSchema !== null) env.HOOKWELL_DB_SCHEMA = server.cfg.dbSchema;
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

/** Changes one stored entry behind the API's back, as someone with the database's files or credentials could. */
async function tamper(server: TestServer, id: number): Promise<void> {
  if (server.cfg.dbSchema === null) {
    const db = new Database(server.dbPath);
    try {
      db.exec('DROP TRIGGER audit_log_no_update');
      db.prepare("UPDATE audit_log SET actor = 'admin', outcome = '200' WHERE id = ?").run(id);
    } finally {
      db.close();
    }
    return;
  }
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`SET search_path = ${server.cfg.dbSchema}`);
    await c.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
    await c.query("UPDATE audit_log SET actor = 'admin', outcome = '200' WHERE id = $1", [id]);
  } finally {
    await c.end();
  }
}

describe(`audit log (${ON_POSTGRES ? 'postgres' : 'sqlite'})`, () => {
  let server: TestServer;
  let receiver: Receiver;
  let all: Entry[] = [];
  const w: Record<string, string> = {};

  const auditPage = async (query: string) => {
    const res = await server.api('GET', `/api/v1/audit?${query}`);
    assert.equal(res.status, 200, res.text);
    return res.body as { data: Entry[]; iterator: string | null; done: boolean };
  };
  /** Waits until the log holds `n` entries. */
  const settle = (n: number) => eventually(async () => {
    const page = await auditPage('limit=250');
    return page.data.length >= n ? page.data : undefined;
  }, 10_000, `${n} audit entries`);

  before(async () => {
    server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '0' });
    receiver = await startReceiver();
    const ua = { 'user-agent': `audit-test/1.0 ${'x'.repeat(400)}` };
    // 1: event type; 2: app; 3: endpoint (with a secret and a header value)
    assert.equal((await server.api('POST', '/api/v1/event-type', { name: 'meal.logged', description: 'A meal' })).status, 201);
    const app = await server.api('POST', '/api/v1/app', { name: 'Clinic', uid: 'clinic' }, ua);
    w.app = app.body.id;
    const ep = await server.api('POST', '/api/v1/app/clinic/endpoint', { url: `${receiver.url}/thin`, payloadMode: 'thin', secret: SECRET, headers: { 'x-tenant': HEADER_VALUE } });
    assert.equal(ep.status, 201, ep.text);
    w.ep = ep.body.id;
    // 4, 5: reveals (by the endpoint's id)
    assert.equal((await server.api('GET', `/api/v1/app/clinic/endpoint/${w.ep}/secret`)).body.key, SECRET);
    assert.equal((await server.api('GET', `/api/v1/app/clinic/endpoint/${w.ep}/headers`)).status, 200);
    // Not recorded: a plain read, and an accepted message (a message row already).
    assert.equal((await server.api('GET', '/api/v1/app')).status, 200);
    const msg = await server.api('POST', '/api/v1/app/clinic/msg', { eventType: 'meal.logged', payload: { note: PAYLOAD_MARKER } });
    assert.equal(msg.status, 202, msg.text);
    w.msg = msg.body.id;
    // 6: a refused message (wrong token) is recorded
    const refused = await request(`${server.url}/api/v1/app/clinic/msg`, 'POST', { authorization: 'Bearer not-the-token-at-all', 'content-type': 'application/json' }, JSON.stringify({ eventType: 'meal.logged', payload: { note: PAYLOAD_MARKER } }));
    assert.equal(refused.status, 401);
    // 7: a portal session; 8: its sign-in; 9: its logout
    const portal = await server.api('POST', '/api/v1/auth/app-portal-access/clinic', { sessionId: 'session-marker-7c1e' });
    w.portalToken = portal.body.token;
    const asPortal = { authorization: `Bearer ${w.portalToken}` };
    const who = await request(`${server.url}/api/v1/auth/whoami`, 'GET', asPortal);
    assert.equal(who.status, 200, who.text + JSON.stringify(portal.body));
    assert.equal((await request(`${server.url}/api/v1/auth/logout`, 'POST', asPortal)).status, 204);
    // 10: a sign-in with the ended token, refused
    assert.equal((await request(`${server.url}/api/v1/auth/whoami`, 'GET', asPortal)).status, 401);
    // 11: the thin delivery's content link, fetched; 12: a link whose MAC fails
    const got = await eventually(() => receiver.received.find((r) => r.headers['webhook-id'] === w.msg), 10_000, 'the thin delivery');
    const link = JSON.parse(got.body.toString()).content.url as string;
    assert.equal((await fetch(link)).status, 200);
    assert.equal((await fetch(`${server.url}/api/v1/content/${w.msg}?token=caller-chosen-words`)).status, 401);
    // 13: a scoped token is made; 14: it rotates the secret
    const tok = await server.api('POST', '/api/v1/token', { name: 'ci deploys', appIds: ['clinic'] });
    assert.equal(tok.status, 201, tok.text);
    w.tokenId = tok.body.id;
    w.token = tok.body.token;
    const rotate = await request(`${server.url}/api/v1/app/clinic/endpoint/${w.ep}/secret/rotate`, 'POST', { authorization: `Bearer ${w.token}`, 'content-type': 'application/json' }, JSON.stringify({ gracePeriodSeconds: 600 }));
    assert.equal(rotate.status, 204, rotate.text);
    all = await settle(14);
  });

  after(async () => {
    await server?.stop();
    await receiver?.close();
  });

  it('records each action with its actor, targets and outcome', () => {
    const brief = all.map((e) => [e.actor, e.action, e.outcome, e.appId, e.endpointId, e.msgId, e.targetId, e.reason]);
    const portalActor = `portal:${all.find((e) => e.action === 'v1.authentication.app-portal-access')?.targetId?.slice('portal:'.length)}`;
    assert.deepEqual(brief, [
      ['admin', 'v1.event-type.create', '201', null, null, null, 'meal.logged', null],
      ['admin', 'v1.application.create', '201', w.app, null, null, null, null],
      ['admin', 'v1.endpoint.create', '201', w.app, w.ep, null, null, null],
      ['admin', 'v1.endpoint.get-secret', '200', w.app, w.ep, null, null, null],
      ['admin', 'v1.endpoint.get-headers', '200', w.app, w.ep, null, null, null],
      ['unauthenticated', 'v1.message.create', '401', null, null, null, null, 'invalid_token'],
      ['admin', 'v1.authentication.app-portal-access', '200', w.app, null, null, portalActor, null],
      [portalActor, 'v1.authentication.whoami', '200', null, null, null, null, null],
      [portalActor, 'v1.authentication.logout', '204', null, null, null, null, null],
      [portalActor, 'v1.authentication.whoami', '401', null, null, null, null, 'expired'],
      ['link', 'content.fetch', 'ok', w.app, w.ep, w.msg, null, null],
      ['link', 'content.fetch', 'refused', null, null, null, null, 'invalid'],
      ['admin', 'hookwell.token.create', '201', null, null, null, w.tokenId, null],
      [`token:${w.tokenId}`, 'v1.endpoint.rotate-secret', '204', w.app, w.ep, null, null, null],
    ]);
    assert.match(portalActor, /^portal:[0-9a-f]{12}$/);
    assert.equal(all[1]!.ip, '127.0.0.1');
    assert.ok(all[1]!.userAgent!.startsWith('audit-test/1.0'));
    assert.equal(all[1]!.userAgent!.length, 200, 'the user agent is cut');
  });

  it('keeps no payload, secret, header value, token or caller-chosen text', () => {
    const text = JSON.stringify(all);
    for (const leak of [PAYLOAD_MARKER, HEADER_VALUE, SECRET, SECRET.slice(6), w.token!, w.portalToken!, 'session-marker-7c1e', 'caller-chosen', 'not-the-token', 'ci deploys', receiver.url]) {
      assert.ok(!text.includes(leak), `the audit log holds "${leak}"`);
    }
  });

  it('chains each entry to the one before', () => {
    assert.deepEqual(all.map((e) => e.id), all.map((_, i) => i + 1));
    assert.equal(all[0]!.prevHash, '0'.repeat(64));
    for (let i = 1; i < all.length; i++) assert.equal(all[i]!.prevHash, all[i - 1]!.hash);
  });

  it('pages and filters (admin token only)', async () => {
    const seen: number[] = [];
    let iterator: string | null = null;
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 20);
      const page = await auditPage(`limit=2${iterator === null ? '' : `&iterator=${iterator}`}`);
      seen.push(...page.data.map((e) => e.id));
      if (page.done) break;
      iterator = page.iterator;
    }
    assert.deepEqual(seen.slice(0, all.length), all.map((e) => e.id));
    assert.deepEqual((await auditPage('action=v1.endpoint.get-secret')).data.map((e) => e.id), [4]);
    assert.deepEqual((await auditPage(`actor=token:${w.tokenId}`)).data.map((e) => e.action), ['v1.endpoint.rotate-secret']);
    assert.ok((await auditPage(`app_id=${w.app}`)).data.every((e) => e.appId === w.app));
    assert.equal((await auditPage(`app_id=${w.app}`)).data.length, 7);
    assert.deepEqual((await auditPage('limit=1&order=descending')).data.map((e) => e.id), [Math.max(...seen)]);
    assert.equal((await auditPage(`since=${new Date(Date.now() + 60_000).toISOString()}`)).data.length, 0);
    assert.equal((await auditPage(`until=${new Date(Date.now() - 3_600_000).toISOString()}`)).data.length, 0);
    assert.equal((await auditPage(`since=${new Date(Date.now() - 3_600_000).toISOString()}&limit=250`)).data.length >= all.length, true);
    const bad = await server.api('GET', '/api/v1/audit?since=yesterday');
    assert.equal(bad.status, 422, bad.text);
    const scoped = await request(`${server.url}/api/v1/audit`, 'GET', { authorization: `Bearer ${w.token}` });
    assert.equal(scoped.status, 403, scoped.text);
    assert.match(scoped.body.detail, /audit log/);
  });

  it('exports NDJSON from a time on, and verifies the chain until an entry is changed', async () => {
    const dir = server.dbPath.replace(/[^/]+$/, '');
    const file = join(dir, 'audit.ndjson');
    const exported = await cli(server, ['audit', 'export', '--since', '2000-01-01T00:00:00Z', '--to', file]);
    assert.equal(exported.code, 0, exported.stderr);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const rows = lines.map((l) => JSON.parse(l) as Entry);
    assert.ok(rows.length >= all.length);
    assert.deepEqual(rows.slice(0, all.length).map((r) => r.hash), all.map((e) => e.hash));
    assert.ok(rows.every((r) => !Number.isNaN(Date.parse(r.timestamp))));
    const none = await cli(server, ['audit', 'export', '--since', new Date(Date.now() + 3_600_000).toISOString()]);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, '');
    const badSince = await cli(server, ['audit', 'export', '--since', 'last week']);
    assert.equal(badSince.code, 2);
    assert.match(badSince.stderr, /--since must be an ISO 8601 time/);

    if (server.cfg.dbSchema === null) {
      const typo = await cli(server, ['audit', 'verify', '--db', `${server.dbPath}.typo`]);
      assert.equal(typo.code, 2);
      assert.match(typo.stderr, /no database at/);
    }
    const ok = await cli(server, ['audit', 'verify']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^OK: \d+ audit entries/);
    await tamper(server, 6);
    const broken = await cli(server, ['audit', 'verify']);
    assert.equal(broken.code, 1, broken.stdout);
    assert.match(broken.stderr, /^BROKEN at entry 6: entry 6 was changed after it was written/);
    assert.match(broken.stderr, /5 entries before it are intact/);
  });
});

describe('audit log: appends from two PostgreSQL stores at once', () => {
  const schema = `hw_audit_${randomBytes(5).toString('hex')}`;
  let a: PostgresStore;
  let b: PostgresStore;

  before(async () => {
    await requirePostgres();
    a = await PostgresStore.open(PG_URL, { schema, poolSize: 6 });
    b = await PostgresStore.open(PG_URL, { schema, poolSize: 6 });
  });

  after(async () => {
    await a?.close();
    await b?.close();
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  });

  it('keeps one valid chain, with no id twice', async () => {
    const n = 60;
    const entries = await Promise.all(
      Array.from({ length: n }, (_, i) => recordAudit(i % 2 === 0 ? a : b, { actor: 'system', action: 'rekey', outcome: 'ok', targetId: `n${i}` })),
    );
    assert.equal(new Set(entries.map((e) => e.id)).size, n);
    assert.deepEqual(await verifyAudit(b), { ok: true, count: n });
    // Appending is the only change: the log refuses an update.
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      await c.query(`SET search_path = ${schema}`);
      await assert.rejects(c.query("UPDATE audit_log SET actor = 'x' WHERE id = 1"), /append-only/);
      await assert.rejects(c.query('DELETE FROM audit_log WHERE id = 1'), /append-only/);
    } finally {
      await c.end();
    }
  });
});
