// Attempts' SQL, written once for both dialects (each store binds `?` its own way).
import type { AttemptFilter } from './store.js';
import { attemptConditions, type Dialect } from './filters.js';
import type { Query } from './insights.js';
import type { PagePlan } from './paging.js';

/** Binds the application, the message and the attempt. */
export const SELECT_ATTEMPT = 'SELECT * FROM attempts WHERE app_id = ? AND msg_id = ? AND id = ?';

/** Binds the application, the message and the attempt. */
export const EXPUNGE_ATTEMPT = `UPDATE attempts SET response = '' WHERE app_id = ? AND msg_id = ? AND id = ?`;

export function listAttempts(d: Dialect, appId: string, plan: PagePlan, filter: AttemptFilter): Query {
  const { where, params } = attemptConditions(d, appId, filter);
  if (plan.condition) {
    where.push(plan.condition);
    params.push(plan.param);
  }
  params.push(plan.limit);
  return { sql: `SELECT a.* FROM attempts a WHERE ${where.join(' AND ')} ORDER BY a.id ${plan.direction} LIMIT ?`, params };
}
