export { sign, signatureHeader, generateSecret } from './sign.js';
export {
  verify,
  WebhookVerificationError,
  DEFAULT_TOLERANCE_SECONDS,
  type VerifyOptions,
  type WebhookHeaders,
  type WebhookVerificationErrorCode,
} from './verify.js';
export {
  HEADER_ID,
  HEADER_TIMESTAMP,
  HEADER_SIGNATURE,
  SVIX_HEADER_ID,
  SVIX_HEADER_TIMESTAMP,
  SVIX_HEADER_SIGNATURE,
  SECRET_PREFIX,
  SIGNATURE_VERSION,
} from './headers.js';
