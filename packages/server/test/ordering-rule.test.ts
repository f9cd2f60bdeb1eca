// The per-key ordering rule without a server: which paths name a key, which key a payload
// has, and (on SQLite in memory, with the real migrations) which deliveries the SQL of the
// rule lets go now. The delivery behaviour end to end is in ordering.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { backfillKey, deliveryOrderKey, keyReader, orderKeyOf, parseKeyPath, storedKey, valueAt } from '../src/domain/ordering.js';
import { inTurn, KEY_BUSY, KEY_HEAD } from '../src/store/ordering.js';
import { migrate } from '../src/store/sqlite/migrations.js';
import { Status } from '../src/domain/types.js';

const errorOf = (path: string): string => {
  const parsed = parseKeyPath(path);
  assert.ok('error' in parsed, `${path} should be refused`);
  return parsed.error;
};

describe('parseKeyPath', () => {
  it('reads member names of letters, digits, "_" and "-", and array indexes', () => {
    assert.deepEqual(parseKeyPath('$.data.User_id-2'), { steps: ['data', 'User_id-2'] });
    assert.deepEqual(parseKeyPath('$.a.0'), { steps: ['a', '0'] });
    assert.deepEqual(parseKeyPath('$[0][7].x'), { steps: [0, 7, 'x'] });
    assert.deepEqual(parseKeyPath('$.items[123456789]'), { steps: ['items', 123456789] });
    assert.deepEqual(parseKeyPath('$.items[10]'), { steps: ['items', 10] });
  });

  it('says what is wrong, naming the path and where', () => {
    assert.match(errorOf('data.id'), /^"data\.id" must start with "\$", as in "\$\.data\.user_id"$/);
    assert.match(errorOf('$'), /^"\$" names the whole payload; name a field in it/);
    assert.match(errorOf('$.a..b'), /^"\$\.a\.\.b" is not a simple JSON path: expected "\.name" or "\[index\]" at position 3, as in/);
    assert.match(errorOf('$.a[1234567890]'), /at position 3,/, 'an index has at most nine digits');
    assert.match(errorOf('$.a[01]'), /at position 3,/);
    assert.match(errorOf('$.a.b!'), /at position 5,/);
    assert.match(errorOf('$x'), /at position 1,/);
  });

  it('refuses names that lead into the prototype chain, wherever they are', () => {
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      assert.match(errorOf(`$.a.${name}`), new RegExp(`names "${name}", which is refused in key paths`));
      assert.match(errorOf(`$.${name}[0]`), /which is refused/);
    }
    assert.deepEqual(parseKeyPath('$.proto'), { steps: ['proto'] });
  });
});

describe('valueAt', () => {
  it('reads own members of objects and elements of arrays only', () => {
    const payload = { a: [{ b: 'x' }, 'y'], o: { 0: 'zero' }, s: 'text', n: null };
    assert.equal(valueAt(payload, ['a', 0, 'b']), 'x');
    assert.equal(valueAt(payload, ['a', 1]), 'y');
    assert.equal(valueAt(payload, ['a', 2]), undefined);
    assert.equal(valueAt(payload, ['o', 0]), undefined, 'an index does not read an object');
    assert.equal(valueAt(payload, ['a', '0']), undefined, 'a name does not read an array');
    assert.equal(valueAt(payload, ['a', 'length']), undefined);
    assert.equal(valueAt(payload, ['s', 'length']), undefined, 'a name does not read a string');
    assert.equal(valueAt(payload, ['s', 0]), undefined, 'an index does not read a string');
    assert.equal(valueAt(payload, ['n', 'x']), undefined);
    assert.equal(valueAt(payload, ['o', 'hasOwnProperty']), undefined, 'inherited members are not data');
    assert.equal(valueAt(payload, []), payload);
  });
});

describe('storedKey', () => {
  it('keeps keys of up to 200 characters as they are, and longer ones as their SHA-256', () => {
    const at = 'k'.repeat(200);
    const over = 'k'.repeat(201);
    assert.equal(storedKey(at), at);
    assert.equal(storedKey(over), `sha256:${createHash('sha256').update(over).digest('hex')}`);
  });
});

describe('orderKeyOf', () => {
  it('has no key for a path that is not one, or a number that is not finite', () => {
    assert.equal(orderKeyOf('$', { a: 'x' }), null);
    assert.equal(orderKeyOf('data', { data: 'x' }), null);
    assert.equal(orderKeyOf('$.n', { n: Infinity }), null);
    assert.equal(orderKeyOf('$.n', { n: NaN }), null);
    assert.equal(orderKeyOf('$.n', { n: -0.5 }), '-0.5');
    assert.equal(orderKeyOf('$.s', { s: '' }), '', 'an empty string is still a key');
  });

  it('writes numbers as JavaScript does, and digests long keys', () => {
    const long = 1e300;
    assert.equal(orderKeyOf('$.n', { n: long }), '1e+300');
    assert.equal(orderKeyOf('$.s', { s: 's'.repeat(300) }), storedKey('s'.repeat(300)));
  });
});

describe('keyReader', () => {
  it('reads each endpoint’s key from the payload, parsing it once and only when needed', (t) => {
    const parse = t.mock.method(JSON, 'parse');
    const read = keyReader('{"user":"u-1","n":7,"big":1e999}');
    assert.equal(read(null), null);
    assert.equal(parse.mock.callCount(), 0, 'no endpoint orders by a key: the payload is not parsed');
    assert.equal(read({ key: '$.user' }), 'u-1');
    assert.equal(read({ key: '$.n' }), '7');
    assert.equal(read({ key: '$.big' }), null, 'a number JSON reads as Infinity is no key');
    assert.equal(read({ key: '$.missing' }), null);
    assert.equal(read(null), null);
    assert.equal(parse.mock.callCount(), 1);
  });

  it('finds no key in a payload that is not JSON', () => {
    const read = keyReader('not json');
    assert.equal(read({ key: '$.user' }), null);
    assert.equal(read({ key: '$.user' }), null);
  });
});

describe('backfillKey', () => {
  it('orders a backfill’s notifications by the backfill, and nothing else', () => {
    assert.equal(backfillKey('bf_1'), 'backfill:bf_1');
    assert.equal(backfillKey(null), null);
    assert.equal(backfillKey(undefined), null);
    assert.equal(backfillKey(7), null);
  });
});

describe('deliveryOrderKey', () => {
  it("takes the payload's key where the endpoint orders by one, else the backfill's, else none", () => {
    const keyOf = keyReader('{"data":{"user_id":"u1"}}');
    const byUser = { key: '$.data.user_id' };
    assert.equal(deliveryOrderKey(keyOf, byUser, null), 'u1');
    // The endpoint's own key wins over the backfill's.
    assert.equal(deliveryOrderKey(keyOf, byUser, 'bf_1'), 'u1');
    assert.equal(deliveryOrderKey(keyOf, null, 'bf_1'), 'backfill:bf_1');
    // A payload without the key: the backfill's for its notifications, unordered otherwise.
    assert.equal(deliveryOrderKey(keyOf, { key: '$.data.missing' }, 'bf_1'), 'backfill:bf_1');
    assert.equal(deliveryOrderKey(keyOf, { key: '$.data.missing' }, null), null);
    assert.equal(deliveryOrderKey(keyOf, null, undefined), null);
  });
});

describe('the ordering SQL', () => {
  const NOW = 1_000_000;
  // Deliveries as [id, endpoint, key, status, next_attempt_at]; a sending one's
  // next_attempt_at is its lease expiry.
  type Row = [number, string, string | null, number, number | null];

  function db(rows: Row[]): Database.Database {
    const d = new Database(':memory:');
    migrate(d);
    const insert = d.prepare(
      `INSERT INTO deliveries (id, msg_id, endpoint_id, app_id, status, next_attempt_at, created_at, order_key)
       VALUES (?, ?, ?, 'app', ?, ?, 0, ?)`,
    );
    for (const [id, ep, key, status, next] of rows) insert.run(id, `msg_${id}`, ep, status, next, key);
    return d;
  }
  const inTurnIds = (d: Database.Database) =>
    (d.prepare(`SELECT id FROM deliveries d WHERE status IN (1, 3) AND ${inTurn('d')} ORDER BY id`).all(NOW) as { id: number }[]).map((r) => r.id);

  it('lets only the head of each key go, and everything without a key', () => {
    const d = db([
      [1, 'ep_a', 'k1', Status.Pending, NOW],
      [2, 'ep_a', 'k1', Status.Pending, NOW],
      [3, 'ep_a', 'k2', Status.Pending, NOW],
      [4, 'ep_a', null, Status.Pending, NOW],
      [5, 'ep_b', 'k1', Status.Pending, NOW], // the same key at another endpoint is another queue
      [6, 'ep_a', 'k1', Status.Success, null], // finished ones hold nothing
      [7, 'ep_a', 'k2', Status.Fail, null],
    ]);
    assert.deepEqual(inTurnIds(d), [1, 3, 4, 5]);
  });

  it('holds a key while one of its deliveries has a live lease, and not after it expired', () => {
    const rows: Row[] = [
      [1, 'ep_a', 'k1', Status.Pending, NOW], // queued again while 2 is being sent
      [2, 'ep_a', 'k1', Status.Sending, NOW + 1],
      [3, 'ep_a', 'k1', Status.Pending, NOW],
    ];
    assert.deepEqual(inTurnIds(db(rows)), [], 'the head waits for the attempt in flight; the rest wait for the head');
    rows[1] = [2, 'ep_a', 'k1', Status.Sending, NOW];
    assert.deepEqual(inTurnIds(db(rows)), [1], 'an expired lease holds nothing; the head goes first');
  });

  it('keeps an earlier delivery that is being sent ahead of later ones, even when its lease expired', () => {
    const d = db([
      [1, 'ep_a', 'k1', Status.Sending, NOW - 10],
      [2, 'ep_a', 'k1', Status.Pending, NOW],
    ]);
    assert.deepEqual(inTurnIds(d), [1]);
  });

  it('finds whether a key is busy and which delivery is its head', () => {
    const d = db([
      [1, 'ep_a', 'k1', Status.Success, null],
      [2, 'ep_a', 'k1', Status.Sending, NOW + 5],
      [3, 'ep_a', 'k1', Status.Pending, NOW],
      [4, 'ep_a', 'k2', Status.Canceled, null],
    ]);
    assert.notEqual(d.prepare(KEY_BUSY).get('ep_a', 'k1'), undefined);
    assert.equal(d.prepare(KEY_BUSY).get('ep_a', 'k2'), undefined);
    assert.equal(d.prepare(KEY_BUSY).get('ep_b', 'k1'), undefined);
    assert.deepEqual(d.prepare(KEY_HEAD).get('ep_a', 'k1'), {
      id: 2, msg_id: 'msg_2', app_id: 'app', status: Status.Sending, next_attempt_at: NOW + 5,
    });
    assert.equal(d.prepare(KEY_HEAD).get('ep_a', 'k2'), undefined);
  });
});
