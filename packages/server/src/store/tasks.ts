// Background tasks' SQL, written once for both dialects (each store binds `?` its own way).
import type { BackgroundTask, TaskKind, TaskStatus } from '../domain/types.js';
import type { PagePlan } from './paging.js';
import type { Row } from './rows.js';

export interface TaskFilter {
  status?: TaskStatus;
  task?: TaskKind;
}

export const INSERT_TASK = `INSERT INTO background_tasks (id, app_id, task, status, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`;

export function taskParams(t: BackgroundTask): unknown[] {
  return [t.id, t.appId, t.task, t.status, JSON.stringify(t.data), t.createdAt, t.updatedAt];
}

/**
 * Binds the status, the data, the time and the id. Only a running task changes: one
 * already marked failed (its process was taken for dead) keeps that answer.
 */
export const UPDATE_TASK = `UPDATE background_tasks SET status = ?, data = ?, updated_at = ? WHERE id = ? AND status = 'running'`;

export const SELECT_TASK = 'SELECT * FROM background_tasks WHERE id = ?';

/**
 * Binds the data, the time and the age limit: running tasks that have not moved since
 * then are failed (their process is gone). Uses background_tasks_running.
 */
export const FAIL_STALE_TASKS = `UPDATE background_tasks SET status = 'failed', data = ?, updated_at = ? WHERE status = 'running' AND updated_at < ?`;

/** Binds the age limit: finished tasks (not running) last updated before it are deleted. */
export const PURGE_FINISHED_TASKS = `DELETE FROM background_tasks WHERE status <> 'running' AND updated_at < ?`;

export function listTasks(plan: PagePlan, filter: TaskFilter): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (plan.condition !== null) {
    where.push(plan.condition);
    params.push(plan.param);
  }
  if (filter.status !== undefined) {
    where.push('status = ?');
    params.push(filter.status);
  }
  if (filter.task !== undefined) {
    where.push('task = ?');
    params.push(filter.task);
  }
  return {
    sql: `SELECT * FROM background_tasks ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id ${plan.direction} LIMIT ?`,
    params: [...params, plan.limit],
  };
}

export function taskFrom(r: Row): BackgroundTask {
  return {
    id: r.id as string,
    appId: (r.app_id as string | null) ?? null,
    task: r.task as TaskKind,
    status: r.status as TaskStatus,
    data: JSON.parse(r.data as string) as Record<string, unknown>,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}
