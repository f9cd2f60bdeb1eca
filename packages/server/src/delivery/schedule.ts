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

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '\\d{2}:\\d{2}:\\d{2}';
/** IMF-fixdate and the obsolete RFC 850 form, both in GMT (RFC 9110, 5.6.7). */
const ZONED_DATE = new RegExp(`^(?:${DAY}, \\d{2} ${MONTH} \\d{4}|(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, \\d{2}-${MONTH}-\\d{2}) ${TIME} GMT$`, 'i');
/** asctime, which names no zone: an HTTP date is always GMT. */
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} [ \\d]\\d ${TIME} \\d{4}$`, 'i');

/**
 * Retry-After is either delay-seconds (1*DIGIT) or an HTTP date. Anything else is null:
 * Date.parse alone would read "1.5", "-1" or "+5" as dates in 2001, and a date without
 * a zone as local time.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | null {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (v === undefined || v === '') return null;
  if (/^\d+$/.test(v)) return Number(v);
  const at = ZONED_DATE.test(v) ? Date.parse(v) : ASCTIME_DATE.test(v) ? Date.parse(`${v} GMT`) : NaN;
  return Number.isNaN(at) ? null : Math.max(0, (at - now) / 1000);
}
