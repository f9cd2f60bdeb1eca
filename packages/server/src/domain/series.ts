// Time series for charts: fixed buckets over a range, every bucket present (a chart must
// show a quiet hour as zero, not skip it), and latency percentiles from counted durations.
import { Status, type StatusCode } from './types.js';

export const BUCKET_MS = { hour: 3_600_000, day: 86_400_000 } as const;
export type BucketName = keyof typeof BUCKET_MS;

/** A chart of more buckets than this is more points than a screen shows; a longer range takes a larger bucket. */
export const MAX_BUCKETS = 400;

/** How many attempts of one outcome took one duration, in one bucket (0 is the one starting at the range's start). */
export interface DurationCount {
  bucket: number;
  status: StatusCode;
  durationMs: number;
  count: number;
}

export interface SeriesPoint {
  start: number;
  success: number;
  fail: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
}

/**
 * The buckets' range: from `since` rounded down to a whole bucket (UTC), so hours start on
 * the hour and days at midnight, up to `until`. `count` may exceed MAX_BUCKETS; the caller refuses that.
 */
export function bucketRange(since: number, until: number, bucketMs: number): { start: number; count: number } {
  const start = Math.floor(since / bucketMs) * bucketMs;
  return { start, count: Math.max(0, Math.ceil((until - start) / bucketMs)) };
}

/** Nearest-rank percentile of a histogram sorted by value: the smallest value with at least p of the total at or below it. */
export function histogramPercentile(sorted: [value: number, count: number][], p: number): number | null {
  const total = sorted.reduce((n, [, c]) => n + c, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(p * total));
  let seen = 0;
  for (const [value, count] of sorted) {
    seen += count;
    if (seen >= rank) return value;
  }
  return sorted[sorted.length - 1]![0];
}

/** One point per bucket, oldest first; latency over both outcomes, as the receiver's answer time either way. */
export function attemptSeries(start: number, count: number, bucketMs: number, rows: DurationCount[]): SeriesPoint[] {
  const byBucket = new Map<number, DurationCount[]>();
  for (const r of rows) {
    const list = byBucket.get(r.bucket);
    if (list === undefined) byBucket.set(r.bucket, [r]);
    else list.push(r);
  }
  const points: SeriesPoint[] = [];
  for (let i = 0; i < count; i++) {
    const list = byBucket.get(i) ?? [];
    const durations = new Map<number, number>();
    let success = 0;
    let fail = 0;
    for (const r of list) {
      if (r.status === Status.Success) success += r.count;
      else if (r.status === Status.Fail) fail += r.count;
      durations.set(r.durationMs, (durations.get(r.durationMs) ?? 0) + r.count);
    }
    const sorted = [...durations].sort((a, b) => a[0] - b[0]);
    points.push({
      start: start + i * bucketMs,
      success,
      fail,
      latencyP50Ms: histogramPercentile(sorted, 0.5),
      latencyP95Ms: histogramPercentile(sorted, 0.95),
    });
  }
  return points;
}
