// Node entry point: signing (used by the Hookwell server), sync and async verification, and the
// handler with its Node adapters. Runtimes without node:crypto import '@hookwell/receiver/web'.
export { sign, signatureHeader, generateSecret, generateKeyPair, publicKeyOf, type KeyPair } from './sign.js';
export { verifyAsync, verifyKeyAsync } from './verify-async.js';
export { eventTypeOf, payloadEventType, EVENT_TYPE_FIELDS } from './core.js';
export {
  createHandler,
  verify,
  verifyKey,
  memoryDedupeStore,
  WebhookVerificationError,
  DEFAULT_TOLERANCE_SECONDS,
  type NodeWebhookHandler,
  type ExpressLikeRequest,
  type ExpressLikeNext,
  type FastifyLikeInstance,
  type FastifyLikeReply,
  type FastifyLikeRequest,
  type FastifyPluginOptions,
  type DedupeStore,
  type EventHandler,
  type FetchContext,
  type HandlerOptions,
  type HandlerResponse,
  type WebhookEvent,
  type WebhookHandler,
  type VerifyOptions,
  type WebhookHeaders,
  type WebhookVerificationErrorCode,
} from './node.js';
export * from './headers.js';
