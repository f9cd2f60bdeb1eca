import { identifierPaths } from '../catalog.js';
import { newestSchema } from '../domain/payloads.js';
import type { EventType } from '../domain/types.js';
import type { Work } from '../store/store.js';
import { pick, type ContentLinks } from './content-links.js';

/**
 * Thin deliveries: instead of the payload, its type, time, the identifiers its event type's
 * schema marks with `"x-identifier": true`, and a signed link to the full content:
 *
 *   {"type": "daily.data.glucose.created", "timestamp": "…", "thin": true,
 *    "identifiers": {"data": {"user_id": "…", "id": "…"}},
 *    "content": {"url": "https://…/api/v1/content/msg_…?token=…", "expires_at": "…"}}
 *
 * Sent to endpoints in thin mode, and to any endpoint for a payload over its
 * maxPayloadBytes. Event types are read at most once a second per name.
 */
export class ThinPayloads {
  private readonly paths = new Map<string, { at: number; paths: string[][] }>();

  constructor(
    private readonly links: ContentLinks,
    private readonly lookup: (name: string) => Promise<EventType | null>,
    private readonly ttlMs = 1000,
  ) {}

  /** Whether this attempt goes out thin. */
  isThin(w: Work): boolean {
    return w.payloadMode === 'thin' || (w.maxPayloadBytes !== null && Buffer.byteLength(w.payload) > w.maxPayloadBytes);
  }

  /** The body of a thin attempt, with a fresh link. */
  async body(w: Work, now = Date.now()): Promise<string> {
    const link = this.links.make(w.appId, w.msgId, w.endpointId, w.secrets[0]!, now);
    let identifiers: Record<string, unknown> = {};
    try {
      identifiers = pick(JSON.parse(w.payload), await this.identifierPaths(w.eventType));
    } catch {
      // A type whose schema cannot be read, or a payload that is not an object: identifiers
      // are left out, the link still leads to the content.
    }
    return JSON.stringify({
      type: w.eventType,
      timestamp: new Date(w.msgCreatedAt).toISOString(),
      thin: true,
      identifiers,
      content: { url: link.url, expires_at: new Date(link.expiresAt).toISOString() },
    });
  }

  /**
   * A backfill notification's body: its payload with `data.content_url`, a fresh link to
   * its records, and `data.content_expires_at`. It is small already, so it is sent so
   * whatever the endpoint's payload mode.
   */
  withLink(w: Work, now = Date.now()): string {
    const link = this.links.make(w.appId, w.msgId, w.endpointId, w.secrets[0]!, now);
    const payload = JSON.parse(w.payload) as { data: Record<string, unknown> };
    payload.data.content_url = link.url;
    payload.data.content_expires_at = new Date(link.expiresAt).toISOString();
    return JSON.stringify(payload);
  }

  private async identifierPaths(eventType: string): Promise<string[][]> {
    const now = Date.now();
    const hit = this.paths.get(eventType);
    if (hit !== undefined && now - hit.at < this.ttlMs) return hit.paths;
    const type = await this.lookup(eventType);
    const schema = type === null ? null : newestSchema(type.schemas);
    const paths = schema === null ? [] : identifierPaths(schema);
    if (this.paths.size >= 10_000) this.paths.clear();
    this.paths.set(eventType, { at: now, paths });
    return paths;
  }
}
