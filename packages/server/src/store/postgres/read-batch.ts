/** Reads the values of several keys with one query; a key missing from the map has none. */
export type BatchRead<V> = (keys: string[]) => Promise<Map<string, V>>;

interface Waiter<V> {
  resolve: (v: V | undefined) => void;
  reject: (e: unknown) => void;
}

/**
 * Lookups asked for within one turn of the event loop, made with one query at its end.
 * Every request for a message looks its application up first: at ingest rates a query
 * each cost more than writing the messages in batches (about 60 µs of this process's time
 * and 110 µs of the database's per lookup, against 35 and 30 for the whole batched write),
 * and one query for all the lookups of a turn costs about as much as one of them.
 *
 * Nothing is cached: each lookup is answered by a query sent after it was asked for, so it
 * sees everything committed before it was (a lookup never shares a query already under way).
 */
export class ReadBatch<V> {
  private pending = new Map<string, Waiter<V>[]>();

  constructor(private readonly read: BatchRead<V>) {}

  get(key: string): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) setImmediate(() => this.flush());
      const waiters = this.pending.get(key);
      if (waiters === undefined) this.pending.set(key, [{ resolve, reject }]);
      else waiters.push({ resolve, reject });
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = new Map();
    this.read([...batch.keys()]).then(
      (values) => {
        for (const [key, waiters] of batch) for (const w of waiters) w.resolve(values.get(key));
      },
      (err: unknown) => {
        for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
      },
    );
  }
}
