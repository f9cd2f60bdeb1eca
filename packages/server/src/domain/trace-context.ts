/**
 * A W3C trace context (https://www.w3.org/TR/trace-context/): the `traceparent` and
 * `tracestate` headers a message was created under, kept with it and sent on its deliveries.
 */
export interface TraceContext {
  traceparent: string;
  /** null when the request sent none (or one that could not be kept). */
  tracestate: string | null;
}

// version-traceid-parentid-flags, lower-case hex. Version ff is invalid; a later version may
// append fields after a dash, which are dropped (the spec's rule for parsing a newer version).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
/** The spec's limit is 32 list members; a header past this length is not worth carrying. */
const TRACESTATE_MAX = 512;
// key=value members separated by commas, printable ASCII without "," and "=" in values.
const TRACESTATE = /^[\x20-\x7e]*$/;

/**
 * The trace context of the headers, or null when `traceparent` is absent or malformed: a
 * malformed one is ignored, not refused, as the spec asks of every participant (a message is
 * worth more than its trace). A `tracestate` too long or with bytes outside printable ASCII is
 * dropped and the traceparent kept.
 */
export function traceContextOf(traceparent: unknown, tracestate: unknown): TraceContext | null {
  if (typeof traceparent !== 'string' || traceparent.length < 55) return null;
  const m = TRACEPARENT.exec(traceparent.trim());
  if (m === null) return null;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === 'ff' || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  if (version === '00' && rest !== undefined) return null;
  const state = Array.isArray(tracestate) ? tracestate.join(',') : tracestate;
  const keptState = typeof state === 'string' && state.trim() !== '' && state.length <= TRACESTATE_MAX && TRACESTATE.test(state) ? state.trim() : null;
  return { traceparent: `00-${traceId}-${spanId}-${flags}`, tracestate: keptState };
}

/** The 32 hex digits of a traceparent's trace id. */
export const traceIdOf = (traceparent: string): string => traceparent.slice(3, 35);
