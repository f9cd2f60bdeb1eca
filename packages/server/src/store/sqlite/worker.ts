// The thread that owns the SQLite file. Every store call arrives here as a message, so
// statement execution and the disk syncs of commits happen off the thread serving HTTP.
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from './store.js';
import { encodeError, type Call, type Reply } from './protocol.js';

const port = parentPort!;
let store: SqliteStore;
try {
  store = SqliteStore.open((workerData as { path: string }).path);
  port.postMessage([{ id: 0, ok: true, value: null }] satisfies Reply[]);
} catch (err) {
  port.postMessage([{ id: 0, ok: false, error: encodeError(err) }] satisfies Reply[]);
  process.exit(1);
}

// The writes of one group commit all settle at once, after it: their replies leave together.
let outbox: Reply[] = [];
function reply(r: Reply): void {
  if (outbox.push(r) === 1) queueMicrotask(sendReplies);
}
function sendReplies(): void {
  const replies = outbox;
  outbox = [];
  port.postMessage(replies);
}

port.on('message', (calls: Call[]) => {
  for (const call of calls) {
    const method = (store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[call.method];
    if (typeof method !== 'function') {
      reply({ id: call.id, ok: false, error: { name: 'Error', message: `no store method ${call.method}` } });
      continue;
    }
    method.apply(store, call.args).then(
      (value) => reply({ id: call.id, ok: true, value }),
      (err: unknown) => reply({ id: call.id, ok: false, error: encodeError(err) }),
    );
  }
});
