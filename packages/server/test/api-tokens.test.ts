// Scoped API tokens and several admin tokens: scope across applications, read-only,
// expiry, revocation taking effect on the next request, two admin tokens both valid, and
// a token never stored as itself. With HOOKWELL_TEST_BACKEND=postgres the same runs on
// PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { eventually, request, startServer, TOKEN, type ApiResponse, type TestServer } from './helpers.js';

const ON_POSTGRES = process.env.HOOKWELL_TEST_BACKEND === 'postgres';
const SECOND_ADMIN = 'second-admin-token-abcdefghijkl';

describe(`API tokens (${ON_POSTGRES ? 'postgres' : 'sqlite'})`, () => {
  let server: TestServer;
  const apps: Record<string, string> = {};

  const as = (token: string, method: string, path: string, body?: unknown): Promise<ApiResponse> =>
    request(server.url + path, method, {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    }, body === undefined ? undefined : JSON.stringify(body));

  const makeToken = async (body: Record<string, unknown>): Promise<{ id: string; token: string }> => {
    const res = await server.api('POST', '/api/v1/token', body);
    assert.equal(res.status, 201, res.text);
    assert.match(res.body.token, /^hwk_[A-Za-z0-9_-]{43}$/);
    return { id: res.body.id, token: res.body.token };
  };

  before(async () => {
    // Two admin tokens, as while one replaces the other.
    server = await startServer({ HOOKWELL_ADMIN_TOKEN: `${TOKEN}, ${SECOND_ADMIN}` });
    for (const uid of ['north', 'south', 'east']) {
      const res = await server.api('POST', '/api/v1/app', { name: uid, uid });
      assert.equal(res.status, 201, res.text);
      apps[uid] = res.body.id;
    }
  });

  after(async () => {
    await server?.stop();
  });

  it('accepts every admin token of HOOKWELL_ADMIN_TOKEN', async () => {
    for (const t of [TOKEN, SECOND_ADMIN]) {
      const res = await as(t, 'POST', '/api/v1/app', { name: `by-${t.slice(0, 6)}` });
      assert.equal(res.status, 201, res.text);
    }
    assert.equal((await as('third-admin-token-not-configured', 'GET', '/api/v1/app')).status, 401);
    assert.equal((await as(`${TOKEN}, ${SECOND_ADMIN}`, 'GET', '/api/v1/app')).status, 401, 'the whole list is not a token');
  });

  it('holds a scoped token to its applications: others are missing, the list is filtered, creating apps is refused', async () => {
    const { token } = await makeToken({ name: 'north+south', appIds: ['north', apps.south] });
    for (const uid of ['north', 'south']) {
      assert.equal((await as(token, 'GET', `/api/v1/app/${uid}`)).status, 200);
      const ep = await as(token, 'POST', `/api/v1/app/${uid}/endpoint`, { url: 'https://example.com/hook' });
      assert.equal(ep.status, 201, ep.text);
    }
    for (const ref of ['east', apps.east!, 'nowhere']) {
      const res = await as(token, 'GET', `/api/v1/app/${ref}/endpoint`);
      assert.equal(res.status, 404, res.text);
      assert.equal(res.body.code, 'not_found');
      assert.equal((await as(token, 'DELETE', `/api/v1/app/${ref}`)).status, 404);
    }
    assert.equal((await server.api('GET', '/api/v1/app/east')).status, 200, 'east is untouched');
    const list = await as(token, 'GET', '/api/v1/app?limit=1');
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.body.data.map((a: { uid: string }) => a.uid), [apps.north! < apps.south! ? 'north' : 'south']);
    const rest = await as(token, 'GET', `/api/v1/app?limit=10&iterator=${list.body.iterator}`);
    assert.equal(rest.body.data.length, 1);
    assert.equal(rest.body.done, true);
    const create = await as(token, 'POST', '/api/v1/app', { name: 'west' });
    assert.equal(create.status, 403, create.text);
    assert.match(create.body.detail, /cannot create applications/);
    const eventType = await as(token, 'POST', '/api/v1/event-type', { name: 'x.y', description: 'platform-wide' });
    assert.equal(eventType.status, 403, eventType.text);
    assert.equal((await as(token, 'GET', '/api/v1/event-type')).status, 200);
    const overview = await as(token, 'GET', '/api/v1/dashboard/overview');
    assert.equal(overview.status, 403, 'the dashboard spans every application');
    for (const [method, path] of [['GET', '/api/v1/token'], ['POST', '/api/v1/token'], ['GET', '/api/v1/audit']] as const) {
      const res = await as(token, method, path, method === 'POST' ? { name: 'escalate' } : undefined);
      assert.equal(res.status, 403, `${method} ${path}: ${res.text}`);
      assert.match(res.body.detail, /admin token/);
    }
    const who = await as(token, 'GET', '/api/v1/auth/whoami');
    assert.equal(who.body.permissionSource, 'apiToken');
    assert.deepEqual([...who.body.appIds].sort(), [apps.north, apps.south].sort());
  });

  it('lets an unscoped token create applications, but not manage tokens', async () => {
    const { token } = await makeToken({ name: 'provisioning' });
    assert.equal((await as(token, 'POST', '/api/v1/app', { name: 'west' })).status, 201);
    assert.equal((await as(token, 'GET', '/api/v1/app/east')).status, 200);
    assert.equal((await as(token, 'DELETE', '/api/v1/token/tok_2lYhbWJ0GEAzSF4rRS1kUCnsYmM')).status, 403);
  });

  it('holds a read-only token to GET, saying why', async () => {
    const { id, token } = await makeToken({ name: 'reports', appIds: ['north'], readOnly: true });
    assert.equal((await as(token, 'GET', '/api/v1/app/north/endpoint')).status, 200);
    const write = await as(token, 'PATCH', '/api/v1/app/north', { name: 'renamed' });
    assert.equal(write.status, 403, write.text);
    assert.equal(write.body.code, 'forbidden');
    assert.match(write.body.detail, new RegExp(`${id} is read-only`));
    assert.equal((await server.api('GET', '/api/v1/app/north')).body.name, 'north');
  });

  it('refuses an expired token (401)', async () => {
    const { token } = await makeToken({ name: 'brief', expiresAt: new Date(Date.now() + 1500).toISOString() });
    assert.equal((await as(token, 'GET', '/api/v1/app')).status, 200);
    const res = await eventually(async () => {
      const r = await as(token, 'GET', '/api/v1/app');
      return r.status === 200 ? undefined : r;
    }, 5000, 'the token to expire');
    assert.equal(res.status, 401);
    assert.match(res.body.detail, /has expired/);
    const past = await server.api('POST', '/api/v1/token', { name: 'late', expiresAt: '2001-01-01T00:00:00Z' });
    assert.equal(past.status, 422, past.text);
    assert.match(JSON.stringify(past.body), /expiresAt/);
  });

  it('revokes at once, lists without the token, and names bad input', async () => {
    const { id, token } = await makeToken({ name: 'to revoke', appIds: ['south'] });
    assert.equal((await as(token, 'GET', '/api/v1/app/south')).status, 200);
    assert.equal((await server.api('DELETE', `/api/v1/token/${id}`)).status, 204);
    const after = await as(token, 'GET', '/api/v1/app/south');
    assert.equal(after.status, 401, after.text);
    assert.match(after.body.detail, /revoked/);
    assert.equal((await server.api('DELETE', '/api/v1/token/tok_nothere')).status, 404);

    const list = await server.api('GET', '/api/v1/token?limit=250');
    assert.equal(list.status, 200, list.text);
    const listed = list.body.data.find((t: { id: string }) => t.id === id);
    assert.equal(listed.name, 'to revoke');
    assert.deepEqual(listed.appIds, [apps.south]);
    assert.notEqual(listed.revokedAt, null);
    assert.ok(!list.text.includes(token) && !list.text.includes('hwk_'), 'tokens are never listed');

    const missing = await server.api('POST', '/api/v1/token', { name: 'typo', appIds: ['north', 'nrth'] });
    assert.equal(missing.status, 422, missing.text);
    assert.deepEqual(missing.body.detail[0].loc, ['body', 'appIds', '1']);
    assert.equal((await server.api('POST', '/api/v1/token', {})).status, 422);
  });

  it('names tokens in the audit log by id, and stores only their hash', async () => {
    const { id, token } = await makeToken({ name: 'audited', appIds: ['east'] });
    assert.equal((await as(token, 'PATCH', '/api/v1/app/east', { name: 'East' })).status, 200);
    const entry = await eventually(async () => {
      const page = await server.api('GET', `/api/v1/audit?actor=token:${id}`);
      return page.body.data[0] as { action: string; appId: string } | undefined;
    }, 5000, 'the audit entry');
    assert.equal(entry.action, 'v1.application.patch');
    assert.equal(entry.appId, apps.east);
    if (ON_POSTGRES) return;
    // Every file of the database (the -wal too), as bytes: neither token may appear in any.
    const dir = dirname(server.dbPath);
    let hashSeen = false;
    for (const f of readdirSync(dir).filter((n) => n.startsWith('hookwell.db'))) {
      const bytes = readFileSync(join(dir, f));
      assert.equal(bytes.indexOf(token), -1, `${f} holds the token`);
      assert.equal(bytes.indexOf(token.slice(4)), -1, `${f} holds the token's random part`);
      hashSeen ||= bytes.indexOf(createHash('sha256').update(token).digest('hex')) !== -1;
    }
    assert.ok(hashSeen, 'the scan read the files that hold the token: its hash is there');
  });
});
