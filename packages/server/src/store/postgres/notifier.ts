import pg from 'pg';
import type { Logger } from 'pino';

/** The channel workers listen on: processes sharing a database but not a schema do not wake one another. */
export function workChannel(schema: string | null): string {
  return schema === null ? 'hookwell_work' : `hookwell_work_${schema}`;
}

/**
 * Wakes idle workers when new work is written, through PostgreSQL's LISTEN/NOTIFY.
 *
 * Writers `signal()`: at most one NOTIFY is in flight per process, and signals that
 * arrive meanwhile are folded into one more, so a burst of messages costs a few
 * notifications, not one each. The NOTIFY is sent after the work's own commit; if it is
 * lost (a crash between the two, a dropped connection), workers still poll once a second.
 *
 * Workers `listen()` on a connection of their own, reconnecting with back-off when it
 * drops; each (re)connection also wakes them, since work may have come in meanwhile.
 */
export class WorkNotifier {
  readonly channel: string;
  private sending = false;
  private again = false;
  private listener: pg.Client | null = null;
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly url: string,
    private readonly pool: pg.Pool,
    schema: string | null,
    private readonly log: Logger,
  ) {
    this.channel = workChannel(schema);
  }

  /** New work is committed: wake the workers. Never throws; a failure is only logged at debug level. */
  signal(): void {
    if (this.closed) return;
    if (this.sending) {
      this.again = true;
      return;
    }
    this.sending = true;
    this.pool
      .query('SELECT pg_notify($1, $2)', [this.channel, ''])
      .catch((err: unknown) => this.log.debug({ err }, 'could not notify workers; they will poll'))
      .finally(() => {
        this.sending = false;
        if (this.again) {
          this.again = false;
          this.signal();
        }
      });
  }

  /** Calls `onWork` on every notification, and after every (re)connection. */
  listen(onWork: () => void): void {
    let delay = 100;
    let reportedDown = false;
    const connect = async () => {
      this.retryTimer = null;
      if (this.closed) return;
      const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 5000 });
      let lost = false;
      const reconnect = (err?: unknown) => {
        if (lost) return;
        lost = true;
        client.removeAllListeners('notification');
        client.end().catch(() => undefined);
        if (this.listener === client) this.listener = null;
        if (this.closed) return;
        if (!reportedDown) {
          reportedDown = true;
          this.log.warn({ err }, 'lost the connection that listens for new work; reconnecting (polling meanwhile)');
        }
        this.retryTimer = setTimeout(() => void connect(), delay);
        this.retryTimer.unref();
        delay = Math.min(delay * 2, 5000);
      };
      client.on('error', (err) => reconnect(err));
      client.on('end', () => reconnect());
      client.on('notification', () => onWork());
      try {
        await client.connect();
        await client.query(`LISTEN ${this.channel}`);
      } catch (err) {
        reconnect(err);
        return;
      }
      if (this.closed) {
        lost = true;
        await client.end().catch(() => undefined);
        return;
      }
      this.listener = client;
      if (reportedDown) this.log.info('listening for new work again');
      reportedDown = false;
      delay = 100;
      onWork();
    };
    void connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.listener;
    this.listener = null;
    if (client !== null) {
      client.removeAllListeners('end');
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
