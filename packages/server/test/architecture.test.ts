// The folders' seams (see DESIGN.md, "The pieces"), read from each file's import lines:
// api/ reaches the store only through its contract and never delivery/; core/ knows no
// HTTP; domain/ imports from no other folder of the server. And the stores' SQL names
// delivery statuses by their constants rather than by number.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Every .ts file under `folder` of src/, with the module specifiers it imports or re-exports. */
function importsOf(folder: string): { file: string; from: string[] }[] {
  const out: { file: string; from: string[] }[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        const text = readFileSync(path, 'utf8');
        const from = [...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gms), ...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!);
        out.push({ file: path.slice(SRC.length), from });
      }
    }
  };
  walk(join(SRC, folder));
  assert.ok(out.length > 0, `no files found in src/${folder}`);
  return out;
}

function offending(folder: string, refused: (specifier: string) => boolean): string[] {
  return importsOf(folder).flatMap(({ file, from }) => from.filter(refused).map((f) => `${file} imports ${f}`));
}

describe('architecture', () => {
  it('reads the import lines it checks', () => {
    // The check would pass vacuously if the pattern stopped matching.
    const http = importsOf('api').find((f) => f.file === 'api/http.ts');
    assert.ok(http?.from.includes('../store/store.js'), 'api/http.ts imports the store contract');
    assert.ok(http?.from.includes('../core/index.js'), 'api/http.ts imports core');
  });

  it('keeps api/ away from delivery/ and from the store beyond its contract', () => {
    const refused = (f: string) => f.startsWith('../delivery/') || (f.startsWith('../store/') && f !== '../store/store.js');
    assert.deepEqual(offending('api', refused), []);
  });

  it('keeps HTTP out of core/', () => {
    const refused = (f: string) => f.startsWith('../api/') || f === 'fastify' || f.startsWith('fastify/') || f.startsWith('@fastify/') || f === 'undici';
    assert.deepEqual(offending('core', refused), []);
  });

  it('keeps domain/ free of the other folders', () => {
    assert.deepEqual(offending('domain', (f) => f.startsWith('../')), []);
  });

  it("names statuses in the SQL of the query catalogue and of both stores", () => {
    const files = [
      ...readdirSync(join(SRC, 'store')).filter((f) => f.endsWith('.ts')).map((f) => `store/${f}`),
      ...['sqlite', 'postgres'].flatMap((dialect) =>
        readdirSync(join(SRC, 'store', dialect)).filter((f) => f.endsWith('.ts')).map((f) => `store/${dialect}/${f}`),
      ),
    ].filter((f) => statSync(join(SRC, f)).isFile());
    const bare = /\bstatus\s*(?:=|<>|!=|IN\s*\()\s*[0-9]/i;
    const found = files.flatMap((f) =>
      readFileSync(join(SRC, f), 'utf8')
        .split('\n')
        .map((line, i) => ({ line, at: `${f}:${i + 1}` }))
        .filter(({ line }) => !/^\s*(\*|\/\/)/.test(line) && bare.test(line))
        .map(({ at, line }) => `${at}: ${line.trim()}`),
    );
    assert.ok(['store/ordering.ts', 'store/sqlite/store.ts', 'store/postgres/store.ts'].every((f) => files.includes(f)));
    assert.deepEqual(found, []);
  });
});
