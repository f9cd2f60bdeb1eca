// Backfills' SQL, written once for both dialects (each store binds `?` its own way). How many
// records or chunks one statement inserts differs per store, and so does locking.
import { newId } from '../domain/ids.js';
import type { Backfill } from '../domain/types.js';
import type { BackfillInput } from './store.js';
import type { Query } from './insights.js';
import type { PagePlan } from './paging.js';

export function newBackfill(appId: string, input: BackfillInput, now: number): Backfill {
  return { ...input, id: newId('bf', now), appId, status: 'receiving', records: 0, chunks: 0, msgId: null, createdAt: now, updatedAt: now };
}

export const INSERT_BACKFILL = `INSERT INTO backfills (id, app_id, user_id, resource, provider, chunk_size, notify, status, created_at, updated_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, 'receiving', ?, ?)`;

export function insertBackfillParams(bf: Backfill): unknown[] {
  return [bf.id, bf.appId, bf.userId, bf.resource, bf.provider, bf.chunkSize, bf.notify, bf.createdAt, bf.updatedAt];
}

/** Binds how many records were added, the time and the backfill. */
export const COUNT_BACKFILL_RECORDS = 'UPDATE backfills SET records = records + ?, updated_at = ? WHERE id = ?';

/** Binds the application and the backfill. */
export const SELECT_BACKFILL = 'SELECT * FROM backfills WHERE app_id = ? AND id = ?';

/** Whether the application has the backfill. Binds the application and the backfill. */
export const SELECT_BACKFILL_ID = 'SELECT id FROM backfills WHERE app_id = ? AND id = ?';

/** Binds the chunk count, the notification (or null), the time and the backfill. */
export const COMPLETE_BACKFILL = `UPDATE backfills SET status = 'complete', chunks = ?, msg_id = ?, updated_at = ? WHERE id = ?`;

/** A backfill's rows, its own last; each binds its id. */
export const DROP_BACKFILL = [
  'DELETE FROM backfill_records WHERE backfill_id = ?',
  'DELETE FROM backfill_chunks WHERE backfill_id = ?',
  'DELETE FROM backfills WHERE id = ?',
] as const;

export function listBackfills(appId: string, plan: PagePlan): Query {
  return {
    sql: `SELECT * FROM backfills WHERE app_id = ? ${plan.condition ? `AND ${plan.condition}` : ''} ORDER BY id ${plan.direction} LIMIT ?`,
    params: [appId, ...(plan.param === null ? [] : [plan.param]), plan.limit],
  };
}

/** Binds the backfill. */
export const SELECT_BACKFILL_CHUNKS = 'SELECT * FROM backfill_chunks WHERE backfill_id = ? ORDER BY idx';

/** Binds the backfill, the range [from, to) of sequence numbers and the limit. */
export const SELECT_BACKFILL_RECORDS = 'SELECT seq, record FROM backfill_records WHERE backfill_id = ? AND seq >= ? AND seq < ? ORDER BY seq LIMIT ?';

/** Uploads still receiving and untouched since the bound time. */
export const SELECT_STALE_BACKFILLS = `SELECT id FROM backfills WHERE status = 'receiving' AND updated_at < ?`;
