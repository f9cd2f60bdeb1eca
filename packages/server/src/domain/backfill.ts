// Historical backfills: what the records of an upload must be, how they fall into chunks,
// and the notifications that announce them. Vital's shape: one
// historical.data.<resource>.created per chunk, most recent first, is_final on the last.
import { ValidationError } from './errors.js';
import { parseKeyPath, valueAt, type PathStep } from './ordering.js';
import type { Backfill, BackfillChunk, MessageInput } from './types.js';

/** Most chunks one backfill may have: each is a row and, notified each, a message. */
export const MAX_CHUNKS = 10_000;

/**
 * Where a record's date is looked for when the upload names no `dateField`: the fields
 * that date the records of the health catalogue's resources (timeseries samples, workouts,
 * sleep, daily summaries, intervals, sessions, cycles), the first present winning.
 */
export const DATE_FIELDS = ['timestamp', 'time_start', 'bedtime_start', 'start', 'session_start', 'period_start', 'calendar_date', 'date'];

/** Reads each record's date, by `dateField` (a simple JSON path) or by DATE_FIELDS. */
export function dateReader(dateField: string | undefined): (record: unknown, n: number) => number {
  let steps: PathStep[] | null = null;
  if (dateField !== undefined) {
    const parsed = parseKeyPath(dateField);
    if ('error' in parsed) throw ValidationError.field(['query', 'dateField'], parsed.error);
    steps = parsed.steps;
  }
  return (record, n) => {
    let value: unknown;
    let where: string;
    if (steps !== null) {
      value = valueAt(record, steps);
      where = `"${dateField}"`;
    } else {
      const name = DATE_FIELDS.find((f) => Object.hasOwn(record as object, f));
      value = name === undefined ? undefined : (record as Record<string, unknown>)[name];
      where = name === undefined ? `any of ${DATE_FIELDS.join(', ')} (or name one with dateField)` : `"${name}"`;
    }
    if (value === undefined || value === null) throw recordProblem(n, `record ${n} has no date at ${where}`, 'value_error.missing');
    const ms = typeof value === 'string' ? Date.parse(value) : NaN;
    if (!Number.isFinite(ms)) {
      throw recordProblem(n, `record ${n} has ${JSON.stringify(value)} at ${where}, which is not an ISO 8601 date`, 'value_error.date');
    }
    return ms;
  };
}

export function recordProblem(n: number, msg: string, type = 'value_error'): ValidationError {
  return ValidationError.field(['body', `record ${n}`], msg, type);
}

/**
 * Follows an upload record by record: checks that dates never increase (newest first) and
 * keeps each chunk's window. Holds one small entry per chunk, at most MAX_CHUNKS.
 */
export class ChunkPlan {
  readonly chunks: Omit<BackfillChunk, 'msgId'>[] = [];
  private last = Infinity;
  count = 0;

  constructor(private readonly chunkSize: number) {}

  add(date: number): void {
    const n = this.count + 1;
    if (date > this.last) {
      throw recordProblem(
        n,
        `record ${n} (${new Date(date).toISOString()}) is newer than record ${n - 1} (${new Date(this.last).toISOString()}): send records newest first`,
        'value_error.order',
      );
    }
    const index = Math.floor(this.count / this.chunkSize);
    if (index >= MAX_CHUNKS) {
      throw recordProblem(n, `record ${n} would start chunk ${index + 1}, over the limit of ${MAX_CHUNKS} chunks per backfill; send a larger chunkSize`, 'value_error.too_many_chunks');
    }
    const chunk = this.chunks[index];
    if (chunk === undefined) this.chunks.push({ index, startDate: date, endDate: date, records: 1 });
    else {
      chunk.endDate = date;
      chunk.records++;
    }
    this.last = date;
    this.count++;
  }
}

/**
 * The notifications of a backfill, in the order they go out. start_date is the newest
 * record's date and end_date the oldest's, as in Vital's own sample: the chunks walk back
 * in time. The link to the records (data.content_url) is added to each delivery when sent.
 */
export function notices(bf: Backfill, chunks: Omit<BackfillChunk, 'msgId'>[]): MessageInput[] {
  const eventType = `historical.data.${bf.resource}.created`;
  const notice = (data: Record<string, unknown>, chunk: number | null): MessageInput => ({
    eventId: null,
    eventType,
    payload: JSON.stringify({
      event_type: eventType,
      data: { user_id: bf.userId, provider: bf.provider, ...data, backfill_id: bf.id, chunks: chunks.length },
    }),
    channels: null,
    tags: null,
    deliverAt: null,
    dataId: bf.id,
    backfill: { id: bf.id, chunk },
  });
  const iso = (ms: number) => new Date(ms).toISOString();
  if (bf.notify === 'once') {
    const records = chunks.reduce((n, c) => n + c.records, 0);
    return [notice({ start_date: iso(chunks[0]!.startDate), end_date: iso(chunks.at(-1)!.endDate), is_final: true, records }, null)];
  }
  return chunks.map((c) =>
    notice({ start_date: iso(c.startDate), end_date: iso(c.endDate), is_final: c.index === chunks.length - 1, chunk: c.index, records: c.records }, c.index),
  );
}

/** The records a notification's link leads to: [from, to) by seq. */
export function recordRange(bf: Backfill, chunk: number | null): { from: number; to: number } {
  if (chunk === null) return { from: 0, to: bf.records };
  return { from: chunk * bf.chunkSize, to: Math.min(bf.records, (chunk + 1) * bf.chunkSize) };
}
