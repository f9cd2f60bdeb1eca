import { Status, type StatusCode } from '../domain/types.js';

export interface Outcome {
  /** 0 when no response arrived. */
  statusCode: number;
  /** Seconds asked for by a Retry-After header on 429 or 503. */
  retryAfterSeconds: number | null;
}

export interface Decision {
  next: StatusCode;
  nextAttemptAt: number | null;
  disableEndpoint: boolean;
}

export function isSuccess(statusCode: number): boolean {
  return statusCode >= 200 && statusCode < 300;
}

/**
 * What follows an attempt. `attemptsMade` counts this one; with a schedule of n delays
 * a delivery gets n + 1 attempts. Jitter of ±20% spreads retries of a burst.
 */
export function decide(schedule: number[], attemptsMade: number, outcome: Outcome, now: number, random: () => number = Math.random): Decision {
  if (isSuccess(outcome.statusCode)) return { next: Status.Success, nextAttemptAt: null, disableEndpoint: false };
  // 410 Gone is the receiver saying the endpoint no longer exists.
  if (outcome.statusCode === 410) return { next: Status.Fail, nextAttemptAt: null, disableEndpoint: true };
  if (attemptsMade > schedule.length) return { next: Status.Fail, nextAttemptAt: null, disableEndpoint: false };
  const base = schedule[attemptsMade - 1]! * 1000 * (0.8 + 0.4 * random());
  let delay = base;
  if ((outcome.statusCode === 429 || outcome.statusCode === 503) && outcome.retryAfterSeconds !== null) {
    delay = Math.min(Math.max(outcome.retryAfterSeconds * 1000, base), 2 * base);
  }
  return { next: Status.Pending, nextAttemptAt: now + Math.round(delay), disableEndpoint: false };
}

/** Retry-After is either delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return null;
  if (/^\d+$/.test(v.trim())) return Number(v.trim());
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, (at - now) / 1000);
}
