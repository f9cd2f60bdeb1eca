// What a user installs: the server packed by `npm pack` (with the workspace packages it depends
// on, packed the same way), installed into an empty project outside this repository, run with
// `npx hookwell`. Catches what the workspace hides: a file left out of `files`, a dependency
// only present because the monorepo hoists it, a bin that needs tsx or the sources.
// Third-party dependencies come from the npm registry (or npm's cache); better-sqlite3 may build
// from source, so the install has minutes, not seconds.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { TOKEN } from './helpers.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SERVER_PACKAGE = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
};
/** The workspace packages the server depends on, packed beside it so npm does not look for them in the registry. */
const WORKSPACE_DEPENDENCIES = Object.keys(SERVER_PACKAGE.dependencies)
  .filter((name) => name.startsWith('@hookwell/'))
  .map((name) => `packages/${name.slice('@hookwell/'.length)}`);

const INSTALL_TIMEOUT_MS = 240_000;

describe('the packed server, installed into an empty project', { timeout: 420_000 }, () => {
  let dir: string;
  let project: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookwell-packed-'));
    const packs = join(dir, 'packs');
    project = join(dir, 'project');
    mkdirSync(packs);
    // npm pack runs each package's prepack, so every tarball holds a fresh build.
    const workspaces = [...WORKSPACE_DEPENDENCIES, 'packages/server'].flatMap((w) => ['-w', w]);
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', packs, ...workspaces], {
      cwd: ROOT,
      maxBuffer: 64 << 20,
    });
    const tarballs = (JSON.parse(stdout) as { filename: string }[]).map((p) => join(packs, p.filename));
    assert.equal(tarballs.length, workspaces.length / 2);
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-hookwell', private: true }));
    await run('npm', ['install', '--no-audit', '--no-fund', ...tarballs], {
      cwd: project,
      timeout: INSTALL_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      maxBuffer: 64 << 20,
    });
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ships the build and not the sources, and needs no tsx', () => {
    const installed = join(project, 'node_modules', 'hookwell');
    assert.ok(existsSync(join(installed, 'dist', 'cli.js')));
    assert.ok(existsSync(join(installed, 'dist', 'index.d.ts')));
    assert.ok(!existsSync(join(installed, 'src')), 'src/ is not shipped');
    assert.ok(!existsSync(join(project, 'node_modules', 'tsx')), 'tsx is not installed with the server');
  });

  it('hookwell --version prints the package version', async () => {
    const { stdout } = await run('npx', ['--no', '--', 'hookwell', '--version'], { cwd: project, timeout: 30_000 });
    assert.equal(stdout.trim(), SERVER_PACKAGE.version);
  });

  it('npx hookwell serve serves on SQLite: health answers, an application can be created', async () => {
    const db = join(dir, 'h.db');
    const proc = spawn('npx', ['--no', '--', 'hookwell', 'serve', '--port', '0', '--db', db], {
      cwd: project,
      env: { ...process.env, HOOKWELL_ADMIN_TOKEN: TOKEN, HOOKWELL_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: npx runs the server as a child, and the stop below reaches both.
      detached: true,
    });
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    try {
      const url = await loggedUrl(proc);
      const health = await fetch(`${url}/api/v1/health`);
      assert.ok(health.status >= 200 && health.status < 300, `health answered ${health.status}`);

      const created = await fetch(`${url}/api/v1/app`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Packed', uid: 'packed' }),
      });
      assert.equal(created.status, 201, await created.clone().text());
      const app = (await created.json()) as { id: string; uid: string };
      assert.equal(app.uid, 'packed');
      assert.match(app.id, /^app_/);
      assert.ok(existsSync(db), 'the SQLite file is where --db said');
    } finally {
      process.kill(-proc.pid!, 'SIGTERM');
      await exited;
    }
  });
});

function loggedUrl(proc: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`hookwell serve did not log its URL: ${out}`)), 30_000);
    proc.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`hookwell serve exited ${code}: ${out}`));
    });
  });
}
