// Messages' SQL beyond their insert (rows.ts), written once for both dialects.
import { Status } from '../domain/types.js';
import type { DeliveryFilter } from './store.js';
import { deliveryStatusCondition, messageConditions, type Dialect } from './filters.js';
import type { Query } from './insights.js';
import type { PagePlan } from './paging.js';

export function listMessages(d: Dialect, appId: string, plan: PagePlan, filter: DeliveryFilter): Query {
  const where = ['m.app_id = ?'];
  const params: unknown[] = [appId];
  messageConditions(d, filter, 'm', where, params);
  deliveryStatusCondition(filter.status, 'm', where, params);
  if (plan.condition) {
    where.push(plan.condition);
    params.push(plan.param);
  }
  params.push(plan.limit);
  return { sql: `SELECT m.* FROM messages m WHERE ${where.join(' AND ')} ORDER BY m.id ${plan.direction} LIMIT ?`, params };
}

/** Binds the application and the message. */
export const EXPUNGE_MESSAGE = 'UPDATE messages SET payload = NULL WHERE app_id = ? AND id = ?';

/** Binds the message: its unfinished deliveries, which have nothing left to send. */
export const CANCEL_MESSAGE_DELIVERIES = `UPDATE deliveries SET status = ${Status.Canceled}, next_attempt_at = NULL, lease_owner = NULL
  WHERE msg_id = ? AND status IN (${Status.Pending}, ${Status.Sending})`;
