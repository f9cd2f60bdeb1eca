// The request pipeline shared by every adapter: key check → signature check → ping → dedupe →
// acknowledge → dispatch. Runtime-neutral (Web Crypto, Request/Response); the Node adapters in
// node.ts only turn their framework's request into (raw bytes, headers) and write the result.
import { eventTypeOf, headerReader, parsePayload, parseVerificationKeys, WebhookVerificationError, type WebhookHeaders } from './core.js';
import { verifyAsync, verifyKeyAsync } from './verify-async.js';
import { HEADER_ID, KEY_HEADER, SVIX_HEADER_ID } from './headers.js';

export interface WebhookEvent {
  /** `webhook-id` (or `svix-id`): stable across retries of the same message. */
  id: string | undefined;
  /**
   * The payload's `type`, `eventType`, `event_type`, `event` or `meta.type`; only when it names
   * none, the `x-hookwell-event-type` header (which the signature does not cover).
   */
  type: string | undefined;
  /** The verified, parsed JSON body. */
  payload: unknown;
  headers: Headers;
}

/** Its return value is ignored; a returned promise is awaited so its rejection reaches `onError`. */
export type EventHandler = (event: WebhookEvent) => unknown;

export interface DedupeStore {
  has(id: string): boolean | Promise<boolean>;
  /**
   * Records an id. May return `false` to say the id was already present (an atomic
   * set-if-absent such as Redis `SET NX`), which closes the race between `has` and `add`
   * when several processes share the store.
   */
  add(id: string): void | boolean | Promise<void | boolean>;
}

/** Bounded in-memory store; the least recently seen id is forgotten first. */
export function memoryDedupeStore(maxEntries = 10_000): DedupeStore {
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
  // A Map iterates in insertion order, so re-inserting on access makes the first key the LRU one.
  const ids = new Map<string, true>();
  return {
    has(id) {
      if (!ids.delete(id)) return false;
      ids.set(id, true);
      return true;
    },
    add(id) {
      const fresh = !ids.delete(id);
      ids.set(id, true);
      if (ids.size > maxEntries) ids.delete(ids.keys().next().value!);
      return fresh;
    },
  };
}

interface BaseHandlerOptions {
  /** Handlers by event type. Looked up as own properties only, so `constructor` and friends never match. */
  on: Record<string, EventHandler>;
  /** Called for events with no type or no handler in `on`. Without it they are acknowledged and dropped. */
  onUnknown?: EventHandler;
  /** Errors thrown by handlers (after the 200 was sent) and internal failures. Default console.error. */
  onError?: (error: unknown, event?: WebhookEvent) => void;
  /** Where seen `webhook-id`s are kept; `false` disables. Default: memoryDedupeStore(10_000). */
  dedupe?: DedupeStore | false;
  /** Allowed clock skew for `webhook-timestamp`, in seconds. Default 300. */
  toleranceSeconds?: number;
  /** Larger bodies are answered 413 without being buffered. Default 1 MiB. */
  maxBodyBytes?: number;
}

/** At least one of `secret` (Standard Webhooks signature) and `key` (static header key) is required; with both, both must pass. */
export type HandlerOptions = BaseHandlerOptions &
  (
    | { secret: string | string[]; key?: string; keyHeader?: string }
    | { secret?: undefined; key: string; keyHeader?: string }
  );

export interface HandlerResponse {
  status: number;
  /** JSON text; absent for an empty body. */
  body?: string;
  /** Headers beyond `content-type: application/json`, which goes with every body. */
  headers?: Record<string, string>;
  /** Dispatch to run once the response is on its way. Never rejects: failures go to `onError`. */
  after?: () => Promise<void>;
}

/** The `ctx` of Cloudflare Workers, Vercel and similar, so work after the response is not cut off. */
export interface FetchContext {
  waitUntil(promise: Promise<unknown>): void;
}

export interface WebhookHandler {
  /** The pipeline without any framework: raw body bytes in, status/body/after out. */
  handle(rawBody: string | Uint8Array, headers: WebhookHeaders): Promise<HandlerResponse>;
  /** Fetch API adapter (Hono, Deno, Bun, workers). Pass the platform's context to keep post-ack work alive. */
  fetch(request: Request, context?: FetchContext): Promise<Response>;
  readonly maxBodyBytes: number;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Metriport's check, `{"ping": "<random>"}`; only that exact shape, so no real event is mistaken for one. */
function pingOf(payload: unknown): string | undefined {
  if (!isRecord(payload) || Object.keys(payload).length !== 1) return undefined;
  return typeof payload.ping === 'string' ? payload.ping : undefined;
}

function toHeaders(headers: WebhookHeaders): Headers {
  if (typeof (headers as Headers).get === 'function') return headers as Headers;
  const out = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.append(name, v);
  }
  return out;
}

async function isRepeat(store: DedupeStore, id: string): Promise<boolean> {
  // No await between has() and add() for a synchronous store, so two concurrent deliveries
  // of one id cannot both pass.
  const seen = store.has(id);
  if (typeof seen === 'boolean' ? seen : await seen) return true;
  return (await store.add(id)) === false;
}

const json = (status: number, value: unknown): HandlerResponse => ({ status, body: JSON.stringify(value) });

export class BodyTooLargeError extends Error {}

/** Buffers a body, giving up as soon as it exceeds `limit` bytes. */
export async function readBody(chunks: AsyncIterable<Uint8Array>, limit: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLargeError(`Body exceeds ${limit} bytes`);
    parts.push(chunk);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.length;
  }
  return body;
}

async function* streamChunks(stream: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    // Stops the upload when we bail out early on a too-large body.
    await reader.cancel().catch(() => {});
  }
}

export const TOO_LARGE: HandlerResponse = json(413, { error: 'body_too_large' });
export const METHOD_NOT_ALLOWED: HandlerResponse = { ...json(405, { error: 'method_not_allowed' }), headers: { allow: 'POST' } };

/** Header list for a response: JSON content type when there is a body, plus its own headers. */
export function responseHeaders(result: HandlerResponse): Record<string, string> {
  return { ...(result.body === undefined ? {} : { 'content-type': 'application/json' }), ...result.headers };
}

/** Starts post-ack work on a later turn of the event loop, after the adapter has handed off the response. */
export function runAfter(after: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, 0)).then(after);
}

export function createHandler(options: HandlerOptions): WebhookHandler {
  const { secret, key, on, onUnknown } = options;
  const keyHeader = options.keyHeader ?? KEY_HEADER;
  const onError = options.onError ?? ((error: unknown) => console.error('[@hookwell/receiver]', error));
  const store = options.dedupe === false ? undefined : (options.dedupe ?? memoryDedupeStore());
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const verifyOptions = { toleranceSeconds: options.toleranceSeconds };

  // Configuration mistakes surface at start-up, not as a 401 on every delivery.
  if (secret === undefined && key === undefined) {
    throw new TypeError('createHandler needs a `secret` (Standard Webhooks signature) and/or a `key` (static header key)');
  }
  if (secret !== undefined) parseVerificationKeys(secret);
  if (key !== undefined && (typeof key !== 'string' || key === '')) throw new TypeError('`key` must be a non-empty string');

  async function authenticate(rawBody: string | Uint8Array, headers: WebhookHeaders): Promise<HandlerResponse | { payload: unknown }> {
    if (key !== undefined) {
      try {
        await verifyKeyAsync(headers, key, keyHeader);
      } catch (error) {
        // Metriport's convention for a wrong or missing key: 401 with no body at all.
        if (error instanceof WebhookVerificationError) return { status: 401 };
        throw error;
      }
    }
    try {
      return { payload: secret !== undefined ? await verifyAsync(rawBody, headers, secret, verifyOptions) : parsePayload(rawBody) };
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      // An authentic body that is not JSON is not a forgery, and says so.
      return json(error.code === 'invalid_payload' ? 400 : 401, { error: error.code });
    }
  }

  async function handle(rawBody: string | Uint8Array, headers: WebhookHeaders): Promise<HandlerResponse> {
    try {
      const auth = await authenticate(rawBody, headers);
      if (!('payload' in auth)) return auth;
      const { payload } = auth;

      const ping = pingOf(payload);
      if (ping !== undefined) return json(200, { pong: ping });

      const get = headerReader(headers);
      const id = get(HEADER_ID) || get(SVIX_HEADER_ID) || undefined;
      // Recorded before dispatch: once acknowledged the sender will not retry, so a handler
      // failure cannot be healed by a redelivery anyway, and concurrent repeats must not slip through.
      if (id !== undefined && store && (await isRepeat(store, id))) return { status: 200 };

      const eventHeaders = toHeaders(headers);
      const event: WebhookEvent = { id, type: eventTypeOf(payload, eventHeaders), payload, headers: eventHeaders };
      const fn = (event.type !== undefined && Object.hasOwn(on, event.type) ? on[event.type] : undefined) ?? onUnknown;
      if (!fn) return { status: 200 };
      return {
        status: 200,
        after: async () => {
          try {
            await fn(event);
          } catch (error) {
            onError(error, event);
          }
        },
      };
    } catch (error) {
      // E.g. the dedupe store is down: a 500 makes the sender retry later, which is what we want.
      onError(error);
      return json(500, { error: 'internal_error' });
    }
  }

  async function fetchAdapter(request: Request, context?: FetchContext): Promise<Response> {
    let result: HandlerResponse;
    if (request.method !== 'POST') result = METHOD_NOT_ALLOWED;
    else {
      try {
        const body = request.body ? await readBody(streamChunks(request.body), maxBodyBytes) : new Uint8Array();
        result = await handle(body, request.headers);
      } catch (error) {
        if (!(error instanceof BodyTooLargeError)) throw error;
        result = TOO_LARGE;
      }
    }
    if (result.after) {
      const work = runAfter(result.after);
      context?.waitUntil(work);
    }
    return new Response(result.body ?? null, { status: result.status, headers: responseHeaders(result) });
  }

  return { handle, fetch: fetchAdapter, maxBodyBytes };
}
