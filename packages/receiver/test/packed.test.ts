// What a customer gets: @hookwell/receiver and @hookwell/health packed as npm would publish them,
// installed from the tarballs into a project outside this repository, then used from plain ESM,
// from CommonJS, and from TypeScript with moduleResolution node16 and bundler (which must also
// compile the README's typed receiving example). The built ./web entry point must not reach any
// Node built-in. Packs what `npm run build` (run by npm install / npm ci) left in dist/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const PACKAGES = ['receiver', 'health'];

const run = (cmd: string, args: string[], cwd: string): string =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });

test('the packed packages install and work in a project of their own', { timeout: 120_000 }, () => {
  for (const p of PACKAGES) assert.ok(existsSync(join(ROOT, 'packages', p, 'dist/esm/index.js')), `packages/${p} is built (npm run build)`);
  const dir = mkdtempSync(join(tmpdir(), 'hookwell-packed-'));
  try {
    const tarballs = PACKAGES.map((p) => {
      // --ignore-scripts: pack the build that is there rather than rebuild it under other tests.
      const [info] = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], join(ROOT, 'packages', p))) as {
        filename: string;
        size: number;
        unpackedSize: number;
      }[];
      console.log(`# ${info!.filename}: ${info!.size} B packed, ${info!.unpackedSize} B unpacked`);
      return info!;
    });
    assert.ok(tarballs[0]!.size < 25_000, `@hookwell/receiver packs to ${tarballs[0]!.size} B, over 25 kB`);

    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    run('npm', ['install', '--no-audit', '--no-fund', '--offline', ...tarballs.map((t) => `./${t.filename}`)], dir);
    const installed = JSON.parse(readFileSync(join(dir, 'node_modules/@hookwell/receiver/package.json'), 'utf8')) as { dependencies?: object };
    assert.equal(installed.dependencies, undefined, 'the receiver has no runtime dependencies');

    // Sign with the Node entry, verify with each entry point, type the handlers with @hookwell/health.
    const body = (load: string, exp: string) => `${load}
const secret = root.generateSecret();
const payload = JSON.stringify({ event: 'goal_completed', user_id: 'u-1' });
const ts = Math.floor(Date.now() / 1000);
const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(ts), 'webhook-signature': root.sign(secret, 'msg_1', ts, payload) };
const seen = [];
const handler = web.createHandler({ secret, on: health.healthHandlers({ goal_completed: (e) => { seen.push(e.payload.user_id); } }) });
Promise.all([web.verifyAsync(payload, headers, secret), handler.handle(payload, headers)]).then(async ([verified, res]) => {
  await res.after?.();
  const out = { sync: node.verify(payload, headers, secret).user_id, async: verified.user_id, status: res.status, seen, node: typeof node.createHandler({ secret }).express };
  console.log(JSON.stringify(out));
});
${exp}`;
    writeFileSync(
      join(dir, 'esm.mjs'),
      body(
        `import * as root from '@hookwell/receiver';
import * as node from '@hookwell/receiver/node';
import * as web from '@hookwell/receiver/web';
import * as health from '@hookwell/health';`,
        '',
      ),
    );
    writeFileSync(
      join(dir, 'cjs.cjs'),
      body(
        `const root = require('@hookwell/receiver');
const node = require('@hookwell/receiver/node');
const web = require('@hookwell/receiver/web');
const health = require('@hookwell/health');`,
        '',
      ),
    );
    const expected = { sync: 'u-1', async: 'u-1', status: 200, seen: ['u-1'], node: 'function' };
    for (const file of ['esm.mjs', 'cjs.cjs']) assert.deepEqual(JSON.parse(run(process.execPath, [file], dir)), expected, file);

    // The built ./web, in both formats, imports only its own relative files: no node: built-ins, no Buffer.
    for (const format of ['esm', 'cjs']) {
      const base = join(dir, 'node_modules/@hookwell/receiver/dist', format);
      const seen = new Set<string>();
      const visit = (file: string): void => {
        if (seen.has(file)) return;
        seen.add(file);
        const text = readFileSync(join(base, file), 'utf8');
        assert.doesNotMatch(text, /\bBuffer\b/, `${format}/${file} uses Buffer`);
        for (const [, spec] of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["']([^"']+)["']/g)) {
          assert.match(spec!, /^\.\/[\w-]+\.js$/, `${format}/${file} imports ${spec}`);
          visit(spec!.slice(2));
        }
      };
      visit('web.js');
      assert.deepEqual([...seen].sort(), ['core.js', 'handler.js', 'headers.js', 'verify-async.js', 'web.js'], format);
    }

    // TypeScript consumers: every subpath, and the README's typed receiving example as written.
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const example = /### Typed receiving[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(example?.includes("from '@hookwell/health'"), 'the README has a typed receiving example importing @hookwell/health');
    writeFileSync(
      join(dir, 'readme-example.ts'),
      `${example}\ndeclare function saveCalories(userId: string, calories: number): void;\ndeclare function celebrate(userId: string): void;\nexport { handler };\n`,
    );
    writeFileSync(
      join(dir, 'subpaths.ts'),
      `import { sign, generateSecret, type WebhookEvent } from '@hookwell/receiver';
import { createHandler, verify } from '@hookwell/receiver/node';
import { createHandler as createWebHandler, verifyAsync } from '@hookwell/receiver/web';
import { healthHandlers, type HealthEvents, type CatalogEntry } from '@hookwell/health';
const secret: string = generateSecret();
const signature: string = sign(secret, 'msg_1', 0, '{}');
const calories: HealthEvents['daily.data.workouts.created']['data']['calories'] = 1;
// @ts-expect-error calories is a number
const wrong: HealthEvents['daily.data.workouts.created']['data']['calories'] = 'many';
const on = healthHandlers({ goal_completed: (e) => e.payload.user_id });
export const all = [signature, calories, wrong, createHandler({ secret, on }), createWebHandler({ secret, on: {} }), verify, verifyAsync];
export type T = [WebhookEvent, CatalogEntry];
`,
    );
    const typeRoots = [join(ROOT, 'node_modules/@types')];
    for (const [module, moduleResolution] of [['node16', 'node16'], ['esnext', 'bundler']] as const) {
      const config = `tsconfig.${moduleResolution}.json`;
      writeFileSync(
        join(dir, config),
        JSON.stringify({
          compilerOptions: { module, moduleResolution, target: 'ES2022', strict: true, noEmit: true, types: ['node'], typeRoots, skipLibCheck: false },
          files: ['subpaths.ts', 'readme-example.ts'],
        }),
      );
      try {
        run(process.execPath, [TSC, '-p', config], dir);
      } catch (error) {
        assert.fail(`tsc with moduleResolution ${moduleResolution}:\n${(error as { stdout: string }).stdout}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
