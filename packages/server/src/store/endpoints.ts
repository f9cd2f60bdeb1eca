// Endpoints' SQL, written once for both dialects (each store binds `?` its own way).
import { newId } from '../domain/ids.js';
import { ConflictError } from '../domain/errors.js';
import { NO_ENDPOINT_AUTH, type Endpoint } from '../domain/types.js';
import type { Sealer } from '../domain/sealing.js';
import { DISABLED_REASONS, endpointOutcomes, type EndpointOutcome } from '../domain/endpoint-health.js';
import type { AttemptRecord, DisabledEndpoint, EndpointFields, EndpointInput } from './store.js';
import type { Dialect } from './filters.js';
import type { Query } from './insights.js';
import type { PagePlan } from './paging.js';
import { json, WORK_ENDPOINT_COLUMNS, type Row } from './rows.js';

export function newEndpoint(appId: string, input: EndpointInput, now: number): Endpoint {
  return {
    payloadMode: 'full',
    maxPayloadBytes: null,
    ordering: null,
    ...input,
    auth: NO_ENDPOINT_AUTH,
    disabledReason: input.disabled ? DISABLED_REASONS.manual : null,
    disabledAt: input.disabled ? now : null,
    id: newId('ep', now),
    appId,
    previousSecrets: [],
    webhookKey: null,
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * The endpoint as read within an update's transaction, with `fields` applied. Only what
 * `fields` names is changed: an endpoint disabled meanwhile (by its attempts' outcomes)
 * stays so unless `fields` sets `disabled`. Why it is disabled follows from the row read
 * here, not from an earlier read of the caller's: disabling an enabled endpoint records a
 * manual disable, enabling a disabled one clears the reason, and setting the value it has
 * keeps the reason it has.
 */
export function withFields(ep: Endpoint, fields: EndpointFields, now: number): Endpoint {
  const { auth, disabledReason: _reason, disabledAt: _at, ...rest } = fields;
  const out: Endpoint = { ...ep, ...rest, auth: auth === undefined ? ep.auth : { ...ep.auth, ...auth }, updatedAt: now };
  if (fields.disabled === true && !ep.disabled) {
    out.disabledReason = DISABLED_REASONS.manual;
    out.disabledAt = now;
  } else if (fields.disabled === false && ep.disabled) {
    out.disabledReason = null;
    out.disabledAt = null;
  }
  return out;
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
    ep.disabledReason,
    ep.disabledAt,
    s.sealNullable(json(ep.auth.oauth)),
    s.sealNullable(ep.auth.mtlsIdentity),
    ep.auth.serverCa,
    ep.updatedAt,
  ];
}

export const INSERT_ENDPOINT = `INSERT INTO endpoints (uid, url, description, version, disabled, event_types, channels, throttle_rate, metadata,
    headers, secret, previous_secrets, ping_ok, ping_detail, ping_at, key_header, key_value, payload_mode, max_payload_bytes,
    ordering, disabled_reason, disabled_at, oauth, mtls_identity, server_ca, updated_at, id, app_id, created_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

export function insertEndpointParams(d: Dialect, ep: Endpoint, s: Sealer): unknown[] {
  return [...endpointValues(d, ep, s), ep.id, ep.appId, ep.createdAt];
}

export const UPDATE_ENDPOINT = `UPDATE endpoints SET uid = ?, url = ?, description = ?, version = ?, disabled = ?, event_types = ?, channels = ?,
    throttle_rate = ?, metadata = ?, headers = ?, secret = ?, previous_secrets = ?, ping_ok = ?, ping_detail = ?, ping_at = ?,
    key_header = ?, key_value = ?, payload_mode = ?, max_payload_bytes = ?, ordering = ?, disabled_reason = ?, disabled_at = ?,
    oauth = ?, mtls_identity = ?, server_ca = ?, updated_at = ?,
    failing_since = CASE WHEN disabled = ? THEN failing_since ELSE NULL END
  WHERE id = ? AND app_id = ?`;

/** Disabling or enabling an endpoint (the right-hand `disabled` is the old value) starts its failing clock afresh. */
export function updateEndpointParams(d: Dialect, ep: Endpoint, s: Sealer): unknown[] {
  return [...endpointValues(d, ep, s), d.flag(ep.disabled), ep.id, ep.appId];
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

/**
 * One statement per batch of attempt records that keeps each endpoint's failing_since and
 * disables those failing too long. `source` yields one row per endpoint of the batch, (id,
 * ok_at, fail_from, fail_at, gone) as domain/endpoint-health.ts endpointOutcomes folds them;
 * `lock` ends the inner select (PostgreSQL locks the rows it will change in id order, so two
 * batches cannot deadlock on them). Only endpoints whose state may change are locked and
 * written: a healthy endpoint's successes, and a failing one's further failures within the
 * period, cost a read of its row, no lock and no write.
 * Disabled endpoints are left alone (enabling one again starts its clock afresh), so every
 * row returned with `disabled` set is one this statement disabled.
 * Binds what endpointHealthParams returns.
 */
export function endpointHealthSql(source: string, lock = ''): string {
  return `UPDATE endpoints SET
      failing_since = n.since,
      disabled = CASE WHEN n.disabling THEN ? ELSE disabled END,
      disabled_reason = CASE WHEN n.disabling THEN (CASE WHEN n.gone THEN ? ELSE ? END) ELSE disabled_reason END,
      disabled_at = CASE WHEN n.disabling THEN n.last_at ELSE disabled_at END,
      updated_at = CASE WHEN n.disabling THEN n.last_at ELSE updated_at END
    FROM (SELECT s.ep_id, s.since, s.gone, s.last_at, (s.gone OR (s.since IS NOT NULL AND s.fail_at - s.since >= ?)) AS disabling
      FROM (SELECT e2.id AS ep_id, u.gone, u.fail_at, COALESCE(u.fail_at, u.ok_at) AS last_at,
              CASE WHEN u.fail_from IS NULL THEN NULL WHEN u.ok_at IS NOT NULL THEN u.fail_from ELSE COALESCE(e2.failing_since, u.fail_from) END AS since
            FROM (${source}) u JOIN endpoints e2 ON e2.id = u.id
            WHERE NOT e2.disabled AND (u.gone
              OR (u.fail_from IS NULL AND e2.failing_since IS NOT NULL)
              OR (u.fail_from IS NOT NULL AND (u.ok_at IS NOT NULL OR e2.failing_since IS NULL OR u.fail_at - e2.failing_since >= ?)))${lock}) s) n
    WHERE id = n.ep_id AND (n.disabling OR n.since IS DISTINCT FROM failing_since)
    RETURNING id, app_id, uid, disabled, failing_since, disabled_reason, disabled_at`;
}

/** endpointHealthSql's parameters: disabled's flag, the two reasons, the period in ms, `source`'s, the period again. */
export function endpointHealthParams(d: Dialect, disableAfterMs: number | null, source: unknown[]): unknown[] {
  const period = disableAfterMs ?? Number.MAX_SAFE_INTEGER;
  return [d.flag(true), DISABLED_REASONS.gone, DISABLED_REASONS.failing(disableAfterMs ?? 0), period, ...source, period];
}

/** The endpoints a batch disabled, from endpointHealthSql's rows. */
export function disabledFrom(rows: Row[]): DisabledEndpoint[] {
  return rows
    .filter((r) => r.disabled === 1 || r.disabled === true)
    .map((r) => ({
      endpointId: r.id as string,
      appId: r.app_id as string,
      uid: (r.uid as string | null) ?? null,
      failingSince: (r.failing_since as number | null) ?? null,
      reason: r.disabled_reason as string,
      disabledAt: r.disabled_at as number,
    }));
}

/** A batch of attempt records folded per endpoint, for endpointHealthSql's source. */
export function batchOutcomes(records: AttemptRecord[]): EndpointOutcome[] {
  return endpointOutcomes(records.map((r) => ({ endpointId: r.attempt.endpointId, status: r.attempt.status, at: r.attempt.createdAt, gone: r.disableEndpoint })));
}
