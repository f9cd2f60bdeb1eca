// The protocols a request starts, apart from how it arrived: api/ parses and presents,
// these do the work, in the store and with the dispatchers and the sender.
import type { Logger } from 'pino';
import type { ContentLinks } from '../delivery/content-links.js';
import type { WorkSignals } from '../delivery/dispatcher.js';
import type { Store } from '../store/store.js';
import { Backfills } from './backfills.js';
import { Content } from './content.js';
import { Endpoints, type Pinger } from './endpoints.js';
import { Erasure } from './erasure.js';
import { Messages } from './messages.js';
import type { Operational } from './operational.js';
import { Requeue } from './requeue.js';
import { Tasks } from './tasks.js';

export type { Backfills, Content, Endpoints, Erasure, Messages, Operational, Requeue, Tasks };

export interface Core {
  messages: Messages;
  endpoints: Endpoints;
  requeue: Requeue;
  backfills: Backfills;
  content: Content;
  operational: Operational;
  erasure: Erasure;
  tasks: Tasks;
}

/** What the protocols work with; built once at start-up. */
export interface CoreDeps {
  store: Store;
  /** The dispatchers of this process and, through the store's notifier, of others. */
  signals: WorkSignals;
  sender: Pinger;
  links: Pick<ContentLinks, 'read' | 'madeUnder'>;
  log: Logger;
  /** Built before the core, since the dispatcher reports to it. */
  operational: Operational;
  /** How long a message's content is kept when it does not say (ms). */
  retentionMs: number;
}

export function buildCore(d: CoreDeps): Core {
  const tasks = new Tasks(d.store, d.log);
  return {
    tasks,
    messages: new Messages(d.store, d.signals, d.retentionMs),
    endpoints: new Endpoints(d.store, d.signals, d.sender, d.operational),
    requeue: new Requeue(d.store, d.signals, d.log, tasks),
    backfills: new Backfills(d.store, d.signals, d.retentionMs),
    content: new Content(d.store, d.links),
    operational: d.operational,
    erasure: new Erasure(d.store, d.signals, d.log, tasks),
  };
}
