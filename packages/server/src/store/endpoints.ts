// Endpoints' SQL, written once for both dialects (each store binds `?` its own way).
import { newId } from '../domain/ids.js';
import { ConflictError } from '../domain/errors.js';
import type { Endpoint } from '../domain/types.js';
import type { Sealer } from '../domain/sealing.js';
import type { EndpointInput } from './store.js';
import type { Dialect } from './filters.js';
import type { Query } from './insights.js';
import type { PagePlan } from './paging.js';
import { json, WORK_ENDPOINT_COLUMNS } from './rows.js';

export function newEndpoint(appId: string, input: EndpointInput, now: number): Endpoint {
  return {
    payloadMode: 'full',
    maxPayloadBytes: null,
    ordering: null,
    ...input,
    id: newId('ep', now),
    appId,
    previousSecrets: [],
    webhookKey: null,
    createdAt: now,
    updatedAt: now,
  };
}

/** The columns INSERT_ENDPOINT and UPDATE_ENDPOINT both set, bound in this order. */
function endpointValues(d: Dialect, ep: Endpoint, s: Sealer): unknown[] {
  return [
    ep.uid,
    ep.url,
    ep.description,
    ep.version,
    d.flag(ep.disabled),
    json(ep.eventTypes),
    json(ep.channels),
    ep.throttleRate,
    json(ep.metadata),
    s.sealNullable(json(ep.headers)),
    s.seal(ep.secret),
    s.sealNullable(json(ep.previousSecrets)),
    ep.ping === null ? null : d.flag(ep.ping.ok),
    ep.ping?.detail ?? null,
    ep.ping?.at ?? null,
    ep.webhookKey?.header ?? null,
    s.sealNullable(ep.webhookKey?.key ?? null),
    ep.payloadMode,
    ep.maxPayloadBytes,
    json(ep.ordering),
    ep.updatedAt,
  ];
}

export const INSERT_ENDPOINT = `INSERT INTO endpoints (uid, url, description, version, disabled, event_types, channels, throttle_rate, metadata,
    headers, secret, previous_secrets, ping_ok, ping_detail, ping_at, key_header, key_value, payload_mode, max_payload_bytes,
    ordering, updated_at, id, app_id, created_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

export function insertEndpointParams(d: Dialect, ep: Endpoint, s: Sealer): unknown[] {
  return [...endpointValues(d, ep, s), ep.id, ep.appId, ep.createdAt];
}

export const UPDATE_ENDPOINT = `UPDATE endpoints SET uid = ?, url = ?, description = ?, version = ?, disabled = ?, event_types = ?, channels = ?,
    throttle_rate = ?, metadata = ?, headers = ?, secret = ?, previous_secrets = ?, ping_ok = ?, ping_detail = ?, ping_at = ?,
    key_header = ?, key_value = ?, payload_mode = ?, max_payload_bytes = ?, ordering = ?, updated_at = ?
  WHERE id = ? AND app_id = ?`;

export function updateEndpointParams(d: Dialect, ep: Endpoint, s: Sealer): unknown[] {
  return [...endpointValues(d, ep, s), ep.id, ep.appId];
}

/** What inserting or renaming an endpoint to a uid another one of its application has throws. */
export const duplicateEndpointUid = (uid: string | null): ConflictError =>
  new ConflictError(`an endpoint with uid "${uid}" already exists in this application`);

/** Binds the application and the endpoint id. */
export const SELECT_ENDPOINT = 'SELECT * FROM endpoints WHERE app_id = ? AND id = ?';

export const SELECT_ENDPOINT_URL = 'SELECT url FROM endpoints WHERE id = ?';

/** An endpoint's routing filters, for replaying what it missed. Binds the application and the endpoint id. */
export const SELECT_ENDPOINT_FILTERS = 'SELECT event_types, channels, ordering FROM endpoints WHERE app_id = ? AND id = ?';

/** An endpoint's row as messages are routed to it: what sending needs, and its filters. */
const ROUTE_COLUMNS = `${WORK_ENDPOINT_COLUMNS}, event_types, channels, ordering`;

/** The enabled endpoints of an application (binds it), to route a new message by. */
export const selectRoutes = (d: Dialect): string => `SELECT ${ROUTE_COLUMNS} FROM endpoints e WHERE app_id = ? AND ${d.isFalse('disabled')}`;

/** The enabled endpoints of several applications (binds their list, see Dialect.oneOf), each with its app_id. */
export const selectRoutesOfApps = (d: Dialect): string =>
  `SELECT ${ROUTE_COLUMNS}, e.app_id FROM endpoints e WHERE ${d.oneOf('e.app_id')} AND ${d.isFalse('disabled')}`;

/** One endpoint as a message made only for it is routed to it, enabled or not. Binds the application and the endpoint id. */
export const SELECT_ROUTE = `SELECT ${ROUTE_COLUMNS} FROM endpoints e WHERE app_id = ? AND id = ?`;

/** An endpoint's rows, its own last; each binds its id (the last also its application). */
export const DELETE_ENDPOINT = [
  'DELETE FROM attempts WHERE endpoint_id = ?',
  'DELETE FROM deliveries WHERE endpoint_id = ?',
  'DELETE FROM endpoints WHERE app_id = ? AND id = ?',
] as const;

export function listEndpoints(appId: string, plan: PagePlan): Query {
  return {
    sql: `SELECT * FROM endpoints WHERE app_id = ? ${plan.condition ? `AND ${plan.condition}` : ''} ORDER BY id ${plan.direction} LIMIT ?`,
    params: [appId, ...(plan.param === null ? [] : [plan.param]), plan.limit],
  };
}
