/** `reporting`: the progress of a walk over the log is told every N items and once at the end, and costs nothing without a listener. */
import { describe, expect, it } from 'vitest';
import { reporting } from '../../src/core/progress.js';

describe('reporting', () => {
  it('passes every item on in order, telling 0 first, the count every `every` items and the total at the end', () => {
    const told: [number, number][] = [];
    const items = Array.from({ length: 25 }, (_, i) => i);
    expect([...reporting(items, 25, (done, total) => told.push([done, total]), 10)]).toEqual(items);
    expect(told).toEqual([[0, 25], [10, 25], [20, 25], [25, 25]]);
  });

  it('without a listener, is the iterable itself (no wrapper in the hot loop)', () => {
    const items = [1, 2, 3];
    expect(reporting(items, 3, undefined)).toBe(items);
  });

  it('a walk stopped early (a bad item) gets no final report', () => {
    const told: number[] = [];
    for (const i of reporting([1, 2, 3, 4], 4, (done) => told.push(done), 2)) if (i === 3) break;
    expect(told).toEqual([0, 2]);
  });
});
