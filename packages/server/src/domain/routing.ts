/**
 * Whether an endpoint's filters let a message through: its event types, if it lists any,
 * must include the message's; its channels, if it lists any, must share one with the
 * message's. An endpoint with neither receives everything.
 */
export function endpointMatches(
  ep: { eventTypes: string[] | null; channels: string[] | null },
  msg: { eventType: string; channels: string[] | null },
): boolean {
  if (ep.eventTypes !== null && !ep.eventTypes.includes(msg.eventType)) return false;
  if (ep.channels !== null) {
    if (msg.channels === null || !msg.channels.some((c) => ep.channels!.includes(c))) return false;
  }
  return true;
}

/** Svix Play's inbound URLs, which a platform moved off Svix may still have endpoints at. */
export const SVIX_PLAY_URL_PREFIX = 'https://play.svix.com/';
