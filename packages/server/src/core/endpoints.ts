import { generateSecret } from '@hookwell/receiver';
import type { WorkSignals } from '../delivery/dispatcher.js';
import type { PingTarget, Sender } from '../delivery/sender.js';
import { ValidationError } from '../domain/errors.js';
import { rotatedPrevious, signingSecrets, unusableSecret } from '../domain/signing.js';
import type { Endpoint, PingResult } from '../domain/types.js';
import type { EndpointFields, EndpointInput, Store } from '../store/store.js';
import type { Operational } from './operational.js';

/** What a ping needs of the sender. */
export type Pinger = Pick<Sender, 'ping'>;

/** An endpoint, or one about to be created (no id, nor authentication, yet). */
type Signed = Pick<Endpoint, 'headers' | 'secret' | 'previousSecrets' | 'webhookKey'> & Partial<Pick<Endpoint, 'id' | 'auth'>>;

/**
 * What the endpoint's deliveries carry, sent to `url`: its headers, its webhook key, the
 * secrets that sign, and its OAuth token and TLS set-up.
 */
export function pingTarget(url: string, ep: Signed): PingTarget {
  const headers = { ...ep.headers };
  if (ep.webhookKey !== null) headers[ep.webhookKey.header] = ep.webhookKey.key;
  const auth = ep.id !== undefined && ep.auth !== undefined ? { ...ep.auth, endpointId: ep.id } : null;
  return { url, headers, secrets: signingSecrets(ep.secret, ep.previousSecrets, Date.now()), auth };
}

/** Refuses (422 at `loc`) a secret of a kind that cannot sign. */
function checkSecret(secret: string | null | undefined, loc: string[]): void {
  if (secret === null || secret === undefined) return;
  const problem = unusableSecret(secret);
  if (problem !== null) throw ValidationError.field(loc, problem);
}

/** Changes to endpoints that reach beyond their row: the ping check, secret rotation, re-enabling. */
export class Endpoints {
  constructor(
    private readonly store: Store,
    private readonly signals: WorkSignals,
    private readonly sender: Pinger,
    private readonly ops: Operational,
  ) {}

  /** Pings `url` as the endpoint's deliveries would reach it; refused (422 on `url`) unless it pongs. */
  async verifiedPing(url: string, ep: Signed): Promise<PingResult> {
    const result = await this.sender.ping(pingTarget(url, ep));
    if (!result.ok) throw ValidationError.field(['body', 'url'], `the endpoint did not pass the ping check: ${result.detail}`);
    return { ...result, at: Date.now() };
  }

  /** Creates an endpoint, pinging its URL first when `verify`. */
  async create(appId: string, input: EndpointInput, verify: boolean): Promise<Endpoint> {
    checkSecret(input.secret, ['body', 'secret']);
    if (verify) input.ping = await this.verifiedPing(input.url, { ...input, previousSecrets: [], webhookKey: null });
    const created = await this.store.createEndpoint(appId, input);
    this.ops.endpointChanged('endpoint.created', created);
    return created;
  }

  /** Updates an endpoint; a new URL is pinged first when `verify`. One enabled again may have work waiting. */
  async update(endpoint: Endpoint, fields: EndpointFields, verify = false): Promise<Endpoint> {
    checkSecret(fields.secret, ['body', 'secret']);
    if (verify && fields.url !== undefined && fields.url !== endpoint.url) fields.ping = await this.verifiedPing(fields.url, endpoint);
    // Only the fields given are written, over the row as it is at the write: an endpoint
    // disabled by its attempts since `endpoint` was read stays disabled unless `fields` sets
    // `disabled`. Disabling by a call says so and enabling clears why it was disabled (the
    // store's withFields, against that row; the store also restarts the failing clock).
    const updated = await this.store.updateEndpoint(endpoint.appId, endpoint.id, fields);
    if (fields.disabled === false) this.signals.notify();
    this.ops.endpointChanged('endpoint.updated', updated);
    // Told only of a change this call made: an auto-disable meanwhile was told of by the dispatcher.
    if (fields.disabled !== undefined && endpoint.disabled !== updated.disabled) this.ops.endpointChanged(updated.disabled ? 'endpoint.disabled' : 'endpoint.enabled', updated);
    return updated;
  }

  /** Deletes an endpoint with its deliveries and attempts. */
  async delete(endpoint: Endpoint): Promise<void> {
    await this.store.deleteEndpoint(endpoint.appId, endpoint.id);
    this.ops.endpointChanged('endpoint.deleted', endpoint);
  }

  /** The ping check of the endpoint's URL, its outcome kept on the endpoint. */
  async ping(endpoint: Endpoint): Promise<PingResult> {
    const result = await this.sender.ping(pingTarget(endpoint.url, endpoint));
    const ping = { ...result, at: Date.now() };
    await this.store.updateEndpoint(endpoint.appId, endpoint.id, { ping });
    return ping;
  }

  /** A new signing secret (`key`, else a generated one); the old one keeps signing for `graceMs`. */
  async rotateSecret(endpoint: Endpoint, key: string | null, graceMs: number): Promise<void> {
    checkSecret(key, ['body', 'key']);
    const previous = rotatedPrevious(endpoint.secret, endpoint.previousSecrets, graceMs, Date.now());
    await this.store.updateEndpoint(endpoint.appId, endpoint.id, { secret: key ?? generateSecret(), previousSecrets: previous });
  }
}
