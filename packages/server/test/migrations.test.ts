// The schema's numbered .sql files: what the loader accepts and refuses, that the build ships
// them, and that a database of every older version upgrades to the schema a fresh one gets, on
// real SQLite files and the real PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { migrations, migrationsFolder, MigrationFolderError, readMigrations, type Migration, type MigrationDialect } from '../src/store/migrations.js';
import { migrate as migrateSqlite } from '../src/store/sqlite/migrations.js';
import { migrate as migratePostgres } from '../src/store/postgres/migrations.js';
import { SqliteStore } from '../src/store/sqlite/store.js';
import { PostgresStore } from '../src/store/postgres/store.js';
import { PG_URL, requirePostgres, tempDir } from './helpers.js';

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
const DIALECTS: MigrationDialect[] = ['sqlite', 'postgres'];

/** The .sql files below `root`, as paths relative to it, sorted. */
function sqlFiles(root: string): string[] {
  return (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.sql')).sort();
}

describe('the shipped migrations', () => {
  for (const dialect of DIALECTS) {
    it(`${dialect}: every file of the folder is a step, numbered 1, 2, 3, … without a gap`, () => {
      const folder = migrationsFolder(dialect);
      assert.equal(folder, join(PACKAGE, 'src', 'store', dialect, 'migrations') + '/');
      const list = readMigrations(folder);
      assert.ok(list.length >= 8, `${dialect} has its eight released versions`);
      assert.deepEqual(
        list.map((m) => m.version),
        list.map((_, i) => i + 1),
      );
      assert.deepEqual(list.map((m) => m.file).sort(), readdirSync(folder).sort(), 'nothing else in the folder');
      for (const m of list) {
        assert.match(m.file, new RegExp(`^${String(m.version).padStart(4, '0')}(-[a-z0-9-]+)?\\.sql$`));
        assert.equal(m.sql, readFileSync(join(folder, m.file), 'utf8'));
        assert.ok(m.sql.trim().length > 0, `${m.file} is not empty`);
      }
    });
  }
});

describe('a migrations folder that cannot be applied', () => {
  const { dir, cleanup } = tempDir();
  after(cleanup);
  let n = 0;
  /** A folder holding these files (a name ending in "/" is a sub-folder). */
  function folder(names: string[]): string {
    const f = join(dir, `case${n++}`);
    mkdirSync(f);
    for (const name of names) {
      if (name.endsWith('/')) mkdirSync(join(f, name));
      else writeFileSync(join(f, name), 'SELECT 1;');
    }
    return f;
  }
  const refuses = (f: string, message: RegExp) =>
    assert.throws(
      () => readMigrations(f),
      (err: unknown) => {
        assert.ok(err instanceof MigrationFolderError, String(err));
        assert.match(err.message, message);
        return true;
      },
    );

  it('reads a good folder in numeric order, whatever the order on disk', () => {
    const f = folder(['0002-b.sql', '0010.sql', '0001-a.sql', '0003.sql', '0004.sql', '0005.sql', '0006.sql', '0007.sql', '0008.sql', '0009.sql']);
    assert.deepEqual(
      readMigrations(f).map((m) => m.file),
      ['0001-a.sql', '0002-b.sql', '0003.sql', '0004.sql', '0005.sql', '0006.sql', '0007.sql', '0008.sql', '0009.sql', '0010.sql'],
    );
  });

  it('refuses a gap, naming the file after it and the missing number', () => {
    const f = folder(['0001-initial.sql', '0002-two.sql', '0004-four.sql']);
    refuses(f, new RegExp(`${join(f, '0004-four.sql')} is version 4, but it follows 0002-two\\.sql: version 0003 is missing`));
  });

  it('refuses numbering that does not start at 0001', () => {
    refuses(folder(['0002.sql', '0003.sql']), /0002\.sql is version 2, but numbering starts at 0001: version 0001 is missing/);
    refuses(folder(['0000.sql', '0001.sql']), /0000\.sql is numbered 0000: numbering starts at 0001/);
  });

  it('refuses two files of one number, naming both', () => {
    const f = folder(['0001.sql', '0002-a.sql', '0002-b.sql']);
    refuses(f, new RegExp(`${join(f, '0002-b.sql')} repeats version 2 of ${join(f, '0002-a.sql')}`));
  });

  it('refuses a badly named file, naming it', () => {
    for (const bad of ['1.sql', '00001.sql', '0002_two.sql', '0002-Two.sql', '0002-.sql', '0002.SQL', 'README.md', '0002.sql.bak']) {
      const f = folder(['0001.sql', bad]);
      refuses(f, new RegExp(`${join(f, bad).replace(/\./g, '\\.')} is not a migration`));
    }
    const sub = folder(['0001.sql', '0002.sql/']);
    refuses(sub, /0002\.sql is not a migration/);
  });

  it('refuses an empty or missing folder', () => {
    refuses(folder([]), /holds no migrations/);
    refuses(join(dir, 'nowhere'), /cannot read the migrations folder .*nowhere/);
  });
});

describe('the build', () => {
  it('ships every .sql file of src/ at the same place in dist/ (npm run build)', () => {
    const dist = join(PACKAGE, 'dist');
    assert.ok(existsSync(join(dist, 'cli.js')), 'the server is built: run `npm run build -w packages/server` first');
    const shipped = sqlFiles(join(PACKAGE, 'src'));
    assert.ok(shipped.length >= 16, `the .sql files of both dialects are found in src/ (${shipped.length})`);
    assert.deepEqual(sqlFiles(dist), shipped);
    for (const f of shipped) assert.equal(readFileSync(join(dist, f), 'utf8'), readFileSync(join(PACKAGE, 'src', f), 'utf8'), f);
  });

  it('the built loader reads its folder in dist/, beside itself', async () => {
    const built = (await import(pathToFileURL(join(PACKAGE, 'dist', 'store', 'migrations.js')).href)) as typeof import('../src/store/migrations.js');
    for (const dialect of DIALECTS) {
      assert.equal(built.migrationsFolder(dialect), join(PACKAGE, 'dist', 'store', dialect, 'migrations') + '/');
      assert.deepEqual(built.migrations(dialect), migrations(dialect));
    }
  });

  it('the copy step puts src/ .sql files into a dist/ that lacks their folders, and drops stale ones', () => {
    const { dir, cleanup } = tempDir();
    try {
      mkdirSync(join(dir, 'src', 'store', 'sqlite', 'migrations'), { recursive: true });
      writeFileSync(join(dir, 'src', 'store', 'sqlite', 'migrations', '0001-new.sql'), 'SELECT 1;');
      writeFileSync(join(dir, 'src', 'store', 'sqlite', 'store.ts'), '');
      mkdirSync(join(dir, 'dist', 'store', 'postgres', 'migrations'), { recursive: true });
      writeFileSync(join(dir, 'dist', 'store', 'postgres', 'migrations', '0001-renamed.sql'), 'SELECT 0;');
      execFileSync(process.execPath, [join(PACKAGE, 'scripts', 'copy-sql.mjs')], { cwd: dir });
      assert.deepEqual(sqlFiles(join(dir, 'dist')), [join('store', 'sqlite', 'migrations', '0001-new.sql')]);
      assert.equal(readFileSync(join(dir, 'dist', 'store', 'sqlite', 'migrations', '0001-new.sql'), 'utf8'), 'SELECT 1;');
    } finally {
      cleanup();
    }
  });
});

describe('upgrading a SQLite file from every older version', () => {
  const { dir, cleanup } = tempDir();
  after(cleanup);
  const all = migrations('sqlite');

  /** What a database's schema is: every table, index and trigger as SQLite keeps it, and the version. */
  function schemaOf(file: string): unknown {
    const db = new Database(file, { readonly: true });
    try {
      return {
        version: db.pragma('user_version', { simple: true }),
        objects: db.prepare(`SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name`).all(),
      };
    } finally {
      db.close();
    }
  }

  /** A file as an earlier Hookwell left it at `version`: each step in its own transaction, user_version set with it. */
  function databaseAt(file: string, version: number): void {
    const db = new Database(file);
    try {
      for (const m of all.slice(0, version)) {
        db.transaction(() => {
          db.exec(m.sql);
          db.pragma(`user_version = ${m.version}`);
        })();
      }
    } finally {
      db.close();
    }
  }

  it('gives each the schema of a fresh file, applying exactly the steps it lacked', async () => {
    const fresh = join(dir, 'fresh.db');
    await (SqliteStore.open(fresh, { releaseLeases: false })).close();
    const want = schemaOf(fresh);
    assert.equal((want as { version: number }).version, all.length);

    for (let v = 1; v < all.length; v++) {
      const file = join(dir, `v${v}.db`);
      databaseAt(file, v);
      assert.notDeepEqual(schemaOf(file), want, `version ${v} differs before the upgrade`);
      const db = new Database(file);
      try {
        assert.deepEqual(
          migrateSqlite(db),
          all.slice(v).map((m) => m.version),
          `from version ${v}`,
        );
        assert.deepEqual(migrateSqlite(db), [], `from version ${v}, a second run has nothing to do`);
      } finally {
        db.close();
      }
      assert.deepEqual(schemaOf(file), want, `upgraded from version ${v}`);
    }
  });

  it('the store opens an old file and upgrades it', async () => {
    const file = join(dir, 'store-v1.db');
    databaseAt(file, 1);
    const store = SqliteStore.open(file, { releaseLeases: false });
    await store.close();
    assert.equal((schemaOf(file) as { version: number }).version, all.length);
  });

  it('keeps the steps before a failing one, each committed with its version', () => {
    const file = join(dir, 'failing.db');
    databaseAt(file, 2);
    const broken: Migration[] = [...all.slice(0, 4), { version: 5, file: '0005-broken.sql', sql: 'ALTER TABLE no_such_table ADD COLUMN x INTEGER;' }];
    const db = new Database(file);
    try {
      assert.throws(() => migrateSqlite(db, broken), /no_such_table/);
      assert.equal(db.pragma('user_version', { simple: true }), 4);
    } finally {
      db.close();
    }
    const reference = join(dir, 'four.db');
    databaseAt(reference, 4);
    assert.deepEqual(schemaOf(file), schemaOf(reference));
  });

  it('refuses a file of a newer version and leaves it as it was', () => {
    const file = join(dir, 'newer.db');
    databaseAt(file, all.length);
    const db = new Database(file);
    db.pragma(`user_version = ${all.length + 1}`);
    db.close();
    const before = schemaOf(file);
    assert.throws(() => SqliteStore.open(file, { releaseLeases: false }), /the database schema is version \d+, newer than this Hookwell knows/);
    assert.deepEqual(schemaOf(file), before);
  });
});

describe('upgrading a PostgreSQL schema from every older version', () => {
  const run = randomBytes(4).toString('hex');
  const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
  const all = migrations('postgres');
  const schemas: string[] = [];
  before(requirePostgres);
  after(async () => {
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await admin.end();
  });

  function newSchema(tag: string): string {
    const s = `hw_mig_${run}_${tag}`;
    schemas.push(s);
    return s;
  }

  /** A pool whose tables are those of `schema`. */
  const poolOn = (schema: string) => new pg.Pool({ connectionString: PG_URL, max: 1, options: `-c search_path=${schema}` });

  /**
   * What a schema is: its columns, indexes and constraints as the catalogue describes them, and
   * the versions recorded, with the schema's own name taken out so two can be compared.
   */
  async function schemaOf(schema: string): Promise<unknown> {
    const q = async (sql: string) => (await admin.query(sql, [schema])).rows;
    const described = {
      columns: await q(
        `SELECT table_name, column_name, ordinal_position, data_type, is_nullable, column_default, collation_name, is_identity, identity_generation
           FROM information_schema.columns WHERE table_schema = $1 ORDER BY table_name, ordinal_position`,
      ),
      indexes: await q(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY tablename, indexname`),
      constraints: await q(
        `SELECT c.conrelid::regclass::text AS tbl, c.conname, pg_get_constraintdef(c.oid) AS def
           FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1 ORDER BY 1, 2`,
      ),
      versions: (await admin.query(`SELECT version FROM ${schema}.hookwell_schema_version ORDER BY version`)).rows.map((r) => r.version as number),
    };
    return JSON.parse(JSON.stringify(described).replaceAll(schema, 'SCHEMA'));
  }

  /** A schema as an earlier Hookwell left it at `version`: the steps applied and recorded as it did. */
  async function schemaAt(schema: string, version: number): Promise<void> {
    await admin.query(`CREATE SCHEMA ${schema}`);
    const client = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query(`CREATE TABLE hookwell_schema_version (version integer PRIMARY KEY, applied_at bigint NOT NULL)`);
      for (const m of all.slice(0, version)) {
        await client.query(m.sql);
        await client.query('INSERT INTO hookwell_schema_version (version, applied_at) VALUES ($1, $2)', [m.version, Date.now()]);
      }
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
  }

  it('gives each the schema of a fresh one, applying exactly the steps it lacked', async () => {
    const fresh = newSchema('fresh');
    await (await PostgresStore.open(PG_URL, { schema: fresh, poolSize: 1 })).close();
    const want = (await schemaOf(fresh)) as { versions: number[]; columns: unknown[] };
    assert.deepEqual(
      want.versions,
      all.map((m) => m.version),
    );
    assert.ok(want.columns.length > 50, 'the fresh schema has its tables');

    for (let v = 1; v < all.length; v++) {
      const schema = newSchema(`v${v}`);
      await schemaAt(schema, v);
      assert.notDeepEqual(await schemaOf(schema), want, `version ${v} differs before the upgrade`);
      const pool = poolOn(schema);
      try {
        const result = await migratePostgres(pool);
        assert.deepEqual(result, { version: all.length, applied: all.slice(v).map((m) => m.version) }, `from version ${v}`);
        assert.deepEqual(await migratePostgres(pool), { version: all.length, applied: [] }, `from version ${v}, a second run has nothing to do`);
      } finally {
        await pool.end();
      }
      assert.deepEqual(await schemaOf(schema), want, `upgraded from version ${v}`);
    }
  });

  it('the store opens an old schema and upgrades it', async () => {
    const schema = newSchema('store_v1');
    await schemaAt(schema, 1);
    await (await PostgresStore.open(PG_URL, { schema, poolSize: 1 })).close();
    assert.deepEqual(
      ((await schemaOf(schema)) as { versions: number[] }).versions,
      all.map((m) => m.version),
    );
  });

  it('stops at a failing step with nothing of the run applied', async () => {
    const schema = newSchema('failing');
    await schemaAt(schema, 2);
    const before = await schemaOf(schema);
    const broken: Migration[] = [...all.slice(0, 4), { version: 5, file: '0005-broken.sql', sql: 'ALTER TABLE no_such_table ADD COLUMN x integer;' }];
    const pool = poolOn(schema);
    try {
      await assert.rejects(migratePostgres(pool, broken), /no_such_table/);
    } finally {
      await pool.end();
    }
    assert.deepEqual(await schemaOf(schema), before, 'steps 3 and 4 were rolled back with step 5');
  });
});
