// Entry point for any runtime with Web Crypto (Node 20+, Deno, Bun, edge workers).
// Nothing reachable from here imports `node:` modules or relies on Node-only globals.
export { verifyAsync, verifyKeyAsync } from './verify-async.js';
export {
  createHandler,
  memoryDedupeStore,
  type DedupeStore,
  type EventHandler,
  type FetchContext,
  type HandlerOptions,
  type HandlerResponse,
  type WebhookEvent,
  type WebhookHandler,
} from './handler.js';
export {
  eventTypeOf,
  payloadEventType,
  EVENT_TYPE_FIELDS,
  WebhookVerificationError,
  DEFAULT_TOLERANCE_SECONDS,
  type VerifyOptions,
  type WebhookHeaders,
  type WebhookVerificationErrorCode,
} from './core.js';
export * from './headers.js';
