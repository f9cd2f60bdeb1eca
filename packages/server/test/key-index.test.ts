// The SQLite store's index of idempotency keys, kept in memory (see KeyIndex): a hit is
// checked against the row, expired hours are dropped whole, and a reopened file finds its
// keys again.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { KeyIndex } from '../src/store/sqlite/key-index.js';
import { SqliteStore } from '../src/store/sqlite/store.js';
import { RepeatedRequest } from '../src/store/store.js';
import type { Message } from '../src/domain/types.js';
import { endpointInput, messageInput, tempDir } from './helpers.js';

const HOUR = 60 * 60 * 1000;

describe('KeyIndex', () => {
  it('hashes scope and key apart, to an exact integer', () => {
    const a = KeyIndex.hashOf('POST /x {}', 'k1');
    assert.ok(Number.isSafeInteger(a) && a >= 0);
    assert.equal(KeyIndex.hashOf('POST /x {}', 'k1'), a);
    assert.notEqual(KeyIndex.hashOf('POST /x {}', 'k2'), a);
    assert.notEqual(KeyIndex.hashOf('POST /y {}', 'k1'), a);
  });

  it('finds the newest entry of a hash, and forgets whole hours once expired', () => {
    const keys = new KeyIndex(HOUR);
    const t0 = 100 * HOUR;
    keys.set(1, 10, t0 + 5);
    keys.set(2, 20, t0 + HOUR + 5);
    keys.set(1, 11, t0 + 2 * HOUR + 5);
    assert.equal(keys.get(1), 11, 'a later row under a hash shadows the earlier');
    assert.equal(keys.get(2), 20);
    assert.equal(keys.get(3), undefined);
    assert.equal(keys.size, 3);
    keys.drop(t0 + HOUR);
    assert.equal(keys.size, 2, 'the first hour went whole');
    assert.equal(keys.get(1), 11);
    keys.drop(t0 + HOUR + 10);
    assert.equal(keys.get(2), 20, 'an hour is kept while any of it may be live');
    keys.drop(t0 + 3 * HOUR);
    assert.equal(keys.size, 0);
    // A time earlier than the last hour's goes into that hour.
    keys.set(4, 40, t0 + 10 * HOUR);
    keys.set(5, 50, t0);
    keys.drop(t0 + HOUR);
    assert.equal(keys.get(5), 50);
  });
});

describe("the SQLite store's idempotency records without an index on disk", () => {
  it('checks a hit against the row: an entry whose row is gone, or now holds another key, finds nothing', async () => {
    const tmp = tempDir();
    const store = SqliteStore.open(join(tmp.dir, 'keys.db'));
    try {
      const app = await store.createApp({ uid: null, name: 'keys', throttleRate: null, metadata: {} });
      await store.createEndpoint(app.id, endpointInput());
      const scope = `POST msg ${app.id}`;
      const replay = (key: string) => ({ scope, key, bodyHash: `hash-${key}`, statusCode: 202, body: () => null, expiredAt: Date.now() - HOUR });
      const { message } = await store.createMessage(app.id, messageInput(), { replay: replay('A') });
      const row = store.db.prepare('SELECT id FROM idempotency WHERE key = ?').get('A') as { id: number };
      // The row goes from under its entry (as a rolled-back write leaves one), and its id is taken by another key.
      store.db.prepare('DELETE FROM idempotency WHERE id = ?').run(row.id);
      await store.putIdempotent(scope, 'B', { bodyHash: 'hb', statusCode: 200, body: '{}', createdAt: Date.now(), msgId: null });
      assert.equal((store.db.prepare('SELECT id FROM idempotency WHERE key = ?').get('B') as { id: number }).id, row.id);
      assert.equal(await store.getIdempotent(scope, 'A'), null);
      assert.equal((await store.getIdempotent(scope, 'B'))?.bodyHash, 'hb');
      // So A is no repeat: it makes a message and a record again.
      const again = await store.createMessage(app.id, messageInput(), { replay: replay('A') });
      assert.notEqual(again.message.id, message.id);
      assert.equal((await store.getIdempotent(scope, 'A'))?.msgId, again.message.id);
    } finally {
      await store.close();
      tmp.cleanup();
    }
  });

  it('finds its keys again when the file is reopened, and a repeat is refused then', async () => {
    const tmp = tempDir();
    const file = join(tmp.dir, 'reopen.db');
    let store = SqliteStore.open(file);
    let first: Message;
    let appId: string;
    const replay = (scope: string) => ({ scope, key: 'K', bodyHash: 'h', statusCode: 202, body: () => null, expiredAt: Date.now() - HOUR });
    try {
      const app = await store.createApp({ uid: null, name: 'reopen', throttleRate: null, metadata: {} });
      appId = app.id;
      await store.createEndpoint(app.id, endpointInput());
      first = (await store.createMessage(app.id, messageInput(), { replay: replay(`POST msg ${app.id}`) })).message;
      await store.putIdempotent('POST other', 'K', { bodyHash: 'h2', statusCode: 201, body: '{"id":"x"}', createdAt: Date.now(), msgId: null });
    } finally {
      await store.close();
    }
    store = SqliteStore.open(file);
    try {
      const repeat = await store.createMessage(appId, messageInput(), { replay: replay(`POST msg ${appId}`) }).then(
        () => null,
        (err: unknown) => err,
      );
      assert.ok(repeat instanceof RepeatedRequest);
      assert.equal(repeat.previous.msgId, first.id);
      assert.equal((await store.getIdempotent('POST other', 'K'))?.body, '{"id":"x"}');
    } finally {
      await store.close();
      tmp.cleanup();
    }
  });
});
