export const HEADER_ID = 'webhook-id';
export const HEADER_TIMESTAMP = 'webhook-timestamp';
export const HEADER_SIGNATURE = 'webhook-signature';

// Svix sends the same values under its own brand prefix; accepting both lets
// receivers switch senders without code changes.
export const SVIX_HEADER_ID = 'svix-id';
export const SVIX_HEADER_TIMESTAMP = 'svix-timestamp';
export const SVIX_HEADER_SIGNATURE = 'svix-signature';

export const SECRET_PREFIX = 'whsec_';
export const SIGNATURE_VERSION = 'v1';
