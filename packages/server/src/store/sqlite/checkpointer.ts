import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

interface CheckpointReport {
  /** Answers a 'now' (a catch-up), not the thread's own timer. */
  requested: boolean;
  /** Another checkpoint was running. */
  busy: boolean;
  /** Frames in the log since it last started over, and how many of them are in the file. */
  log: number;
  checkpointed: number;
  error?: string;
}

/**
 * The thread: its own connection, which only checkpoints (never on its own, and syncing as
 * the serving one does: the log before its pages are copied, the file after). Plain
 * JavaScript evaluated as the worker, so it runs the same from TypeScript sources and from
 * the build, with the driver this module resolves.
 */
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('wal_autocheckpoint = 0');
db.pragma('synchronous = NORMAL');
// Only a TRUNCATE waits (for readers of the log to finish; a PASSIVE checkpoint never
// does), and commits wait for it: briefly, since a reader may be a backup that takes minutes.
db.pragma('busy_timeout = 250');
const passive = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const truncate = db.prepare('PRAGMA wal_checkpoint(TRUNCATE)');
let timer = null;
function run(requested, checkpoint = passive) {
  try {
    const r = checkpoint.get();
    parentPort.postMessage({ requested, busy: r.busy === 1, log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ requested, busy: false, log: -1, checkpointed: -1, error: String(err && err.message) });
  }
}
function tick() {
  run(false);
  timer = setTimeout(tick, workerData.intervalMs);
}
parentPort.on('message', (m) => {
  if (m === 'now') return run(true);
  if (m === 'truncate') return run(true, truncate);
  clearTimeout(timer);
  db.close();
  parentPort.close();
});
timer = setTimeout(tick, workerData.intervalMs);
`;

/**
 * How often the thread checkpoints. Each checkpoint syncs the log and the file, beside the
 * serving thread's own syncs of the log: every 200 ms, the 202's p99 at 500 messages a second
 * was no better than with SQLite's own checkpoints; every second, it was about a fifth lower
 * (8.1 against 10.4 ms, medians of five alternating runs on a 2-core machine).
 */
const INTERVAL_MS = 1000;
/**
 * A log this long (about 40 MB of 4 kB pages) has not started over for a while: writes never
 * paused while every page of it was in the file. The serving thread then holds its next
 * commit back for one catch-up checkpoint (see GroupCommit.flush).
 */
const START_OVER_AT_FRAMES = 10_000;

/**
 * Copies the write-ahead log into the database file on a thread of its own, with its own
 * connection, so the serving thread never does. SQLite's own automatic checkpoint runs inside
 * the COMMIT that passes its threshold, on the thread that committed: every 10,000 pages
 * that commit took about 35 ms (writing the pages, syncing the log and the file), with every
 * request waiting behind it. Here the checkpoint is PASSIVE (it copies what is committed and
 * waits for no one) and runs every INTERVAL_MS, while commits go on.
 *
 * The log starts over from its beginning only at a commit that finds every page of it in
 * the file, which commits arriving during every checkpoint can prevent for ever. So once the
 * log is START_OVER_AT_FRAMES long, the serving thread asks for one more checkpoint and makes
 * no commit until it returns: a copy of the few pages since the last one, the event loop free
 * meanwhile; the commit after it starts the log over.
 */
export class Checkpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private catchUps: ((r: CheckpointReport) => void)[] = [];
  private startOver = false;
  /** Reports from the thread, for tests and diagnosis: the last, and how many there were. */
  last: CheckpointReport | null = null;
  reports = 0;

  /** `failed`: the thread could not run; the serving connection must checkpoint again itself. */
  constructor(file: string, failed: (err: Error) => void, intervalMs = INTERVAL_MS) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(THREAD, { eval: true, workerData: { driver, file, intervalMs } });
    this.worker.unref();
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.on('message', (r: CheckpointReport) => this.heard(r));
    this.worker.on('error', (err) => {
      this.startOver = false;
      for (const w of this.catchUps.splice(0)) w({ requested: true, busy: false, log: -1, checkpointed: -1, error: err.message });
      failed(err);
    });
  }

  /** The log should start over: hold commits back for a catch-up (catchUp). */
  get wantsCatchUp(): boolean {
    return this.startOver;
  }

  /** Checkpoints now, on the thread; resolves when done. Call with no commit to come until then. */
  catchUp(): Promise<CheckpointReport> {
    this.startOver = false;
    return this.ask('now');
  }

  /** Copies the whole log into the file and cuts it to nothing, on the thread; call with no commit to come until then. */
  async truncate(): Promise<boolean> {
    const r = await this.ask('truncate');
    if (r.error !== undefined) throw new Error(`emptying the write-ahead log failed: ${r.error}`);
    return !r.busy;
  }

  /** A checkpoint the thread runs at once, answered in turn with the others asked for. */
  private ask(request: 'now' | 'truncate'): Promise<CheckpointReport> {
    // Unreferenced, the thread would not keep the process alive for its answer.
    this.worker.ref();
    return new Promise((resolve) => {
      this.catchUps.push(resolve);
      this.worker.postMessage(request);
    });
  }

  /** Stops the thread, closing its connection; the serving connection must close after. */
  stop(): Promise<void> {
    this.worker.ref();
    this.worker.postMessage('stop');
    return this.exited;
  }

  private heard(r: CheckpointReport): void {
    this.last = r;
    this.reports++;
    if (r.requested) {
      this.catchUps.shift()?.(r);
      if (this.catchUps.length === 0) this.worker.unref();
    } else {
      this.startOver = r.log >= START_OVER_AT_FRAMES;
    }
  }
}
