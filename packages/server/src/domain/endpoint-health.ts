// Endpoints that look after themselves: the rules that say when an endpoint has failed long
// enough to be disabled, and when a delivery's failures are worth telling about.
import { Status, type StatusCode } from './types.js';

/**
 * A delivery's failures are announced (message.attempt.failing) on its fourth failed attempt
 * in a row, as Svix does: early enough to act before the retries run out, late enough that a
 * receiver's brief restart goes unreported.
 */
export const FAILING_AFTER_ATTEMPTS = 4;

/** Why an endpoint was disabled, as kept beside it and shown as `disabledReason`. */
export const DISABLED_REASONS = {
  gone: 'the endpoint answered 410 Gone',
  manual: 'disabled through the API',
  failing: (afterMs: number) => `every attempt failed for ${Math.round(afterMs / 1000)} seconds`,
} as const;

/** One endpoint's attempts in a batch of records, as its failing-since time needs them. */
export interface EndpointOutcome {
  endpointId: string;
  /** The last successful attempt's time, or null when none succeeded. */
  okAt: number | null;
  /** The first failed attempt after `okAt` (after any, when null); null when none failed after it. */
  failFrom: number | null;
  /** The last failed attempt's time, or null. */
  failAt: number | null;
  /** An attempt answered 410 Gone: the endpoint is disabled at once. */
  gone: boolean;
}

interface Outcome {
  endpointId: string;
  status: StatusCode;
  at: number;
  gone: boolean;
}

/**
 * Folds a batch of attempts into one outcome per endpoint, so the store updates each endpoint
 * once per batch whatever the batch holds. An endpoint's failing streak starts at its first
 * failure after a success, and a success ends it.
 */
export function endpointOutcomes(attempts: Iterable<Outcome>): EndpointOutcome[] {
  const byEndpoint = new Map<string, EndpointOutcome>();
  for (const a of [...attempts].sort((x, y) => x.at - y.at)) {
    let o = byEndpoint.get(a.endpointId);
    if (o === undefined) {
      o = { endpointId: a.endpointId, okAt: null, failFrom: null, failAt: null, gone: false };
      byEndpoint.set(a.endpointId, o);
    }
    if (a.gone) o.gone = true;
    if (a.status === Status.Success) {
      o.okAt = a.at;
      o.failFrom = null;
    } else {
      o.failFrom ??= a.at;
      o.failAt = a.at;
    }
  }
  return [...byEndpoint.values()];
}

export type AttemptEventType = 'message.attempt.failing' | 'message.attempt.exhausted' | 'message.attempt.recovered';

/**
 * What an attempt's outcome is worth telling, if anything: its delivery's fourth failure in a
 * row (more retries to come), its last failure (none to come), or a success after a failing
 * warning went out for it. `attemptsMade` counts this one, in its delivery's current round.
 */
export function attemptEvent(attemptsMade: number, succeeded: boolean, retrying: boolean): AttemptEventType | null {
  if (succeeded) return attemptsMade > FAILING_AFTER_ATTEMPTS ? 'message.attempt.recovered' : null;
  if (!retrying) return 'message.attempt.exhausted';
  return attemptsMade === FAILING_AFTER_ATTEMPTS ? 'message.attempt.failing' : null;
}

/** The operational webhooks' event types, Svix's names. */
export const OPERATIONAL_EVENT_TYPES = [
  'endpoint.created',
  'endpoint.updated',
  'endpoint.deleted',
  'endpoint.disabled',
  'endpoint.enabled',
  'message.attempt.failing',
  'message.attempt.exhausted',
  'message.attempt.recovered',
] as const;
export type OperationalEventType = (typeof OPERATIONAL_EVENT_TYPES)[number];

/**
 * The uid of the internal application whose endpoints are the operational webhook endpoints.
 * It is Hookwell's own: the application list, count-active and the statistics over all
 * applications leave it out (the operational-webhook routes reach it).
 */
export const OPERATIONAL_APP_UID = 'hookwell-operational';
