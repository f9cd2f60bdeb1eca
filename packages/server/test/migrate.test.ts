// `hookwell migrate` as a child process against the real PostgreSQL and a SQLite file.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { migrations } from '../src/store/migrations.js';
import { PG_URL, query, requirePostgres, tempDir } from './helpers.js';
import { runHookwell } from './child.js';

const PG_MIGRATIONS = migrations('postgres');
const SQLITE_MIGRATIONS = migrations('sqlite');

describe('hookwell migrate', () => {
  const schema = `hw_migrate_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
  const { dir, cleanup } = tempDir();
  before(requirePostgres);
  after(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
    cleanup();
  });

  it('brings a PostgreSQL schema up to date, once, however many run at once', async () => {
    const env = { HOOKWELL_DB: PG_URL, HOOKWELL_DB_SCHEMA: schema };
    const runs = await Promise.all([runHookwell(['migrate'], env), runHookwell(['migrate'], env), runHookwell(['migrate'], env)]);
    for (const r of runs) {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /the database schema is up to date/);
    }
    const versions = await admin.query(`SELECT version FROM ${schema}.hookwell_schema_version ORDER BY version`);
    assert.deepEqual(
      versions.rows.map((r) => r.version),
      PG_MIGRATIONS.map((m) => m.version),
    );
    const again = await runHookwell(['migrate'], env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await admin.query(`SELECT count(*)::int AS n FROM ${schema}.hookwell_schema_version`)).rows[0].n, PG_MIGRATIONS.length);
  });

  it('refuses a schema written by a newer Hookwell, saying so', async () => {
    await admin.query(`INSERT INTO ${schema}.hookwell_schema_version (version, applied_at) VALUES ($1, 0)`, [PG_MIGRATIONS.length + 1]);
    const r = await runHookwell(['migrate'], { HOOKWELL_DB: PG_URL, HOOKWELL_DB_SCHEMA: schema });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /migration failed: the database schema is version \d+, newer than this Hookwell knows/);
  });

  it('migrates a SQLite file given with --db', async () => {
    const file = join(dir, 'migrated.db');
    const r = await runHookwell(['migrate', '--db', file], {});
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(file));
    assert.deepEqual(query<{ user_version: number }>(file, 'PRAGMA user_version'), [{ user_version: SQLITE_MIGRATIONS.length }]);
  });
});
