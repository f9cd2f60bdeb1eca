// Keyset pagination (Svix's iterator, prevIterator and done), without a database: what
// planPage asks the store for, and the page toPage makes of the rows that come back.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planPage, toPage, type PagePlan } from '../src/store/paging.js';

/** Rows as the store returns them: keys only, already in the plan's direction. */
const page = (keys: string[], plan: PagePlan) => toPage(keys, plan, (k) => k, (k) => ({ id: k }));
const ids = (p: { data: { id: string }[] }) => p.data.map((d) => d.id);

describe('planPage', () => {
  it('starts at the first row in the asked order, asking for one row more than the limit', () => {
    assert.deepEqual(planPage('id', { limit: 3, iterator: null, order: 'ascending' }), {
      condition: null, param: null, direction: 'ASC', backwards: false, limit: 4,
    });
    assert.deepEqual(planPage('id', { limit: 3, iterator: null, order: 'descending' }), {
      condition: null, param: null, direction: 'DESC', backwards: false, limit: 4,
    });
  });

  it('goes on after the iterator in the asked order', () => {
    assert.deepEqual(planPage('created', { limit: 10, iterator: 'k5', order: 'ascending' }), {
      condition: 'created > ?', param: 'k5', direction: 'ASC', backwards: false, limit: 11,
    });
    assert.deepEqual(planPage('created', { limit: 10, iterator: 'k5', order: 'descending' }), {
      condition: 'created < ?', param: 'k5', direction: 'DESC', backwards: false, limit: 11,
    });
  });

  it('walks back from a "-" iterator, against the asked order', () => {
    assert.deepEqual(planPage('id', { limit: 2, iterator: '-k5', order: 'ascending' }), {
      condition: 'id < ?', param: 'k5', direction: 'DESC', backwards: true, limit: 3,
    });
    assert.deepEqual(planPage('id', { limit: 2, iterator: '-k5', order: 'descending' }), {
      condition: 'id > ?', param: 'k5', direction: 'ASC', backwards: true, limit: 3,
    });
  });

  it('reads a "-" inside an iterator as part of the key', () => {
    const plan = planPage('id', { limit: 1, iterator: 'k-5', order: 'ascending' });
    assert.equal(plan.backwards, false);
    assert.equal(plan.param, 'k-5');
  });
});

describe('toPage', () => {
  const forward = planPage('id', { limit: 2, iterator: null, order: 'ascending' });

  it('is done when no more rows than the limit came back', () => {
    const p = page(['a', 'b'], forward);
    assert.deepEqual(ids(p), ['a', 'b']);
    assert.equal(p.iterator, 'b');
    assert.equal(p.prevIterator, '-a');
    assert.equal(p.done, true);
    assert.equal(page(['a'], forward).done, true);
  });

  it('drops the extra row, and is not done, when it came back', () => {
    const p = page(['a', 'b', 'c'], forward);
    assert.deepEqual(ids(p), ['a', 'b']);
    assert.equal(p.iterator, 'b');
    assert.equal(p.prevIterator, '-a');
    assert.equal(p.done, false);
  });

  it('gives an empty page no iterators', () => {
    assert.deepEqual(page([], forward), { data: [], iterator: null, prevIterator: null, done: true });
  });

  it('puts a backward page back in the asked order, and never calls it done', () => {
    const back = planPage('id', { limit: 2, iterator: '-d', order: 'ascending' });
    // Walking back from d, the store returns c, b (and a, the extra row).
    const full = page(['c', 'b', 'a'], back);
    assert.deepEqual(ids(full), ['b', 'c']);
    assert.equal(full.iterator, 'c');
    assert.equal(full.prevIterator, '-b');
    assert.equal(full.done, false);
    const last = page(['c'], back);
    assert.deepEqual(ids(last), ['c']);
    assert.equal(last.done, false);
  });
});
