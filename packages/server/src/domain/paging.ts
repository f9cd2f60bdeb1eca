import type { ListQuery, Page } from './types.js';

/**
 * A page of rows held in memory, as the store pages a table (store/paging.ts): keyset on a
 * unique key, a `-` iterator walking back. For the few rows a caller already has.
 */
export function pageOf<T>(rows: readonly T[], key: (r: T) => string, q: ListQuery): Page<T> {
  const backwards = q.iterator !== null && q.iterator.startsWith('-');
  const at = q.iterator === null ? null : backwards ? q.iterator.slice(1) : q.iterator;
  const ascending = (q.order === 'ascending') !== backwards;
  const sorted = [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  if (!ascending) sorted.reverse();
  const rest = at === null ? sorted : sorted.filter((r) => (ascending ? key(r) > at : key(r) < at));
  const kept = rest.slice(0, q.limit);
  if (backwards) kept.reverse();
  const first = kept[0];
  const last = kept[kept.length - 1];
  return {
    data: kept,
    iterator: last === undefined ? null : key(last),
    prevIterator: first === undefined ? null : `-${key(first)}`,
    done: backwards ? false : rest.length <= q.limit,
  };
}
