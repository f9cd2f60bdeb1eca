import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { GroupCommit } from '../src/store/sqlite/group-commit.js';
import { Checkpointer } from '../src/store/sqlite/checkpointer.js';
import { SqliteStore } from '../src/store/sqlite/store.js';
import { eventually, tempDir } from './helpers.js';

const MB = 1024 * 1024;

describe('checkpointing on a thread of its own', () => {
  it('copies the log into the file while commits go on, and lets the log start over', async () => {
    const { dir, cleanup } = tempDir();
    const file = join(dir, 'ck.db');
    const db = new Database(file);
    let checkpointer: Checkpointer | null = null;
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('wal_autocheckpoint = 0');
      db.pragma(`journal_size_limit = ${64 * MB}`);
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)');
      const failures: Error[] = [];
      // Checkpoints more often than a server does, so that this short run sees several.
      checkpointer = new Checkpointer(file, (err) => failures.push(err), 100);
      const gc = new GroupCommit(db);
      gc.checkpoints = checkpointer;
      const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
      const body = Buffer.alloc(64 * 1024, 7);
      // 4,800 rows of 64 kB: about 300 MB through the log, in commits of 16 rows, with no
      // pause between them longer than a commit's sync. The log's length, as the thread last
      // saw it, falls when the log has started over.
      let startedOver = 0;
      let seen = { reports: 0, log: 0 };
      for (let round = 0; round < 300; round++) {
        await Promise.all(Array.from({ length: 16 }, () => gc.run(() => insert.run(body))));
        const last = checkpointer.last;
        if (last !== null && checkpointer.reports !== seen.reports) {
          if (last.log < seen.log) startedOver++;
          seen = { reports: checkpointer.reports, log: last.log };
        }
      }
      await gc.drain();
      assert.deepEqual(failures, []);
      // Without a catch-up the log would never start over, and would hold all 300 MB: about
      // 75,000 pages, starting over at each 10,000.
      assert.ok(startedOver >= 2, `the log started over ${startedOver} times`);
      // The serving connection never checkpoints (wal_autocheckpoint = 0): only the thread
      // puts the rows in the file while it is open.
      await eventually(() => (statSync(file).size > 250 * MB ? true : undefined), 20_000, 'the rows in the file');
      assert.equal((db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n, 4800);
    } finally {
      await checkpointer?.stop();
      db.close();
      cleanup();
    }
  });

  it('is how a serving store checkpoints; a tool opened beside it checkpoints itself', async () => {
    const { dir, cleanup } = tempDir();
    const file = join(dir, 'store.db');
    const autocheckpoint = (s: SqliteStore) =>
      (s as unknown as { db: Database.Database }).db.pragma('wal_autocheckpoint', { simple: true });
    try {
      const serving = SqliteStore.open(file);
      assert.equal(autocheckpoint(serving), 0, 'the serving connection leaves checkpoints to the thread');
      const tool = SqliteStore.open(file, { releaseLeases: false });
      assert.equal(autocheckpoint(tool), 10_000);
      await tool.close();
      await serving.close();
      // The serving connection closes last, after the thread's: it checkpoints the whole log
      // and removes it, as a store with one connection did.
      assert.equal(existsSync(`${file}-wal`), false);
    } finally {
      cleanup();
    }
  });
});
