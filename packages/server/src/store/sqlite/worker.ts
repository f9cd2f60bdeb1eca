// The thread that owns the SQLite file. Every store call arrives here as a message, so
// statement execution and the disk syncs of commits happen off the thread serving HTTP.
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from './store.js';
import { encodeError, type Call, type Reply } from './protocol.js';

const port = parentPort!;
let store: SqliteStore;
try {
  store = SqliteStore.open((workerData as { path: string }).path);
  port.postMessage({ id: 0, ok: true, value: null } satisfies Reply);
} catch (err) {
  port.postMessage({ id: 0, ok: false, error: encodeError(err) } satisfies Reply);
  process.exit(1);
}

port.on('message', (call: Call) => {
  const method = (store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[call.method];
  if (typeof method !== 'function') {
    port.postMessage({ id: call.id, ok: false, error: { name: 'Error', message: `no store method ${call.method}` } } satisfies Reply);
    return;
  }
  method.apply(store, call.args).then(
    (value) => port.postMessage({ id: call.id, ok: true, value } satisfies Reply),
    (err: unknown) => port.postMessage({ id: call.id, ok: false, error: encodeError(err) } satisfies Reply),
  );
});
