// tsc compiles src/ into dist/ but copies nothing else. The store's migrations are .sql files
// read at run time from beside their module (store/<dialect>/migrations/), so each is copied
// to the same place under dist/. dist's own .sql files go first: a migration renamed or removed
// in src/ must not linger in the build as a second file of its version.
//
//   cd packages/server && node scripts/copy-sql.mjs    (npm run build does this, after tsc)
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

const sqlFiles = (root) => readdirSync(root, { recursive: true }).filter((f) => f.endsWith('.sql'));

for (const f of sqlFiles('dist')) rmSync(join('dist', f));
for (const f of sqlFiles('src')) {
  mkdirSync(dirname(join('dist', f)), { recursive: true });
  copyFileSync(join('src', f), join('dist', f));
}
