// `hookwell backup` as a child process, copying a SQLite file while a server writes to it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childApi, runHookwell, startChild } from './child.js';
import { query, tempDir } from './helpers.js';

// An empty HOOKWELL_DB: each call names its database with --db.
const hookwell = (args: string[]) => runHookwell(args, { HOOKWELL_DB: '' });

describe('hookwell backup', () => {
  it('copies a database under load with every message answered 202 before it began, and a server starts on the copy', async () => {
    const { dir, cleanup } = tempDir();
    const db = join(dir, 'live.db');
    const copy = join(dir, 'copy.db');
    const server = await startChild(db, 0);
    let restored: Awaited<ReturnType<typeof startChild>> | null = null;
    try {
      assert.equal((await childApi(server.url, 'POST', '/api/v1/app', { name: 'Backups', uid: 'backups' })).status, 201);
      const acked: string[] = [];
      let running = true;
      const payload = { data: { user_id: 'U1', note: 'x'.repeat(2048) } };
      const producer = async () => {
        while (running) {
          const r = await childApi(server.url, 'POST', '/api/v1/app/backups/msg', { eventType: 'meal.logged', payload });
          assert.equal(r.status, 202);
          acked.push(r.body.id as string);
        }
      };
      const producers = Array.from({ length: 8 }, producer);
      // Enough for a copy that takes several steps, with writes going on throughout.
      while (acked.length < 3000) await new Promise((r) => setTimeout(r, 20));
      const before = [...acked];
      const result = await hookwell(['backup', '--db', db, '--to', copy]);
      const during = acked.length - before.length;
      running = false;
      await Promise.all(producers);

      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^backed up .*live\.db to .*copy\.db: \d+ pages, [\d.]+ MB, in [\d.]+ s\n$/);
      assert.match(result.stderr, /hookwell backup: 100% \(\d+ of \d+ pages\)/);
      assert.ok(during > 0, 'messages were written while the copy was taken');
      assert.equal(existsSync(`${copy}.partial`), false);

      assert.deepEqual(query<{ integrity_check: string }>(copy, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
      const inCopy = new Set(query<{ id: string }>(copy, 'SELECT id FROM messages').map((r) => r.id));
      const missing = before.filter((id) => !inCopy.has(id));
      assert.deepEqual(missing, [], 'every message answered 202 before the backup began is in the copy');

      server.proc.kill('SIGTERM');
      await server.exited;
      restored = await startChild(copy, 0);
      for (const id of [before[0]!, before[before.length - 1]!, before[Math.floor(before.length / 2)]!]) {
        const got = await childApi(restored.url, 'GET', `/api/v1/app/backups/msg/${id}`);
        assert.equal(got.status, 200);
        assert.deepEqual(got.body.payload, payload);
      }
    } finally {
      server.proc.kill('SIGKILL');
      restored?.proc.kill('SIGKILL');
      await server.exited;
      if (restored !== null) await restored.exited;
      cleanup();
    }
  });

  it('refuses to overwrite a file, to copy PostgreSQL, or to copy a file that is not there, naming why', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const db = join(dir, 'live.db');
      const server = await startChild(db, 0);
      server.proc.kill('SIGTERM');
      await server.exited;
      const taken = join(dir, 'taken.db');
      writeFileSync(taken, 'keep me');
      const over = await hookwell(['backup', '--db', db, '--to', taken]);
      assert.equal(over.code, 2);
      assert.match(over.stderr, /taken\.db already exists; choose a new file/);
      assert.equal(readFileSync(taken, 'utf8'), 'keep me');

      const pg = await hookwell(['backup', '--db', 'postgres://postgres@127.0.0.1:5432/test', '--to', join(dir, 'pg.db')]);
      assert.equal(pg.code, 2);
      assert.match(pg.stderr, /back up PostgreSQL with pg_dump/);

      const none = await hookwell(['backup', '--db', join(dir, 'nothing.db'), '--to', join(dir, 'n.db')]);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /no database at .*nothing\.db/);

      const noTo = await hookwell(['backup', '--db', db]);
      assert.notEqual(noTo.code, 0);
      assert.match(noTo.stderr, /--to/);
    } finally {
      cleanup();
    }
  });
});
