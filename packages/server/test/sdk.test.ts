// Drives every implemented management operation through the official Svix SDK (svix
// 1.99.1) against a real Hookwell and a real receiver, and checks the effects: what the
// receiver gets, how it is signed, and what the server reports afterwards.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  ApiException,
  BackgroundTaskType,
  MessageAttemptTriggerType,
  MessageStatus,
  MessageStatusText,
  Ordering,
  Svix,
  Webhook,
  type ApplicationOut,
  type EndpointOut,
  type MessageOut,
} from 'svix';
import { eventually, startReceiver, startServer, TOKEN, type Received, type Receiver, type TestServer } from './helpers.js';

// --- plumbing ---------------------------------------------------------------------------

/** Every response the SDK receives, raw, so status codes and field names can be checked. */
interface RawResponse {
  method: string;
  path: string;
  status: number;
  text: string;
}
const rawLog: RawResponse[] = [];
const recordingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const url = new URL(input instanceof Request ? input.url : String(input));
  rawLog.push({ method: init?.method ?? 'GET', path: url.pathname, status: res.status, text: await res.clone().text() });
  return res;
};
/** The raw response to the SDK's most recent call. */
const lastRaw = (): RawResponse => {
  const r = rawLog[rawLog.length - 1];
  assert.ok(r, 'no response recorded');
  return r;
};

let seq = 0;
const uniq = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${++seq}`;

async function rejectsWith(p: Promise<unknown>, code: number): Promise<ApiException<any>> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiException, `expected an ApiException, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${JSON.stringify(err.body)}`);
    return err as ApiException<any>;
  }
  assert.fail(`expected the call to fail with ${code}, but it succeeded`);
}

function headersOf(r: Received): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

const ids = (xs: { id: string }[]): string[] => xs.map((x) => x.id).sort();

describe('Svix SDK against Hookwell', () => {
  let srv: TestServer;
  let receiver: Receiver;
  let svix: Svix;
  /** Per-path answers of the receiver; 200 with an empty body otherwise. */
  const routes = new Map<string, (r: Received) => { status: number; body?: string }>();
  const at = (path: string): Received[] => receiver.received.filter((r) => r.path === path);
  const arrivals = (path: string, n: number): Promise<Received[]> =>
    eventually(
      () => {
        const got = at(path);
        return got.length >= n ? got : undefined;
      },
      10_000,
      `${n} deliveries at ${path}`,
    );

  let typeA: string;
  let typeB: string;

  /** The background task once it is no longer running. */
  const taskDone = (id: string) =>
    eventually(
      async () => {
        const t = await svix.backgroundTask.get(id);
        return t.status === 'running' ? undefined : t;
      },
      10_000,
      `task ${id} to finish`,
    );

  const newApp = (extra: { uid?: string; name?: string } = {}): Promise<ApplicationOut> =>
    svix.application.create({ name: extra.name ?? 'Test app', uid: extra.uid ?? uniq('app') });
  const newEndpoint = (appId: string, path: string, extra: Partial<Parameters<Svix['endpoint']['create']>[1]> = {}): Promise<EndpointOut> =>
    svix.endpoint.create(appId, { url: receiver.url + path, ...extra });

  before(async () => {
    // A retry schedule of 0 s: a failing delivery gets its two attempts at once and fails.
    [srv, receiver] = await Promise.all([startServer({ HOOKWELL_RETRY_SCHEDULE: '0' }), startReceiver()]);
    receiver.respond = (r) => routes.get(r.path)?.(r) ?? { status: 200 };
    svix = new Svix(TOKEN, { serverUrl: srv.url, fetch: recordingFetch });
    typeA = uniq('order.created');
    typeB = uniq('order.shipped');
    await svix.eventType.create({ name: typeA, description: 'A' });
    await svix.eventType.create({ name: typeB, description: 'B' });
  });

  after(async () => {
    await srv?.stop();
    await receiver?.close();
  });

  // --- health ---------------------------------------------------------------------------

  describe('health', () => {
    it('health.get answers 204 without a valid token; other calls need the right token', async () => {
      await svix.health.get();
      assert.equal(lastRaw().status, 204);
      const wrong = new Svix('not-the-admin-token-at-all', { serverUrl: srv.url });
      await wrong.health.get();
      const e = await rejectsWith(wrong.application.list(), 401);
      assert.equal(e.body.code, 'authentication_failed');
    });
  });

  // --- applications ---------------------------------------------------------------------

  describe('application', () => {
    it('create, get by id and uid, getOrCreate (get_if_exists), and the 404 / 409 / 422 errors', async () => {
      const uid = uniq('acme');
      const created = await svix.application.create({ name: 'Acme', uid, metadata: { tier: 'gold' }, throttleRate: 10 });
      assert.equal(lastRaw().status, 201);
      assert.match(created.id, /^app_[A-Za-z0-9]{27}$/);
      assert.equal(created.uid, uid);
      assert.equal(created.name, 'Acme');
      assert.deepEqual(created.metadata, { tier: 'gold' });
      assert.equal(created.throttleRate, 10);
      assert.ok(!Number.isNaN(created.createdAt.getTime()));

      const byId = await svix.application.get(created.id);
      const byUid = await svix.application.get(uid);
      assert.deepEqual(byId, created);
      assert.deepEqual(byUid, created);

      // get_if_exists=true: the existing app comes back untouched, with 200.
      const again = await svix.application.getOrCreate({ name: 'Another name', uid });
      assert.equal(lastRaw().status, 200);
      assert.equal(again.id, created.id);
      assert.equal(again.name, 'Acme');
      // ... and an unknown uid is created, with 201.
      const freshUid = uniq('fresh');
      const fresh = await svix.application.getOrCreate({ name: 'Fresh', uid: freshUid });
      assert.equal(lastRaw().status, 201);
      assert.notEqual(fresh.id, created.id);
      assert.equal((await svix.application.get(freshUid)).id, fresh.id);

      const dup = await rejectsWith(svix.application.create({ name: 'Dup', uid }), 409);
      assert.match(dup.body.detail, new RegExp(uid));
      const invalid = await rejectsWith(svix.application.create({ name: '' }), 422);
      assert.deepEqual(invalid.body.detail[0].loc, ['body', 'name']);
      await rejectsWith(svix.application.get(uniq('no-such-app')), 404);
    });

    it('update (PUT) replaces an app or creates it under an unknown uid; patch changes only given fields', async () => {
      const uid = uniq('upd');
      const app = await svix.application.create({ name: 'Before', uid, metadata: { a: '1' } });

      const updated = await svix.application.update(uid, { name: 'After', metadata: { b: '2' } });
      assert.equal(lastRaw().status, 200);
      assert.equal(updated.id, app.id);
      assert.equal(updated.uid, uid, 'the uid is kept when the body has none');
      assert.equal(updated.name, 'After');
      assert.deepEqual(updated.metadata, { b: '2' });
      assert.equal((await svix.application.get(app.id)).name, 'After');

      const newUid = uniq('upserted');
      const upserted = await svix.application.update(newUid, { name: 'Upserted' });
      assert.equal(lastRaw().status, 201);
      assert.equal(upserted.uid, newUid);
      assert.equal((await svix.application.get(newUid)).id, upserted.id);

      const patched = await svix.application.patch(app.id, { metadata: { c: '3' } });
      assert.equal(patched.name, 'After');
      assert.deepEqual(patched.metadata, { c: '3' });
      const renamed = await svix.application.patch(uid, { name: 'Patched' });
      assert.equal(renamed.name, 'Patched');
      assert.deepEqual(renamed.metadata, { c: '3' });
      assert.deepEqual(await svix.application.get(uid), renamed);

      await rejectsWith(svix.application.patch(app.id, { uid: newUid }), 409);
      await rejectsWith(svix.application.patch(uniq('missing'), { name: 'x' }), 404);
    });

    it('delete removes the app with its endpoints', async () => {
      const uid = uniq('doomed');
      const app = await newApp({ uid });
      await newEndpoint(app.id, '/doomed');
      assert.equal((await svix.endpoint.list(uid)).data.length, 1);
      await svix.application.delete(uid);
      assert.equal(lastRaw().status, 204);
      await rejectsWith(svix.application.get(app.id), 404);
      await rejectsWith(svix.endpoint.list(app.id), 404);
      await rejectsWith(svix.application.delete(uid), 404);
    });

    it('list with limit 2 walks all 5 apps with iterator until done', async () => {
      // A server of its own, so the five are all there is.
      const own = await startServer();
      try {
        const client = new Svix(TOKEN, { serverUrl: own.url });
        const created: string[] = [];
        for (let i = 0; i < 5; i++) created.push((await client.application.create({ name: `App ${i}`, uid: `page-${i}` })).id);

        const pages: string[][] = [];
        let iterator: string | null = null;
        for (;;) {
          const page = await client.application.list({ limit: 2, iterator });
          pages.push(page.data.map((a) => a.id));
          if (page.done) break;
          assert.ok(page.iterator, 'a page that is not done has an iterator');
          iterator = page.iterator;
          assert.ok(pages.length < 10, 'pagination does not end');
        }
        assert.deepEqual(
          pages.map((p) => p.length),
          [2, 2, 1],
        );
        const walked = pages.flat();
        assert.equal(new Set(walked).size, 5, 'no app is listed twice');
        assert.deepEqual([...walked].sort(), [...created].sort());

        const descending = await client.application.list({ limit: 250, order: Ordering.Descending });
        assert.deepEqual(
          descending.data.map((a) => a.id),
          [...walked].reverse(),
        );
      } finally {
        await own.stop();
      }
    });
  });

  // --- event types ----------------------------------------------------------------------

  describe('eventType', () => {
    it('create, get, list (withContent), update, patch, delete (archive, then expunge)', async () => {
      const name = uniq('invoice.paid');
      const schemas = { '1': { type: 'object', properties: { amount: { type: 'number' } } } };
      const created = await svix.eventType.create({ name, description: 'Invoice paid', schemas, groupName: 'billing' });
      assert.equal(lastRaw().status, 201);
      assert.equal(created.name, name);
      assert.equal(created.description, 'Invoice paid');
      assert.equal(created.archived, false);
      assert.equal(created.deprecated, false);
      assert.equal(created.groupName, 'billing');
      assert.deepEqual(created.schemas, schemas);
      // A duplicate name should be 409; see 'known bugs' below.
      await rejectsWith(svix.eventType.create({ name: 'has space', description: 'bad' }), 422);

      assert.deepEqual(await svix.eventType.get(name), created);
      const plain = (await svix.eventType.list({ limit: 250 })).data.find((t) => t.name === name);
      assert.ok(plain, 'the new event type is listed');
      assert.equal(plain.schemas ?? null, null, 'schemas are left out unless withContent');
      const full = (await svix.eventType.list({ limit: 250, withContent: true })).data.find((t) => t.name === name);
      assert.deepEqual(full?.schemas, schemas);

      const replaced = await svix.eventType.update(name, { description: 'Replaced', deprecated: true });
      assert.equal(lastRaw().status, 200);
      assert.equal(replaced.description, 'Replaced');
      assert.equal(replaced.deprecated, true);
      assert.equal(replaced.schemas ?? null, null, 'PUT replaces: fields left out are cleared');
      assert.equal(replaced.groupName ?? null, null);

      const upsertName = uniq('invoice.voided');
      const upserted = await svix.eventType.update(upsertName, { description: 'Created by PUT' });
      assert.equal(lastRaw().status, 201);
      assert.equal((await svix.eventType.get(upsertName)).description, upserted.description);

      const patched = await svix.eventType.patch(name, { description: 'Patched' });
      assert.equal(patched.description, 'Patched');
      assert.equal(patched.deprecated, true, 'patch keeps fields it was not given');
      await rejectsWith(svix.eventType.patch(uniq('nope'), { description: 'x' }), 404);

      await svix.eventType.delete(name);
      assert.equal((await svix.eventType.get(name)).archived, true);
      assert.ok(!(await svix.eventType.list({ limit: 250 })).data.some((t) => t.name === name), 'archived types are hidden');
      assert.ok((await svix.eventType.list({ limit: 250, includeArchived: true })).data.some((t) => t.name === name));

      await svix.eventType.delete(name, { expunge: true });
      await rejectsWith(svix.eventType.get(name), 404);
      await rejectsWith(svix.eventType.delete(name), 404);
    });
  });

  // --- endpoints ------------------------------------------------------------------------

  describe('endpoint', () => {
    it('create with filterTypes (v1 name) shows it as both filterTypes and eventTypes; get by uid; list', async () => {
      const app = await newApp();
      const ep = await svix.endpoint.create(app.id, {
        url: receiver.url + '/crud',
        uid: 'ep-crud',
        filterTypes: [typeA],
        channels: ['ch-1'],
        description: 'the crud one',
        metadata: { k: 'v' },
      });
      const raw = lastRaw();
      assert.equal(raw.status, 201);
      const body = JSON.parse(raw.text) as { eventTypes: unknown; filterTypes: unknown };
      assert.deepEqual(body.filterTypes, [typeA]);
      assert.deepEqual(body.eventTypes, [typeA]);
      assert.match(ep.id, /^ep_[A-Za-z0-9]{27}$/);
      assert.deepEqual(ep.filterTypes, [typeA]);
      assert.deepEqual(ep.channels, ['ch-1']);
      assert.equal(ep.description, 'the crud one');
      assert.equal(ep.uid, 'ep-crud');

      assert.deepEqual(await svix.endpoint.get(app.uid!, 'ep-crud'), ep);
      const other = await newEndpoint(app.id, '/crud-2');
      assert.deepEqual(ids((await svix.endpoint.list(app.id)).data), [ep.id, other.id].sort());
      const firstPage = await svix.endpoint.list(app.id, { limit: 1 });
      assert.equal(firstPage.data.length, 1);
      assert.equal(firstPage.done, false);

      await rejectsWith(svix.endpoint.create(app.id, { url: receiver.url + '/x', uid: 'ep-crud' }), 409);
      const badUrl = await rejectsWith(svix.endpoint.create(app.id, { url: 'ftp://example.com/hook' }), 422);
      assert.deepEqual(badUrl.body.detail[0].loc, ['body', 'url']);
      const badType = await rejectsWith(svix.endpoint.create(app.id, { url: receiver.url + '/x', filterTypes: [uniq('unknown')] }), 422);
      assert.deepEqual(badType.body.detail[0].loc, ['body', 'filterTypes', '0']);
      await rejectsWith(svix.endpoint.get(app.id, 'no-such-endpoint'), 404);
      await rejectsWith(svix.endpoint.create(uniq('no-such-app'), { url: receiver.url + '/x' }), 404);
    });

    it('update (PUT) replaces or creates, patch changes only given fields, delete removes', async () => {
      const app = await newApp();
      const ep = await newEndpoint(app.id, '/upd', { uid: 'ep-upd', filterTypes: [typeA], channels: ['ch-1'], description: 'old' });

      const replaced = await svix.endpoint.update(app.id, 'ep-upd', { url: receiver.url + '/upd-2', filterTypes: [typeB] });
      assert.equal(lastRaw().status, 200);
      assert.equal(replaced.id, ep.id);
      assert.equal(replaced.uid, 'ep-upd');
      assert.equal(replaced.url, receiver.url + '/upd-2');
      assert.deepEqual(replaced.filterTypes, [typeB]);
      assert.equal(replaced.channels ?? null, null, 'PUT clears what it is not given');
      assert.equal(replaced.description, '');

      const created = await svix.endpoint.update(app.id, 'ep-put-new', { url: receiver.url + '/put-new' });
      assert.equal(lastRaw().status, 201);
      assert.equal(created.uid, 'ep-put-new');
      assert.equal((await svix.endpoint.get(app.id, 'ep-put-new')).id, created.id);

      const patched = await svix.endpoint.patch(app.uid!, 'ep-upd', { description: 'patched', disabled: true });
      assert.equal(patched.description, 'patched');
      assert.equal(patched.disabled, true);
      assert.equal(patched.url, receiver.url + '/upd-2');
      assert.deepEqual(patched.filterTypes, [typeB]);
      await rejectsWith(svix.endpoint.patch(app.id, 'ep-upd', { filterTypes: [uniq('unknown')] }), 422);
      await rejectsWith(svix.endpoint.patch(app.id, 'ep-upd', { uid: 'ep-put-new' }), 409);

      await svix.endpoint.delete(app.id, 'ep-upd');
      assert.equal(lastRaw().status, 204);
      await rejectsWith(svix.endpoint.get(app.id, ep.id), 404);
      await rejectsWith(svix.endpoint.delete(app.id, ep.id), 404);
      assert.deepEqual(ids((await svix.endpoint.list(app.id)).data), [created.id]);
    });
  });

  // --- messages -------------------------------------------------------------------------

  describe('message', () => {
    let appUid: string;
    let secret: string;
    let msg: MessageOut;
    let eventId: string;
    const payload = { text: 'héllo ✓ "quoted"', n: 1.5, big: 12345678901234, nested: { list: [1, 'two', null, false] }, empty: {} };

    before(async () => {
      appUid = uniq('msgapp');
      await newApp({ uid: appUid });
      await newEndpoint(appUid, '/sig', { uid: 'sig' });
      secret = (await svix.endpoint.getSecret(appUid, 'sig')).key;
    });

    it('create delivers the payload byte for byte, signed so that the endpoint secret verifies it', async () => {
      assert.match(secret, /^whsec_[A-Za-z0-9+/=]{32,}$/);
      eventId = uniq('evt');
      msg = await svix.message.create(appUid, { eventType: typeA, eventId, payload, channels: ['ch-1'], tags: ['t1'] });
      assert.equal(lastRaw().status, 202);
      assert.match(msg.id, /^msg_[A-Za-z0-9]{27}$/);
      assert.equal(msg.eventId, eventId);
      assert.equal(msg.eventType, typeA);
      assert.deepEqual(msg.payload, payload);
      assert.deepEqual(msg.channels, ['ch-1']);
      assert.deepEqual(msg.tags, ['t1']);

      const [r] = await arrivals('/sig', 1);
      assert.ok(r);
      assert.ok(r.body.equals(Buffer.from(JSON.stringify(payload), 'utf8')), `body was ${r.body.toString()}`);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['webhook-id'], msg.id);
      const verified = new Webhook(secret).verify(r.body.toString('utf8'), headersOf(r));
      assert.deepEqual(verified, payload);
      assert.throws(() => new Webhook(secret).verify(r.body.toString('utf8').replace('1.5', '2.5'), headersOf(r)), /signature/i);
      const otherSecret = 'whsec_' + randomBytes(24).toString('base64');
      assert.throws(() => new Webhook(otherSecret).verify(r.body.toString('utf8'), headersOf(r)), /signature/i);
    });

    it('get by id and by eventId, withContent false, list with filters, and the 404 / 409 / 422 errors', async () => {
      const byId = await svix.message.get(appUid, msg.id);
      const byEventId = await svix.message.get(appUid, eventId);
      assert.deepEqual(byId, msg);
      assert.deepEqual(byEventId, msg);
      assert.deepEqual((await svix.message.get(appUid, msg.id, { withContent: false })).payload, {});

      const second = await svix.message.create(appUid, { eventType: typeB, payload: { second: true } }, { withContent: false });
      assert.deepEqual(second.payload, {}, 'withContent=false on create leaves the payload out');
      const listed = await svix.message.list(appUid);
      assert.deepEqual(
        listed.data.map((m) => m.id),
        [second.id, msg.id],
        'newest first',
      );
      assert.deepEqual(listed.data[1]?.payload, payload);
      assert.deepEqual(
        (await svix.message.list(appUid, { eventTypes: [typeB] })).data.map((m) => m.id),
        [second.id],
      );
      assert.deepEqual(
        (await svix.message.list(appUid, { channel: 'ch-1' })).data.map((m) => m.id),
        [msg.id],
      );
      assert.deepEqual(
        (await svix.message.list(appUid, { tag: 't1' })).data.map((m) => m.id),
        [msg.id],
      );
      assert.deepEqual(
        (await svix.message.list(appUid, { before: new Date(second.timestamp.getTime()) })).data.map((m) => m.id),
        [msg.id],
      );
      const firstPage = await svix.message.list(appUid, { limit: 1 });
      assert.deepEqual(
        firstPage.data.map((m) => m.id),
        [second.id],
      );
      const secondPage = await svix.message.list(appUid, { limit: 1, iterator: firstPage.iterator });
      assert.deepEqual(
        secondPage.data.map((m) => m.id),
        [msg.id],
      );
      assert.equal(secondPage.done, true);

      const dup = await rejectsWith(svix.message.create(appUid, { eventType: typeA, eventId, payload: {} }), 409);
      assert.equal(dup.body.code, 'duplicate_event_id');
      await rejectsWith(svix.message.get(appUid, 'msg_doesnotexist'), 404);
      await rejectsWith(svix.message.create(uniq('no-such-app'), { eventType: typeA, payload: {} }), 404);
      const bad = await rejectsWith(svix.message.create(appUid, { eventType: 'not a valid name!', payload: {} }), 422);
      assert.deepEqual(bad.body.detail[0].loc, ['body', 'eventType']);
    });

    it('create with `application` creates the app on the fly under the uid in the path', async () => {
      const uid = uniq('auto');
      const m = await svix.message.create(uid, { eventType: typeA, payload: { auto: 1 }, application: { name: 'Auto-created' } });
      const app = await svix.application.get(uid);
      assert.equal(app.name, 'Auto-created');
      assert.equal((await svix.message.get(app.id, m.id)).id, m.id);
    });

    it('expungeContent removes the payload; the message can then not be resent', async () => {
      await svix.message.expungeContent(appUid, eventId);
      assert.equal(lastRaw().status, 204);
      const after = await svix.message.get(appUid, eventId);
      assert.equal(after.id, msg.id);
      assert.deepEqual(after.payload, {});
      const e = await rejectsWith(svix.messageAttempt.resend(appUid, eventId, 'sig'), 409);
      assert.equal(e.body.code, 'content_expunged');
      await rejectsWith(svix.message.expungeContent(appUid, 'msg_doesnotexist'), 404);
    });
  });

  // --- routing --------------------------------------------------------------------------

  describe('routing', () => {
    it('filterTypes and channels decide which endpoints get a message', async () => {
      const app = await newApp();
      const epTypes = await newEndpoint(app.id, '/r-types', { filterTypes: [typeA] });
      const epChan = await newEndpoint(app.id, '/r-chan', { channels: ['ch-x'] });
      const epAll = await newEndpoint(app.id, '/r-all');

      const m1 = await svix.message.create(app.id, { eventType: typeA, payload: { n: 1 } });
      const m2 = await svix.message.create(app.id, { eventType: typeB, payload: { n: 2 }, channels: ['ch-x'] });
      const m3 = await svix.message.create(app.id, { eventType: typeA, payload: { n: 3 }, channels: ['ch-x', 'ch-y'] });
      const m4 = await svix.message.create(app.id, { eventType: typeB, payload: { n: 4 }, channels: ['ch-y'] });

      const destinations = async (m: MessageOut) => ids((await svix.messageAttempt.listAttemptedDestinations(app.id, m.id)).data);
      assert.deepEqual(await destinations(m1), [epTypes.id, epAll.id].sort());
      assert.deepEqual(await destinations(m2), [epChan.id, epAll.id].sort());
      assert.deepEqual(await destinations(m3), [epTypes.id, epChan.id, epAll.id].sort());
      assert.deepEqual(await destinations(m4), [epAll.id]);

      await Promise.all([arrivals('/r-all', 4), arrivals('/r-types', 2), arrivals('/r-chan', 2)]);
      const got = (path: string) => at(path).map((r) => r.headers['webhook-id']).sort();
      assert.deepEqual(got('/r-all'), [m1.id, m2.id, m3.id, m4.id].sort());
      assert.deepEqual(got('/r-types'), [m1.id, m3.id].sort());
      assert.deepEqual(got('/r-chan'), [m2.id, m3.id].sort());
    });
  });

  // --- headers --------------------------------------------------------------------------

  describe('endpoint headers', () => {
    it('headers set via the SDK arrive at the receiver; sensitive ones come back masked', async () => {
      const app = await newApp();
      const ep = await newEndpoint(app.id, '/hdr', { uid: 'hdr', headers: { 'X-Initial': 'one' } });
      assert.deepEqual(await svix.endpoint.getHeaders(app.id, 'hdr'), { headers: { 'X-Initial': 'one' }, sensitive: [] });

      await svix.endpoint.updateHeaders(app.id, ep.id, { headers: { Authorization: 'Bearer s3cret', 'X-Api-Key': 'k-123', 'X-Team': 'blue' } });
      assert.equal(lastRaw().status, 204);
      let shown = await svix.endpoint.getHeaders(app.id, 'hdr');
      assert.deepEqual(shown.headers, { Authorization: '********', 'X-Api-Key': '********', 'X-Team': 'blue' });
      assert.deepEqual([...shown.sensitive].sort(), ['Authorization', 'X-Api-Key']);
      assert.ok(!JSON.stringify(shown).includes('s3cret') && !JSON.stringify(shown).includes('k-123'), 'secrets never come back');

      await svix.endpoint.patchHeaders(app.id, 'hdr', { headers: { 'X-Extra': 'yes' }, deleteHeaders: ['X-Team'] });
      assert.equal(lastRaw().status, 204);
      shown = await svix.endpoint.getHeaders(app.id, 'hdr');
      assert.deepEqual(shown.headers, { Authorization: '********', 'X-Api-Key': '********', 'X-Extra': 'yes' });

      // Read-modify-write with the masked values keeps the stored secrets.
      await svix.endpoint.updateHeaders(app.id, 'hdr', { headers: { ...shown.headers, 'X-Extra': 'changed' } });

      const secret = (await svix.endpoint.getSecret(app.id, 'hdr')).key;
      const m = await svix.message.create(app.id, { eventType: typeA, payload: { headers: true } });
      const [r] = await arrivals('/hdr', 1);
      assert.ok(r);
      assert.equal(r.headers['authorization'], 'Bearer s3cret');
      assert.equal(r.headers['x-api-key'], 'k-123');
      assert.equal(r.headers['x-extra'], 'changed');
      assert.equal(r.headers['x-team'], undefined);
      assert.equal(r.headers['x-initial'], undefined);
      assert.equal(r.headers['webhook-id'], m.id);
      assert.deepEqual(new Webhook(secret).verify(r.body.toString(), headersOf(r)), { headers: true });

      const reserved = await rejectsWith(svix.endpoint.updateHeaders(app.id, 'hdr', { headers: { 'webhook-signature': 'forged' } }), 422);
      assert.deepEqual(reserved.body.detail[0].loc, ['body', 'headers', 'webhook-signature']);
      await rejectsWith(svix.endpoint.patchHeaders(app.id, 'hdr', { headers: { 'bad header': 'x' } }), 422);
      await rejectsWith(svix.endpoint.getHeaders(app.id, 'no-such-endpoint'), 404);
    });
  });

  // --- secrets --------------------------------------------------------------------------

  describe('endpoint secret', () => {
    it('rotateSecret: the next delivery carries two signatures and both secrets verify it', async () => {
      const app = await newApp();
      await newEndpoint(app.id, '/rot', { uid: 'rot' });
      const oldSecret = (await svix.endpoint.getSecret(app.id, 'rot')).key;

      await svix.endpoint.rotateSecret(app.id, 'rot', {});
      assert.equal(lastRaw().status, 204);
      const newSecret = (await svix.endpoint.getSecret(app.id, 'rot')).key;
      assert.notEqual(newSecret, oldSecret);
      assert.match(newSecret, /^whsec_/);

      await svix.message.create(app.id, { eventType: typeA, payload: { rotated: 1 } });
      const [r] = await arrivals('/rot', 1);
      assert.ok(r);
      const sigs = String(r.headers['webhook-signature']).split(' ');
      assert.equal(sigs.length, 2, `expected two signatures, got ${r.headers['webhook-signature']}`);
      for (const s of sigs) assert.match(s, /^v1,[A-Za-z0-9+/=]+$/);
      assert.deepEqual(new Webhook(newSecret).verify(r.body.toString(), headersOf(r)), { rotated: 1 });
      assert.deepEqual(new Webhook(oldSecret).verify(r.body.toString(), headersOf(r)), { rotated: 1 });
    });

    it('rotateSecret with a given key and no grace period: the replaced secret stops verifying at once', async () => {
      const app = await newApp();
      await newEndpoint(app.id, '/rot-key', { uid: 'rot-key' });
      const before = (await svix.endpoint.getSecret(app.id, 'rot-key')).key;
      const key = 'whsec_' + randomBytes(32).toString('base64');
      await svix.endpoint.rotateSecret(app.id, 'rot-key', { key, gracePeriodSeconds: 0 });
      assert.equal((await svix.endpoint.getSecret(app.id, 'rot-key')).key, key);

      await svix.message.create(app.id, { eventType: typeA, payload: { rotated: 2 } });
      const [r] = await arrivals('/rot-key', 1);
      assert.ok(r);
      assert.equal(String(r.headers['webhook-signature']).split(' ').length, 1);
      assert.deepEqual(new Webhook(key).verify(r.body.toString(), headersOf(r)), { rotated: 2 });
      assert.throws(() => new Webhook(before).verify(r.body.toString(), headersOf(r)), /signature/i);

      await rejectsWith(svix.endpoint.rotateSecret(app.id, 'rot-key', { key: 'too-short' }), 422);
      // Svix's pattern takes public keys and whsk1_ keys too; none can sign here, and the 422 says why.
      const body = randomBytes(32).toString('base64');
      for (const [prefix, why] of [
        ['whpk_', /public key.*cannot make them/],
        ['whpk1_', /public key.*cannot make them/],
        ['whsk1_', /whsk1_ keys are not supported/],
      ] as const) {
        const e = await rejectsWith(svix.endpoint.rotateSecret(app.id, 'rot-key', { key: prefix + body }), 422);
        assert.deepEqual(e.body.detail[0].loc, ['body', 'key']);
        assert.match(e.body.detail[0].msg, why);
        const c = await rejectsWith(newEndpoint(app.id, '/never', { secret: prefix + body }), 422);
        assert.deepEqual(c.body.detail[0].loc, ['body', 'secret']);
        assert.match(c.body.detail[0].msg, why);
      }
      assert.equal((await svix.endpoint.getSecret(app.id, 'rot-key')).key, key, 'a refused key changes nothing');
      await rejectsWith(svix.endpoint.getSecret(app.id, 'no-such-endpoint'), 404);
    });
  });

  // --- attempts -------------------------------------------------------------------------

  describe('messageAttempt', () => {
    let app: ApplicationOut;
    let ep: EndpointOut;
    let msg: MessageOut;
    let eventId: string;
    let firstAttemptId: string;

    before(async () => {
      routes.set('/att', () => ({ status: 200, body: 'thanks-123' }));
      app = await newApp();
      ep = await newEndpoint(app.uid!, '/att', { uid: 'att' });
      eventId = uniq('att-evt');
      msg = await svix.message.create(app.uid!, { eventType: typeA, eventId, payload: { attempt: 1 }, channels: ['ch-att'] });
    });

    it('listByEndpoint, listByMsg, get, listAttemptedMessages and listAttemptedDestinations describe the delivery', async () => {
      await arrivals('/att', 1);
      const list = await eventually(
        async () => {
          const l = await svix.messageAttempt.listByEndpoint(app.uid!, 'att');
          return l.data.length > 0 ? l : undefined;
        },
        10_000,
        'the attempt to be recorded',
      );
      assert.equal(list.data.length, 1);
      const a = list.data[0]!;
      firstAttemptId = a.id;
      assert.match(a.id, /^atmpt_[A-Za-z0-9]{27}$/);
      assert.equal(a.msgId, msg.id);
      assert.equal(a.endpointId, ep.id);
      assert.equal(a.url, receiver.url + '/att');
      assert.equal(a.responseStatusCode, 200);
      assert.equal(a.response, 'thanks-123');
      assert.equal(a.status, MessageStatus.Success);
      assert.equal(a.statusText, MessageStatusText.Success);
      assert.equal(a.triggerType, MessageAttemptTriggerType.Scheduled);

      // Svix embeds the message without its payload, whatever with_msg and with_content say.
      const withMsg = await svix.messageAttempt.listByEndpoint(app.id, ep.id, { withMsg: true });
      assert.equal(withMsg.data[0]?.msg?.id, msg.id);
      assert.equal(withMsg.data[0]?.msg?.eventId, eventId);
      assert.deepEqual(withMsg.data[0]?.msg?.payload, {});
      assert.equal(withMsg.data[0]?.response, 'thanks-123');
      assert.equal((await svix.messageAttempt.listByEndpoint(app.id, ep.id)).data[0]?.msg, undefined);
      // with_content=false leaves out the response body ("{}", as Svix); the default keeps it.
      assert.equal((await svix.messageAttempt.listByEndpoint(app.id, ep.id, { withContent: false })).data[0]?.response, '{}');
      assert.equal((await svix.messageAttempt.listByMsg(app.id, msg.id, { withContent: false })).data[0]?.response, '{}');
      assert.equal((await svix.messageAttempt.listByMsg(app.id, msg.id, { withContent: true })).data[0]?.response, 'thanks-123');
      assert.equal((await svix.messageAttempt.listByEndpoint(app.id, ep.id, { status: MessageStatus.Fail })).data.length, 0);
      assert.equal((await svix.messageAttempt.listByEndpoint(app.id, ep.id, { eventTypes: [typeB] })).data.length, 0);
      assert.equal((await svix.messageAttempt.listByEndpoint(app.id, ep.id, { channel: 'ch-att' })).data.length, 1);

      assert.deepEqual(ids((await svix.messageAttempt.listByMsg(app.uid!, eventId)).data), [a.id]);
      assert.deepEqual(ids((await svix.messageAttempt.listByMsg(app.id, msg.id, { endpointId: 'att' })).data), [a.id]);
      assert.equal((await svix.messageAttempt.listByMsg(app.id, msg.id, { status: MessageStatus.Fail })).data.length, 0);

      const got = await svix.messageAttempt.get(app.uid!, eventId, a.id);
      assert.deepEqual(got, a);
      await rejectsWith(svix.messageAttempt.get(app.id, msg.id, 'atmpt_doesnotexist'), 404);

      const attempted = await svix.messageAttempt.listAttemptedMessages(app.uid!, 'att');
      assert.deepEqual(ids(attempted.data), [msg.id]);
      assert.equal(attempted.data[0]?.status, MessageStatus.Success);
      assert.equal(attempted.data[0]?.statusText, MessageStatusText.Success);
      assert.equal(attempted.data[0]?.eventId, eventId);
      assert.equal((await svix.messageAttempt.listAttemptedMessages(app.id, ep.id, { status: MessageStatus.Fail })).data.length, 0);

      const destinations = await svix.messageAttempt.listAttemptedDestinations(app.uid!, eventId);
      assert.deepEqual(ids(destinations.data), [ep.id]);
      assert.equal(destinations.data[0]?.status, MessageStatus.Success);
      assert.equal(destinations.data[0]?.url, receiver.url + '/att');
    });

    it('expungeContent clears the recorded response body', async () => {
      await svix.messageAttempt.expungeContent(app.uid!, eventId, firstAttemptId);
      assert.equal(lastRaw().status, 204);
      const a = await svix.messageAttempt.get(app.id, msg.id, firstAttemptId);
      assert.equal(a.response, '');
      assert.equal(a.responseStatusCode, 200, 'only the body goes');
      await rejectsWith(svix.messageAttempt.expungeContent(app.id, msg.id, 'atmpt_doesnotexist'), 404);
    });

    it('resend sends the message again and records a second, manual attempt', async () => {
      const result = await svix.messageAttempt.resend(app.uid!, eventId, 'att');
      assert.equal(lastRaw().status, 202);
      assert.deepEqual(result, {});
      const [first, second] = await arrivals('/att', 2);
      assert.equal(second?.headers['webhook-id'], msg.id);
      assert.ok(second?.body.equals(first!.body), 'the same bytes are sent again');

      const attempts = await eventually(
        async () => {
          const l = await svix.messageAttempt.listByMsg(app.id, msg.id);
          return l.data.length >= 2 ? l.data : undefined;
        },
        10_000,
        'the resend to be recorded',
      );
      assert.equal(attempts.length, 2);
      assert.equal(attempts[0]?.triggerType, MessageAttemptTriggerType.Manual, 'newest first: the resend');
      assert.equal(attempts[0]?.status, MessageStatus.Success);
      assert.equal(attempts[1]?.id, firstAttemptId);
      assert.equal(attempts[1]?.triggerType, MessageAttemptTriggerType.Scheduled);

      await rejectsWith(svix.messageAttempt.resend(app.id, msg.id, 'no-such-endpoint'), 404);
      await rejectsWith(svix.messageAttempt.resend(app.id, 'msg_doesnotexist', ep.id), 404);
    });
  });

  // --- recover, replay, send-example, stats ---------------------------------------------

  describe('recover, replayMissing, sendExample, getStats', () => {
    it('recover re-sends failed deliveries once the endpoint answers again; getStats counts them', async () => {
      let down = true;
      routes.set('/flaky', () => (down ? { status: 500, body: 'down' } : { status: 200, body: 'up' }));
      const app = await newApp();
      const ep = await newEndpoint(app.id, '/flaky', { uid: 'flaky' });
      const secret = (await svix.endpoint.getSecret(app.id, ep.id)).key;
      const since = new Date(Date.now() - 1000);

      assert.deepEqual(await svix.endpoint.getStats(app.id, 'flaky'), { success: 0, pending: 0, sending: 0, fail: 0, canceled: 0 });
      const m1 = await svix.message.create(app.id, { eventType: typeA, payload: { flaky: 1 } });
      const m2 = await svix.message.create(app.id, { eventType: typeB, payload: { flaky: 2 } });

      // Retry schedule "0": each delivery is tried twice, then fails.
      const failed = await eventually(
        async () => {
          const s = await svix.endpoint.getStats(app.id, 'flaky');
          return s.fail === 2 ? s : undefined;
        },
        10_000,
        'both deliveries to fail',
      );
      assert.deepEqual(failed, { success: 0, pending: 0, sending: 0, fail: 2, canceled: 0 });
      assert.equal(at('/flaky').length, 4);
      const failedAttempts = await svix.messageAttempt.listByEndpoint(app.id, ep.id);
      assert.equal(failedAttempts.data.length, 4);
      for (const a of failedAttempts.data) {
        assert.equal(a.status, MessageStatus.Fail);
        assert.equal(a.responseStatusCode, 500);
        assert.equal(a.response, 'down');
      }
      assert.deepEqual(ids((await svix.messageAttempt.listAttemptedMessages(app.id, ep.id, { status: MessageStatus.Fail })).data), [m1.id, m2.id].sort());
      assert.equal((await svix.messageAttempt.listAttemptedDestinations(app.id, m1.id)).data[0]?.status, MessageStatus.Fail);

      down = false;
      const task = await svix.endpoint.recover(app.id, 'flaky', { since });
      assert.equal(lastRaw().status, 202);
      assert.equal(task.task, BackgroundTaskType.EndpointRecover);
      assert.match(task.id, /^qtask_/);

      const recovered = await eventually(
        async () => {
          const s = await svix.endpoint.getStats(app.id, 'flaky');
          return s.success === 2 ? s : undefined;
        },
        10_000,
        'both deliveries to be recovered',
      );
      assert.deepEqual(recovered, { success: 2, pending: 0, sending: 0, fail: 0, canceled: 0 });
      const all = await arrivals('/flaky', 6);
      assert.equal(all.length, 6);
      const resent = all.slice(4);
      assert.deepEqual(resent.map((r) => r.headers['webhook-id']).sort(), [m1.id, m2.id].sort());
      for (const r of resent) assert.ok(new Webhook(secret).verify(r.body.toString(), headersOf(r)));
      const ok = await svix.messageAttempt.listByEndpoint(app.id, ep.id, { status: MessageStatus.Success });
      assert.equal(ok.data.length, 2);
      for (const a of ok.data) {
        assert.equal(a.triggerType, MessageAttemptTriggerType.Manual);
        assert.equal(a.responseStatusCode, 200);
      }

      // since/until narrow the counts to deliveries created in that window.
      const future = new Date(Date.now() + 60_000);
      assert.deepEqual(await svix.endpoint.getStats(app.id, 'flaky', { since: future }), { success: 0, pending: 0, sending: 0, fail: 0, canceled: 0 });
      assert.equal((await svix.endpoint.getStats(app.id, 'flaky', { since, until: future })).success, 2);
      await rejectsWith(svix.endpoint.getStats(app.id, 'no-such-endpoint'), 404);
      await rejectsWith(svix.endpoint.recover(app.id, 'no-such-endpoint', { since }), 404);
    });

    it('replayMissing sends messages from before an endpoint existed to it, once', async () => {
      const app = await newApp();
      const m0 = await svix.message.create(app.id, { eventType: typeA, payload: { replay: 0 } });
      await eventually(() => (Date.now() > m0.timestamp.getTime() + 2 ? true : undefined));
      const since = new Date(m0.timestamp.getTime() + 1);
      const m1 = await svix.message.create(app.id, { eventType: typeA, payload: { replay: 1 } });
      const m2 = await svix.message.create(app.id, { eventType: typeA, payload: { replay: 2 } });
      const m3 = await svix.message.create(app.id, { eventType: typeB, payload: { replay: 3 } });

      const ep = await newEndpoint(app.id, '/replay', { uid: 'replay', filterTypes: [typeA] });
      assert.equal((await svix.messageAttempt.listAttemptedMessages(app.id, ep.id)).data.length, 0);

      const task = await svix.endpoint.replayMissing(app.id, 'replay', { since });
      assert.equal(lastRaw().status, 202);
      assert.equal(task.task, BackgroundTaskType.EndpointReplay);
      // Deliveries exist once the task has finished: m0 is before `since`, m3 is filtered out.
      assert.deepEqual((await taskDone(task.id)).data, { messagesSent: 2 });
      assert.deepEqual(ids((await svix.messageAttempt.listAttemptedMessages(app.id, ep.id)).data), [m1.id, m2.id].sort());
      assert.equal((await svix.messageAttempt.listAttemptedDestinations(app.id, m0.id)).data.length, 0);
      assert.equal((await svix.messageAttempt.listAttemptedDestinations(app.id, m3.id)).data.length, 0);

      const got = await arrivals('/replay', 2);
      assert.deepEqual(got.map((r) => r.headers['webhook-id']).sort(), [m1.id, m2.id].sort());
      assert.deepEqual(
        got.map((r) => JSON.parse(r.body.toString()).replay).sort(),
        [1, 2],
      );

      // A second replay finds nothing missing.
      const again = await svix.endpoint.replayMissing(app.id, 'replay', { since });
      assert.deepEqual((await taskDone(again.id)).data, { messagesSent: 0 });
      const stats = await svix.endpoint.getStats(app.id, 'replay');
      assert.equal(stats.success + stats.pending + stats.sending + stats.fail + stats.canceled, 2);
    });

    it('sendExample sends the event type schema example to that endpoint only', async () => {
      const exampleType = uniq('example.event');
      await svix.eventType.create({
        name: exampleType,
        description: 'has examples',
        schemas: { '1': { type: 'object', examples: [{ hello: 'world' }, { hello: 'again' }] } },
      });
      const app = await newApp();
      const ep1 = await newEndpoint(app.id, '/ex-1', { uid: 'ex-1' });
      const ep2 = await newEndpoint(app.id, '/ex-2', { uid: 'ex-2' });
      const secret = (await svix.endpoint.getSecret(app.id, ep1.id)).key;

      const m = await svix.endpoint.sendExample(app.id, 'ex-1', { eventType: exampleType });
      assert.equal(lastRaw().status, 202);
      assert.deepEqual(m.payload, { hello: 'world' });
      assert.equal(m.eventType, exampleType);
      assert.deepEqual(ids((await svix.messageAttempt.listAttemptedDestinations(app.id, m.id)).data), [ep1.id]);

      const m2 = await svix.endpoint.sendExample(app.id, ep1.id, { eventType: exampleType, exampleIndex: 1 });
      assert.deepEqual(m2.payload, { hello: 'again' });

      const got = await arrivals('/ex-1', 2);
      const first = got.find((r) => r.headers['webhook-id'] === m.id);
      assert.ok(first);
      assert.equal(first.body.toString(), '{"hello":"world"}');
      assert.deepEqual(new Webhook(secret).verify(first.body.toString(), headersOf(first)), { hello: 'world' });
      assert.equal((await svix.messageAttempt.listAttemptedMessages(app.id, ep2.id)).data.length, 0);
      assert.equal(at('/ex-2').length, 0);

      const noExample = await rejectsWith(svix.endpoint.sendExample(app.id, 'ex-1', { eventType: typeA }), 422);
      assert.deepEqual(noExample.body.detail[0].loc, ['body', 'eventType']);
      await rejectsWith(svix.endpoint.sendExample(app.id, 'ex-1', { eventType: uniq('unknown') }), 404);
    });
  });

  // --- regressions ------------------------------------------------------------------------

  // --- fields Svix returns and filters it honours ----------------------------------------

  describe('field fidelity', () => {
    it('MessageOut carries deliverAt as asked (null when sent at once), on create, get and list', async () => {
      const app = await newApp();
      const later = new Date(Date.now() + 60 * 60 * 1000);
      later.setMilliseconds(0);
      const m = await svix.message.create(app.id, { eventType: typeA, payload: { later: true }, deliverAt: later });
      assert.equal(JSON.parse(lastRaw().text).deliverAt, later.toISOString());
      assert.equal(m.deliverAt?.toISOString(), later.toISOString());
      assert.equal((await svix.message.get(app.id, m.id)).deliverAt?.toISOString(), later.toISOString());
      assert.equal((await svix.message.list(app.id)).data[0]?.deliverAt?.toISOString(), later.toISOString());
      const now = await svix.message.create(app.id, { eventType: typeA, payload: {} });
      assert.equal(JSON.parse(lastRaw().text).deliverAt, null);
      assert.equal(now.deliverAt ?? null, null);
    });

    it('expandedStatuses: a canceled delivery shows as Canceled (4) only when asked, as Success (0) otherwise', async () => {
      const app = await newApp();
      await newEndpoint(app.id, '/cancel', { uid: 'cancel' });
      // Due in an hour, then its payload expunged: the delivery is canceled before any attempt.
      const m = await svix.message.create(app.id, { eventType: typeA, payload: { c: 1 }, deliverAt: new Date(Date.now() + 3_600_000) });
      await svix.message.expungeContent(app.id, m.id);
      // Without the parameter (an older client), as Svix: Success.
      const raw = await srv.api('GET', `/api/v1/app/${app.id}/endpoint/cancel/msg`);
      assert.equal(raw.body.data[0]?.id, m.id);
      assert.equal(raw.body.data[0]?.status, MessageStatus.Success);
      assert.equal(raw.body.data[0]?.statusText, MessageStatusText.Success);
      const off = await svix.messageAttempt.listAttemptedMessages(app.id, 'cancel', { expandedStatuses: false });
      assert.equal(off.data[0]?.status, MessageStatus.Success);
      // The SDK asks for expanded statuses unless told otherwise.
      const expanded = await svix.messageAttempt.listAttemptedMessages(app.id, 'cancel');
      assert.match(rawLog.at(-1)!.path, /\/endpoint\/cancel\/msg$/);
      assert.equal(expanded.data[0]?.status, MessageStatus.Canceled);
      assert.equal(expanded.data[0]?.statusText, MessageStatusText.Canceled);
      const stats = await svix.endpoint.getStats(app.id, 'cancel');
      assert.equal(stats.canceled, 1, 'the delivery is canceled, whatever the list shows');
    });

    it('application.list honours exclude_apps_with_no_endpoints, _disabled_endpoints and _svix_play_endpoints', async () => {
      const tag = uniq('excl');
      const none = await newApp({ uid: `${tag}-none` });
      const disabled = await newApp({ uid: `${tag}-disabled` });
      await newEndpoint(disabled.id, '/off', { disabled: true });
      const play = await newApp({ uid: `${tag}-play` });
      await svix.endpoint.create(play.id, { url: 'https://play.svix.com/in/e_abc123/' });
      const mixed = await newApp({ uid: `${tag}-mixed` });
      await newEndpoint(mixed.id, '/on');
      await newEndpoint(mixed.id, '/off2', { disabled: true });
      await svix.endpoint.create(mixed.id, { url: 'https://play.svix.com/in/e_def456/' });
      const ours = [none.id, disabled.id, play.id, mixed.id];
      const listed = async (q: Record<string, boolean>) => {
        const all: string[] = [];
        for (let iterator: string | null | undefined = undefined, done = false; !done; ) {
          const page = await svix.application.list({ limit: 250, iterator, ...q });
          all.push(...page.data.map((a) => a.id));
          ({ iterator, done } = page);
        }
        return all.filter((id) => ours.includes(id)).sort();
      };
      assert.deepEqual(await listed({}), [...ours].sort());
      assert.deepEqual(await listed({ excludeAppsWithNoEndpoints: true }), [disabled.id, play.id, mixed.id].sort());
      assert.deepEqual(await listed({ excludeAppsWithDisabledEndpoints: true }), [none.id, play.id, mixed.id].sort());
      assert.deepEqual(await listed({ excludeAppsWithSvixPlayEndpoints: true }), [none.id, disabled.id, mixed.id].sort());
      assert.deepEqual(
        await listed({ excludeAppsWithNoEndpoints: true, excludeAppsWithDisabledEndpoints: true, excludeAppsWithSvixPlayEndpoints: true }),
        [mixed.id],
      );
    });
  });

  describe('regressions', () => {
    it(
      'eventType.create with a name that exists answers 409',
      async () => {
        const name = uniq('dup.type');
        await svix.eventType.create({ name, description: 'first' });
        await rejectsWith(svix.eventType.create({ name, description: 'again' }), 409);
        assert.equal((await svix.eventType.get(name)).description, 'first');
      },
    );
    it(
      'eventTypes with two or more values filters lists (the SDK sends event_types=a,b)',
      async () => {
        const app = await newApp();
        const ma = await svix.message.create(app.id, { eventType: typeA, payload: {} });
        const mb = await svix.message.create(app.id, { eventType: typeB, payload: {} });
        const listed = await svix.message.list(app.id, { eventTypes: [typeA, typeB] });
        assert.deepEqual(ids(listed.data), [ma.id, mb.id].sort());
      },
    );
  });
});
