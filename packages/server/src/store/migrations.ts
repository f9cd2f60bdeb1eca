import { readdirSync, readFileSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The schema of each dialect is a folder of numbered SQL files, <dialect>/migrations/NNNN.sql or
// NNNN-what.sql: file N moves a database from version N - 1 to N. A database records only the
// number it reached (SQLite's user_version, PostgreSQL's hookwell_schema_version), so a file
// once released is never edited or renumbered; a change to the schema is a new file. No step is
// a data transform in code today; one would be keyed by its version beside the runner that
// applies it.

export type MigrationDialect = 'sqlite' | 'postgres';

/** One step of a dialect's schema: the SQL that moves a database from `version - 1` to `version`. */
export interface Migration {
  version: number;
  /** The file's name in its folder, for messages. */
  file: string;
  sql: string;
}

const NAME = /^(\d{4})(?:-[a-z0-9]+(?:-[a-z0-9]+)*)?\.sql$/;

/**
 * The folder a dialect's migrations are read from: beside this module, so the same code finds
 * them in src/ (run from the sources) and in dist/ (the build copies them there).
 */
export function migrationsFolder(dialect: MigrationDialect): string {
  return fileURLToPath(new URL(`./${dialect}/migrations/`, import.meta.url));
}

/** A folder of migrations that cannot be applied as it is: a file misnamed, missing or doubled. */
export class MigrationFolderError extends Error {}

/**
 * The migrations in `folder`, by version. Refuses, naming the file, anything but NNNN.sql and
 * NNNN-what.sql files numbered 1, 2, 3, … without a gap or a repeat: a database records only
 * the number it reached, so a missing or doubled step would be skipped or applied twice unseen.
 */
export function readMigrations(folder: string): Migration[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(folder, { withFileTypes: true });
  } catch (err) {
    throw new MigrationFolderError(`cannot read the migrations folder ${folder}: ${(err as Error).message}`, { cause: err });
  }
  const found = new Map<number, string>();
  for (const entry of entries) {
    const m = NAME.exec(entry.name);
    if (m === null || !entry.isFile()) {
      throw new MigrationFolderError(
        `${join(folder, entry.name)} is not a migration: the folder holds only files named NNNN.sql or NNNN-what.sql (e.g. 0007-portal-tokens.sql)`,
      );
    }
    const version = Number(m[1]);
    if (version === 0) throw new MigrationFolderError(`${join(folder, entry.name)} is numbered 0000: numbering starts at 0001`);
    const other = found.get(version);
    if (other !== undefined) {
      const [first, second] = [other, entry.name].sort();
      throw new MigrationFolderError(`${join(folder, second!)} repeats version ${version} of ${join(folder, first!)}; each number is one file`);
    }
    found.set(version, entry.name);
  }
  if (found.size === 0) throw new MigrationFolderError(`${folder} holds no migrations (NNNN.sql files, from 0001)`);
  const versions = [...found.keys()].sort((a, b) => a - b);
  return versions.map((version, i) => {
    const file = found.get(version)!;
    if (version !== i + 1) {
      const missing = String(i + 1).padStart(4, '0');
      const after = i === 0 ? 'numbering starts at 0001' : `it follows ${found.get(versions[i - 1]!)}`;
      throw new MigrationFolderError(`${join(folder, file)} is version ${version}, but ${after}: version ${missing} is missing`);
    }
    return { version, file, sql: readFileSync(join(folder, file), 'utf8') };
  });
}

const loaded = new Map<MigrationDialect, Migration[]>();

/** The dialect's shipped migrations, read once per process. */
export function migrations(dialect: MigrationDialect): Migration[] {
  let list = loaded.get(dialect);
  if (list === undefined) {
    list = readMigrations(migrationsFolder(dialect));
    loaded.set(dialect, list);
  }
  return list;
}

/**
 * The migrations a database at version `current` still needs, in order. Refuses a database
 * written by a newer Hookwell, whose schema this code cannot know.
 */
export function pendingMigrations(current: number, all: readonly Migration[]): Migration[] {
  const latest = all.length;
  if (current > latest) {
    throw new Error(`the database schema is version ${current}, newer than this Hookwell knows (${latest}); upgrade Hookwell`);
  }
  return all.slice(current);
}

/** The newest schema version of a dialect that this code knows. */
export function latestVersion(dialect: MigrationDialect): number {
  return migrations(dialect).at(-1)?.version ?? 0;
}
