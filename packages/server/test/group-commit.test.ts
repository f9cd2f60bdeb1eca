import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { unlinkSync } from 'node:fs';
import Database from 'better-sqlite3';
import { GroupCommit } from '../src/store/sqlite/group-commit.js';
import { tempDir } from './helpers.js';

describe('group commit', () => {
  it('commits the jobs of one turn together, and rolls back only a job that throws', async () => {
    const { dir, cleanup } = tempDir();
    const db = new Database(join(dir, 'gc.db'));
    try {
      db.pragma('journal_mode = WAL');
      db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
      const gc = new GroupCommit(db);
      const insert = (k: string) => () => {
        db.prepare('INSERT INTO t (k) VALUES (?)').run(k);
        return k;
      };
      const results = await Promise.allSettled([
        gc.run(insert('a')),
        gc.run(() => {
          insert('b')();
          insert('a')(); // a duplicate: this whole job must leave nothing behind
        }),
        gc.run(insert('c')),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
      assert.deepEqual((db.prepare('SELECT k FROM t ORDER BY k').all() as { k: string }[]).map((r) => r.k), ['a', 'c']);
      assert.equal(await gc.run(insert('d')), 'd', 'later batches commit as usual');
      await gc.drain();
      assert.equal((db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n, 3);
    } finally {
      db.close();
      cleanup();
    }
  });

  it('gives each of a run of replayable jobs the outcome it would have alone', async () => {
    const { dir, cleanup } = tempDir();
    const db = new Database(join(dir, 'gc.db'));
    try {
      db.pragma('journal_mode = WAL');
      db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
      const gc = new GroupCommit(db);
      const runs = new Map<string, number>();
      const insert = (...keys: string[]) => () => {
        runs.set(keys[0]!, (runs.get(keys[0]!) ?? 0) + 1);
        for (const k of keys) db.prepare('INSERT INTO t (k) VALUES (?)').run(k);
        return keys[0];
      };
      const results = await Promise.allSettled([
        gc.run(insert('a'), true, true),
        gc.run(insert('b', 'a'), true, true), // a duplicate: rejected, and its 'b' is undone
        gc.run(insert('b2'), true, true),
        gc.run(insert('c')), // not replayable: run once, in its own savepoint
        gc.run(insert('d'), true, true),
        gc.run(insert('e'), true, true),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
      assert.deepEqual(results.map((r) => (r.status === 'fulfilled' ? r.value : null)), ['a', null, 'b2', 'c', 'd', 'e']);
      assert.deepEqual((db.prepare('SELECT k FROM t ORDER BY k').all() as { k: string }[]).map((r) => r.k), ['a', 'b2', 'c', 'd', 'e']);
      // The run that failed was done again job by job (b2, after the throw, only then).
      assert.deepEqual(Object.fromEntries(runs), { a: 2, b: 2, b2: 1, c: 1, d: 1, e: 1 });
    } finally {
      db.close();
      cleanup();
    }
  });

  it('tells no caller its write is stored when the write-ahead log cannot be synced', async () => {
    const { dir, cleanup } = tempDir();
    const file = join(dir, 'gc.db');
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
      const gc = new GroupCommit(db);
      // SQLite keeps its descriptor; the path the log is synced through is gone.
      unlinkSync(`${file}-wal`);
      const results = await Promise.allSettled([
        gc.run(() => db.prepare('INSERT INTO t (k) VALUES (?)').run('a')),
        gc.run(() => db.prepare('INSERT INTO t (k) VALUES (?)').run('b')),
      ]);
      for (const r of results) {
        assert.equal(r.status, 'rejected');
        assert.match(String((r as PromiseRejectedResult).reason), /syncing the database's write-ahead log failed: ENOENT/);
      }
      // Bookkeeping, whose loss only repeats a delivery, waits for no sync.
      assert.equal(await gc.run(() => 'claimed', false), 'claimed');
      await gc.drain();
      gc.close();
    } finally {
      db.close();
      cleanup();
    }
  });
});
