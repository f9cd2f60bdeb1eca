// The retry decision after an attempt, and the reading of Retry-After: pure functions, so
// every branch is pinned here with an injected clock and random source.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decide, parseRetryAfter, type Outcome } from '../src/delivery/schedule.js';
import { Status } from '../src/domain/types.js';

const NOW = 1_700_000_000_000;
/** Distinct delays, so using the wrong one of them shows. */
const SCHEDULE = [5, 300, 7200];
const fixed = (x: number) => () => x;
const outcome = (statusCode: number, retryAfterSeconds: number | null = null): Outcome => ({ statusCode, retryAfterSeconds });
/** The delay decided, in ms, for a pending retry. */
function delayOf(statusCode: number, attemptsMade: number, random = 0.5, retryAfterSeconds: number | null = null): number {
  const d = decide(SCHEDULE, attemptsMade, outcome(statusCode, retryAfterSeconds), NOW, fixed(random));
  assert.equal(d.next, Status.Pending, `status ${statusCode} after attempt ${attemptsMade} is retried`);
  assert.equal(d.disableEndpoint, false);
  assert.notEqual(d.nextAttemptAt, null);
  return d.nextAttemptAt! - NOW;
}

describe('decide', () => {
  it('ends a delivery as a success on any 2xx, whatever the attempt', () => {
    for (const code of [200, 201, 204, 299]) {
      for (const attempts of [1, SCHEDULE.length + 1]) {
        assert.deepEqual(decide(SCHEDULE, attempts, outcome(code), NOW, fixed(0.5)), { next: Status.Success, nextAttemptAt: null, disableEndpoint: false }, `${code}`);
      }
    }
  });

  it('treats 1xx, 3xx and no response (0) as failures', () => {
    for (const code of [0, 199, 300, 302, 304]) assert.equal(delayOf(code, 1), 5000, `${code}`);
  });

  it('fails for good and disables the endpoint on 410, even on the first attempt', () => {
    assert.deepEqual(decide(SCHEDULE, 1, outcome(410), NOW, fixed(0.5)), { next: Status.Fail, nextAttemptAt: null, disableEndpoint: true });
  });

  it('gives a schedule of n delays n + 1 attempts: the last fails for good, the one before is retried', () => {
    const n = SCHEDULE.length;
    assert.equal(delayOf(500, n), SCHEDULE[n - 1]! * 1000, `attempt ${n} of ${n + 1} is followed by the last delay`);
    assert.deepEqual(decide(SCHEDULE, n + 1, outcome(500), NOW, fixed(0.5)), { next: Status.Fail, nextAttemptAt: null, disableEndpoint: false });
    assert.deepEqual(decide(SCHEDULE, n + 2, outcome(500), NOW, fixed(0.5)), { next: Status.Fail, nextAttemptAt: null, disableEndpoint: false });
    assert.deepEqual(decide([], 1, outcome(500), NOW, fixed(0.5)), { next: Status.Fail, nextAttemptAt: null, disableEndpoint: false }, 'no retries at all');
  });

  it('waits schedule[attemptsMade - 1] after each attempt', () => {
    assert.deepEqual(
      [1, 2, 3].map((a) => delayOf(500, a)),
      SCHEDULE.map((s) => s * 1000),
    );
  });

  it('spreads each delay by ±20% with the random source: 0 is 0.8×, 0.5 is 1×, 1 is 1.2×', () => {
    assert.equal(delayOf(500, 2, 0), 240_000);
    assert.equal(delayOf(500, 2, 0.5), 300_000);
    assert.equal(delayOf(500, 2, 1), 360_000);
    assert.equal(delayOf(500, 2, 0.25), 270_000);
    // Rounded to whole ms.
    assert.equal(decide([0.0013], 1, outcome(500), NOW, fixed(0)).nextAttemptAt, NOW + 1);
  });

  it('honours Retry-After on 429 and on 503, within one to two times the jittered delay', () => {
    for (const code of [429, 503]) {
      // Base 300 s jittered to 240 s (random 0): 2× is 480 s.
      assert.equal(delayOf(code, 2, 0, 400), 400_000, `${code}: inside the bounds, as asked`);
      assert.equal(delayOf(code, 2, 0, 3600), 480_000, `${code}: capped at twice the delay`);
      assert.equal(delayOf(code, 2, 0, 10), 240_000, `${code}: raised to the delay`);
      assert.equal(delayOf(code, 2, 0, 0), 240_000, `${code}: 0 is raised to the delay`);
      assert.equal(delayOf(code, 2, 1, 3600), 720_000, `${code}: the cap follows the jitter`);
      assert.equal(delayOf(code, 2, 0, 240.5), 240_500, `${code}: fractional seconds from an HTTP date`);
      assert.equal(delayOf(code, 2, 0, null), 240_000, `${code}: no Retry-After`);
    }
  });

  it('ignores Retry-After on other statuses', () => {
    for (const code of [0, 400, 408, 500, 502, 504]) {
      assert.equal(delayOf(code, 2, 0, 400), 240_000, `${code}`);
    }
  });

  it('still ends a delivery on its last attempt, whatever Retry-After asks', () => {
    assert.equal(decide(SCHEDULE, SCHEDULE.length + 1, outcome(429, 1), NOW, fixed(0)).next, Status.Fail);
    assert.deepEqual(decide(SCHEDULE, 1, outcome(410, 60), NOW, fixed(0)), { next: Status.Fail, nextAttemptAt: null, disableEndpoint: true });
  });

  it('uses Math.random when no source is given, within the ±20% band', () => {
    for (let i = 0; i < 50; i++) {
      const at = decide(SCHEDULE, 1, outcome(500), NOW).nextAttemptAt! - NOW;
      assert.ok(at >= 4000 && at <= 6000, `${at}`);
    }
  });
});

describe('parseRetryAfter', () => {
  // A whole second: HTTP dates have no fraction, so dates built from it convert exactly.
  const now = Date.UTC(2026, 4, 14, 12, 0, 0);

  it('reads delay-seconds, trimmed, and the first of repeated headers', () => {
    assert.equal(parseRetryAfter('120', now), 120);
    assert.equal(parseRetryAfter('0', now), 0);
    assert.equal(parseRetryAfter('007', now), 7);
    assert.equal(parseRetryAfter(' 30 \t', now), 30);
    assert.equal(parseRetryAfter(['5', '60'], now), 5);
    assert.equal(parseRetryAfter(['junk', '60'], now), null);
  });

  it('has nothing to say for an absent or empty header', () => {
    assert.equal(parseRetryAfter(undefined, now), null);
    assert.equal(parseRetryAfter('', now), null);
    assert.equal(parseRetryAfter('   ', now), null);
    assert.equal(parseRetryAfter([], now), null);
  });

  it('reads an HTTP date as the seconds from now until it; a past one is 0', () => {
    assert.equal(parseRetryAfter(new Date(now + 120_000).toUTCString(), now), 120);
    assert.equal(parseRetryAfter('Thu, 14 May 2026 12:02:00 GMT', now), 120);
    assert.equal(parseRetryAfter(' Thu, 14 May 2026 12:02:00 GMT ', now), 120, 'trimmed');
    assert.equal(parseRetryAfter(new Date(now + 120_000).toUTCString(), now + 500), 119.5, 'not rounded');
    assert.equal(parseRetryAfter(new Date(now - 3_600_000).toUTCString(), now), 0);
    assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', now), 0);
  });

  it('reads the obsolete RFC 850 and asctime forms, both as GMT', () => {
    assert.equal(parseRetryAfter('Thursday, 14-May-26 12:02:00 GMT', now), 120);
    assert.equal(parseRetryAfter('Thu May 14 12:02:00 2026', now), 120);
    assert.equal(parseRetryAfter('Thu May  4 12:00:00 2026', Date.UTC(2026, 4, 4, 11, 59, 0)), 60, 'asctime pads the day with a space');
    const tz = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      assert.equal(parseRetryAfter('Thu May 14 12:02:00 2026', now), 120, 'asctime names no zone, and is GMT whatever the local zone');
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('refuses what is neither delay-seconds (1*DIGIT) nor an HTTP date', () => {
    // Date.parse takes each of these: "1.5" as 5 January 2001, "-1" and "+5" as 2001 too.
    for (const v of ['1.5', '-1', '+5', '1e3', '0x10', '12abc', '120 seconds', 'soon', '2026-05-14T12:02:00Z', '2026-05-14', 'May 14 2026', 'Thu, 14 May 2026 12:02:00', 'Thu, 14 May 2026 12:02:00 PST']) {
      assert.equal(parseRetryAfter(v, now), null, v);
    }
  });
});

describe('parseRetryAfter: letter case', () => {
  it('reads HTTP dates whatever the case of their names, as Date.parse does', () => {
    const now = Date.UTC(2026, 4, 14, 12, 0, 0);
    assert.equal(parseRetryAfter('thu, 14 may 2026 12:02:00 gmt', now), 120);
    assert.equal(parseRetryAfter('THURSDAY, 14-MAY-26 12:02:00 GMT', now), 120);
    assert.equal(parseRetryAfter('thu may 14 12:02:00 2026', now), 120);
  });
});
