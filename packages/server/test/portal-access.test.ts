// App portal tokens (Svix's app-portal-access): a bearer for one application's API, held to
// its capabilities by the API itself. Every documented route is called with a token of
// another application, and with a read-only one, and must refuse.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { Svix } from 'svix';
import { PORTAL_ROUTES } from '../src/api/auth.js';
import { eventually, query, request, startReceiver, startServer, TOKEN, type ApiResponse, type Receiver, type TestServer } from './helpers.js';

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

const ON_SQLITE = process.env.HOOKWELL_TEST_BACKEND !== 'postgres';

/** Routes that take no token at all. */
const PUBLIC = new Set(['GET /api/v1/health', 'GET /health/live', 'GET /health/ready', 'GET /api/v1/content/:msg_id']);

interface Route {
  method: string;
  path: string;
}

async function documentedRoutes(server: TestServer): Promise<Route[]> {
  const doc = (await server.api('GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
  const routes: Route[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const method of Object.keys(ops)) {
      const route = { method: method.toUpperCase(), path: path.replace(/\{(\w+)\}/g, ':$1') };
      if (!PUBLIC.has(`${route.method} ${route.path}`)) routes.push(route);
    }
  }
  return routes;
}

describe('app portal access', () => {
  let server: TestServer;
  let receiver: Receiver;
  /** Application A's ids, to put in every path. */
  const a: Record<string, string> = {};
  let bToken: string;
  let aToken: string;
  let aReadOnly: string;

  const call = (token: string, method: string, path: string, body?: unknown): Promise<ApiResponse> =>
    request(server.url + path, method, {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    }, body === undefined ? undefined : JSON.stringify(body));

  const portalLink = async (app: string, body: unknown = {}): Promise<{ url: string; token: string }> => {
    const res = await server.api('POST', `/api/v1/auth/app-portal-access/${app}`, body);
    assert.equal(res.status, 200, res.text);
    return res.body;
  };

  const fill = (path: string): string =>
    path.replace(/:(\w+)/g, (_, name: string) => {
      const value = a[name];
      if (value === undefined) throw new Error(`no value for :${name} in ${path}`);
      return encodeURIComponent(value);
    });

  before(async () => {
    server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '0' });
    receiver = await startReceiver();
    receiver.respond = (r) => {
      const body = JSON.parse(r.body.toString() || '{}') as { ping?: unknown };
      return typeof body.ping === 'string'
        ? { status: 200, body: JSON.stringify({ pong: body.ping }), headers: { 'content-type': 'application/json' } }
        : { status: 200 };
    };
    await server.api('POST', '/api/v1/event-type', { name: 'meal.logged', description: 'A meal was logged' });
    for (const uid of ['app-a', 'app-b']) {
      assert.equal((await server.api('POST', '/api/v1/app', { name: uid, uid })).status, 201);
      assert.equal((await server.api('POST', `/api/v1/app/${uid}/endpoint`, { url: `${receiver.url}/${uid}`, uid: 'main' })).status, 201);
    }
    const app = (await server.api('GET', '/api/v1/app/app-a')).body;
    a.app_id = app.id;
    a.endpoint_id = (await server.api('GET', '/api/v1/app/app-a/endpoint/main')).body.id;
    const msg = await server.api('POST', '/api/v1/app/app-a/msg', { eventType: 'meal.logged', payload: { meal: 'lunch' } });
    a.msg_id = msg.body.id;
    await receiver.waitFor(1);
    a.attempt_id = await eventually(async () => (await server.api('GET', `/api/v1/app/app-a/attempt/msg/${a.msg_id}`)).body.data[0]?.id as string | undefined);
    a.backfill_id = 'bf_2lYhbWJ0GEAzSF4rRS1kUCnsYmM';
    a.event_type_name = 'meal.logged';
    a.key_id = 'key_none';
    a.token_id = (await server.api('POST', '/api/v1/token', { name: 'ci' })).body.id;
    a.task_id = 'qtask_2lYhbWJ0GEAzSF4rRS1kUCnsYmM';
    aToken = (await portalLink('app-a')).token;
    aReadOnly = (await portalLink('app-a', { readOnly: true })).token;
    bToken = (await portalLink('app-b')).token;
  });
  after(async () => {
    await server.stop();
    await receiver.close();
  });

  it('answers a link carrying the token in its fragment, and keeps only its hash', async () => {
    const link = await portalLink('app-a', { sessionId: 'user_1' });
    assert.match(link.token, /^hwp_[A-Za-z0-9_-]{43}$/);
    assert.equal(link.url, `${server.url}/portal#key=${link.token}`);
    if (ON_SQLITE) {
      const rows = query<Record<string, unknown>>(server.dbPath, 'SELECT * FROM portal_tokens');
      assert.ok(rows.some((r) => r.token_hash === sha256(link.token)));
      assert.ok(!JSON.stringify(rows).includes(link.token.slice(4)), 'the token itself is stored');
    }
    const who = await call(link.token, 'GET', '/api/v1/auth/whoami');
    assert.equal(who.status, 200, who.text);
    assert.equal(who.body.permissionSource, 'appPortal');
    assert.equal(who.body.appId, a.app_id);
    assert.equal(who.body.sessionId, 'user_1');
    assert.equal(who.body.readOnly, false);
    const expires = Date.parse(who.body.expiresAt);
    assert.ok(Math.abs(expires - (Date.now() + 7 * 86_400_000)) < 60_000, `expires ${who.body.expiresAt}, not in 7 days`);
    assert.equal((await server.api('GET', '/api/v1/auth/whoami')).body.permissionSource, 'admin');
  });

  it('refuses bad requests for a link, naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ expiry: 60 }, 'expiry'],
      [{ expiry: 604801 }, 'expiry'],
      [{ capabilities: ['ManageEndpoint'] }, 'capabilities'],
      [{ capabilities: ['ViewBase', 'Everything'] }, 'capabilities'],
      [{ readOnly: true, capabilities: ['ViewBase', 'ManageEndpoint'] }, 'readOnly'],
      [{ featureFlags: ['no spaces'] }, 'featureFlags'],
    ];
    for (const [body, field] of cases) {
      const res = await server.api('POST', '/api/v1/auth/app-portal-access/app-a', body);
      assert.equal(res.status, 422, `${JSON.stringify(body)}: ${res.text}`);
      assert.ok(res.body.detail.some((p: { loc: string[] }) => p.loc.includes(field)), res.text);
    }
    assert.equal((await server.api('POST', '/api/v1/auth/app-portal-access/nope', {})).status, 404);
  });

  it('creates the application when it is missing and one is described, as Svix does', async () => {
    const link = await portalLink('app-new', { application: { name: 'New customer' } });
    const app = (await server.api('GET', '/api/v1/app/app-new')).body;
    assert.equal(app.name, 'New customer');
    assert.equal((await call(link.token, 'GET', '/api/v1/app/app-new')).status, 200);
  });

  it("refuses every route to another application's token, and changes nothing", async () => {
    const routes = await documentedRoutes(server);
    assert.ok(routes.length > 50, `only ${routes.length} routes documented`);
    const before = {
      secret: (await server.api('GET', `/api/v1/app/app-a/endpoint/${a.endpoint_id}/secret`)).body.key,
      deliveries: receiver.received.length,
      endpoint: (await server.api('GET', `/api/v1/app/app-a/endpoint/${a.endpoint_id}`)).text,
    };
    const reached: string[] = [];
    for (const r of routes) {
      if (r.path === '/api/v1/auth/logout') continue; // would end token B itself; tested below
      const res = await call(bToken, r.method, fill(r.path), r.method === 'GET' || r.method === 'DELETE' ? undefined : {});
      const name = `${r.method} ${r.path}`;
      if (!PORTAL_ROUTES.has(name)) {
        assert.equal(res.status, 403, `${name} answered ${res.status}: ${res.text}`);
        assert.equal(res.body.code, 'forbidden');
      } else if (r.path.includes(':app_id')) {
        assert.equal(res.status, 404, `${name} answered ${res.status}: ${res.text}`);
        assert.doesNotMatch(res.text, new RegExp(a.endpoint_id!));
      } else {
        reached.push(name);
      }
    }
    // Only routes about no application at all are open to it: its own identity and the catalogue.
    assert.deepEqual(reached.sort(), ['GET /api/v1/auth/whoami', 'GET /api/v1/event-type', 'GET /api/v1/event-type/:event_type_name']);
    assert.equal((await server.api('GET', `/api/v1/app/app-a/endpoint/${a.endpoint_id}/secret`)).body.key, before.secret);
    assert.equal((await server.api('GET', `/api/v1/app/app-a/endpoint/${a.endpoint_id}`)).text, before.endpoint);
    assert.equal(receiver.received.length, before.deliveries);
    assert.equal((await server.api('GET', '/api/v1/app/app-a')).status, 200);
  });

  it('lists only routes that exist', async () => {
    const documented = new Set((await documentedRoutes(server)).map((r) => `${r.method} ${r.path}`));
    for (const name of PORTAL_ROUTES.keys()) assert.ok(documented.has(name), `${name} is open to portal tokens but is not a route`);
  });

  it('holds a read-only token to reading, and lets it read everything but secrets', async () => {
    const routes = (await documentedRoutes(server)).filter((r) => PORTAL_ROUTES.has(`${r.method} ${r.path}`) && r.path !== '/api/v1/auth/logout');
    for (const r of routes) {
      const name = `${r.method} ${r.path}`;
      const res = await call(aReadOnly, r.method, fill(r.path), r.method === 'GET' || r.method === 'DELETE' ? undefined : {});
      if (PORTAL_ROUTES.get(name)!.includes('ViewBase') || name === 'GET /api/v1/auth/whoami') {
        assert.notEqual(res.status, 403, `${name}: ${res.text}`);
        assert.notEqual(res.status, 401, `${name}: ${res.text}`);
      } else {
        assert.equal(res.status, 403, `${name} answered ${res.status}: ${res.text}`);
        assert.match(res.body.detail, /lacks the capability/);
      }
    }
    assert.equal((await call(aReadOnly, 'GET', `/api/v1/app/app-a/endpoint/${a.endpoint_id}/secret`)).status, 403);
    assert.equal((await call(aReadOnly, 'GET', `/api/v1/app/app-a/msg/${a.msg_id}`)).body.payload.meal, 'lunch');
    assert.equal((await call(aReadOnly, 'GET', '/api/v1/auth/whoami')).body.readOnly, true);
  });

  it('looks the application up once a request: the token check hands it to the route', async () => {
    const store = server.hw.store;
    const getApp = store.getApp;
    let lookups = 0;
    store.getApp = (ref) => {
      lookups++;
      return getApp.call(store, ref);
    };
    try {
      const once = async (res: Promise<ApiResponse>) => {
        lookups = 0;
        assert.equal((await res).status, 200);
        assert.equal(lookups, 1);
      };
      await once(call(aToken, 'GET', `/api/v1/app/app-a/endpoint/${a.endpoint_id}`));
      await once(call(aReadOnly, 'GET', `/api/v1/app/app-a/attempt/msg/${a.msg_id}?endpoint_id=${a.endpoint_id}`));
      await once(server.api('GET', `/api/v1/app/app-a/endpoint/${a.endpoint_id}`));
    } finally {
      store.getApp = getApp;
    }
  });

  it('lets a full token manage its own application: endpoints, secrets, resends', async () => {
    const created = await call(aToken, 'POST', '/api/v1/app/app-a/endpoint', { url: `${receiver.url}/portal-made`, verify: true });
    assert.equal(created.status, 201, created.text);
    const rotated = await call(aToken, 'POST', `/api/v1/app/app-a/endpoint/${created.body.id}/secret/rotate`, {});
    assert.equal(rotated.status, 204, rotated.text);
    const n = receiver.received.length;
    const resent = await call(aToken, 'POST', `/api/v1/app/app-a/msg/${a.msg_id}/endpoint/${a.endpoint_id}/resend`);
    assert.equal(resent.status, 202, resent.text);
    await receiver.waitFor(n + 1);
    // The platform's own operations stay the admin's.
    assert.equal((await call(aToken, 'POST', '/api/v1/app/app-a/msg', { eventType: 'meal.logged', payload: {} })).status, 403);
    assert.equal((await call(aToken, 'DELETE', '/api/v1/app/app-a')).status, 403);
    assert.equal((await call(aToken, 'GET', '/api/v1/app')).status, 403);
    assert.equal((await call(aToken, 'POST', '/api/v1/event-type', { name: 'x.y', description: 'x' })).status, 403);
    assert.equal((await call(aToken, 'POST', '/api/v1/auth/app-portal-access/app-a', {})).status, 403);
    // An endpoint of another application is not found through this one.
    const bEndpoint = (await server.api('GET', '/api/v1/app/app-b/endpoint/main')).body.id;
    assert.equal((await call(aToken, 'GET', `/api/v1/app/app-a/endpoint/${bEndpoint}`)).status, 404);
  });

  it('grants exactly the capabilities asked for', async () => {
    const { token } = await portalLink('app-a', { capabilities: ['ViewBase', 'ViewEndpointSecret'] });
    assert.equal((await call(token, 'GET', `/api/v1/app/app-a/endpoint/${a.endpoint_id}/secret`)).status, 200);
    assert.equal((await call(token, 'POST', `/api/v1/app/app-a/endpoint/${a.endpoint_id}/secret/rotate`, {})).status, 403);
    assert.equal((await call(token, 'POST', `/api/v1/app/app-a/msg/${a.msg_id}/endpoint/${a.endpoint_id}/resend`)).status, 403);
    assert.deepEqual((await call(token, 'GET', '/api/v1/auth/whoami')).body.capabilities, ['ViewBase', 'ViewEndpointSecret']);
  });

  it('ends a token on logout, and an application’s tokens on expire-all (by session when asked)', async () => {
    const own = await portalLink('app-b');
    assert.equal((await call(own.token, 'POST', '/api/v1/auth/logout')).status, 204);
    const after = await call(own.token, 'GET', '/api/v1/app/app-b');
    assert.equal(after.status, 401);
    assert.match(after.body.detail, /expired or was revoked/);
    assert.equal((await server.api('POST', '/api/v1/auth/logout')).status, 400);

    const s1 = await portalLink('app-b', { sessionId: 's1' });
    const s2 = await portalLink('app-b', { sessionId: 's2' });
    assert.equal((await server.api('POST', '/api/v1/auth/app/app-b/expire-all', { sessionIds: ['s1'] })).status, 204);
    assert.equal((await call(s1.token, 'GET', '/api/v1/app/app-b')).status, 401);
    assert.equal((await call(s2.token, 'GET', '/api/v1/app/app-b')).status, 200);
    // Later: still valid now.
    assert.equal((await server.api('POST', '/api/v1/auth/app/app-b/expire-all', { expiry: 3600 })).status, 204);
    assert.equal((await call(s2.token, 'GET', '/api/v1/app/app-b')).status, 200);
    // With no body at all, as `curl -X POST` sends it: now.
    assert.equal((await call(TOKEN, 'POST', '/api/v1/auth/app/app-b/expire-all')).status, 204);
    assert.equal((await call(s2.token, 'GET', '/api/v1/app/app-b')).status, 401);
    assert.equal((await call(bToken, 'GET', '/api/v1/app/app-b')).status, 401);
    // Application A's tokens are untouched.
    assert.equal((await call(aToken, 'GET', '/api/v1/app/app-a')).status, 200);
    // An unknown portal token, and one expired by time.
    assert.equal((await call('hwp_nottoken', 'GET', '/api/v1/app/app-a')).status, 401);
    if (!ON_SQLITE) return;
    const old = await portalLink('app-a', { expiry: 3600 });
    const db = new Database(server.dbPath);
    try {
      assert.equal(db.prepare('UPDATE portal_tokens SET expires_at = ? WHERE token_hash = ?').run(Date.now() - 1, sha256(old.token)).changes, 1);
    } finally {
      db.close();
    }
    assert.equal((await call(old.token, 'GET', '/api/v1/app/app-a')).status, 401);
  });

  it('works with the official Svix SDK', async () => {
    const sdk = new Svix(TOKEN, { serverUrl: server.url });
    const access = await sdk.authentication.appPortalAccess('app-a', { featureFlags: ['beta'] });
    assert.ok(access.url.endsWith(`#key=${access.token}`));
    const portal = new Svix(access.token, { serverUrl: server.url });
    const eps = await portal.endpoint.list('app-a');
    assert.ok(eps.data.some((e) => e.id === a.endpoint_id));
    await assert.rejects(portal.application.list(), (err: { code?: number }) => err.code === 403);
    await assert.rejects(portal.endpoint.list('app-b'), (err: { code?: number }) => err.code === 404);
    await sdk.authentication.expireAll('app-a', {});
    await assert.rejects(portal.endpoint.list('app-a'), (err: { code?: number }) => err.code === 401);
  });
});
