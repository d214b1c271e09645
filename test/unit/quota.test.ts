/** The record quota behind what a launch keeps of an agent's output and protocol files. */
import { expect, it } from 'vitest';
import { Quota } from '../../src/core/quota.js';

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
