// Reads of deliveries beside their message or endpoint, and an endpoint's delivery counts:
// SQL written once for both dialects (each store binds `?` its own way).
import type { DeliveryFilter, EndpointStats } from './store.js';
import type { Dialect } from './filters.js';
import { messageConditions } from './filters.js';
import type { Query } from './insights.js';
import type { PagePlan } from './paging.js';
import type { Row } from './rows.js';

/** A delivery's columns prefixed `d_`, as deliveryFrom(r, 'd_') reads them beside another row's. */
const DELIVERY_COLUMNS = `d.id AS d_id, d.msg_id AS d_msg_id, d.endpoint_id AS d_endpoint_id, d.app_id AS d_app_id, d.status AS d_status,
  d.attempts AS d_attempts, d.next_attempt_at AS d_next_attempt_at, d.last_attempt_at AS d_last_attempt_at,
  d.trigger_type AS d_trigger_type, d.order_key AS d_order_key, d.created_at AS d_created_at`;

/** A message's endpoints with its delivery to each, paged by endpoint id. */
export function listMessageDestinations(appId: string, msgId: string, plan: PagePlan): Query {
  return {
    sql: `SELECT e.*, ${DELIVERY_COLUMNS}
      FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
      WHERE d.app_id = ? AND d.msg_id = ? ${plan.condition ? `AND ${plan.condition}` : ''}
      ORDER BY e.id ${plan.direction} LIMIT ?`,
    params: [appId, msgId, ...(plan.param === null ? [] : [plan.param]), plan.limit],
  };
}

/** An endpoint's messages with its delivery of each, paged by message id. */
export function listEndpointMessages(d: Dialect, appId: string, endpointId: string, plan: PagePlan, filter: DeliveryFilter): Query {
  const where = ['d.app_id = ?', 'd.endpoint_id = ?'];
  const params: unknown[] = [appId, endpointId];
  messageConditions(d, filter, 'm', where, params);
  if (filter.status !== undefined) {
    where.push('d.status = ?');
    params.push(filter.status);
  }
  if (plan.condition) {
    where.push(plan.condition);
    params.push(plan.param);
  }
  params.push(plan.limit);
  return {
    sql: `SELECT m.*, ${DELIVERY_COLUMNS}
      FROM deliveries d JOIN messages m ON m.id = d.msg_id
      WHERE ${where.join(' AND ')} ORDER BY m.id ${plan.direction} LIMIT ?`,
    params,
  };
}

/** Binds the application, the endpoint, and the created_at range [since, until). */
export const ENDPOINT_DELIVERY_COUNTS = `SELECT status, COUNT(*) AS n FROM deliveries WHERE app_id = ? AND endpoint_id = ? AND created_at >= ? AND created_at < ?
  GROUP BY status`;

export function endpointStatsFrom(rows: Row[]): EndpointStats {
  const stats: EndpointStats = { success: 0, pending: 0, sending: 0, fail: 0, canceled: 0 };
  const names = ['success', 'pending', 'fail', 'sending', 'canceled'] as const;
  for (const r of rows) stats[names[r.status as number]!] += r.n as number;
  return stats;
}
