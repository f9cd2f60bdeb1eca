// `npm start` runs its script under `sh -c`, and npm forwards SIGINT and SIGTERM to that
// shell only. Unless the shell hands its process over to the server, the shell dies of the
// signal and the server keeps running with no parent: a supervisor that stops npm would
// leave a server holding the port and the database. Here the real npm runs the real script,
// is signalled, and the server must be gone and its port closed.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, freePort, tempDir, TOKEN } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Every process below `pid`, from /proc. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // The command name, in parentheses, may hold spaces: the fields after the last ")" are fixed.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
  }
  const found: number[] = [];
  const walk = (p: number) => {
    for (const c of parents.get(p) ?? []) {
      found.push(c);
      walk(c);
    }
  };
  walk(pid);
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const linux = process.platform === 'linux';

describe('signalling npm start stops the server', { skip: linux ? false : 'reads /proc' }, () => {
  const started: ChildProcess[] = [];
  const servers: number[] = [];
  const dir = tempDir();

  after(() => {
    // Whatever a failed run left behind, by the ids this test saw.
    for (const pid of servers) if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (const p of started) if (p.exitCode === null) p.kill('SIGKILL');
    dir.cleanup();
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} to npm ends hookwell serve and closes its port`, { timeout: 120_000 }, async () => {
      const port = await freePort();
      // --ignore-scripts skips only prestart (the build, done once before the tests run):
      // the start script itself runs as under a plain `npm start`, through the same npm and `sh -c`.
      const npm = spawn('npm', ['start', '--ignore-scripts'], {
        cwd: ROOT,
        env: {
          ...process.env,
          HOOKWELL_ADMIN_TOKEN: TOKEN,
          HOOKWELL_DB: join(dir.dir, `${signal}.db`),
          HOOKWELL_PORT: String(port),
          HOOKWELL_LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      started.push(npm);
      let out = '';
      npm.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      npm.stderr!.on('data', (c: Buffer) => (out += c.toString()));
      const npmExited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));

      await eventually(async () => ((await portOpen(port)) ? true : undefined), 60_000, `the server to answer on ${port}: ${out}`);
      const below = descendants(npm.pid!);
      servers.push(...below);
      assert.ok(below.length > 0, 'npm runs the server below itself');

      npm.kill(signal);
      await eventually(async () => (below.every((pid) => !alive(pid)) ? true : undefined), 10_000, `every process below npm to exit: ${below.filter(alive).join(', ')}; ${out}`);
      assert.equal(await portOpen(port), false, 'the port is closed');
      await npmExited;
      // It stopped the orderly way, not by being cut off.
      assert.match(out, new RegExp(`"signal":"${signal}"`));
      assert.match(out, /"msg":"stopped"/);
    });
  }
});
