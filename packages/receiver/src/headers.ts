export const HEADER_ID = 'webhook-id';
export const HEADER_TIMESTAMP = 'webhook-timestamp';
export const HEADER_SIGNATURE = 'webhook-signature';

// Svix sends the same values under its own brand prefix; accepting both lets
// receivers switch senders without code changes.
export const SVIX_HEADER_ID = 'svix-id';
export const SVIX_HEADER_TIMESTAMP = 'svix-timestamp';
export const SVIX_HEADER_SIGNATURE = 'svix-signature';

/** Static shared key header, as sent by Metriport and by Hookwell endpoints configured with one. */
export const KEY_HEADER = 'x-webhook-key';
/** Set by Hookwell on every delivery; the payload itself may not name its type. */
export const EVENT_TYPE_HEADER = 'x-hookwell-event-type';

export const SECRET_PREFIX = 'whsec_';
/** ed25519 secret (signing) key, as serialised by Svix: base64 of seed + public key (64 bytes). */
export const SECRET_KEY_PREFIX = 'whsk_';
/** ed25519 public (verification) key: base64 of the 32-byte raw key. */
export const PUBLIC_KEY_PREFIX = 'whpk_';

export const SIGNATURE_VERSION = 'v1';
export const ASYMMETRIC_SIGNATURE_VERSION = 'v1a';
