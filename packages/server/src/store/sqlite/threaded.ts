import { Worker } from 'node:worker_threads';
import type { Application } from '../../domain/types.js';
import type { Store } from '../store.js';
import { decodeError, type Call, type Reply } from './protocol.js';

/**
 * The SQLite store run on a thread of its own (see worker.ts). The thread serving HTTP then
 * spends no time executing statements or waiting for commits to reach the disk; a message
 * is still answered 202 only once its commit is durable there.
 *
 * Lease offers are functions of the dispatcher and cannot cross to the thread, so new
 * deliveries are left pending and claimed; the application cache lives on this side.
 */
export async function openThreadedSqlite(path: string): Promise<Store> {
  const worker = new Worker(new URL('./worker-entry.js', import.meta.url), { workerData: { path } });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let nextId = 1;
  let outbox: Call[] = [];
  /** A batch of calls went to the thread and it has not replied since. */
  let sentSinceReply = false;
  let failure: Error | null = null;

  const ready = new Promise<void>((resolve, reject) => {
    pending.set(0, { resolve: () => resolve(), reject });
  });
  worker.on('message', (replies: Reply[]) => {
    // The thread is between commits: what waited meanwhile goes before anything else runs.
    sentSinceReply = false;
    if (outbox.length > 0) sendCalls();
    for (const reply of replies) {
      const p = pending.get(reply.id);
      if (p === undefined) continue;
      pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.value);
      else p.reject(decodeError(reply.error));
    }
  });
  const failAll = (err: Error) => {
    failure = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('error', (err) => failAll(err));
  worker.on('exit', (code) => failAll(new Error(`the SQLite thread exited (code ${code})`)));
  await ready;

  // Requests read in one pass of the event loop (one per connection with data) make their
  // calls one after another; they go to the thread together once the pass is over. And
  // once a batch has gone, the next waits for the thread's next reply: the thread takes
  // its messages only between commits anyway, and every message that wakes it costs both
  // threads a context switch. Under load that halves the messages; idle, nothing waits.
  function sendCalls(): void {
    const calls = outbox;
    outbox = [];
    sentSinceReply = true;
    if (failure === null) worker.postMessage(calls);
  }
  const call = (method: string, args: unknown[]): Promise<unknown> => {
    if (failure !== null) return Promise.reject(failure);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      if (outbox.push({ id, method, args }) === 1 && !sentSinceReply) setImmediate(sendIfAny);
    });
  };
  const sendIfAny = () => {
    if (outbox.length > 0 && !sentSinceReply) sendCalls();
  };

  // This process is the file's only writer, so clearing on each change keeps it exact.
  const apps = new Map<string, Application>();
  const own: Partial<Store> = {
    leasesOnCreate: false,
    async getApp(ref) {
      const cached = apps.get(ref);
      if (cached !== undefined) return cached;
      const app = (await call('getApp', [ref])) as Application | null;
      if (app !== null) {
        if (apps.size > 10_000) apps.clear();
        apps.set(ref, app);
      }
      return app;
    },
    async updateApp(id, fields) {
      apps.clear();
      const app = (await call('updateApp', [id, fields])) as Application;
      apps.clear();
      return app;
    },
    async deleteApp(id) {
      apps.clear();
      await call('deleteApp', [id]);
      apps.clear();
    },
    createMessage(appId, input, options) {
      return call('createMessage', [appId, input, { onlyEndpointId: options?.onlyEndpointId }]) as ReturnType<Store['createMessage']>;
    },
    async close() {
      if (failure === null) await call('close', []);
      await worker.terminate();
    },
  };
  return new Proxy(own as Store, {
    get(target, prop) {
      if (prop in target) return target[prop as keyof Store];
      // Not a thenable, and no symbols: only Store methods are forwarded.
      if (typeof prop !== 'string' || prop === 'then') return undefined;
      return (...args: unknown[]) => call(prop, args);
    },
  });
}
