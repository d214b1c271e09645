/** Which files of a run's diff are shown as text (orchestrator/diffBudget.ts). */
import { expect, it } from 'vitest';
import { selectDiffFiles } from '../../src/orchestrator/diffBudget.js';

it('leaves out a file above the big-file size on either side, and the largest others past the budget, in git order', () => {
  const files = [
    { path: 'a', oldBytes: 0, newBytes: 50 },
    { path: 'big-new', oldBytes: 10, newBytes: 101 },
    { path: 'big-old', oldBytes: 101, newBytes: 0 },
    { path: 'b', oldBytes: 40, newBytes: 40 },
    { path: 'c', oldBytes: 0, newBytes: 10 },
    { path: 'd', oldBytes: 0, newBytes: 90 },
  ];
  // Smallest first, each counted twice (its longest diff): c 20, a 120, b 280 > 200: b and d past the budget.
  expect(selectDiffFiles(files, 100, 200).leftOut).toEqual([
    { path: 'big-new', bytes: 101, why: 'large' },
    { path: 'big-old', bytes: 101, why: 'large' },
    { path: 'b', bytes: 40, why: 'budget' },
    { path: 'd', bytes: 90, why: 'budget' },
  ]);
  expect(selectDiffFiles(files.filter((f) => !f.path.startsWith('big')), 100, 2 * 230).leftOut).toEqual([]);
  expect(selectDiffFiles(files.filter((f) => !f.path.startsWith('big')), 100, 2 * 230 - 1).leftOut).toEqual([{ path: 'd', bytes: 90, why: 'budget' }]);
  expect(selectDiffFiles([], 100, 100).leftOut).toEqual([]);
});
