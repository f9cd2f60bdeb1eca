// The bounds of what the API stores, in one place: the request schemas (and so the OpenAPI
// document) carry them, and the checks that schemas cannot express use the same numbers.
// Svix's own bounds are kept where it has them (uids, names of event types, channels, tags,
// URLs); the others are Hookwell's, chosen well above any real use and well below what would
// let one request make a row, a delivery or a look-up expensive.

/** Largest value of an `integer` column (PostgreSQL int4), and so of any stored count or size. */
export const MAX_INT32 = 2_147_483_647;

export const LIMITS = {
  /** An application's name. Svix sets none. */
  name: 256,
  /** Descriptions of endpoints and event types. Svix sets none. */
  description: 4096,
  /** `metadata` of applications and endpoints: entries, and characters of a key and of a value. */
  metadataEntries: 64,
  metadataKey: 256,
  metadataValue: 1024,
  /** Endpoint headers: how many, and characters of a name and of a value. */
  headers: 64,
  headerName: 256,
  headerValue: 4096,
  /**
   * Bytes of all of an endpoint's headers together, as `name: value\r\n` lines. Node's HTTP
   * server takes 16 KiB of request headers by default and nginx 8 KiB a line; Hookwell's own
   * (signatures for two secrets, ids, content type) need well under 1 KiB of what is left.
   */
  headerBytes: 8192,
  /** Event types an endpoint subscribes to. */
  eventTypes: 1000,
  /** Feature flags of an event type. */
  featureFlags: 64,
  /** A list iterator: an id, or an event type name, optionally after "-". */
  iterator: 257,
  /** The `idempotency-key` header. */
  idempotencyKey: 256,
  /** The key given to ordering/skip, as a payload holds it (longer ones are stored as a digest). */
  orderingKeyValue: 65_536,
  /** How far ahead `deliverAt` may be: no further than the longest payload retention (90 days). */
  deliverAheadMs: 90 * 24 * 3600_000,
} as const;

/** Most delays in an event type's retry schedule, so most attempts of one delivery are one more. */
export const RETRY_SCHEDULE_MAX_LENGTH = 50;
/** The longest delay of an event type's retry schedule: a week. */
export const RETRY_DELAY_MAX_SECONDS = 7 * 24 * 3600;
