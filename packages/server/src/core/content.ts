import type { ContentLinks } from '../delivery/content-links.js';
import type { Message } from '../domain/types.js';
import type { Store } from '../store/store.js';

/** Whom a fetch through a content link is recorded against: only values its MAC vouches for. */
export interface FetchOf {
  appId: string;
  msgId: string;
  endpointId: string;
}

/**
 * What a content link opens. Refused: why, and whom to record the refusal against (null
 * when the link's MAC does not hold: its ids are the caller's own words, and recording them
 * would let anyone write into the record).
 */
export type Opening =
  | { granted: false; why: string; reason: RefusalReason; fetch: FetchOf | null; /** The link holds, but the content was deleted (expunged, erased or expired). */ deleted?: true }
  | { granted: true; message: Message & { payload: string }; fetch: FetchOf };

/** Why a content link was refused, as a stable code (for the audit log, which keeps no caller's words). */
export type RefusalReason = 'invalid' | 'expired' | 'endpoint_deleted' | 'endpoint_disabled' | 'secret_rotated' | 'content_deleted';

/** What a content link whose content was deleted is answered. */
export const CONTENT_DELETED = "the content was deleted: it was expunged, erased, or reached the end of its retention period";

/** Reading a message's content through a content link from a thin delivery. */
export class Content {
  constructor(
    private readonly store: Store,
    private readonly links: Pick<ContentLinks, 'read' | 'madeUnder'>,
  ) {}

  /** Whether `token` still opens `msgId`: its MAC holds, it has not expired, and nothing revoked it since. */
  async open(msgId: string, token: string): Promise<Opening> {
    const grant = this.links.read(msgId, token);
    if (!grant.verified) return { granted: false, why: grant.why, reason: 'invalid', fetch: null };
    const [message, endpoint] = await Promise.all([this.store.getMessage(grant.appId, msgId), this.store.getEndpoint(grant.appId, grant.endpointId)]);
    if (message === null || message.id !== msgId) return { granted: false, why: 'the content link is not valid for this message', reason: 'invalid', fetch: null };
    const fetch = { appId: message.appId, msgId: message.id, endpointId: grant.endpointId };
    const refusal: [RefusalReason, string] | null = grant.expired
      ? ['expired', 'the content link has expired']
      : endpoint === null || endpoint.id !== grant.endpointId
        ? ['endpoint_deleted', 'the content link was revoked: its endpoint was deleted']
        : endpoint.disabled
          ? ['endpoint_disabled', 'the content link was revoked: its endpoint is disabled']
          : !this.links.madeUnder(grant, endpoint.secret)
            ? ['secret_rotated', "the content link was revoked: its endpoint's secret was rotated"]
            : null;
    if (refusal !== null) return { granted: false, why: refusal[1], reason: refusal[0], fetch };
    if (message.payload === null) return { granted: false, why: CONTENT_DELETED, reason: 'content_deleted', fetch, deleted: true };
    return { granted: true, message: message as Message & { payload: string }, fetch };
  }
}
