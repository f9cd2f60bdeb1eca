// Operational webhooks: Hookwell's own events (an endpoint created, disabled, a delivery
// failing…) sent to the operator's endpoints, as Svix sends them. They live in one internal
// application, so an event is a message there and the delivery engine signs, retries and
// keeps its attempts like any other; nothing in delivery/ knows of them.
import type { Logger } from 'pino';
import type { AttemptEvent, DeliveryEvents } from '../delivery/dispatcher.js';
import { ConflictError } from '../domain/errors.js';
import { OPERATIONAL_APP_UID, type OperationalEventType } from '../domain/endpoint-health.js';
import type { Application, Endpoint } from '../domain/types.js';
import type { DisabledEndpoint, Store } from '../store/store.js';
import type { Messages } from './messages.js';

export { OPERATIONAL_APP_UID } from '../domain/endpoint-health.js';

type EndpointEventType = Extract<OperationalEventType, `endpoint.${string}`>;

/** Who or what disabled an endpoint, in Svix's words. */
export type DisabledTrigger = 'manual' | 'automatic';

export class Operational implements DeliveryEvents {
  constructor(
    private readonly store: Store,
    private readonly messages: Messages,
    private readonly log: Logger,
  ) {}

  /** The operational application, created on first use when `create`. */
  async app(create: boolean): Promise<Application | null> {
    const existing = await this.store.getApp(OPERATIONAL_APP_UID);
    if (existing !== null || !create) return existing;
    try {
      return await this.store.createApp({
        uid: OPERATIONAL_APP_UID,
        name: 'Hookwell operational webhooks',
        throttleRate: null,
        metadata: { hookwell: 'operational-webhooks' },
      });
    } catch (err) {
      // Another request created it meanwhile.
      if (err instanceof ConflictError) return this.store.getApp(OPERATIONAL_APP_UID);
      throw err;
    }
  }

  /** An endpoint was created, updated, deleted, enabled or (by a call) disabled. */
  endpointChanged(type: EndpointEventType, ep: Endpoint): void {
    this.emit(ep.appId, type, (app) => ({
      ...endpointData(app, ep.id, ep.uid),
      ...(type === 'endpoint.disabled' ? { failSince: null, trigger: 'manual' satisfies DisabledTrigger } : {}),
    }));
  }

  /** The dispatcher's report of what recorded attempts did. */
  recorded(events: AttemptEvent[], disabled: DisabledEndpoint[]): void {
    for (const d of disabled) {
      this.emit(d.appId, 'endpoint.disabled', (app) => ({
        ...endpointData(app, d.endpointId, d.uid),
        failSince: d.failingSince === null ? null : new Date(d.failingSince).toISOString(),
        trigger: 'automatic' satisfies DisabledTrigger,
      }));
    }
    for (const e of events) {
      this.emit(e.appId, e.type, async (app) => ({
        appId: app.id,
        appUid: app.uid,
        endpointId: e.endpointId,
        msgId: e.msgId,
        msgEventId: (await this.store.getMessage(e.appId, e.msgId))?.eventId ?? null,
        lastAttempt: { id: e.attemptId, responseStatusCode: e.responseStatusCode, timestamp: new Date(e.at).toISOString() },
      }));
    }
  }

  /**
   * Sends an event, later: the change it tells of is committed, and neither a failure nor the
   * time taken here reaches whoever made it. Events of the operational application itself are
   * not sent, or a failing operational endpoint would tell of itself without end.
   */
  private emit(appId: string, type: OperationalEventType, data: (app: Application) => object | Promise<object>): void {
    setImmediate(() => {
      this.send(appId, type, data).catch((err: unknown) => this.log.warn({ err, appId, type }, 'an operational webhook could not be stored'));
    });
  }

  private async send(appId: string, type: OperationalEventType, data: (app: Application) => object | Promise<object>): Promise<void> {
    const ops = await this.app(false);
    if (ops === null || ops.id === appId) return;
    const app = await this.store.getApp(appId);
    if (app === null) return;
    const payload = JSON.stringify({ type, data: await data(app) });
    await this.messages.create(ops.id, { eventId: null, eventType: type, payload, channels: null, tags: null, deliverAt: null }, () => undefined);
  }
}

function endpointData(app: Application, endpointId: string, endpointUid: string | null) {
  return { appId: app.id, appUid: app.uid, endpointId, endpointUid };
}
