// Messages' SQL beyond their insert (rows.ts), written once for both dialects.
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
