// A Hookwell server in a child process, for tests that kill it.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TOKEN } from './helpers.js';

const BIN = fileURLToPath(new URL('../bin/hookwell.js', import.meta.url));

export interface Child {
  proc: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

/**
 * Starts `hookwell serve` on a SQLite file; resolves once it logs its URL (so the log level
 * must stay at info or below). `env` adds HOOKWELL_* settings.
 */
export function startChild(db: string, port: number, env: Record<string, string> = {}): Promise<Child> {
  const proc = spawn(process.execPath, [BIN, 'serve', '--port', String(port), '--db', db], {
    env: {
      ...process.env,
      HOOKWELL_ADMIN_TOKEN: TOKEN,
      HOOKWELL_ALLOW_PRIVATE_TARGETS: 'true',
      HOOKWELL_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not start: ${out}`));
    }, 20_000);
    proc.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1]!, exited });
      }
    });
    proc.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    proc.on('exit', () => reject(new Error(`server exited early: ${out}`)));
  });
}

/** Calls a child's management API with the admin token. */
export async function childApi(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Runs `hookwell <args>` to its end (killed after 30 s); `env` is added to this process's environment. */
export function runHookwell(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
