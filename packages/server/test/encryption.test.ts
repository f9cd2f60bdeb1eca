// Encryption at rest (HOOKWELL_ENCRYPTION_KEYS): what is sealed never reaches the database's
// files or columns as plaintext, deliveries still carry the exact bytes and a valid signature,
// a ring that cannot open the stored data stops start-up, and `hookwell rekey` (a real child
// process) moves everything to the first key. On real SQLite files and the real PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { verify } from '@hookwell/receiver';
import { ConfigError, loadConfig, type Config } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startHookwell, type Hookwell } from '../src/server.js';
import { KeyRingError, Sealer, parseKeyRing } from '../src/domain/sealing.js';
import { PostgresStore } from '../src/store/postgres/store.js';
import { SqliteStore } from '../src/store/sqlite/store.js';
import type { Store } from '../src/store/store.js';
import { runHookwell } from './child.js';
import { endpointInput, eventually, messageInput, PG_URL, query, request, requirePostgres, startReceiver, tempDir, TOKEN, type ApiResponse, type Receiver } from './helpers.js';

const key = (): string => randomBytes(32).toString('base64');
const K1 = `k1:${key()}`;
const K2 = `k2:${key()}`;
const RUN = randomBytes(4).toString('hex');

/** Values that must never be stored as they are; each distinct enough not to occur by chance. */
function markers() {
  const tag = randomBytes(6).toString('hex');
  return {
    payload: `PAYLOAD-MARKER-${tag}`,
    response: `RESPONSE-MARKER-${tag}`,
    header: `HEADER-VALUE-${tag}`,
    secret: `whsec_${randomBytes(24).toString('base64')}`,
  };
}

interface Running {
  hw: Hookwell;
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
}

function config(db: string, env: Record<string, string>): Config {
  return loadConfig(
    { port: '0', db },
    { HOOKWELL_ADMIN_TOKEN: TOKEN, HOOKWELL_ALLOW_PRIVATE_TARGETS: 'true', HOOKWELL_LOG_LEVEL: 'silent', HOOKWELL_DB_POOL_SIZE: '4', ...env },
  );
}

async function start(db: string, env: Record<string, string>): Promise<Running> {
  const cfg = config(db, env);
  const hw = await startHookwell(cfg, createLogger(cfg.logLevel));
  return {
    hw,
    api: (method, path, body, headers = {}) =>
      request(hw.url! + path, method, { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers }, body === undefined ? undefined : JSON.stringify(body)),
  };
}

/**
 * Writes every kind of sealed value through the API (an endpoint with a known secret, a custom
 * header and a webhook key; an idempotent message; the attempt, whose response holds a marker),
 * checks the receiver got the exact payload, validly signed, and that the API reads all back.
 * Returns the values that must not be stored in the clear.
 */
async function writeEverything(s: Running, receiver: Receiver): Promise<string[]> {
  const m = markers();
  receiver.respond = () => ({ status: 200, body: `{"ok":"${m.response}"}` });
  assert.equal((await s.api('POST', '/api/v1/app', { name: 'Clinic', uid: 'clinic' })).status, 201);
  const ep = await s.api('POST', '/api/v1/app/clinic/endpoint', { url: `${receiver.url}/hook`, secret: m.secret, headers: { 'x-tenant': m.header } });
  assert.equal(ep.status, 201, ep.text);
  const webhookKey = await s.api('POST', `/api/v1/app/clinic/endpoint/${ep.body.id}/key`, {});
  assert.equal(webhookKey.status, 200, webhookKey.text);
  const raw = `{"eventType":"meal.logged","payload":{ "note" : "${m.payload}", "kcal": 640 }}`;
  const posted = await request(`${s.hw.url}/api/v1/app/clinic/msg`, 'POST', { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'idempotency-key': `idem-${RUN}` }, raw);
  assert.equal(posted.status, 202, posted.text);

  const [got] = await receiver.waitFor(1);
  assert.equal(got!.body.toString('utf8'), `{ "note" : "${m.payload}", "kcal": 640 }`);
  assert.deepEqual(verify(got!.body, got!.headers as Record<string, string>, m.secret), { note: m.payload, kcal: 640 });
  assert.equal(got!.headers['x-tenant'], m.header);
  assert.equal(got!.headers['x-webhook-key'], webhookKey.body.key);

  const attempts = await eventually(async () => {
    const list = (await s.api('GET', `/api/v1/app/clinic/attempt/msg/${posted.body.id}`)).body.data as { response: string }[];
    return list.length > 0 ? list : undefined;
  });
  assert.equal(attempts[0]!.response, `{"ok":"${m.response}"}`);
  assert.equal((await s.api('GET', `/api/v1/app/clinic/msg/${posted.body.id}`)).body.payload.note, m.payload);
  assert.equal((await s.api('GET', `/api/v1/app/clinic/endpoint/${ep.body.id}/secret`)).body.key, m.secret);
  assert.equal((await s.api('GET', `/api/v1/app/clinic/endpoint/${ep.body.id}/headers`)).body.headers['x-tenant'], m.header);
  assert.equal((await s.api('GET', `/api/v1/app/clinic/endpoint/${ep.body.id}/key`)).body.key, webhookKey.body.key);
  // The idempotent answer is read back from the store: the same body again.
  const again = await request(`${s.hw.url}/api/v1/app/clinic/msg`, 'POST', { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'idempotency-key': `idem-${RUN}` }, raw);
  assert.equal(again.text, posted.text);
  return [m.payload, m.response, m.header, m.secret, webhookKey.body.key as string];
}

/** Which of `needles` occur in the SQLite database's files (main, -wal, -shm), read as bytes. */
function inFiles(dbPath: string, needles: string[]): string[] {
  const files = [dbPath, `${dbPath}-wal`, `${dbPath}-shm`].filter((f) => existsSync(f)).map((f) => readFileSync(f));
  assert.ok(files.length > 0);
  return needles.filter((n) => files.some((bytes) => bytes.includes(Buffer.from(n, 'utf8'))));
}

const hookwell = (args: string[], env: Record<string, string>) => runHookwell(args, { HOOKWELL_LOG_LEVEL: 'warn', ...env });

describe('encryption at rest on SQLite', () => {
  const { dir, cleanup } = tempDir();
  let receiver: Receiver;
  before(async () => (receiver = await startReceiver()));
  after(async () => {
    await receiver.close();
    cleanup();
  });

  it('keeps payloads, responses, secrets, headers, webhook keys and idempotent answers out of the files, and delivers the exact bytes', async () => {
    const db = join(dir, 'sealed.db');
    const s = await start(db, { HOOKWELL_ENCRYPTION_KEYS: `${K1},${K2}` });
    let secrets: string[];
    try {
      secrets = await writeEverything(s, receiver);
      assert.deepEqual(inFiles(db, secrets), [], 'found in the files while serving');
      const link = query<{ value: string }>(db, `SELECT value FROM meta WHERE key = 'content_link_key'`)[0]!;
      assert.match(link.value, /^hwe1:k1:/);
    } finally {
      await s.hw.close();
    }
    assert.deepEqual(inFiles(db, secrets), [], 'found in the files after close');
    // A control, so the check above can fail: without keys the same writes are found.
    const plainDb = join(dir, 'plain.db');
    receiver.received.length = 0;
    const plain = await start(plainDb, {});
    try {
      const clear = await writeEverything(plain, receiver);
      assert.deepEqual(inFiles(plainDb, clear).sort(), clear.sort());
    } finally {
      await plain.hw.close();
      receiver.received.length = 0;
    }
  });

  it('refuses to start when the ring lacks a key the stored data is sealed with, naming it', async () => {
    const db = join(dir, 'missing.db');
    const s = await start(db, { HOOKWELL_ENCRYPTION_KEYS: K1 });
    await s.hw.close();
    await assert.rejects(start(db, { HOOKWELL_ENCRYPTION_KEYS: K2 }), (err: Error) => /key id "k1"/.test(err.message) && /HOOKWELL_ENCRYPTION_KEYS/.test(err.message));
    await assert.rejects(start(db, {}), /key id "k1"/);
    const served = await hookwell(['serve', '--port', '0', '--db', db], { HOOKWELL_ENCRYPTION_KEYS: K2 });
    assert.equal(served.code, 1);
    assert.match(served.stderr, /could not start: .*key id "k1"/);
  });

  it('refuses a malformed ring, naming what is wrong with it', () => {
    const bad: [string, RegExp][] = [
      [`k1:${randomBytes(16).toString('base64')}`, /key "k1" is 16 bytes after base64 decoding; AES-256 needs exactly 32/],
      [`${K1},k1:${key()}`, /key id "k1" appears more than once/],
      [`bad id:${key()}`, /key id "bad id" must be 1 to 32 letters/],
      [`${K1},`, /no empty entry/],
      [key(), /entry 1 has no "<key id>:"/],
      ['k1:not base64!', /key "k1" is not base64/],
    ];
    for (const [ring, why] of bad) {
      assert.throws(() => config(':memory:', { HOOKWELL_ENCRYPTION_KEYS: ring }), (err: Error) => err instanceof ConfigError && /^HOOKWELL_ENCRYPTION_KEYS: /.test(err.message) && why.test(err.message), ring);
    }
    assert.deepEqual(config(':memory:', { HOOKWELL_ENCRYPTION_KEYS: `${K2}, ${K1}` }).encryptionKeys.map((k) => k.id), ['k2', 'k1']);
  });

  it('rekey, beside a running server, moves plaintext and k1 data to k2; then k1 can leave the ring', async () => {
    const db = join(dir, 'rotate.db');
    const ids: string[] = [];
    const send = async (s: Running, note: string) => {
      const res = await s.api('POST', '/api/v1/app/rot/msg', { eventType: 'lab.ready', payload: { note } });
      assert.equal(res.status, 202, res.text);
      ids.push(res.body.id as string);
    };
    const plainNote = `BEFORE-KEYS-${RUN}`;
    const k1Note = `UNDER-K1-${RUN}`;
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    let s = await start(db, {});
    assert.equal((await s.api('POST', '/api/v1/app', { name: 'Rot', uid: 'rot' })).status, 201);
    const ep = await s.api('POST', '/api/v1/app/rot/endpoint', { url: `${receiver.url}/rot`, secret, headers: { 'x-site': 'north' } });
    await send(s, plainNote);
    await s.hw.close();
    s = await start(db, { HOOKWELL_ENCRYPTION_KEYS: K1 });
    // Turning keys on needs nothing rewritten first: what was stored before reads as it was.
    assert.equal((await s.api('GET', `/api/v1/app/rot/msg/${ids[0]}`)).body.payload.note, plainNote);
    assert.equal((await s.api('GET', `/api/v1/app/rot/endpoint/${ep.body.id}/secret`)).body.key, secret);
    await send(s, k1Note);
    await receiver.waitFor(2);
    await s.hw.close();
    assert.deepEqual(
      query<{ payload: string }>(db, 'SELECT payload FROM messages ORDER BY id').map((r) => r.payload.slice(0, 8)),
      ['{"note":', 'hwe1:k1:'],
    );

    s = await start(db, { HOOKWELL_ENCRYPTION_KEYS: `${K2},${K1}` });
    try {
      await send(s, `UNDER-K2-${RUN}`);
      const out = await hookwell(['rekey', '--db', db, '--batch', '1'], { HOOKWELL_ENCRYPTION_KEYS: `${K2},${K1}` });
      assert.equal(out.code, 0, out.stderr);
      // One row a transaction (--batch 1): a line per row. The message under k2 is left alone.
      assert.match(out.stdout, /^messages: 1 rows done, 1 values re-encrypted$/m);
      assert.match(out.stdout, /^messages: 3 rows done, 2 values re-encrypted$/m);
      // The secret, the headers and the (empty) previous secrets, all plaintext until now.
      assert.match(out.stdout, /^endpoints: 1 rows done, 3 values re-encrypted$/m);
      assert.match(out.stdout, /^attempts: \d+ rows done/m);
      // The server keeps serving what rekey rewrote under it.
      assert.equal((await s.api('GET', `/api/v1/app/rot/msg/${ids[0]}`)).body.payload.note, plainNote);
    } finally {
      await s.hw.close();
    }
    for (const r of query<{ payload: string }>(db, 'SELECT payload FROM messages')) assert.match(r.payload, /^hwe1:k2:/);
    for (const r of query<{ secret: string; headers: string }>(db, 'SELECT secret, headers FROM endpoints')) {
      assert.match(r.secret, /^hwe1:k2:/);
      assert.match(r.headers, /^hwe1:k2:/);
    }
    for (const r of query<{ response: string }>(db, `SELECT response FROM attempts WHERE response <> ''`)) assert.match(r.response, /^hwe1:k2:/);
    assert.deepEqual(inFiles(db, [plainNote, k1Note, secret]), []);

    s = await start(db, { HOOKWELL_ENCRYPTION_KEYS: K2 });
    try {
      const notes = await Promise.all(ids.map(async (id) => (await s.api('GET', `/api/v1/app/rot/msg/${id}`)).body.payload.note as string));
      assert.deepEqual(notes, [plainNote, k1Note, `UNDER-K2-${RUN}`]);
      assert.equal((await s.api('GET', `/api/v1/app/rot/endpoint/${ep.body.id}/secret`)).body.key, secret);
      assert.equal((await s.api('GET', `/api/v1/app/rot/endpoint/${ep.body.id}/headers`)).body.headers['x-site'], 'north');
    } finally {
      await s.hw.close();
    }
  });

  it('warns once, at start, when data is stored unencrypted, and not with keys', async () => {
    const warnings = async (env: Record<string, string>, db: string): Promise<string[]> => {
      const lines: string[] = [];
      const cfg = config(db, { ...env, HOOKWELL_LOG_LEVEL: 'warn' });
      const hw = await startHookwell(cfg, createLogger(cfg.logLevel, { write: (line: string) => void lines.push(line) }));
      await hw.close();
      return lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => /unencrypted/.test(l.msg)).map((l) => `${l.level} ${l.msg}`);
    };
    const plain = await warnings({}, join(dir, 'warn-plain.db'));
    assert.equal(plain.length, 1);
    assert.match(plain[0]!, /^40 .*stored unencrypted; set HOOKWELL_ENCRYPTION_KEYS/);
    assert.deepEqual(await warnings({ HOOKWELL_ENCRYPTION_KEYS: K1 }, join(dir, 'warn-sealed.db')), []);
  });

  it('rekey without keys refuses, saying what it needs', async () => {
    const out = await hookwell(['rekey', '--db', join(dir, 'none.db')], { HOOKWELL_ENCRYPTION_KEYS: '' });
    assert.equal(out.code, 2);
    assert.match(out.stderr, /rekey needs HOOKWELL_ENCRYPTION_KEYS/);
  });
});

describe('encryption at rest on PostgreSQL', () => {
  const schema = `hw_enc_${RUN}`;
  const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
  let receiver: Receiver;
  before(async () => {
    await requirePostgres();
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver?.close();
    for (const s of [schema, `${schema}_store`, `${schema}_cli`]) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await admin.end();
  });

  /** Every row of every table of `schema`, as text. */
  async function dump(schemaName: string): Promise<string> {
    const tables = await admin.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schemaName]);
    let text = '';
    for (const t of tables.rows) text += JSON.stringify((await admin.query(`SELECT * FROM ${schemaName}.${t.table_name}`)).rows);
    return text;
  }

  it('stores no marker in any column, and the API reads them all back', async () => {
    const s = await start(PG_URL, { HOOKWELL_DB_SCHEMA: schema, HOOKWELL_ENCRYPTION_KEYS: K1 });
    try {
      const secrets = await writeEverything(s, receiver);
      const text = await dump(schema);
      assert.ok(text.includes('clinic'), 'the dump reads the tables');
      assert.deepEqual(secrets.filter((v) => text.includes(v)), []);
      const link = await admin.query(`SELECT value FROM ${schema}.meta WHERE key = 'content_link_key'`);
      assert.match(link.rows[0].value, /^hwe1:k1:/);
    } finally {
      await s.hw.close();
      receiver.received.length = 0;
    }
    await assert.rejects(start(PG_URL, { HOOKWELL_DB_SCHEMA: schema, HOOKWELL_ENCRYPTION_KEYS: K2 }), /key id "k1"/);
  });

  it('hookwell rekey moves a PostgreSQL schema to the first key; then the old key can go', async () => {
    const env = { HOOKWELL_DB_SCHEMA: `${schema}_cli` };
    let s = await start(PG_URL, { ...env, HOOKWELL_ENCRYPTION_KEYS: K1 });
    const note = `PG-REKEY-${RUN}`;
    let id: string;
    try {
      assert.equal((await s.api('POST', '/api/v1/app', { name: 'P', uid: 'p' })).status, 201);
      const res = await s.api('POST', '/api/v1/app/p/msg', { eventType: 'lab.ready', payload: { note } });
      assert.equal(res.status, 202, res.text);
      id = res.body.id as string;
    } finally {
      await s.hw.close();
    }
    const out = await hookwell(['rekey'], { ...env, HOOKWELL_DB: PG_URL, HOOKWELL_ENCRYPTION_KEYS: `${K2},${K1}` });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^messages: 1 rows done, 1 values re-encrypted$/m);
    const stored = await admin.query(`SELECT payload FROM ${schema}_cli.messages`);
    assert.match(stored.rows[0].payload, /^hwe1:k2:/);
    s = await start(PG_URL, { ...env, HOOKWELL_ENCRYPTION_KEYS: K2 });
    try {
      assert.equal((await s.api('GET', `/api/v1/app/p/msg/${id}`)).body.payload.note, note);
    } finally {
      await s.hw.close();
    }
  });

  it('seals backfill records, and rekeys on the store', async () => {
    const s1 = new Sealer(parseKeyRing(K1));
    let store: Store = await PostgresStore.open(PG_URL, { schema: `${schema}_store`, poolSize: 2, sealer: s1 });
    const note = `RECORD-MARKER-${RUN}`;
    try {
      const app = await store.createApp({ uid: null, name: 'a', throttleRate: null, metadata: {} });
      await store.createEndpoint(app.id, endpointInput({ secret: 'whsec_storelevel' }));
      await store.createMessage(app.id, messageInput({ payload: `{"n":"${note}"}` }));
      const bf = await store.createBackfill(app.id, { userId: 'u', resource: 'meals', provider: 'p', chunkSize: 10, notify: 'once' });
      await store.addBackfillRecords(bf.id, [{ seq: 0, record: `{"r":"${note}"}` }]);
      assert.deepEqual(await store.readBackfillRecords(bf.id, 0, 10, 10), [{ seq: 0, record: `{"r":"${note}"}` }]);
      assert.ok(!(await dump(`${schema}_store`)).includes(note));
      await store.close();
      store = await PostgresStore.open(PG_URL, { schema: `${schema}_store`, poolSize: 2, sealer: new Sealer(parseKeyRing(`${K2},${K1}`)) });
      const seen: string[] = [];
      await store.rekey(500, (p) => seen.push(`${p.table} ${p.rows} ${p.rewritten}`));
      assert.ok(seen.includes('backfill_records 1 1'), seen.join('; '));
      assert.ok(seen.includes('messages 1 1'), seen.join('; '));
      await store.close();
      store = await PostgresStore.open(PG_URL, { schema: `${schema}_store`, poolSize: 2, sealer: new Sealer(parseKeyRing(K2)) });
      assert.deepEqual(await store.readBackfillRecords(bf.id, 0, 10, 10), [{ seq: 0, record: `{"r":"${note}"}` }]);
      const msgs = await store.listMessages(app.id, { limit: 10, iterator: null, order: 'ascending' }, {});
      assert.equal(msgs.data[0]!.payload, `{"n":"${note}"}`);
    } finally {
      await store.close();
    }
  });
});

describe('sealing on the SQLite store', () => {
  it('seals backfill records and meta values, and reads plaintext written before keys', async () => {
    const { dir, cleanup } = tempDir();
    const db = join(dir, 'store.db');
    try {
      let store: Store = SqliteStore.open(db);
      const app = await store.createApp({ uid: null, name: 'a', throttleRate: null, metadata: {} });
      await store.setMeta('plain_before', 'visible');
      await store.close();
      store = SqliteStore.open(db, { sealer: new Sealer(parseKeyRing(K1)) });
      const bf = await store.createBackfill(app.id, { userId: 'u', resource: 'meals', provider: 'p', chunkSize: 10, notify: 'once' });
      await store.addBackfillRecords(bf.id, [{ seq: 0, record: `{"r":"REC-${RUN}"}` }]);
      await store.setMeta('sealed_after', `META-${RUN}`);
      // Replaying reads sealed payloads back (and, for an unordered endpoint, none at all).
      await store.createMessage(app.id, messageInput({ payload: '{"k":"v"}' }));
      const late = await store.createEndpoint(app.id, endpointInput());
      assert.equal(await store.replayMissing(app.id, late.id, 0, null), 1);
      assert.equal(await store.getMeta('plain_before'), 'visible');
      assert.equal(await store.getMeta('sealed_after'), `META-${RUN}`);
      assert.deepEqual(await store.readBackfillRecords(bf.id, 0, 10, 10), [{ seq: 0, record: `{"r":"REC-${RUN}"}` }]);
      await store.close();
      assert.deepEqual(inFiles(db, [`REC-${RUN}`, `META-${RUN}`, 'visible']), ['visible']);
    } finally {
      cleanup();
    }
  });
});

describe('Sealer', () => {
  const sealer = new Sealer(parseKeyRing(`${K2},${K1}`));

  it('seals with the first key and a fresh nonce each time, also past a refill of its nonces', () => {
    const nonces = new Set<string>();
    for (let i = 0; i < 2500; i++) {
      const sealed = sealer.seal('{"hr":72}');
      assert.match(sealed, /^hwe1:k2:[A-Za-z0-9_-]+$/);
      nonces.add(Buffer.from(sealed.slice('hwe1:k2:'.length), 'base64url').subarray(0, 12).toString('hex'));
      assert.equal(sealer.open(sealed), '{"hr":72}');
    }
    assert.equal(nonces.size, 2500);
  });

  it('leaves the empty string as it is, and opens a shared value to the same plaintext every time', () => {
    assert.equal(sealer.seal(''), '');
    assert.equal(sealer.open(''), '');
    const secret = sealer.seal(`whsec_${RUN}`);
    for (let i = 0; i < 3; i++) assert.equal(sealer.openShared(secret), `whsec_${RUN}`);
    assert.equal(sealer.openShared(null), null);
    assert.equal(sealer.openShared('{"plain":true}'), '{"plain":true}');
    // An older key's value opens too; an altered one is refused every time, never kept.
    assert.equal(sealer.openShared(new Sealer(parseKeyRing(K1)).seal('{"h":1}')), '{"h":1}');
    const body = Buffer.from(secret.slice('hwe1:k2:'.length), 'base64url');
    body[14]! ^= 1;
    const altered = `hwe1:k2:${body.toString('base64url')}`;
    for (let i = 0; i < 2; i++) assert.throws(() => sealer.openShared(altered), (err: Error) => err instanceof KeyRingError && /does not authenticate/.test(err.message));
  });

  it('opens what an older key of the ring sealed, and refuses altered values and unknown keys', () => {
    const old = new Sealer(parseKeyRing(K1)).seal('ünïcode ✓');
    assert.equal(sealer.open(old), 'ünïcode ✓');
    assert.equal(sealer.open('{"plain":true}'), '{"plain":true}');
    const body = Buffer.from(old.slice('hwe1:k1:'.length), 'base64url');
    body[20]! ^= 1;
    assert.throws(() => sealer.open(`hwe1:k1:${body.toString('base64url')}`), (err: Error) => err instanceof KeyRingError && /does not authenticate/.test(err.message));
    assert.throws(() => new Sealer(parseKeyRing(K2)).open(old), /key id "k1", which the key ring does not hold/);
  });
});
