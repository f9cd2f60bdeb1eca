import type { ListQuery, Page } from '../domain/types.js';

// Keyset pagination over a unique, ordered column. An iterator is the key of the last
// row seen; a `-` in front of it walks back from that key (Svix's prevIterator).
export interface PagePlan {
  condition: string | null;
  param: string | null;
  direction: 'ASC' | 'DESC';
  backwards: boolean;
  limit: number;
}

export function planPage(column: string, q: ListQuery): PagePlan {
  const ascending = q.order === 'ascending';
  const backwards = q.iterator !== null && q.iterator.startsWith('-');
  const key = q.iterator === null ? null : backwards ? q.iterator.slice(1) : q.iterator;
  const walkAscending = ascending !== backwards;
  return {
    condition: key === null ? null : `${column} ${walkAscending ? '>' : '<'} ?`,
    param: key,
    direction: walkAscending ? 'ASC' : 'DESC',
    backwards,
    limit: q.limit + 1,
  };
}

export function toPage<R, T>(rows: R[], plan: PagePlan, key: (r: R) => string, map: (r: R) => T): Page<T> {
  const more = rows.length > plan.limit - 1;
  const kept = more ? rows.slice(0, plan.limit - 1) : rows;
  if (plan.backwards) kept.reverse();
  const data = kept.map(map);
  const first = kept[0];
  const last = kept[kept.length - 1];
  return {
    data,
    iterator: last === undefined ? null : key(last),
    prevIterator: first === undefined ? null : `-${key(first)}`,
    done: plan.backwards ? false : !more,
  };
}

/** Every column of `table`'s rows in one page ordered by their id. */
export function selectPage(table: string, plan: PagePlan): { sql: string; params: unknown[] } {
  return {
    sql: `SELECT * FROM ${table} ${plan.condition ? `WHERE ${plan.condition}` : ''} ORDER BY id ${plan.direction} LIMIT ?`,
    params: [...(plan.param === null ? [] : [plan.param]), plan.limit],
  };
}

