/** The record quota behind what a launch keeps of an agent's output and protocol files. */
import { expect, it } from 'vitest';
import { Quota, leadingWithin } from '../../src/core/quota.js';

it('takes the first max items, one at a time or several, and counts the rest', () => {
  const q = new Quota(3);
  expect(q.take()).toBe(true);
  expect(q.takeSome(['a', 'b', 'c'])).toEqual(['a', 'b']);
  expect(q.take()).toBe(false);
  expect(q.takeSome(['d'])).toEqual([]);
  expect({ taken: q.taken, over: q.over }).toEqual({ taken: 3, over: 3 });
  const none = new Quota(0);
  expect(none.takeSome([1, 2])).toEqual([]);
  expect(none.over).toBe(2);
});

it('lists the leading items within a count and a character budget, and always the first', () => {
  const len = (s: string) => s.length;
  expect(leadingWithin(['aa', 'bb', 'cc', 'dd'], 10, 6, len)).toEqual(['aa', 'bb', 'cc']);
  expect(leadingWithin(['aa', 'bb', 'cc', 'dd'], 2, 100, len)).toEqual(['aa', 'bb']);
  expect(leadingWithin(['aa', 'bb', 'c'], 10, 4, len)).toEqual(['aa', 'bb']);
  // The first item alone is over the budget: it is still listed, so a count of the rest has a carrier.
  expect(leadingWithin(['x'.repeat(50), 'b'], 10, 10, len)).toEqual(['x'.repeat(50)]);
  expect(leadingWithin([], 10, 10, len)).toEqual([]);
});
