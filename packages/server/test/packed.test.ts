// What a user installs: the server packed by `npm pack` (with the workspace packages it depends
// on, packed the same way), installed into an empty project outside this repository, run with
// `npx hookwell`. Catches what the workspace hides: a file left out of `files`, a dependency
// only present because the monorepo hoists it, a bin that needs tsx or the sources.
// Third-party dependencies come from the npm registry (or npm's cache); better-sqlite3 may build
// from source, so the install has minutes, not seconds.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, README, readmeMessage, TOKEN } from './helpers.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SERVER_ROOT = fileURLToPath(new URL('../', import.meta.url));
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
    // The UI's build tools and libraries are bundled at build time, not installed.
    for (const dev of ['vite', 'preact', 'uplot']) assert.ok(!existsSync(join(project, 'node_modules', dev)), `${dev} is not installed with the server`);
    assert.ok(existsSync(join(installed, 'dist', 'ui', 'index.html')), 'the built UI is shipped');
    // tsc copies no .sql: the build does, and the schema is read from beside the built store.
    for (const dialect of ['sqlite', 'postgres']) {
      const folder = join('store', dialect, 'migrations');
      assert.deepEqual(readdirSync(join(installed, 'dist', folder)).sort(), readdirSync(join(SERVER_ROOT, 'src', folder)).sort(), `${dialect}'s migrations are shipped`);
    }
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

      // The web UI ships built: its page and the script it names are served from the package.
      const page = await fetch(`${url}/dashboard`);
      assert.equal(page.status, 200);
      const html = await page.text();
      const script = /<script[^>]+src="([^"]+)"/.exec(html)?.[1];
      assert.ok(script !== undefined, `no script in the served page: ${html}`);
      const js = await fetch(new URL(script, url));
      assert.equal(js.status, 200, `${script} answered ${js.status}`);
      assert.match(js.headers.get('content-type') ?? '', /javascript/);
    } finally {
      process.kill(-proc.pid!, 'SIGTERM');
      await exited;
    }
  });

  it("the image's start command and health check, run as the Dockerfile gives them, serve and answer ready", async () => {
    const image = dockerImage(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    assert.equal(image.user, 'node', 'the image runs as a user, not root');
    assert.deepEqual(image.volumes, ['/data']);
    assert.equal(image.env.HOOKWELL_DB, '/data/hookwell.db', "the SQLite file is on the image's volume");
    // The image's /app is a project that installed the packed packages, as this test's is; its
    // /data, a directory here. Only the listen address and port differ: a test listens on
    // loopback only, on a free port.
    const data = join(dir, 'data');
    mkdirSync(data, { mode: 0o700 });
    const here = (arg: string) => arg.replace(/^\/app(?=\/|$)/, project).replace(/^\/data(?=\/|$)/, data);
    const port = await freePort();
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
    for (const [k, v] of Object.entries(image.env)) env[k] = here(v);
    Object.assign(env, { HOOKWELL_HOST: '127.0.0.1', HOOKWELL_PORT: String(port), HOOKWELL_ADMIN_TOKEN: TOKEN });
    const check = () =>
      new Promise<number | null>((resolve) => {
        // With the image's own listen address (0.0.0.0), which the check reaches on loopback.
        const checkEnv = { ...env, HOOKWELL_HOST: image.env.HOOKWELL_HOST! };
        const p = spawn(here(image.healthcheck[0]!), image.healthcheck.slice(1).map(here), { cwd: project, env: checkEnv, stdio: 'ignore' });
        p.on('exit', (code) => resolve(code));
      });
    assert.equal(await check(), 1, 'the health check fails while nothing answers');

    const proc = spawn(here(image.cmd[0]!), image.cmd.slice(1).map(here), { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    try {
      await loggedUrl(proc);
      assert.equal(await check(), 0, 'the health check passes once the server is ready');
      assert.ok(existsSync(join(data, 'hookwell.db')), 'the database was made on the volume');
    } finally {
      proc.kill(image.stopSignal as NodeJS.Signals);
    }
    assert.equal(await exited, 0, 'the stop signal drains and exits cleanly');
  });

  it("the README's sending and receiving examples work between the packed server and the packed receiver", { timeout: 300_000 }, async () => {
    // As a customer's project would: the README's receiving code, verbatim but for its port and
    // a saveMeal that prints what it is given, in a plain .mjs file next to the installed
    // @hookwell/receiver, with Express from the registry.
    await run('npm', ['install', '--no-audit', '--no-fund', 'express@5'], { cwd: project, timeout: INSTALL_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 64 << 20 });
    const receiving = readmeBlock('## Receiving', '```js');
    assert.match(receiving, /\.listen\(3000\)/);
    writeFileSync(
      join(project, 'receiver.mjs'),
      `${receiving.replace('.listen(3000)', '.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("listening"))')}\n` +
        'function saveMeal(payload) {\n  console.log(JSON.stringify({ saved: payload }));\n}\n',
    );
    const sent = readmeMessage();

    const serverProc = spawn('npx', ['--no', '--', 'hookwell', 'serve', '--port', '0', '--db', join(dir, 'example.db')], {
      cwd: project,
      env: { ...process.env, HOOKWELL_ADMIN_TOKEN: TOKEN, HOOKWELL_LOG_LEVEL: 'info', HOOKWELL_ALLOW_PRIVATE_TARGETS: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const serverExited = new Promise<number | null>((resolve) => serverProc.on('exit', (code) => resolve(code)));
    let receiverProc: ChildProcess | undefined;
    try {
      const url = await loggedUrl(serverProc);
      const api = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(url + path, {
          method,
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      const port = await freePort();
      assert.equal((await api('POST', '/api/v1/app', { name: 'Acme Nutrition', uid: 'acme' })).status, 201);
      assert.equal((await api('POST', '/api/v1/app/acme/endpoint', { url: `http://127.0.0.1:${port}/webhooks`, uid: 'main' })).status, 201);
      const secret = (await api('GET', '/api/v1/app/acme/endpoint/main/secret')).body.key as string;

      receiverProc = spawn(process.execPath, ['receiver.mjs'], { cwd: project, env: { ...process.env, PORT: String(port), WEBHOOK_SECRET: secret }, stdio: ['ignore', 'pipe', 'pipe'] });
      const output = lines(receiverProc);
      await output.next('listening', 20_000);
      assert.equal((await api('POST', '/api/v1/app/acme/msg', sent)).status, 202);
      const saved = JSON.parse(await output.next('{"saved"', 20_000)) as { saved: unknown };
      assert.deepEqual(saved.saved, sent.payload, "the README's handler got the README's payload");
    } finally {
      receiverProc?.kill('SIGKILL');
      process.kill(-serverProc.pid!, 'SIGTERM');
      await serverExited;
    }
  });
});


/** The first code block of `fence` (e.g. "```js") in the README section that starts with `heading`. */
function readmeBlock(heading: string, fence: string): string {
  const section = README.slice(README.indexOf(heading));
  const start = section.indexOf(`${fence}\n`);
  assert.ok(start !== -1, `the README's "${heading}" has a ${fence} block`);
  const body = section.slice(start + fence.length + 1);
  return body.slice(0, body.indexOf('```'));
}

/** The final stage of a Dockerfile: its ENV, USER, VOLUME, STOPSIGNAL, and the exec forms of CMD and HEALTHCHECK. */
function dockerImage(text: string): { env: Record<string, string>; user: string | null; volumes: string[]; cmd: string[]; healthcheck: string[]; stopSignal: string } {
  const joined = text.replace(/\\\n/g, ' ');
  const stages = joined.split(/^FROM .*$/m);
  const lines = stages[stages.length - 1]!.split('\n').filter((l) => !l.trimStart().startsWith('#'));
  const image = { env: {} as Record<string, string>, user: null as string | null, volumes: [] as string[], cmd: [] as string[], healthcheck: [] as string[], stopSignal: 'SIGTERM' };
  for (const line of lines) {
    const m = /^(\w+)\s+(.*)$/.exec(line.trim());
    if (m === null) continue;
    const [, op, rest] = m as unknown as [string, string, string];
    if (op === 'ENV') for (const pair of rest.trim().split(/\s+/)) image.env[pair.split('=')[0]!] = pair.slice(pair.indexOf('=') + 1);
    if (op === 'USER') image.user = rest.trim();
    if (op === 'VOLUME') image.volumes = JSON.parse(rest) as string[];
    if (op === 'CMD') image.cmd = JSON.parse(rest) as string[];
    if (op === 'STOPSIGNAL') image.stopSignal = rest.trim();
    if (op === 'HEALTHCHECK') image.healthcheck = JSON.parse(rest.slice(rest.indexOf('CMD') + 3)) as string[];
  }
  return image;
}

/** The lines a child prints, waited for by what they start or hold. */
function lines(proc: ChildProcess): { next(containing: string, timeoutMs: number): Promise<string> } {
  let out = '';
  proc.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  proc.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return {
    async next(containing, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = out.split('\n').find((l) => l.includes(containing));
        if (line !== undefined) return line;
        if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`no line with ${containing}: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

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
