// One contract for every Store: the same suite runs against SQLite and PostgreSQL, directly
// on the store (no HTTP). PostgreSQL is reached at HOOKWELL_TEST_PG_URL (default
// postgres://postgres@127.0.0.1:5432/test); each run works in a schema of its own, dropped
// at the end. When no server answers there, the PostgreSQL suite is skipped, saying why.
import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { SqliteStore } from '../src/store/sqlite/store.js';
import { PostgresStore } from '../src/store/postgres/store.js';
import { migrations } from '../src/store/migrations.js';
import type { AttemptRecord, ClaimOptions, LeaseOffer, MessageInput, Store, Work } from '../src/store/store.js';
import { ConflictError, NotFoundError, UnavailableError } from '../src/domain/errors.js';
import { Status, type Application, type Endpoint, type ListQuery, type Message, type StatusCode } from '../src/domain/types.js';
import { endpointInput, eventually, messageInput, PG_URL, requirePostgres, tempDir } from './helpers.js';
import { EXPIRED_NOTE } from '../src/store/retention.js';
import { RepeatedRequest } from '../src/store/store.js';
import { WorkNotifier, workChannel } from '../src/store/postgres/notifier.js';
import { createLogger } from '../src/logger.js';

const RUN = randomBytes(5).toString('hex');
const TABLES = ['meta', 'applications', 'endpoints', 'event_types', 'messages', 'deliveries', 'attempts', 'idempotency', 'backfills', 'backfill_chunks', 'backfill_records'];

/** Opens an empty store for each test and cleans up after the suite. */
interface Backend {
  fresh(): Promise<Store>;
  teardown(): Promise<void>;
}

function sqliteBackend(): Backend {
  const { dir, cleanup } = tempDir();
  let n = 0;
  return {
    fresh: async () => SqliteStore.open(join(dir, `store-${n++}.db`)),
    teardown: async () => cleanup(),
  };
}

function postgresBackend(): Backend {
  const schema = `hw_test_${RUN}`;
  const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
  const extraSchemas: string[] = [];
  let opened = false;
  return {
    fresh: async () => {
      if (opened) await admin.query(`TRUNCATE ${TABLES.map((t) => `${schema}.${t}`).join(', ')} RESTART IDENTITY`);
      opened = true;
      return PostgresStore.open(PG_URL, { schema, poolSize: 4 });
    },
    teardown: async () => {
      for (const s of [schema, ...extraSchemas]) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
      await admin.end();
    },
  };
}

const page = (limit = 50, iterator: string | null = null, order: ListQuery['order'] = 'ascending'): ListQuery => ({ limit, iterator, order });

function claimOptions(fields: Partial<ClaimOptions> = {}): ClaimOptions {
  return { now: Date.now(), owner: 'w1', leaseMs: 30_000, limit: 100, perEndpoint: 100, allowance: {}, ...fields };
}

function record(
  w: Work,
  owner: string,
  next: StatusCode,
  opts: { code?: number; nextAttemptAt?: number | null; disable?: boolean; createdAt?: number } = {},
): AttemptRecord {
  const code = opts.code ?? (next === Status.Success ? 200 : 500);
  return {
    deliveryId: w.deliveryId,
    owner,
    next,
    nextAttemptAt: opts.nextAttemptAt ?? null,
    attempts: w.attempts + 1,
    disableEndpoint: opts.disable ?? false,
    attempt: {
      msgId: w.msgId,
      endpointId: w.endpointId,
      appId: w.appId,
      url: w.url,
      status: code >= 200 && code < 300 ? Status.Success : Status.Fail,
      responseStatusCode: code,
      response: `response ${code}`,
      responseDurationMs: 12,
      triggerType: w.trigger,
      error: null,
      createdAt: opts.createdAt ?? Date.now(),
    },
  };
}

const sortIds = (ws: { deliveryId: number }[]): number[] => ws.map((w) => w.deliveryId).sort((a, b) => a - b);

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`Store contract: ${backend}`, () => {
    let harness: Backend;
    let store: Store;

    before(async () => {
      if (backend === 'postgres') await requirePostgres();
      harness = backend === 'sqlite' ? sqliteBackend() : postgresBackend();
    });
    after(async () => {
      await harness?.teardown();
    });
    beforeEach(async () => {
      store = await harness.fresh();
    });
    afterEach(async () => {
      await store.close();
    });

    const newApp = (uid: string | null = null, name = 'app'): Promise<Application> =>
      store.createApp({ uid, name, throttleRate: null, metadata: {} });

    /** The delivery of a message to an endpoint, as listMessageDestinations shows it. */
    async function deliveryOf(appId: string, msgId: string, endpointId: string) {
      const p = await store.listMessageDestinations(appId, msgId, page(100));
      return p.data.find((d) => d.endpoint.id === endpointId)?.delivery;
    }

    /** Claims everything due and records it as failed. */
    async function failAll(): Promise<number> {
      const work = await store.claim(claimOptions({ owner: 'failer' }));
      await store.recordAttempts(work.map((w) => record(w, 'failer', Status.Fail)));
      return work.length;
    }

    // --- meta and idempotency -----------------------------------------------------------

    it('gets and sets meta values', async () => {
      assert.equal(await store.getMeta('k'), null);
      await store.setMeta('k', 'one');
      assert.equal(await store.getMeta('k'), 'one');
      await store.setMeta('k', 'two');
      assert.equal(await store.getMeta('k'), 'two');
      assert.equal(await store.getMeta('other'), null);
    });

    it('stores idempotent responses, replaces them, and purges old ones', async () => {
      assert.equal(await store.getIdempotent('app_1', 'key'), null);
      const first = { bodyHash: 'h1', statusCode: 202, body: '{"id":"msg_1"}', createdAt: 1000, msgId: null };
      await store.putIdempotent('app_1', 'key', first);
      assert.deepEqual(await store.getIdempotent('app_1', 'key'), first);
      assert.equal(await store.getIdempotent('app_2', 'key'), null);
      const second = { bodyHash: 'h2', statusCode: 409, body: 'x', createdAt: 5000, msgId: null };
      await store.putIdempotent('app_1', 'key', second);
      assert.deepEqual(await store.getIdempotent('app_1', 'key'), second);
      await store.putIdempotent('app_1', 'old', { ...first, createdAt: 10 });
      await store.purgeIdempotent(4000);
      assert.equal(await store.getIdempotent('app_1', 'old'), null);
      assert.deepEqual(await store.getIdempotent('app_1', 'key'), second);
    });

    it("stores a message's replay record in the message's commit, and none for a message refused", async () => {
      const app = await newApp();
      await store.createEndpoint(app.id, endpointInput());
      const replay = (key: string) => ({ scope: `POST msg ${app.id}`, key, bodyHash: `hash-${key}`, statusCode: 202, body: (m: Message) => `{"id":"${m.id}"}`, expiredAt: Date.now() - 60_000 });
      // An expired record of the same key is replaced, as putIdempotent replaces one.
      await store.putIdempotent(`POST msg ${app.id}`, 'k1', { bodyHash: 'old', statusCode: 202, body: '{"id":"msg_old"}', createdAt: 10 });
      // Together, so they may share a commit (a batch on PostgreSQL).
      const [a, b, dup] = await Promise.allSettled([
        store.createMessage(app.id, messageInput({ eventId: 'evt-replay' }), { replay: replay('k1') }),
        store.createMessage(app.id, messageInput(), { replay: replay('k2') }),
        store.createMessage(app.id, messageInput({ eventId: 'evt-replay' }), { replay: replay('k3') }),
      ]);
      assert.equal(a.status, 'fulfilled');
      assert.equal(b.status, 'fulfilled');
      assert.equal(dup.status, 'rejected');
      assert.ok((dup as PromiseRejectedResult).reason instanceof ConflictError);
      for (const [key, created] of [['k1', a], ['k2', b]] as const) {
        const { message } = (created as PromiseFulfilledResult<{ message: Message }>).value;
        assert.deepEqual(await store.getIdempotent(`POST msg ${app.id}`, key), {
          bodyHash: `hash-${key}`,
          statusCode: 202,
          body: `{"id":"${message.id}"}`,
          createdAt: message.createdAt,
          msgId: message.id,
        });
      }
      assert.equal(await store.getIdempotent(`POST msg ${app.id}`, 'k3'), null, 'the refused message left no record');
      await store.purgeIdempotent(Date.now() + 1);
      assert.equal(await store.getIdempotent(`POST msg ${app.id}`, 'k1'), null, 'and the records are purged as any other');
    });

    it("keeps no answer for a message created with its content, and finds a repeat in the commit where the store says it does", async () => {
      const app = await newApp();
      await store.createEndpoint(app.id, endpointInput());
      const scope = `POST msg ${app.id}`;
      const replay = (key: string, bodyHash = `hash-${key}`) => ({ scope, key, bodyHash, statusCode: 202, body: () => null, expiredAt: Date.now() - 60_000 });
      const { message } = await store.createMessage(app.id, messageInput({ eventId: 'evt-lean' }), { replay: replay('lean') });
      assert.deepEqual(await store.getIdempotent(scope, 'lean'), { bodyHash: 'hash-lean', statusCode: 202, body: null, createdAt: message.createdAt, msgId: message.id });
      if (!store.repeatsFoundInCommit) return;
      const before = (await store.listMessages(app.id, { limit: 50, iterator: null, order: 'descending' }, {})).data.length;
      // The same key again, with another body too: the record is handed back and nothing is written.
      const again = await store.createMessage(app.id, messageInput(), { replay: replay('lean', 'other') }).then(
        () => null,
        (err: unknown) => err,
      );
      assert.ok(again instanceof RepeatedRequest, `a repeat is refused as such: ${String(again)}`);
      assert.deepEqual(again.previous, { bodyHash: 'hash-lean', statusCode: 202, body: null, createdAt: message.createdAt, msgId: message.id });
      assert.equal((await store.listMessages(app.id, { limit: 50, iterator: null, order: 'descending' }, {})).data.length, before, 'no message for the repeat');
      // An expired record under the key is taken over.
      await store.putIdempotent(scope, 'stale', { bodyHash: 'old', statusCode: 202, body: null, createdAt: 10, msgId: message.id });
      const fresh = await store.createMessage(app.id, messageInput(), { replay: replay('stale') });
      assert.equal((await store.getIdempotent(scope, 'stale'))?.msgId, fresh.message.id);
      // So is a live one whose message was deleted with its application.
      const gone = await newApp();
      const lost = await store.createMessage(gone.id, messageInput(), { replay: { ...replay('orphan'), scope: `POST msg ${gone.id}` } });
      await store.deleteApp(gone.id);
      await store.putIdempotent(scope, 'orphan', { bodyHash: 'hash-orphan', statusCode: 202, body: null, createdAt: Date.now(), msgId: lost.message.id });
      const retaken = await store.createMessage(app.id, messageInput(), { replay: replay('orphan') });
      assert.equal((await store.getIdempotent(scope, 'orphan'))?.msgId, retaken.message.id);
    });

    it('purges every expired idempotency record, more than one batch of them, and keeps the live ones', async () => {
      const now = Date.now();
      const rows = 12_000;
      // A hundred at a time: as many at once would wait out PostgreSQL's pool.
      for (let from = 0; from < rows; from += 100) {
        const puts: Promise<void>[] = [];
        for (let i = from; i < from + 100; i++) {
          puts.push(store.putIdempotent('purge', `k${i}`, { bodyHash: 'h', statusCode: 200, body: '{}', createdAt: i < rows - 10 ? now - 100_000 + i : now, msgId: null }));
        }
        await Promise.all(puts);
      }
      await store.purgeIdempotent(now - 1000);
      assert.equal(await store.getIdempotent('purge', 'k0'), null);
      assert.equal(await store.getIdempotent('purge', `k${rows - 11}`), null, 'the last expired record, past the first batch');
      for (let i = rows - 10; i < rows; i++) assert.equal((await store.getIdempotent('purge', `k${i}`))?.createdAt, now);
    });

    // --- applications -------------------------------------------------------------------

    it("finds a row by its id before another row whose uid or eventId is spelt like that id", async () => {
      // The shadowing row is the older one, so it comes first in the table.
      const shadow = await newApp();
      const first = await newApp();
      await store.updateApp(shadow.id, { uid: first.id });
      assert.equal((await store.getApp(first.id))?.id, first.id);
      assert.equal((await store.getApp(shadow.id))?.id, shadow.id);

      const epShadow = await store.createEndpoint(first.id, endpointInput());
      const ep = await store.createEndpoint(first.id, endpointInput());
      await store.updateEndpoint(first.id, epShadow.id, { uid: ep.id });
      assert.equal((await store.getEndpoint(first.id, ep.id))?.id, ep.id);
      assert.equal((await store.getEndpoint(first.id, epShadow.id))?.id, epShadow.id);

      const msg = (await store.createMessage(first.id, messageInput())).message;
      const msgShadow = (await store.createMessage(first.id, messageInput({ eventId: msg.id }))).message;
      assert.equal((await store.getMessage(first.id, msg.id))?.id, msg.id);
      assert.equal((await store.getMessage(first.id, msgShadow.id))?.id, msgShadow.id);
    });

    it('creates, reads, updates and deletes applications', async () => {
      const app = await store.createApp({ uid: 'my-app', name: 'Mine', throttleRate: 5, metadata: { team: 'a' } });
      assert.match(app.id, /^app_[0-9A-Za-z]{27}$/);
      assert.equal(app.createdAt, app.updatedAt);
      assert.deepEqual(await store.getApp(app.id), app);
      assert.deepEqual(await store.getApp('my-app'), app);
      assert.equal(await store.getApp('nope'), null);

      const updated = await store.updateApp(app.id, { name: 'Renamed', metadata: { team: 'b' } });
      assert.equal(updated.name, 'Renamed');
      assert.equal(updated.uid, 'my-app');
      assert.equal(updated.throttleRate, 5);
      assert.ok(updated.updatedAt >= app.updatedAt);
      assert.deepEqual(await store.getApp('my-app'), updated);

      await store.updateApp(app.id, { uid: 'new-uid' });
      assert.equal(await store.getApp('my-app'), null);
      assert.equal((await store.getApp('new-uid'))?.id, app.id);

      await assert.rejects(store.updateApp('app_missing', { name: 'x' }), NotFoundError);

      const ep = await store.createEndpoint(app.id, endpointInput());
      await store.createMessage(app.id, messageInput());
      await store.deleteApp(app.id);
      assert.equal(await store.getApp(app.id), null);
      assert.equal(await store.getEndpoint(app.id, ep.id), null);
      assert.equal((await store.listMessages(app.id, page(), {})).data.length, 0);
      assert.equal(await store.nextDueAt(), null);
    });

    it('refuses a second application with the same uid', async () => {
      await newApp('taken');
      await assert.rejects(newApp('taken'), ConflictError);
      const other = await newApp('free');
      await assert.rejects(store.updateApp(other.id, { uid: 'taken' }), ConflictError);
      assert.equal((await store.getApp('free'))?.id, other.id);
      // Several applications without a uid are fine.
      await newApp(null);
      await newApp(null);
      assert.equal((await store.listApps(page())).data.length, 4);
    });

    it('pages applications forwards and backwards', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await newApp(null, `a${i}`)).id);
      assert.deepEqual([...ids].sort(), ids, 'ids sort in creation order');

      const p1 = await store.listApps(page(2));
      assert.deepEqual(p1.data.map((a) => a.id), ids.slice(0, 2));
      assert.equal(p1.done, false);
      const p2 = await store.listApps(page(2, p1.iterator));
      assert.deepEqual(p2.data.map((a) => a.id), ids.slice(2, 4));
      assert.equal(p2.done, false);
      const p3 = await store.listApps(page(2, p2.iterator));
      assert.deepEqual(p3.data.map((a) => a.id), ids.slice(4));
      assert.equal(p3.done, true);

      const back = await store.listApps(page(2, p3.prevIterator));
      assert.deepEqual(back.data.map((a) => a.id), ids.slice(2, 4));
      assert.equal(back.done, false);
      const back2 = await store.listApps(page(2, back.prevIterator));
      assert.deepEqual(back2.data.map((a) => a.id), ids.slice(0, 2));

      const desc = await store.listApps(page(3, null, 'descending'));
      assert.deepEqual(desc.data.map((a) => a.id), [ids[4], ids[3], ids[2]]);
      const desc2 = await store.listApps(page(3, desc.iterator, 'descending'));
      assert.deepEqual(desc2.data.map((a) => a.id), [ids[1], ids[0]]);
      assert.equal(desc2.done, true);
    });

    // --- endpoints ----------------------------------------------------------------------

    it('creates, reads, updates, pages and deletes endpoints', async () => {
      const app = await newApp();
      const ep = await store.createEndpoint(
        app.id,
        endpointInput({ uid: 'ep-1', eventTypes: ['a.b'], channels: ['c1'], metadata: { m: '1' }, headers: { 'x-h': 'v' }, throttleRate: 7 }),
      );
      assert.match(ep.id, /^ep_/);
      assert.equal(ep.appId, app.id);
      assert.deepEqual(ep.previousSecrets, []);
      assert.equal(ep.webhookKey, null);
      assert.deepEqual(await store.getEndpoint(app.id, ep.id), ep);
      assert.deepEqual(await store.getEndpoint(app.id, 'ep-1'), ep);
      const otherApp = await newApp();
      assert.equal(await store.getEndpoint(otherApp.id, ep.id), null, 'endpoints belong to their application');

      const changed = await store.updateEndpoint(app.id, ep.id, {
        disabled: true,
        eventTypes: null,
        previousSecrets: [{ key: 'whsec_old', expiresAt: 123 }],
        webhookKey: { header: 'x-key', key: 'k1' },
        ping: { ok: true, detail: 'pong received', at: 456 },
      });
      assert.equal(changed.disabled, true);
      const read = await store.getEndpoint(app.id, ep.id);
      assert.deepEqual(read, changed);
      assert.deepEqual(read?.ping, { ok: true, detail: 'pong received', at: 456 });
      assert.deepEqual(read?.webhookKey, { header: 'x-key', key: 'k1' });
      assert.deepEqual(read?.channels, ['c1']);
      await assert.rejects(store.updateEndpoint(app.id, 'ep_missing', { url: 'https://x' }), NotFoundError);
      await assert.rejects(store.updateEndpoint(otherApp.id, ep.id, { url: 'https://x' }), NotFoundError);

      const more = [(await store.createEndpoint(app.id, endpointInput())).id, (await store.createEndpoint(app.id, endpointInput())).id];
      const p1 = await store.listEndpoints(app.id, page(2));
      assert.deepEqual(p1.data.map((e) => e.id), [ep.id, more[0]]);
      assert.equal(p1.done, false);
      const p2 = await store.listEndpoints(app.id, page(2, p1.iterator));
      assert.deepEqual(p2.data.map((e) => e.id), [more[1]]);
      assert.equal(p2.done, true);
      assert.equal((await store.listEndpoints(otherApp.id, page())).data.length, 0);

      await store.deleteEndpoint(app.id, ep.id);
      assert.equal(await store.getEndpoint(app.id, ep.id), null);
      assert.equal((await store.listEndpoints(app.id, page())).data.length, 2);
    });

    it('refuses a second endpoint with the same uid in one application', async () => {
      const app = await newApp();
      const other = await newApp();
      await store.createEndpoint(app.id, endpointInput({ uid: 'dup' }));
      await assert.rejects(store.createEndpoint(app.id, endpointInput({ uid: 'dup' })), ConflictError);
      await store.createEndpoint(other.id, endpointInput({ uid: 'dup' }));
      const second = await store.createEndpoint(app.id, endpointInput({ uid: 'free' }));
      await assert.rejects(store.updateEndpoint(app.id, second.id, { uid: 'dup' }), ConflictError);
      assert.equal((await store.getEndpoint(app.id, 'free'))?.id, second.id);
      assert.equal((await store.listEndpoints(app.id, page())).data.length, 2);
    });

    // --- event types --------------------------------------------------------------------

    it("keeps an event type's retry schedule apart from its other fields", async () => {
      assert.equal(await store.getRetrySchedule('user.created'), undefined);
      assert.equal(await store.setRetrySchedule('user.created', [1]), false, 'no such type');
      await store.createEventType({ name: 'user.created', description: 'd', archived: false, deprecated: false, schemas: null, featureFlags: null, groupName: null, validate: false });
      assert.equal(await store.getRetrySchedule('user.created'), null);
      assert.equal(await store.setRetrySchedule('user.created', [0.25, 60, 3600]), true);
      assert.deepEqual(await store.getRetrySchedule('user.created'), [0.25, 60, 3600]);
      // Changing the type's other fields leaves the schedule alone.
      await store.updateEventType('user.created', { description: 'changed' });
      assert.deepEqual(await store.getRetrySchedule('user.created'), [0.25, 60, 3600]);
      assert.equal(await store.setRetrySchedule('user.created', null), true);
      assert.equal(await store.getRetrySchedule('user.created'), null);
    });

    it("counts an endpoint's due backlog and its attempts for Svix's status and count reads", async () => {
      const a = await newApp();
      const ep = await store.createEndpoint(a.id, endpointInput());
      const other = await store.createEndpoint(a.id, endpointInput({ eventTypes: ['other.type'] }));
      assert.deepEqual(await store.sending.dueBacklog(ep.id, Date.now()), { count: 0, oldestDueAt: null });
      for (let i = 0; i < 3; i++) await store.createMessage(a.id, messageInput());
      const now = Date.now();
      const backlog = await store.sending.dueBacklog(ep.id, now);
      assert.equal(backlog.count, 3);
      assert.ok(backlog.oldestDueAt !== null && backlog.oldestDueAt <= now);
      assert.equal((await store.sending.dueBacklog(other.id, now)).count, 0);
      const filters = (await store.sending.routeFilters(a.id)).map((f) => JSON.stringify(f)).sort();
      assert.deepEqual(filters, [JSON.stringify({ eventTypes: ['other.type'], channels: null }), JSON.stringify({ eventTypes: null, channels: null })].sort());
      assert.equal(await failAll(), 3);
      assert.equal(await store.sending.countAttempts(a.id, { endpointId: ep.id }, 100), 3);
      assert.equal(await store.sending.countAttempts(a.id, { endpointId: ep.id }, 1), 2, 'stops one past the ceiling');
      assert.equal(await store.sending.countAttempts(a.id, { endpointId: ep.id, status: Status.Success }, 100), 0);
      assert.equal(await store.sending.countAttempts(a.id, { endpointId: other.id }, 100), 0);
      assert.deepEqual(await store.sending.countEndpoints(false), { active: 2, disabled: 0 });
      assert.equal(await store.sending.countActiveApps(false, false), 1);
    });

    it('creates, lists, updates and deletes event types', async () => {
      const base = { description: 'd', archived: false, deprecated: false, schemas: null, featureFlags: null, groupName: null, validate: false };
      const et = await store.createEventType({
        ...base,
        name: 'user.created',
        schemas: { '1': { type: 'object', b: 1, a: 2 } },
        featureFlags: ['f'],
        validate: true,
      });
      assert.equal(et.validate, true);
      await store.createEventType({ ...base, name: 'a.first' });
      await store.createEventType({ ...base, name: 'z.last', archived: true });
      await assert.rejects(store.createEventType({ ...base, name: 'user.created' }), ConflictError);
      assert.deepEqual(await store.getEventType('user.created'), et);
      assert.equal(await store.getEventType('nope'), null);

      const visible = await store.listEventTypes(page(), false);
      assert.deepEqual(visible.data.map((e) => e.name), ['a.first', 'user.created']);
      const everything = await store.listEventTypes(page(), true);
      assert.deepEqual(everything.data.map((e) => e.name), ['a.first', 'user.created', 'z.last']);
      const p1 = await store.listEventTypes(page(1), true);
      const p2 = await store.listEventTypes(page(1, p1.iterator), true);
      assert.deepEqual(p2.data.map((e) => e.name), ['user.created']);

      const upd = await store.updateEventType('a.first', { archived: true, deprecated: true, groupName: 'g', validate: true });
      assert.equal(upd.archived, true);
      assert.equal(upd.validate, true);
      assert.deepEqual(await store.getEventType('a.first'), upd);
      assert.deepEqual((await store.listEventTypes(page(), false)).data.map((e) => e.name), ['user.created']);
      await assert.rejects(store.updateEventType('missing', { description: 'x' }), NotFoundError);

      await store.deleteEventType('user.created');
      assert.equal(await store.getEventType('user.created'), null);
    });

    // --- messages -----------------------------------------------------------------------

    it('fans a message out to matching, enabled endpoints', async () => {
      const app = await newApp();
      const all = await store.createEndpoint(app.id, endpointInput());
      const typed = await store.createEndpoint(app.id, endpointInput({ eventTypes: ['user.created'] }));
      const channelled = await store.createEndpoint(app.id, endpointInput({ channels: ['ch1', 'ch2'] }));
      const disabled = await store.createEndpoint(app.id, endpointInput({ disabled: true }));
      const otherType = await store.createEndpoint(app.id, endpointInput({ eventTypes: ['order.paid'] }));
      const otherChannel = await store.createEndpoint(app.id, endpointInput({ channels: ['ch9'] }));
      const otherApp = await newApp();
      await store.createEndpoint(otherApp.id, endpointInput());

      const r = await store.createMessage(app.id, messageInput({ channels: ['ch2'], tags: ['t'] }));
      assert.equal(r.deliveries, 3);
      assert.deepEqual(r.leased, []);
      assert.match(r.message.id, /^msg_/);
      assert.equal(r.message.payload, '{"a": 1,  "b":[2]}');
      const dests = await store.listMessageDestinations(app.id, r.message.id, page());
      assert.deepEqual(dests.data.map((d) => d.endpoint.id).sort(), [all.id, typed.id, channelled.id].sort());
      for (const d of dests.data) {
        assert.equal(d.delivery.status, Status.Pending);
        assert.equal(d.delivery.attempts, 0);
        assert.equal(d.delivery.msgId, r.message.id);
      }

      const plain = await store.createMessage(app.id, messageInput({ eventType: 'order.paid' }));
      assert.equal(plain.deliveries, 2);
      const plainDests = (await store.listMessageDestinations(app.id, plain.message.id, page())).data.map((d) => d.endpoint.id);
      assert.deepEqual(plainDests.sort(), [all.id, otherType.id].sort());

      // onlyEndpointId targets one endpoint, whatever its filters.
      const only = await store.createMessage(app.id, messageInput(), { onlyEndpointId: otherChannel.id });
      assert.equal(only.deliveries, 1);
      assert.ok(await deliveryOf(app.id, only.message.id, otherChannel.id));
      assert.equal(await deliveryOf(app.id, r.message.id, disabled.id), undefined);

      assert.deepEqual(await store.getMessage(app.id, r.message.id), r.message);
      assert.equal(await store.getMessage(otherApp.id, r.message.id), null);
    });

    it("keeps each endpoint's failing-since time with its attempt records and disables one failing for the period", async () => {
      const app = await newApp();
      const a = await store.createEndpoint(app.id, endpointInput());
      const b = await store.createEndpoint(app.id, endpointInput());
      for (let i = 0; i < 8; i++) await store.createMessage(app.id, messageInput());
      const work = await store.claim(claimOptions());
      const of = (ep: string) => work.filter((w) => w.endpointId === ep);
      const [wa, wb] = [of(a.id), of(b.id)];
      const t0 = 1_700_000_000_000;
      const fail = (w: Work, at: number) => record(w, 'w1', Status.Pending, { code: 500, nextAttemptAt: at + 60_000, createdAt: at });
      const ok = (w: Work, at: number) => record(w, 'w1', Status.Success, { createdAt: at });
      const period = 1000;

      assert.deepEqual(await store.recordAttempts([fail(wa[0]!, t0), ok(wb[0]!, t0)], period), []);
      // In one batch, b fails, succeeds, fails again: its streak starts at the last failure.
      assert.deepEqual(await store.recordAttempts([fail(wb[3]!, t0 + 700), fail(wa[1]!, t0 + 500), ok(wb[2]!, t0 + 600), fail(wb[1]!, t0 + 500)], period), []);
      // A change that leaves disabled alone keeps the clock.
      await store.updateEndpoint(app.id, b.id, { description: 'renamed' });
      const first = await store.recordAttempts([fail(wa[2]!, t0 + 1000), fail(wb[4]!, t0 + 1600)], period);
      assert.deepEqual(first, [{ endpointId: a.id, appId: app.id, uid: a.uid, failingSince: t0, reason: 'every attempt failed for 1 seconds', disabledAt: t0 + 1000 }]);
      const disabledA = (await store.getEndpoint(app.id, a.id))!;
      assert.equal(disabledA.disabled, true);
      assert.equal(disabledA.disabledReason, 'every attempt failed for 1 seconds');
      assert.equal(disabledA.disabledAt, t0 + 1000);
      // Already disabled: further failures report nothing.
      assert.deepEqual(await store.recordAttempts([fail(wa[3]!, t0 + 9000)], period), []);
      const second = await store.recordAttempts([fail(wb[5]!, t0 + 1700)], period);
      assert.deepEqual(second.map((d) => [d.endpointId, d.failingSince]), [[b.id, t0 + 700]]);
      // Enabled again, its clock starts afresh; without a period, nothing is disabled for failing.
      await store.updateEndpoint(app.id, b.id, { disabled: false, disabledReason: null, disabledAt: null });
      assert.deepEqual(await store.recordAttempts([fail(wb[6]!, t0 + 5000)], period), []);
      assert.deepEqual(await store.recordAttempts([fail(wb[7]!, t0 + 9000)]), []);
      assert.equal((await store.getEndpoint(app.id, b.id))!.disabled, false);
    });

    it('routes each message by its endpoints as they are when it is written', async () => {
      const app = await newApp();
      const send = async () => (await store.createMessage(app.id, messageInput())).deliveries;
      const a = await store.createEndpoint(app.id, endpointInput());
      assert.equal(await send(), 1);
      const b = await store.createEndpoint(app.id, endpointInput());
      assert.equal(await send(), 2);
      await store.updateEndpoint(app.id, a.id, { eventTypes: ['order.paid'] });
      assert.equal(await send(), 1);
      await store.updateEndpoint(app.id, a.id, { eventTypes: null, disabled: true });
      assert.equal(await send(), 1);
      await store.updateEndpoint(app.id, a.id, { disabled: false });
      assert.equal(await send(), 2);
      // Disabled by a failed attempt.
      const work = await store.claim(claimOptions());
      const ofB = work.find((w) => w.endpointId === b.id)!;
      await store.recordAttempts([record(ofB, 'w1', Status.Fail, { code: 410, disable: true })]);
      assert.equal(await send(), 1);
      await store.deleteEndpoint(app.id, a.id);
      assert.equal(await send(), 0);
      if (backend === 'sqlite') {
        // Writes that share one commit run in the order they were made: each message sees
        // the endpoint writes queued before it.
        const [, two, , three] = await Promise.all([
          store.updateEndpoint(app.id, b.id, { disabled: false }),
          store.createMessage(app.id, messageInput()),
          store.createEndpoint(app.id, endpointInput()),
          store.createMessage(app.id, messageInput()),
        ]);
        assert.equal(two.deliveries, 1);
        assert.equal(three.deliveries, 2);
      }
      await store.deleteApp(app.id);
      const again = await newApp();
      await store.createEndpoint(again.id, endpointInput());
      assert.equal((await store.createMessage(again.id, messageInput())).deliveries, 1);
    });

    it('refuses a duplicate eventId and writes nothing', async () => {
      const app = await newApp();
      const ep = await store.createEndpoint(app.id, endpointInput());
      const first = await store.createMessage(app.id, messageInput({ eventId: 'evt-1' }));
      assert.equal(first.deliveries, 1);
      await assert.rejects(store.createMessage(app.id, messageInput({ eventId: 'evt-1', payload: '{}' })), (err: unknown) => {
        assert.ok(err instanceof ConflictError);
        assert.equal(err.code, 'duplicate_event_id');
        return true;
      });
      assert.equal((await store.listMessages(app.id, page(), {})).data.length, 1);
      assert.deepEqual(await store.endpointStats(app.id, ep.id), { success: 0, pending: 1, sending: 0, fail: 0, canceled: 0 });
      assert.deepEqual(await store.getMessage(app.id, 'evt-1'), first.message);
      // The same event id in another application is a different message.
      const other = await newApp();
      await store.createMessage(other.id, messageInput({ eventId: 'evt-1' }));
      assert.equal((await store.listMessages(other.id, page(), {})).data.length, 1);
    });

    it('does not hand out a message before its deliverAt', async () => {
      const app = await newApp();
      await store.createEndpoint(app.id, endpointInput());
      const at = Date.now() + 60_000;
      const offer = { owner: 'w1', leaseMs: 10_000, take: () => true };
      const r = await store.createMessage(app.id, messageInput({ deliverAt: at }), { lease: offer });
      assert.equal(r.deliveries, 1);
      assert.deepEqual(r.leased, [], 'a future message is not leased at once');
      assert.equal(await store.nextDueAt(), at);
      assert.deepEqual(await store.claim(claimOptions()), []);
      const work = await store.claim(claimOptions({ now: at }));
      assert.equal(work.length, 1);
      assert.equal(work[0]!.msgId, r.message.id);
    });

    it('leases new deliveries to the writer when offered', async () => {
      const app = await newApp();
      const a = await store.createEndpoint(app.id, endpointInput({ headers: { 'x-own': '1' }, throttleRate: 3 }));
      const now = Date.now();
      await store.updateEndpoint(app.id, a.id, {
        webhookKey: { header: 'x-webhook-key', key: 'sekrit' },
        previousSecrets: [
          { key: 'whsec_grace', expiresAt: now + 3_600_000 },
          { key: 'whsec_expired', expiresAt: now - 1000 },
        ],
      });
      const b = await store.createEndpoint(app.id, endpointInput());
      const offered: string[] = [];
      const r = await store.createMessage(app.id, messageInput({ eventType: 'user.created' }), {
        lease: { owner: 'w1', leaseMs: 10_000, take: (id) => (offered.push(id), id === a.id) },
      });
      assert.equal(r.deliveries, 2);
      assert.deepEqual(offered.sort(), [a.id, b.id].sort());
      assert.equal(r.leased.length, 1);
      const w = r.leased[0]!;
      assert.equal(typeof w.deliveryId, 'number');
      assert.equal(w.endpointId, a.id);
      assert.equal(w.msgId, r.message.id);
      assert.equal(w.appId, app.id);
      assert.equal(w.eventType, 'user.created');
      assert.equal(w.payload, '{"a": 1,  "b":[2]}');
      assert.deepEqual(w.headers, { 'x-own': '1', 'x-webhook-key': 'sekrit' });
      assert.deepEqual(w.secrets, ['whsec_current', 'whsec_grace']);
      assert.equal(w.attempts, 0);
      assert.equal(w.throttleRate, 3);
      assert.ok(w.leaseUntil >= r.message.createdAt + 10_000);
      assert.equal((await deliveryOf(app.id, r.message.id, a.id))?.status, Status.Sending);

      // Another dispatcher gets only the unleased one.
      const claimed = await store.claim(claimOptions({ owner: 'w2' }));
      assert.deepEqual(claimed.map((c) => c.endpointId), [b.id]);
      // The lease holder can record its attempt.
      await store.recordAttempts([record(w, 'w1', Status.Success)]);
      assert.equal((await deliveryOf(app.id, r.message.id, a.id))?.status, Status.Success);
    });

    it('filters messages by channel, tag, event type and time', async () => {
      const app = await newApp();
      const m1 = (await store.createMessage(app.id, messageInput({ eventType: 'a', channels: ['c1'], tags: ['t1'] }))).message;
      await sleep(5);
      const m2 = (await store.createMessage(app.id, messageInput({ eventType: 'b', channels: ['c1', 'c2'], tags: null }))).message;
      await sleep(5);
      const m3 = (await store.createMessage(app.id, messageInput({ eventType: 'c', channels: null, tags: ['t1', 't2'] }))).message;
      const ids = async (f: Parameters<Store['listMessages']>[2]) => (await store.listMessages(app.id, page(), f)).data.map((m) => m.id);
      assert.deepEqual(await ids({}), [m1.id, m2.id, m3.id]);
      assert.deepEqual(await ids({ channel: 'c1' }), [m1.id, m2.id]);
      assert.deepEqual(await ids({ channel: 'c2' }), [m2.id]);
      assert.deepEqual(await ids({ channel: 'none' }), []);
      assert.deepEqual(await ids({ tag: 't1' }), [m1.id, m3.id]);
      assert.deepEqual(await ids({ tag: 't2' }), [m3.id]);
      assert.deepEqual(await ids({ eventTypes: ['a', 'c'] }), [m1.id, m3.id]);
      assert.deepEqual(await ids({ eventTypes: [] }), [m1.id, m2.id, m3.id]);
      assert.deepEqual(await ids({ before: m2.createdAt }), [m1.id]);
      assert.deepEqual(await ids({ after: m2.createdAt }), [m3.id]);
      assert.deepEqual(await ids({ after: m1.createdAt, before: m3.createdAt }), [m2.id]);
      assert.deepEqual(await ids({ channel: 'c1', eventTypes: ['b'] }), [m2.id]);
      const desc = await store.listMessages(app.id, page(2, null, 'descending'), {});
      assert.deepEqual(desc.data.map((m) => m.id), [m3.id, m2.id]);
      assert.equal(desc.done, false);
    });

    it('expunges a message and cancels its unfinished deliveries', async () => {
      const app = await newApp();
      const a = await store.createEndpoint(app.id, endpointInput());
      const b = await store.createEndpoint(app.id, endpointInput());
      const { message } = await store.createMessage(app.id, messageInput());
      const [first] = await store.claim(claimOptions({ limit: 1 }));
      await store.recordAttempts([record(first!, 'w1', Status.Success)]);
      const done = first!.endpointId;
      const open = done === a.id ? b.id : a.id;

      await store.expungeMessage(app.id, message.id);
      assert.equal((await store.getMessage(app.id, message.id))?.payload, null);
      assert.equal((await deliveryOf(app.id, message.id, done))?.status, Status.Success);
      const canceled = await deliveryOf(app.id, message.id, open);
      assert.equal(canceled?.status, Status.Canceled);
      assert.equal(canceled?.nextAttemptAt, null);
      assert.deepEqual(await store.claim(claimOptions({ owner: 'w2' })), []);
      assert.equal(await store.nextDueAt(), null);
    });

    it('purges expired content: a message being sent waits, what waits to be sent fails with a note, metadata stays', async () => {
      const app = await newApp();
      const a = await store.createEndpoint(app.id, endpointInput());
      const b = await store.createEndpoint(app.id, endpointInput());
      const { message } = await store.createMessage(app.id, { ...messageInput(), retentionMs: 1000 });
      assert.equal(message.payloadExpiresAt, message.createdAt + 1000);
      const later = Date.now() + 10_000;
      // The delivery to a is being sent, its lease live past `later`; b's waits.
      const [w] = await store.claim(claimOptions({ limit: 1, leaseMs: 3_600_000, allowance: { [b.id]: 0 } }));
      assert.equal(w!.endpointId, a.id);
      assert.deepEqual(await store.purgeExpiredContent(later, 500), { messages: 0, attempts: 0, backfillRecords: 0, deliveries: 0 });
      await store.recordAttempts([record(w!, 'w1', Status.Success)]);

      assert.deepEqual(await store.purgeExpiredContent(later, 500), { messages: 1, attempts: 1, backfillRecords: 0, deliveries: 1 });
      assert.equal((await store.getMessage(app.id, message.id))?.payload, null);
      assert.equal((await deliveryOf(app.id, message.id, a.id))?.status, Status.Success);
      assert.equal((await deliveryOf(app.id, message.id, b.id))?.status, Status.Fail);
      const attempts = (await store.listAttempts(app.id, page(), { msgId: message.id })).data;
      assert.deepEqual(
        attempts.map((x) => [x.endpointId, x.responseStatusCode, x.response]).sort(),
        [[a.id, 200, ''], [b.id, 0, EXPIRED_NOTE]].sort(),
      );
      assert.deepEqual(await store.purgeExpiredContent(later, 500), { messages: 0, attempts: 0, backfillRecords: 0, deliveries: 0 });
    });

    it("deletes content only of the application's own messages", async () => {
      const mine = await newApp();
      const theirs = await newApp();
      const { message } = await store.createMessage(theirs.id, messageInput());
      assert.equal((await store.deleteContent(mine.id, [message.id])).messages, 0);
      assert.notEqual((await store.getMessage(theirs.id, message.id))?.payload, null);
      assert.equal((await store.deleteContent(theirs.id, [message.id])).messages, 1);
    });

    // --- the queue ----------------------------------------------------------------------

    it('claims at most limit deliveries, and never the same one twice', async () => {
      const app = await newApp();
      for (let i = 0; i < 3; i++) await store.createEndpoint(app.id, endpointInput());
      for (let i = 0; i < 4; i++) await store.createMessage(app.id, messageInput());
      const now = Date.now();
      const first = await store.claim(claimOptions({ now, limit: 5, owner: 'w1' }));
      assert.equal(first.length, 5);
      for (const w of first) {
        assert.equal(w.leaseUntil, now + 30_000);
        assert.equal(w.payload, '{"a": 1,  "b":[2]}');
        assert.deepEqual(w.secrets, ['whsec_current']);
        assert.equal(w.trigger, 0);
      }
      const [second, third] = await Promise.all([
        store.claim(claimOptions({ now, limit: 5, owner: 'w2' })),
        store.claim(claimOptions({ now, limit: 5, owner: 'w3' })),
      ]);
      assert.equal(second.length + third.length, 7);
      const ids = [...first, ...second, ...third].map((w) => w.deliveryId);
      assert.equal(new Set(ids).size, 12, 'no delivery is claimed twice');
      assert.deepEqual(await store.claim(claimOptions({ now, owner: 'w4' })), []);
    });

    it('caps deliveries per endpoint, with per-endpoint allowances', async () => {
      const app = await newApp();
      const a = await store.createEndpoint(app.id, endpointInput());
      const b = await store.createEndpoint(app.id, endpointInput());
      for (let i = 0; i < 5; i++) await store.createMessage(app.id, messageInput());
      const count = (ws: Work[], ep: Endpoint) => ws.filter((w) => w.endpointId === ep.id).length;

      const capped = await store.claim(claimOptions({ perEndpoint: 2 }));
      assert.equal(count(capped, a), 2);
      assert.equal(count(capped, b), 2);

      const onlyB = await store.claim(claimOptions({ perEndpoint: 10, allowance: { [a.id]: 0 } }));
      assert.equal(count(onlyB, a), 0, 'an allowance of 0 excludes the endpoint');
      assert.equal(count(onlyB, b), 3);

      const oneA = await store.claim(claimOptions({ perEndpoint: 0, allowance: { [a.id]: 1 } }));
      assert.equal(oneA.length, 1);
      assert.equal(oneA[0]!.endpointId, a.id);

      const rest = await store.claim(claimOptions());
      assert.equal(count(rest, a), 2);
      assert.equal(rest.length, 2);
    });

    it('does not let an excluded endpoint\'s backlog starve the others', async () => {
      const app = await newApp();
      const busy = await store.createEndpoint(app.id, endpointInput());
      for (let i = 0; i < 5; i++) await store.createMessage(app.id, messageInput());
      await sleep(5);
      const quiet = await store.createEndpoint(app.id, endpointInput());
      await store.createMessage(app.id, messageInput(), { onlyEndpointId: quiet.id });
      // busy's five deliveries fall due first and fill a limit of 2, unless left out.
      const work = await store.claim(claimOptions({ limit: 2, allowance: { [busy.id]: 0 } }));
      assert.deepEqual(work.map((w) => w.endpointId), [quiet.id]);
    });

    it('claims new traffic before bulk re-sends', async () => {
      const app = await newApp();
      const ep = await store.createEndpoint(app.id, endpointInput());
      const old1 = (await store.createMessage(app.id, messageInput())).message;
      const old2 = (await store.createMessage(app.id, messageInput())).message;
      assert.equal(await failAll(), 2);
      assert.equal(await store.retryFailed(app.id), 2);
      await sleep(5);
      const fresh = (await store.createMessage(app.id, messageInput())).message;

      const first = await store.claim(claimOptions({ limit: 1 }));
      assert.deepEqual(first.map((w) => w.msgId), [fresh.id], 'new traffic goes first though it fell due later');
      const rest = await store.claim(claimOptions({ limit: 10 }));
      assert.deepEqual(rest.map((w) => w.msgId), [old1.id, old2.id], 'equal due times go oldest first');
      for (const w of rest) {
        assert.equal(w.trigger, 1);
        assert.equal(w.attempts, 0, 'a retry starts a new round');
        assert.equal(w.endpointId, ep.id);
      }
    });

    it('holds leases until they expire, then hands the work to another owner', async () => {
      const app = await newApp();
      await store.createEndpoint(app.id, endpointInput());
      const { message } = await store.createMessage(app.id, messageInput());
      const now = Date.now();
      const [w1] = await store.claim(claimOptions({ now, owner: 'w1', leaseMs: 1000 }));
      assert.ok(w1);
      assert.deepEqual(await store.claim(claimOptions({ now: now + 999, owner: 'w2' })), []);
      assert.equal(await store.nextDueAt(), now + 1000, 'a lease expiry is when the work falls due again');
      const [w2] = await store.claim(claimOptions({ now: now + 1000, owner: 'w2', leaseMs: 5000 }));
      assert.equal(w2?.deliveryId, w1.deliveryId);

      // The first owner's late result is kept as an attempt but does not touch the delivery.
      await store.recordAttempts([record(w1, 'w1', Status.Success)]);
      const d = await deliveryOf(app.id, message.id, w1.endpointId);
      assert.equal(d?.status, Status.Sending);
      assert.equal(d?.attempts, 0);
      assert.equal((await store.listAttempts(app.id, page(), { msgId: message.id })).data.length, 1);

      await store.recordAttempts([record(w2!, 'w2', Status.Success)]);
      assert.equal((await deliveryOf(app.id, message.id, w1.endpointId))?.status, Status.Success);
    });

    it('renews only the owner\'s leases', async () => {
      const app = await newApp();
      await store.createEndpoint(app.id, endpointInput());
      await store.createMessage(app.id, messageInput());
      await store.createMessage(app.id, messageInput());
      const now = Date.now();
      const work = await store.claim(claimOptions({ now, owner: 'w1', leaseMs: 1000 }));
      assert.equal(work.length, 2);
      await store.renewLeases('w1', [work[0]!.deliveryId], now + 60_000);
      await store.renewLeases('intruder', [work[1]!.deliveryId], now + 90_000);
      assert.equal(await store.nextDueAt(), now + 1000);
      const taken = await store.claim(claimOptions({ now: now + 5000, owner: 'w2' }));
      assert.deepEqual(sortIds(taken), [work[1]!.deliveryId], 'only the unrenewed lease expired');
      assert.equal(await store.nextDueAt(), now + 5000 + 30_000);
    });

    it('releases only the owner\'s leases, due at once', async () => {
      const app = await newApp();
      await store.createEndpoint(app.id, endpointInput());
      await store.createMessage(app.id, messageInput());
      const work = await store.claim(claimOptions({ owner: 'w1' }));
      assert.equal(work.length, 1);
      await store.release('w2', [work[0]!.deliveryId]);
      assert.deepEqual(await store.claim(claimOptions({ owner: 'w3' })), []);
      const before = Date.now();
      await store.release('w1', [work[0]!.deliveryId]);
      const due = await store.nextDueAt();
      assert.ok(due !== null && due >= before && due <= Date.now());
      const again = await store.claim(claimOptions({ owner: 'w3' }));
      assert.deepEqual(sortIds(again), sortIds(work));
      assert.equal(again[0]!.attempts, 0);
    });

    it('records a batch of many attempts in one call: every attempt, and each delivery its owner still leases', async () => {
      const app = await newApp();
      await store.createEndpoint(app.id, endpointInput());
      for (let i = 0; i < 40; i++) await store.createMessage(app.id, messageInput());
      const now = Date.now();
      const work = await store.claim(claimOptions({ now, owner: 'w1' }));
      assert.equal(work.length, 40);
      // The last one's lease is someone else's by now: its attempt is kept, its delivery left alone.
      await store.recordAttempts(work.map((w, i) => record(w, i === 39 ? 'w2' : 'w1', Status.Success, { createdAt: now + i })));
      assert.equal((await store.listAttempts(app.id, page(100), {})).data.length, 40);
      const statuses = await Promise.all(work.map(async (w) => (await deliveryOf(app.id, w.msgId, w.endpointId))?.status));
      assert.deepEqual(statuses, [...Array.from({ length: 39 }, () => Status.Success), Status.Sending]);
    });

    it('records attempts: success, retry later, failure, and disabling the endpoint', async () => {
      const app = await newApp();
      const ep = await store.createEndpoint(app.id, endpointInput());
      const m: Message[] = [];
      for (let i = 0; i < 3; i++) m.push((await store.createMessage(app.id, messageInput())).message);
      const now = Date.now();
      const work = await store.claim(claimOptions({ now }));
      const by = (id: string) => work.find((w) => w.msgId === id)!;
      const retryAt = now + 120_000;
      await store.recordAttempts([
        record(by(m[0]!.id), 'w1', Status.Success, { createdAt: now + 1 }),
        record(by(m[1]!.id), 'w1', Status.Pending, { code: 503, nextAttemptAt: retryAt, createdAt: now + 2 }),
        record(by(m[2]!.id), 'w1', Status.Fail, { code: 410, disable: true, createdAt: now + 3 }),
      ]);
      const ok = await deliveryOf(app.id, m[0]!.id, ep.id);
      assert.equal(ok?.status, Status.Success);
      assert.equal(ok?.attempts, 1);
      assert.equal(ok?.lastAttemptAt, now + 1);
      const pending = await deliveryOf(app.id, m[1]!.id, ep.id);
      assert.equal(pending?.status, Status.Pending);
      assert.equal(pending?.nextAttemptAt, retryAt);
      assert.equal((await deliveryOf(app.id, m[2]!.id, ep.id))?.status, Status.Fail);
      assert.equal((await store.getEndpoint(app.id, ep.id))?.disabled, true);

      const attempts = await store.listAttempts(app.id, page(), {});
      assert.equal(attempts.data.length, 3);
      const a0 = attempts.data.find((a) => a.msgId === m[0]!.id)!;
      assert.match(a0.id, /^atmpt_/);
      assert.equal(a0.responseStatusCode, 200);
      assert.equal(a0.response, 'response 200');
      assert.equal(a0.createdAt, now + 1);
      assert.deepEqual(await store.getAttempt(app.id, m[0]!.id, a0.id), a0);
      assert.equal(await store.getAttempt(app.id, m[1]!.id, a0.id), null);
      await store.expungeAttempt(app.id, m[0]!.id, a0.id);
      assert.equal((await store.getAttempt(app.id, m[0]!.id, a0.id))?.response, '');

      // The retry falls due at its time; a disabled endpoint's backlog fails when claimed.
      assert.equal(await store.nextDueAt(), retryAt);
      assert.deepEqual(await store.claim(claimOptions({ now: retryAt - 1 })), []);
      assert.deepEqual(await store.claim(claimOptions({ now: retryAt })), []);
      assert.equal((await deliveryOf(app.id, m[1]!.id, ep.id))?.status, Status.Fail);
      assert.equal(await store.nextDueAt(), null);
    });

    it('hands a retried delivery out again with its attempt count', async () => {
      const app = await newApp();
      await store.createEndpoint(app.id, endpointInput());
      await store.createMessage(app.id, messageInput());
      const now = Date.now();
      const [w] = await store.claim(claimOptions({ now }));
      await store.recordAttempts([record(w!, 'w1', Status.Pending, { code: 500, nextAttemptAt: now + 100 })]);
      assert.deepEqual(await store.claim(claimOptions({ now: now + 99 })), []);
      const [again] = await store.claim(claimOptions({ now: now + 100, owner: 'w2' }));
      assert.equal(again?.deliveryId, w!.deliveryId);
      assert.equal(again?.attempts, 1);
    });

    it('reports when the next delivery falls due', async () => {
      assert.equal(await store.nextDueAt(), null);
      const app = await newApp();
      await store.createEndpoint(app.id, endpointInput());
      const later = Date.now() + 50_000;
      await store.createMessage(app.id, messageInput({ deliverAt: later }));
      assert.equal(await store.nextDueAt(), later);
      const { message } = await store.createMessage(app.id, messageInput());
      assert.equal(await store.nextDueAt(), message.createdAt);
    });

    // --- re-sending ---------------------------------------------------------------------

    it('resends a message to an endpoint, creating the delivery if needed', async () => {
      const app = await newApp();
      const a = await store.createEndpoint(app.id, endpointInput());
      const b = await store.createEndpoint(app.id, endpointInput({ eventTypes: ['other'] }));
      const { message } = await store.createMessage(app.id, messageInput());
      const [w] = await store.claim(claimOptions());
      await store.recordAttempts([record(w!, 'w1', Status.Success)]);

      await store.resend(app.id, message.id, a.id);
      const d = await deliveryOf(app.id, message.id, a.id);
      assert.equal(d?.status, Status.Pending);
      assert.equal(d?.trigger, 1);
      assert.equal(d?.attempts, 0);

      assert.equal(await deliveryOf(app.id, message.id, b.id), undefined);
      await store.resend(app.id, message.id, b.id);
      const created = await deliveryOf(app.id, message.id, b.id);
      assert.equal(created?.status, Status.Pending);
      assert.equal(created?.trigger, 1);

      // A delivery being sent is left alone.
      const work = await store.claim(claimOptions({ owner: 'w2' }));
      assert.equal(work.length, 2);
      await store.resend(app.id, message.id, a.id);
      assert.equal((await deliveryOf(app.id, message.id, a.id))?.status, Status.Sending);
    });

    it('recovers an endpoint\'s failed deliveries within a time window', async () => {
      const app = await newApp();
      const a = await store.createEndpoint(app.id, endpointInput());
      const b = await store.createEndpoint(app.id, endpointInput());
      const m1 = (await store.createMessage(app.id, messageInput())).message;
      await sleep(5);
      const m2 = (await store.createMessage(app.id, messageInput())).message;
      assert.equal(await failAll(), 4);

      assert.equal(await store.recover(app.id, a.id, m2.createdAt + 1, null), 0);
      assert.equal(await store.recover(app.id, a.id, 0, m2.createdAt), 1);
      assert.equal((await deliveryOf(app.id, m1.id, a.id))?.status, Status.Pending);
      assert.equal((await deliveryOf(app.id, m2.id, a.id))?.status, Status.Fail);
      assert.equal(await store.recover(app.id, a.id, 0, null), 1);
      assert.equal(await store.recover(app.id, a.id, 0, null), 0);
      assert.equal((await deliveryOf(app.id, m1.id, b.id))?.status, Status.Fail, 'other endpoints are untouched');
      const work = await store.claim(claimOptions({ owner: 'w2' }));
      assert.deepEqual(work.map((w) => w.endpointId), [a.id, a.id]);
      assert.ok(work.every((w) => w.trigger === 1 && w.attempts === 0));
    });

    it('retries every failed delivery of an application', async () => {
      const app = await newApp();
      const other = await newApp();
      await store.createEndpoint(app.id, endpointInput());
      await store.createEndpoint(app.id, endpointInput());
      await store.createEndpoint(other.id, endpointInput());
      await store.createMessage(app.id, messageInput());
      await store.createMessage(other.id, messageInput());
      assert.equal(await failAll(), 3);
      assert.equal(await store.retryFailed(app.id), 2);
      assert.equal(await store.retryFailed(app.id), 0);
      const work = await store.claim(claimOptions());
      assert.equal(work.length, 2);
      assert.ok(work.every((w) => w.appId === app.id));
    });

    it('replays messages an endpoint never had', async () => {
      const app = await newApp();
      await store.createEndpoint(app.id, endpointInput());
      const m1 = (await store.createMessage(app.id, messageInput({ eventType: 'a' }))).message;
      const m2 = (await store.createMessage(app.id, messageInput({ eventType: 'b' }))).message;
      const m3 = (await store.createMessage(app.id, messageInput({ eventType: 'a' }))).message;
      await store.expungeMessage(app.id, m3.id);
      const late = await store.createEndpoint(app.id, endpointInput({ eventTypes: ['a'] }));
      assert.equal(await store.replayMissing(app.id, late.id, 0, null), 1, 'only the matching message with a payload');
      const d = await deliveryOf(app.id, m1.id, late.id);
      assert.equal(d?.status, Status.Pending);
      assert.equal(d?.trigger, 1);
      assert.equal(await deliveryOf(app.id, m2.id, late.id), undefined);
      assert.equal(await store.replayMissing(app.id, late.id, 0, null), 0);
      await assert.rejects(store.replayMissing(app.id, 'ep_missing', 0, null), NotFoundError);
      const all = await store.createEndpoint(app.id, endpointInput());
      assert.equal(await store.replayMissing(app.id, all.id, 0, m2.createdAt + 1), 2);
    });

    // --- ordering per key ---------------------------------------------------------------

    /** An endpoint that orders by `$.user`, and a message for that user (none: no key). */
    const orderedEndpoint = (appId: string) => store.createEndpoint(appId, endpointInput({ ordering: { key: '$.user' } }));
    const forUser = (user: string | number | null, fields: Partial<MessageInput> = {}) =>
      messageInput({ payload: JSON.stringify(user === null ? { other: 1 } : { user }), ...fields });
    /** Creates messages for these users in this order; returns their ids by label. */
    async function sendAll(appId: string, labels: [string, string | null][]): Promise<Record<string, string>> {
      const ids: Record<string, string> = {};
      for (const [label, user] of labels) ids[label] = (await store.createMessage(appId, forUser(user))).message.id;
      return ids;
    }
    const labelsOf = (ids: Record<string, string>, work: Work[]) =>
      work.map((w) => Object.keys(ids).find((l) => ids[l] === w.msgId)).sort();

    it('keeps ordering on endpoints, ordering keys on deliveries and dataId on messages', async () => {
      const app = await newApp();
      const ep = await orderedEndpoint(app.id);
      const plain = await store.createEndpoint(app.id, endpointInput());
      assert.deepEqual(ep.ordering, { key: '$.user' });
      assert.deepEqual((await store.getEndpoint(app.id, ep.id))?.ordering, { key: '$.user' });
      assert.equal((await store.getEndpoint(app.id, plain.id))?.ordering, null);
      const changed = await store.updateEndpoint(app.id, plain.id, { ordering: { key: '$.data.items[0].id' } });
      assert.deepEqual(changed.ordering, { key: '$.data.items[0].id' });
      assert.deepEqual((await store.getEndpoint(app.id, plain.id))?.ordering, { key: '$.data.items[0].id' });
      await store.updateEndpoint(app.id, plain.id, { ordering: null });

      const a = (await store.createMessage(app.id, forUser('u-1', { dataId: 'workout-9' }))).message;
      const n = (await store.createMessage(app.id, forUser(42))).message;
      const none = (await store.createMessage(app.id, forUser(null))).message;
      assert.equal(a.dataId, 'workout-9');
      assert.equal((await store.getMessage(app.id, a.id))?.dataId, 'workout-9');
      assert.equal((await store.getMessage(app.id, n.id))?.dataId, null);
      assert.equal((await deliveryOf(app.id, a.id, ep.id))?.orderKey, 'u-1');
      assert.equal((await deliveryOf(app.id, n.id, ep.id))?.orderKey, '42', 'a number is its decimal text');
      assert.equal((await deliveryOf(app.id, none.id, ep.id))?.orderKey, null, 'no key in the payload: unordered');
      assert.equal((await deliveryOf(app.id, a.id, plain.id))?.orderKey, null, 'an unordered endpoint');

      const byData = await store.listMessages(app.id, page(), { dataId: 'workout-9' });
      assert.deepEqual(byData.data.map((m) => m.id), [a.id]);
      assert.deepEqual((await store.listMessages(app.id, page(), { dataId: 'nope' })).data, []);
      assert.deepEqual((await store.listEndpointMessages(app.id, ep.id, page(), { dataId: 'workout-9' })).data.map((x) => x.message.id), [a.id]);
    });

    it('holds later deliveries of a key behind its head, and nothing else', async () => {
      const app = await newApp();
      await orderedEndpoint(app.id);
      const ids = await sendAll(app.id, [['a1', 'A'], ['a2', 'A'], ['b1', 'B'], ['u1', null], ['a3', 'A'], ['u2', null], ['b2', 'B']]);
      const now = Date.now();
      const first = await store.claim(claimOptions({ now }));
      assert.deepEqual(labelsOf(ids, first), ['a1', 'b1', 'u1', 'u2'], 'one per key in a batch; unordered ones all go');
      assert.deepEqual(await store.claim(claimOptions({ now })), [], 'heads in flight hold their keys');

      // a1 fails and waits for a retry: A stays held, B moves on once b1 is done.
      const by = (l: string) => first.find((w) => w.msgId === ids[l])!;
      const retryAt = now + 10_000; // before the leases of u1 and u2 run out
      await store.recordAttempts([
        record(by('a1'), 'w1', Status.Pending, { code: 500, nextAttemptAt: retryAt }),
        record(by('b1'), 'w1', Status.Success),
      ]);
      const second = await store.claim(claimOptions({ now: now + 1 }));
      assert.deepEqual(labelsOf(ids, second), ['b2']);
      assert.equal(second[0]!.orderKey, 'B');
      assert.equal(await store.nextDueAt(), retryAt, 'a2 and a3 wait for a1, not for a time');
      const retried = await store.claim(claimOptions({ now: retryAt }));
      assert.deepEqual(labelsOf(ids, retried), ['a1'], 'the head is retried before anything after it');
      assert.equal(retried[0]!.attempts, 1);
    });

    it("lets a key's next delivery go once its head succeeds, fails for good, or is skipped", async () => {
      const app = await newApp();
      const ep = await orderedEndpoint(app.id);
      const ids = await sendAll(app.id, [['a1', 'A'], ['a2', 'A'], ['a3', 'A'], ['a4', 'A']]);
      const step = async (expected: string) => {
        const work = await store.claim(claimOptions({ owner: 'w1' }));
        assert.deepEqual(labelsOf(ids, work), [expected]);
        return work[0]!;
      };
      await store.recordAttempts([record(await step('a1'), 'w1', Status.Success)]);
      await store.recordAttempts([record(await step('a2'), 'w1', Status.Fail)]);
      const now = Date.now();
      await store.recordAttempts([record(await step('a3'), 'w1', Status.Pending, { code: 503, nextAttemptAt: now + 3_600_000 })]);
      assert.deepEqual(await store.claim(claimOptions()), [], 'a3 waits for its retry and holds a4');

      assert.deepEqual(await store.skipOrderHead(app.id, ep.id, 'A', now, 'skipped here'), { skipped: ids.a3 });
      assert.equal((await deliveryOf(app.id, ids.a3!, ep.id))?.status, Status.Fail);
      const recorded = (await store.listAttempts(app.id, page(), { msgId: ids.a3 })).data;
      const skip = recorded.find((a) => a.response === 'skipped here');
      assert.ok(skip, 'the skip is recorded as an attempt');
      assert.equal(skip.status, Status.Fail);
      assert.equal(skip.responseStatusCode, 0);
      assert.equal(skip.triggerType, 1);
      assert.equal(skip.url, ep.url);

      const a4 = await step('a4');
      assert.deepEqual(await store.skipOrderHead(app.id, ep.id, 'A', Date.now(), 'x'), { sending: ids.a4 }, 'a head in flight is not skipped');
      assert.deepEqual(await store.skipOrderHead(app.id, ep.id, 'B', Date.now(), 'x'), { skipped: null });
      const other = await newApp();
      assert.deepEqual(await store.skipOrderHead(other.id, ep.id, 'A', Date.now(), 'x'), { skipped: null }, 'only within its application');
      // Once its lease has run out, a head can be skipped (its worker is presumed gone).
      assert.deepEqual(await store.skipOrderHead(app.id, ep.id, 'A', a4.leaseUntil, 'x'), { skipped: ids.a4 });
      assert.deepEqual(await store.skipOrderHead(app.id, ep.id, 'A', Date.now(), 'x'), { skipped: null });
    });

    it('puts a re-queued older delivery at the head again, after the attempt in flight', async () => {
      const app = await newApp();
      const ep = await orderedEndpoint(app.id);
      const ids = await sendAll(app.id, [['a1', 'A'], ['a2', 'A'], ['a3', 'A']]);
      const [w1] = await store.claim(claimOptions());
      await store.recordAttempts([record(w1!, 'w1', Status.Fail)]);
      const now = Date.now();
      const [w2] = await store.claim(claimOptions({ now, leaseMs: 10_000 }));
      assert.equal(w2?.msgId, ids.a2);
      assert.equal(await store.retryFailed(app.id), 1);
      assert.deepEqual(await store.claim(claimOptions({ now: now + 5_000 })), [], 'a1 waits while a2 is being sent; a3 waits for both');
      // A lease that ran out holds nothing: a1 goes, and a2 (unfinished, younger) waits for it.
      const late = await store.claim(claimOptions({ now: now + 10_000, owner: 'w2' }));
      assert.deepEqual(labelsOf(ids, late), ['a1']);
      await store.recordAttempts([record(late[0]!, 'w2', Status.Success)]);
      const again = await store.claim(claimOptions({ now: now + 10_001, owner: 'w2' }));
      assert.deepEqual(labelsOf(ids, again), ['a2']);
      await store.recordAttempts([record(again[0]!, 'w2', Status.Success)]);
      assert.deepEqual(labelsOf(ids, await store.claim(claimOptions({ now: now + 10_002 }))), ['a3']);

      // resend of a delivered message makes it the head again, too.
      await store.resend(app.id, ids.a1!, ep.id);
      assert.deepEqual(await store.claim(claimOptions({ now: now + 10_003 })), [], 'a3 is in flight');
    });

    it('leases a keyed delivery on create only when nothing of its key is unfinished', async () => {
      const app = await newApp();
      await orderedEndpoint(app.id);
      const offer: LeaseOffer = { owner: 'w1', leaseMs: 30_000, take: () => true };
      const a1 = await store.createMessage(app.id, forUser('A'), { lease: offer });
      const a2 = await store.createMessage(app.id, forUser('A'), { lease: offer });
      const b1 = await store.createMessage(app.id, forUser('B'), { lease: offer });
      assert.equal(a1.leased.length, 1);
      assert.equal(a1.leased[0]!.orderKey, 'A');
      assert.equal(a2.leased.length, 0, 'a2 waits for a1');
      assert.equal(b1.leased.length, 1);
      assert.deepEqual(await store.claim(claimOptions()), []);
      await store.recordAttempts([record(a1.leased[0]!, 'w1', Status.Success)]);
      assert.deepEqual((await store.claim(claimOptions())).map((w) => w.msgId), [a2.message.id]);
    });

    it('gives deliveries made by replay and resend the key of their message, in message order', async () => {
      const app = await newApp();
      const ids = await sendAll(app.id, [['a1', 'A'], ['b1', 'B'], ['a2', 'A']]);
      const ep = await orderedEndpoint(app.id);
      assert.equal(await store.replayMissing(app.id, ep.id, 0, null), 3);
      assert.equal((await deliveryOf(app.id, ids.a2!, ep.id))?.orderKey, 'A');
      const first = await store.claim(claimOptions());
      assert.deepEqual(labelsOf(ids, first), ['a1', 'b1']);
      const late = await store.createEndpoint(app.id, endpointInput({ ordering: { key: '$.user' } }));
      await store.resend(app.id, ids.a2!, late.id);
      assert.equal((await deliveryOf(app.id, ids.a2!, late.id))?.orderKey, 'A');
    });

    // --- backfills ----------------------------------------------------------------------

    const backfillInput = { userId: 'u-1', resource: 'workouts', provider: 'garmin', chunkSize: 2, notify: 'each' as const };
    const rec = (seq: number) => ({ seq, record: `{"id":"r${seq}",  "x":[${seq}]}` });
    const notice = (id: string, chunk: number | null) => messageInput({ eventType: 'historical.data.workouts.created', payload: `{"chunk":${chunk}}`, dataId: id, backfill: { id, chunk } });

    it('keeps a backfill receiving until complete, then its chunks, records and notifications', async () => {
      const app = await newApp();
      const ep = await store.createEndpoint(app.id, endpointInput());
      const bf = await store.createBackfill(app.id, backfillInput);
      assert.match(bf.id, /^bf_/);
      assert.equal(bf.status, 'receiving');
      await store.addBackfillRecords(bf.id, [rec(0), rec(1), rec(2)]);
      await store.addBackfillRecords(bf.id, [rec(3), rec(4)]);
      assert.deepEqual(await store.getBackfill(app.id, bf.id), { ...bf, records: 5, updatedAt: (await store.getBackfill(app.id, bf.id))!.updatedAt });
      const chunks = [0, 1, 2].map((index) => ({ index, startDate: 3000 - index * 2, endDate: 2999 - index * 2, records: index < 2 ? 2 : 1 }));
      const done = await store.completeBackfill(app.id, bf.id, chunks, [0, 1, 2].map((c) => notice(bf.id, c)));
      assert.deepEqual([done.status, done.records, done.chunks, done.msgId], ['complete', 5, 3, null]);
      await assert.rejects(store.completeBackfill(app.id, bf.id, chunks, []), ConflictError);

      const listed = await store.listBackfillChunks(bf.id);
      assert.deepEqual(listed.map((c) => [c.index, c.startDate, c.endDate, c.records]), chunks.map((c) => [c.index, c.startDate, c.endDate, c.records]));
      const msgs = await Promise.all(listed.map((c) => store.getMessage(app.id, c.msgId!)));
      assert.deepEqual(msgs.map((m) => m?.backfill), [0, 1, 2].map((chunk) => ({ id: bf.id, chunk })));
      assert.equal((await store.listMessages(app.id, page(), { dataId: bf.id })).data.length, 3);

      // Records by seq, exactly as stored.
      assert.deepEqual(await store.readBackfillRecords(bf.id, 2, 4, 10), [rec(2), rec(3)]);
      assert.deepEqual(await store.readBackfillRecords(bf.id, 0, 5, 2), [rec(0), rec(1)]);

      // The notifications go to the endpoint one at a time, in order, under the backfill's key.
      const first = await store.claim(claimOptions());
      assert.deepEqual(first.map((w) => [w.msgId, w.orderKey, w.backfill]), [[listed[0]!.msgId, `backfill:${bf.id}`, { id: bf.id, chunk: 0 }]]);
      assert.equal(first[0]!.endpointId, ep.id);
      await store.recordAttempts([record(first[0]!, 'w1', Status.Success)]);
      assert.deepEqual((await store.claim(claimOptions())).map((w) => w.backfill?.chunk), [1]);

      assert.deepEqual((await store.listBackfills(app.id, page())).data.map((b) => b.id), [bf.id]);
      await store.deleteBackfill(app.id, bf.id);
      assert.equal(await store.getBackfill(app.id, bf.id), null);
      assert.deepEqual(await store.readBackfillRecords(bf.id, 0, 5, 10), []);
      assert.deepEqual(await store.listBackfillChunks(bf.id), []);
      await assert.rejects(store.deleteBackfill(app.id, bf.id), NotFoundError);
    });

    it('keeps the single notification of a backfill that notifies once on the backfill', async () => {
      const app = await newApp();
      const bf = await store.createBackfill(app.id, { ...backfillInput, notify: 'once' });
      await store.addBackfillRecords(bf.id, [rec(0), rec(1), rec(2)]);
      const chunks = [
        { index: 0, startDate: 9, endDate: 8, records: 2 },
        { index: 1, startDate: 7, endDate: 7, records: 1 },
      ];
      const done = await store.completeBackfill(app.id, bf.id, chunks, [notice(bf.id, null)]);
      assert.match(done.msgId!, /^msg_/);
      assert.deepEqual((await store.getMessage(app.id, done.msgId!))?.backfill, { id: bf.id, chunk: null });
      assert.deepEqual((await store.listBackfillChunks(bf.id)).map((c) => c.msgId), [null, null]);
    });

    it('purges uploads that stopped before completing, and only those', async () => {
      const app = await newApp();
      const stale = await store.createBackfill(app.id, backfillInput);
      await store.addBackfillRecords(stale.id, [rec(0)]);
      const finished = await store.createBackfill(app.id, backfillInput);
      await store.addBackfillRecords(finished.id, [rec(0)]);
      await store.completeBackfill(app.id, finished.id, [{ index: 0, startDate: 1, endDate: 1, records: 1 }], [notice(finished.id, 0)]);
      assert.equal(await store.purgeUnfinishedBackfills(Date.now() - 60_000), 0, 'a recent upload is left alone');
      assert.equal(await store.purgeUnfinishedBackfills(Date.now() + 1), 1);
      assert.equal(await store.getBackfill(app.id, stale.id), null);
      assert.deepEqual(await store.readBackfillRecords(stale.id, 0, 10, 10), []);
      assert.equal((await store.getBackfill(app.id, finished.id))?.status, 'complete');
    });

    // --- reports ------------------------------------------------------------------------

    it('filters attempts', async () => {
      const app = await newApp();
      const a = await store.createEndpoint(app.id, endpointInput());
      const b = await store.createEndpoint(app.id, endpointInput());
      const m1 = (await store.createMessage(app.id, messageInput({ eventType: 'x', channels: ['c1'], tags: ['t'] }))).message;
      const m2 = (await store.createMessage(app.id, messageInput({ eventType: 'y' }))).message;
      const work = await store.claim(claimOptions());
      const now = Date.now();
      const code = (w: Work) => (w.msgId === m1.id ? (w.endpointId === a.id ? 200 : 404) : w.endpointId === a.id ? 503 : 0);
      await store.recordAttempts(
        work.map((w, i) => record(w, 'w1', code(w) === 200 ? Status.Success : Status.Fail, { code: code(w), createdAt: now + i * 10 })),
      );
      const count = async (f: Parameters<Store['listAttempts']>[2]) => (await store.listAttempts(app.id, page(), f)).data.length;
      assert.equal(await count({}), 4);
      assert.equal(await count({ msgId: m1.id }), 2);
      assert.equal(await count({ endpointId: b.id }), 2);
      assert.equal(await count({ status: Status.Success }), 1);
      assert.equal(await count({ statusCodeClass: 400 }), 1);
      assert.equal(await count({ statusCodeClass: 500 }), 1);
      assert.equal(await count({ statusCodeClass: 0 }), 1);
      assert.equal(await count({ channel: 'c1' }), 2);
      assert.equal(await count({ tag: 't' }), 2);
      assert.equal(await count({ eventTypes: ['y'] }), 2);
      assert.equal(await count({ after: now + 5 }), 3);
      assert.equal(await count({ before: now + 10 }), 1);
      assert.equal(await count({ msgId: m2.id, endpointId: a.id, statusCodeClass: 500 }), 1);
      const p1 = await store.listAttempts(app.id, page(3), {});
      const p2 = await store.listAttempts(app.id, page(3, p1.iterator), {});
      assert.equal(p2.data.length, 1);
      assert.equal(p2.done, true);
    });

    it('counts an endpoint\'s deliveries by status', async () => {
      const app = await newApp();
      const ep = await store.createEndpoint(app.id, endpointInput());
      for (let i = 0; i < 4; i++) await store.createMessage(app.id, messageInput());
      const work = await store.claim(claimOptions({ limit: 3 }));
      await store.recordAttempts([record(work[0]!, 'w1', Status.Success), record(work[1]!, 'w1', Status.Fail)]);
      assert.deepEqual(await store.endpointStats(app.id, ep.id), { success: 1, pending: 1, sending: 1, fail: 1, canceled: 0 });
      assert.deepEqual(await store.endpointStats(app.id, ep.id, Date.now() + 1000), { success: 0, pending: 0, sending: 0, fail: 0, canceled: 0 });
      assert.deepEqual(await store.endpointStats(app.id, ep.id, 0, 1), { success: 0, pending: 0, sending: 0, fail: 0, canceled: 0 });

      const listed = await store.listEndpointMessages(app.id, ep.id, page(), { status: Status.Fail });
      assert.deepEqual(listed.data.map((e) => e.message.id), [work[1]!.msgId]);
      assert.equal(listed.data[0]!.delivery.status, Status.Fail);
      assert.equal((await store.listEndpointMessages(app.id, ep.id, page(), {})).data.length, 4);
    });

    it('reports each endpoint\'s status', async () => {
      const app = await newApp();
      const a = await store.createEndpoint(app.id, endpointInput());
      const b = await store.createEndpoint(app.id, endpointInput({ eventTypes: ['other'] }));
      for (let i = 0; i < 3; i++) await store.createMessage(app.id, messageInput());
      const work = await store.claim(claimOptions({ limit: 2 }));
      const t = Date.now();
      await store.recordAttempts([
        record(work[0]!, 'w1', Status.Fail, { code: 500, createdAt: t }),
        record(work[1]!, 'w1', Status.Success, { code: 204, createdAt: t + 1 }),
      ]);
      const status = await store.appStatus(app.id);
      assert.deepEqual(status, [
        { endpointId: a.id, processing: 1, failed: 1, lastAttemptAt: t + 1, lastStatus: 204 },
        { endpointId: b.id, processing: 0, failed: 0, lastAttemptAt: null, lastStatus: null },
      ]);
    });

    // --- the dashboard's and the portal's reads ---------------------------------------------

    /** Claims everything due and records each delivery as `outcome(w)` says, at `at(w)`, taking `ms(w)`. */
    async function settle(outcome: (w: Work) => StatusCode | null, at: (w: Work) => number = () => Date.now(), ms: (w: Work) => number = () => 12) {
      const work = await store.claim(claimOptions({ owner: 'settler' }));
      const decided = work.map((w) => [w, outcome(w)] as const);
      await store.recordAttempts(
        decided.flatMap(([w, next]) => {
          if (next === null) return [];
          const r = record(w, 'settler', next, { createdAt: at(w) });
          return [{ ...r, attempt: { ...r.attempt, responseDurationMs: ms(w) } }];
        }),
      );
      await store.release('settler', decided.filter(([, next]) => next === null).map(([w]) => w.deliveryId));
    }

    it('lists the messages with a delivery in a status, with the other filters and keyset paging', async () => {
      const app = await newApp();
      const a = await store.createEndpoint(app.id, endpointInput());
      const b = await store.createEndpoint(app.id, endpointInput());
      const m1 = (await store.createMessage(app.id, messageInput({ eventType: 'x.one' }))).message;
      const m2 = (await store.createMessage(app.id, messageInput({ eventType: 'x.two' }))).message;
      const m3 = (await store.createMessage(app.id, messageInput({ eventType: 'x.one' }))).message;
      const m4 = (await store.createMessage(app.id, messageInput({ eventType: 'x.two' }))).message;
      // m1 both succeed; m2 fails at b; m3 stays pending; m4 fails at both.
      await settle((w) => (w.msgId === m3.id ? null : w.msgId === m4.id || (w.msgId === m2.id && w.endpointId === b.id) ? Status.Fail : Status.Success));
      const ids = async (status: StatusCode, extra: Parameters<Store['listMessages']>[2] = {}, q = page(50, null, 'descending')) =>
        (await store.listMessages(app.id, q, { ...extra, status })).data.map((m) => m.id);
      assert.deepEqual(await ids(Status.Success), [m2.id, m1.id]);
      assert.deepEqual(await ids(Status.Fail), [m4.id, m2.id]);
      assert.deepEqual(await ids(Status.Pending), [m3.id]);
      assert.deepEqual(await ids(Status.Sending), []);
      assert.deepEqual(await ids(Status.Fail, { eventTypes: ['x.two'] }), [m4.id, m2.id]);
      assert.deepEqual(await ids(Status.Success, { eventTypes: ['x.one'] }), [m1.id]);
      assert.deepEqual(await ids(Status.Fail, { before: m4.createdAt }), m2.createdAt < m4.createdAt ? [m2.id] : []);
      // Each message once, however many of its deliveries match; pages follow on.
      const first = await store.listMessages(app.id, page(1, null, 'descending'), { status: Status.Fail });
      assert.deepEqual(first.data.map((m) => m.id), [m4.id]);
      assert.equal(first.done, false);
      const second = await store.listMessages(app.id, page(1, first.iterator, 'descending'), { status: Status.Fail });
      assert.deepEqual(second.data.map((m) => m.id), [m2.id]);
      const third = await store.listMessages(app.id, page(1, second.iterator, 'descending'), { status: Status.Fail });
      assert.deepEqual(third.data, []);
      assert.equal(third.done, true);
      assert.equal(a.appId, app.id);
    });

    it("counts an endpoint's attempts per bucket, outcome and duration, in its application and range only", async () => {
      const app = await newApp();
      const ep = await store.createEndpoint(app.id, endpointInput());
      const other = await store.createEndpoint(app.id, endpointInput());
      const hour = 3_600_000;
      const t0 = Math.floor(Date.now() / hour) * hour - 5 * hour;
      const plan: { at: number; status: StatusCode; ms: number }[] = [
        { at: t0 - 1, status: Status.Success, ms: 999 }, // before the range
        { at: t0 + 60_000, status: Status.Success, ms: 10 },
        { at: t0 + 120_000, status: Status.Success, ms: 10 },
        { at: t0 + 180_000, status: Status.Fail, ms: 30 },
        { at: t0 + hour + 5, status: Status.Success, ms: 50 },
        { at: t0 + 3 * hour, status: Status.Fail, ms: 70 }, // at `until`: out
      ];
      const byMsg = new Map<string, (typeof plan)[number]>();
      for (const p of plan) byMsg.set((await store.createMessage(app.id, messageInput(), { onlyEndpointId: ep.id })).message.id, p);
      await store.createMessage(app.id, messageInput(), { onlyEndpointId: other.id });
      await settle(
        (w) => (w.endpointId === other.id ? Status.Success : byMsg.get(w.msgId)!.status),
        (w) => (w.endpointId === other.id ? t0 + 60_000 : byMsg.get(w.msgId)!.at),
        (w) => (w.endpointId === other.id ? 1 : byMsg.get(w.msgId)!.ms),
      );
      const rows = await store.attemptDurations(app.id, ep.id, t0, t0 + 3 * hour, hour);
      const sorted = rows.map((r) => [r.bucket, r.status, r.durationMs, r.count]).sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!);
      assert.deepEqual(sorted, [
        [0, Status.Success, 10, 2],
        [0, Status.Fail, 30, 1],
        [1, Status.Success, 50, 1],
      ]);
      const stranger = await newApp();
      assert.deepEqual(await store.attemptDurations(stranger.id, ep.id, t0, t0 + 3 * hour, hour), []);
    });

    it('gives an overview: backlog, traffic per bucket, failing endpoints most failed first, totals', async () => {
      const empty = await store.overview({ since: 0, until: Date.now() + 1, bucketMs: 3_600_000, failingLimit: 50, countSince: 0 });
      assert.deepEqual(empty.backlog, { pending: 0, sending: 0, oldestDueAt: null });
      assert.deepEqual(empty.failingEndpoints, []);
      assert.deepEqual(empty.totals, { applications: 0, endpoints: 0, messagesSince: 0 });

      const app = await newApp(null, 'Acme');
      const worse = await store.createEndpoint(app.id, endpointInput({ url: 'https://worse.example/hook' }));
      const bad = await store.createEndpoint(app.id, endpointInput({ url: 'https://bad.example/hook' }));
      const good = await store.createEndpoint(app.id, endpointInput());
      const start = Date.now();
      for (let i = 0; i < 3; i++) await store.createMessage(app.id, messageInput());
      const failedAt = start + 1000;
      // worse fails all 3, bad fails 1, good succeeds.
      let badFailures = 0;
      await settle(
        (w) => (w.endpointId === good.id ? Status.Success : w.endpointId === worse.id ? Status.Fail : badFailures++ === 0 ? Status.Fail : Status.Success),
        () => failedAt,
      );
      const pendingDue = Date.now() + 60_000;
      await store.createMessage(app.id, messageInput({ deliverAt: pendingDue }), { onlyEndpointId: good.id });
      const o = await store.overview({ since: start - 10, until: failedAt + 10, bucketMs: 1_000_000_000, failingLimit: 50, countSince: start - 10 });
      assert.equal(o.backlog.pending, 1);
      assert.equal(o.backlog.sending, 0);
      assert.equal(o.backlog.oldestDueAt, pendingDue);
      assert.deepEqual([...o.messages.values()].reduce((x, y) => x + y, 0), 4);
      assert.equal([...o.success.values()].reduce((x, y) => x + y, 0), 5);
      assert.equal([...o.fail.values()].reduce((x, y) => x + y, 0), 4);
      assert.deepEqual(
        o.failingEndpoints.map((f) => [f.endpointId, f.appId, f.appName, f.url, f.failed, f.lastFailureAt]),
        [
          [worse.id, app.id, 'Acme', 'https://worse.example/hook', 3, failedAt],
          [bad.id, app.id, 'Acme', 'https://bad.example/hook', 1, failedAt],
        ],
      );
      assert.deepEqual(o.totals, { applications: 1, endpoints: 3, messagesSince: 4 });
      const limited = await store.overview({ since: start, until: failedAt + 10, bucketMs: 3_600_000, failingLimit: 1, countSince: Date.now() + 1 });
      assert.deepEqual(limited.failingEndpoints.map((f) => f.endpointId), [worse.id]);
      assert.equal(limited.totals.messagesSince, 0);
    });

    it('reports the queue for /metrics: due, scheduled, retrying, leased, failed, disabled endpoints, the endpoints with the most due', async () => {
      const empty = await store.queueStats(Date.now(), 10);
      assert.deepEqual(empty, { due: 0, oldestDueAt: null, scheduled: 0, retrying: 0, leased: 0, failed: 0, disabledEndpoints: 0, endpoints: [] });
      const one = await newApp('one');
      const two = await newApp('two');
      const a = await store.createEndpoint(one.id, endpointInput());
      await store.createEndpoint(one.id, endpointInput({ disabled: true }));
      const b = await store.createEndpoint(two.id, endpointInput());
      const first: Message[] = [];
      for (let i = 0; i < 3; i++) first.push((await store.createMessage(one.id, messageInput())).message);
      const toB = (await store.createMessage(two.id, messageInput())).message;
      await store.createMessage(two.id, messageInput({ deliverAt: Date.now() + 3_600_000 }));
      const now = Date.now();
      const work = await store.claim(claimOptions({ now }));
      assert.equal(work.length, 4);
      const by = (id: string) => work.find((w) => w.msgId === id)!;
      await store.recordAttempts([
        // a: one retry an hour on, one failed for good, one left leased.
        record(by(first[0]!.id), 'w1', Status.Pending, { nextAttemptAt: now + 3_600_000 }),
        record(by(first[1]!.id), 'w1', Status.Fail),
        // b: a retry already due for five seconds.
        record(by(toB.id), 'w1', Status.Pending, { nextAttemptAt: now - 5000 }),
      ]);
      const fresh: Message[] = [];
      for (let i = 0; i < 2; i++) fresh.push((await store.createMessage(one.id, messageInput())).message);
      const at = Date.now() + 1;
      const q = await store.queueStats(at, 10);
      assert.deepEqual(
        { ...q, endpoints: undefined },
        { due: 3, oldestDueAt: now - 5000, scheduled: 2, retrying: 2, leased: 1, failed: 1, disabledEndpoints: 1, endpoints: undefined },
      );
      assert.deepEqual(q.endpoints, [
        { appId: one.id, endpointId: a.id, due: 2, oldestDueAt: fresh[0]!.createdAt },
        { appId: two.id, endpointId: b.id, due: 1, oldestDueAt: now - 5000 },
      ]);
      // Only the top: the limit bounds the endpoints reported.
      assert.deepEqual((await store.queueStats(at, 1)).endpoints.map((e) => e.endpointId), [a.id]);
      // Earlier, the fresh messages were not yet due: only b's retry was.
      const before = await store.queueStats(now - 1, 10);
      assert.equal(before.due, 1);
      assert.equal(before.scheduled, 4);
    });

    it('lists applications by a search of name or uid in any case, with their counts, in pages', async () => {
      const acme = await newApp('acme-nutrition', 'Acme Nutrition');
      const vital = await newApp('vital', 'Vital 100% Health');
      const other = await newApp(null, 'Other_Co');
      const ep1 = await store.createEndpoint(acme.id, endpointInput());
      await store.createEndpoint(acme.id, endpointInput());
      await store.createMessage(acme.id, messageInput(), { onlyEndpointId: ep1.id });
      await store.createMessage(acme.id, messageInput(), { onlyEndpointId: ep1.id });
      await settle(() => Status.Fail);
      const names = async (search: string | null) => (await store.listAppSummaries(page(), search, 0)).data.map((s) => s.app.name);
      assert.deepEqual(await names(null), ['Acme Nutrition', 'Vital 100% Health', 'Other_Co']);
      assert.deepEqual(await names('NUTRI'), ['Acme Nutrition']);
      assert.deepEqual(await names('ital'), ['Vital 100% Health']);
      assert.deepEqual(await names('acme-'), ['Acme Nutrition'], 'the uid is searched too');
      // LIKE's wildcards are taken literally.
      assert.deepEqual(await names('%'), ['Vital 100% Health']);
      assert.deepEqual(await names('r_c'), ['Other_Co']);
      assert.deepEqual(await names('zzz'), []);
      const all = await store.listAppSummaries(page(), null, 0);
      const acmeRow = all.data.find((s) => s.app.id === acme.id)!;
      assert.deepEqual([acmeRow.endpoints, acmeRow.messagesSince, acmeRow.failing], [2, 2, 1]);
      assert.deepEqual(acmeRow.app, acme);
      const vitalRow = all.data.find((s) => s.app.id === vital.id)!;
      assert.deepEqual([vitalRow.endpoints, vitalRow.messagesSince, vitalRow.failing], [0, 0, 0]);
      assert.equal((await store.listAppSummaries(page(), null, Date.now() + 1)).data.find((s) => s.app.id === acme.id)!.messagesSince, 0);
      const p1 = await store.listAppSummaries(page(2), null, 0);
      assert.deepEqual(p1.data.map((s) => s.app.id), [acme.id, vital.id]);
      assert.equal(p1.done, false);
      const p2 = await store.listAppSummaries(page(2, p1.iterator), null, 0);
      assert.deepEqual(p2.data.map((s) => s.app.id), [other.id]);
      assert.equal(p2.done, true);
    });

    // --- API tokens and the audit log ------------------------------------------------------

    it('keeps API tokens by hash: found, listed newest first, revoked once', async () => {
      const base = { name: 't', appIds: null, readOnly: false, createdAt: 1, expiresAt: null, revokedAt: null };
      await store.createApiToken({ ...base, id: 'tok_1', tokenHash: 'h1' });
      await store.createApiToken({ ...base, id: 'tok_2', tokenHash: 'h2', appIds: ['app_a'], readOnly: true, expiresAt: 99 });
      assert.deepEqual(await store.getApiTokenByHash('h2'), { ...base, id: 'tok_2', tokenHash: 'h2', appIds: ['app_a'], readOnly: true, expiresAt: 99 });
      assert.equal(await store.getApiTokenByHash('h3'), null);
      const first = await store.listApiTokens(page(1, null, 'descending'));
      assert.deepEqual(first.data.map((t) => t.id), ['tok_2']);
      assert.deepEqual((await store.listApiTokens(page(1, first.iterator, 'descending'))).data.map((t) => t.id), ['tok_1']);
      assert.equal(await store.revokeApiToken('tok_1', 50), true);
      assert.equal(await store.revokeApiToken('tok_1', 70), true);
      assert.equal((await store.getApiTokenByHash('h1'))?.revokedAt, 50, 'the first revocation stands');
      assert.equal(await store.revokeApiToken('tok_9', 50), false);
    });

    it('appends audit entries in one chain, and filters and pages them', async () => {
      const entry = (at: number, action: string, appId: string | null) =>
        ({ at, actor: 'admin', ip: null, userAgent: null, action, appId, endpointId: null, msgId: null, targetId: null, outcome: '200', reason: null });
      const made = await Promise.all([entry(10, 'a', 'app_x'), entry(20, 'b', null), entry(30, 'a', 'app_y'), entry(40, 'c', 'app_x')].map((e) => store.appendAudit(e)));
      assert.deepEqual(made.map((e) => e.id).sort(), [1, 2, 3, 4]);
      const all = await store.listAudit({}, page(10));
      assert.deepEqual(all.data.map((e) => e.id), [1, 2, 3, 4]);
      for (let i = 1; i < 4; i++) assert.equal(all.data[i]!.prevHash, all.data[i - 1]!.hash);
      assert.deepEqual((await store.listAudit({ action: 'a' }, page(10))).data.map((e) => e.appId).sort(), ['app_x', 'app_y']);
      assert.equal((await store.listAudit({ appId: 'app_x', since: 15 }, page(10))).data.length, 1);
      assert.equal((await store.listAudit({ until: 30 }, page(10))).data.length, 2);
      const p1 = await store.listAudit({}, page(3));
      assert.equal(p1.done, false);
      const p2 = await store.listAudit({}, page(3, p1.iterator));
      assert.deepEqual(p2.data.map((e) => e.id), [4]);
      assert.equal(p2.done, true);
      assert.deepEqual((await store.listAudit({}, page(2, null, 'descending'))).data.map((e) => e.id), [4, 3]);
    });

    // --- PostgreSQL only ----------------------------------------------------------------

    if (backend === 'postgres') {
      it('never hands one delivery to two processes claiming at once', async () => {
        const other = await PostgresStore.open(PG_URL, { schema: `hw_test_${RUN}`, poolSize: 4 });
        try {
          const app = await newApp();
          for (let i = 0; i < 5; i++) await store.createEndpoint(app.id, endpointInput());
          for (let i = 0; i < 12; i++) await store.createMessage(app.id, messageInput());
          const now = Date.now();
          const claims = await Promise.all(
            Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? store : other).claim(claimOptions({ now, owner: `w${i}`, limit: 7 }))),
          );
          const ids = claims.flat().map((w) => w.deliveryId);
          assert.equal(new Set(ids).size, ids.length, 'no delivery is claimed twice');
          const rest = await other.claim(claimOptions({ now, owner: 'last' }));
          assert.equal(ids.length + rest.length, 60, 'every delivery is claimed once in all');
        } finally {
          await other.close();
        }
      });

      it('wakes the workers listening for work when leased deliveries are given back', async () => {
        const schema = `hw_test_${RUN}`;
        const releasing = await PostgresStore.open(PG_URL, { schema, poolSize: 2, workChannel: workChannel(schema) });
        const listener = new WorkNotifier(PG_URL, releasing.pool, schema, createLogger('silent'));
        try {
          let woken = 0;
          listener.listen(() => woken++);
          // Each (re)connection wakes it once: that one is waited for first.
          await eventually(() => (woken >= 1 ? true : undefined));
          const app = await newApp();
          await store.createEndpoint(app.id, endpointInput());
          await store.createMessage(app.id, messageInput());
          const work = await releasing.claim(claimOptions({ owner: 'w1' }));
          assert.equal(work.length, 1);
          await releasing.release('w1', work.map((w) => w.deliveryId));
          await eventually(() => (woken >= 2 ? true : undefined), 5000, 'the notification of the release');
        } finally {
          await listener.close();
          await releasing.close();
        }
      });

      it("holds an endpoint's limit over all processes claiming at once", async () => {
        const other = await PostgresStore.open(PG_URL, { schema: `hw_test_${RUN}`, poolSize: 4 });
        try {
          const app = await newApp();
          const a = await store.createEndpoint(app.id, endpointInput());
          const b = await store.createEndpoint(app.id, endpointInput());
          for (let i = 0; i < 30; i++) await store.createMessage(app.id, messageInput());
          const now = Date.now();
          const capped = new Set<string>();
          const claims = await Promise.all(
            Array.from({ length: 8 }, (_, i) =>
              (i % 2 === 0 ? store : other).claim(
                claimOptions({ now, owner: `w${i}`, limit: 10, endpointLimit: 4, onCapped: (id) => capped.add(id) }),
              ),
            ),
          );
          const work = claims.flat();
          assert.equal(work.filter((w) => w.endpointId === a.id).length, 4, 'endpoint a: four leased in all');
          assert.equal(work.filter((w) => w.endpointId === b.id).length, 4, 'endpoint b: four leased in all');
          assert.deepEqual([...capped].sort(), [a.id, b.id].sort(), 'the claims that were held back say so');

          // Finishing one frees one place, for whichever process claims next.
          const holder = claims.findIndex((c) => c.some((w) => w.endpointId === a.id));
          const done = claims[holder]!.find((w) => w.endpointId === a.id)!;
          await store.recordAttempts([record(done, `w${holder}`, Status.Success, { code: 200, createdAt: now })]);
          const next = await other.claim(claimOptions({ now: now + 1, owner: 'late', endpointLimit: 4 }));
          assert.deepEqual(
            next.map((w) => w.endpointId),
            [a.id],
          );
          // An expired lease no longer counts.
          const later = await other.claim(claimOptions({ now: now + 60_000, owner: 'later', endpointLimit: 4, limit: 100 }));
          assert.ok(later.length >= 4, 'after the leases expire, the endpoint has room again');
        } finally {
          await other.close();
        }
      });

      it('never hands two deliveries of one key to processes claiming at once, and keeps each key in order', async () => {
        const other = await PostgresStore.open(PG_URL, { schema: `hw_test_${RUN}`, poolSize: 4 });
        try {
          const app = await newApp();
          await orderedEndpoint(app.id);
          const labels: [string, string | null][] = [];
          for (let i = 0; i < 5; i++) for (const k of ['A', 'B', 'C', null]) labels.push([`${k ?? 'u'}${i}`, k]);
          const ids = await sendAll(app.id, labels);
          const sent = new Map<string, string[]>();
          let unordered = 0;
          for (let round = 0; round < 5; round++) {
            const now = Date.now();
            const claims = await Promise.all(
              Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? store : other).claim(claimOptions({ now, owner: `w${i}`, limit: 4 }))),
            );
            const work = claims.flat();
            unordered += work.filter((w) => w.orderKey === null).length;
            const keyed = work.filter((w) => w.orderKey !== null);
            assert.deepEqual(keyed.map((w) => w.orderKey).sort(), ['A', 'B', 'C'], `round ${round}: one delivery of each key`);
            for (const w of keyed) sent.set(w.orderKey!, [...(sent.get(w.orderKey!) ?? []), w.msgId]);
            await Promise.all(claims.map((c, i) => (i % 2 === 0 ? store : other).recordAttempts(c.map((w) => record(w, `w${i}`, Status.Success)))));
          }
          assert.equal(unordered, 5);
          for (const k of ['A', 'B', 'C']) {
            assert.deepEqual(sent.get(k), [0, 1, 2, 3, 4].map((i) => ids[`${k}${i}`]), `key ${k} in message order`);
          }
        } finally {
          await other.close();
        }
      });

      it('keeps one delivery per key in flight while processes claim, messages arrive and failures are re-queued', async () => {
        const other = await PostgresStore.open(PG_URL, { schema: `hw_test_${RUN}`, poolSize: 4 });
        try {
          const app = await newApp();
          const ep = await orderedEndpoint(app.id);
          const keys = ['A', 'B', 'C'];
          const total = 150;
          // What the workers hold now, per key: a second one while the first is held breaks the rule.
          const held = new Map<string, number>();
          const violations: string[] = [];
          let producing = true;
          let failing = true;
          const unfinished = async () => {
            const s = await store.endpointStats(app.id, ep.id);
            return s.pending + s.sending;
          };
          const worker = async (s: Store, name: string) => {
            for (;;) {
              const work = await s.claim(claimOptions({ owner: name, limit: 5, leaseMs: 60_000 }));
              for (const w of work) {
                const k = w.orderKey!;
                if (held.has(k)) violations.push(`key ${k}: ${w.deliveryId} handed out while ${held.get(k)} was held`);
                held.set(k, w.deliveryId);
              }
              await sleep(Math.random() * 4);
              // Let go before recording: the store frees the key only once the record commits.
              for (const w of work) if (held.get(w.orderKey!) === w.deliveryId) held.delete(w.orderKey!);
              await s.recordAttempts(work.map((w) => record(w, name, failing && Math.random() < 0.25 ? Status.Fail : Status.Success)));
              if (work.length === 0) {
                if (!producing && (await unfinished()) === 0) return;
                await sleep(2);
              }
            }
          };
          const workers = () => [store, other, store, other, store, other].map((s, i) => worker(s, `w${i}`));
          const producer = (async () => {
            for (let i = 0; i < total; i++) {
              await (i % 2 === 0 ? store : other).createMessage(app.id, forUser(keys[i % keys.length]!));
              if (i % 6 === 0) await sleep(3);
            }
          })();
          // Failed deliveries are queued again while later ones of their keys are being sent.
          const requeuer = (async () => {
            while (producing) {
              await (Math.random() < 0.5 ? store : other).retryFailed(app.id);
              await sleep(7);
            }
          })();
          const running = workers();
          await producer;
          producing = false;
          await requeuer;
          failing = false;
          await Promise.all(running);
          while ((await store.retryFailed(app.id)) > 0) await Promise.all(workers());
          assert.deepEqual(violations, []);
          assert.equal((await store.endpointStats(app.id, ep.id)).success, total, 'every delivery went in the end');
        } finally {
          await other.close();
        }
      });

      it('answers UnavailableError while the database cannot be reached, and recovers by itself', async () => {
        const db = `hw_test_${RUN}_down`;
        const admin = new pg.Client({ connectionString: PG_URL });
        await admin.connect();
        await admin.query(`CREATE DATABASE ${db}`);
        const url = new URL(PG_URL);
        url.pathname = `/${db}`;
        const failures: unknown[] = [];
        let recoveries = 0;
        const down = await PostgresStore.open(url.toString(), {
          poolSize: 2,
          health: { failed: (err) => failures.push(err), succeeded: () => recoveries++ },
        });
        try {
          const app = await down.createApp({ uid: null, name: 'x', throttleRate: null, metadata: {} });
          await admin.query(`ALTER DATABASE ${db} ALLOW_CONNECTIONS false`);
          await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [db]);
          for (let i = 0; i < 3; i++) {
            await assert.rejects(down.createMessage(app.id, messageInput()), (err: unknown) => err instanceof UnavailableError);
          }
          await assert.rejects(down.getApp(app.id), (err: unknown) => err instanceof UnavailableError);
          assert.ok(failures.length >= 1);
          await admin.query(`ALTER DATABASE ${db} ALLOW_CONNECTIONS true`);
          const { message } = await down.createMessage(app.id, messageInput());
          assert.equal((await down.getMessage(app.id, message.id))?.id, message.id);
          assert.ok(recoveries >= 1, 'the health listener hears that it is back');
        } finally {
          await down.close();
          await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
          await admin.end();
        }
      });

      it('migrates a fresh schema once when two processes start together', async () => {
        const schema = `hw_test_${RUN}_race`;
        const admin = new pg.Client({ connectionString: PG_URL });
        await admin.connect();
        try {
          const [s1, s2] = await Promise.all([
            PostgresStore.open(PG_URL, { schema, poolSize: 2 }),
            PostgresStore.open(PG_URL, { schema, poolSize: 2 }),
          ]);
          try {
            const versions = await admin.query(`SELECT version FROM ${schema}.hookwell_schema_version ORDER BY version`);
            assert.deepEqual(
              versions.rows.map((r) => r.version),
              migrations('postgres').map((m) => m.version),
            );
            // Both work on the same tables.
            const app = await s1.createApp({ uid: 'shared', name: 'x', throttleRate: null, metadata: {} });
            assert.equal((await s2.getApp('shared'))?.id, app.id);
          } finally {
            await Promise.all([s1.close(), s2.close()]);
          }

          // A database from newer code is refused.
          await admin.query(`INSERT INTO ${schema}.hookwell_schema_version (version, applied_at) VALUES ($1, 0)`, [migrations('postgres').length + 1]);
          await assert.rejects(PostgresStore.open(PG_URL, { schema }), /newer than this Hookwell knows/);
        } finally {
          await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          await admin.end();
        }
      });
    }
  });
}
