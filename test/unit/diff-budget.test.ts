/** Which files of a run's diff are shown as text (orchestrator/diffBudget.ts). */
import { expect, it } from 'vitest';
import { BINARY_NAME_PATHSPECS, hasBinaryName, selectDiffFiles } from '../../src/orchestrator/diffBudget.js';
import { cleanup, git, makeRepo } from '../helpers.js';

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

it('a file is binary by its name alone, and git\'s pathspecs pick the same files as hasBinaryName', () => {
  const names = ['logo.png', 'docs/Logo.PNG', 'a/.png', 'fonts/x.woff2', 'lib/a.so', 'src/app.js', 'Makefile', 'a.png/readme', 'notes.txt', 'x.pngx', 'data.sqlite', '__snapshots__/a.test.js.snap', 'icon.xpm', 'install.shar'];
  expect(names.filter(hasBinaryName)).toEqual(['logo.png', 'docs/Logo.PNG', 'a/.png', 'fonts/x.woff2', 'lib/a.so', 'data.sqlite']);
  const { repo } = makeRepo(Object.fromEntries(names.map((n) => [n, 'x'])));
  try {
    // As runDiff uses them: with `git diff`, from the empty tree to the commit.
    const picked = git(repo, 'diff', '--name-only', '-z', '4b825dc642cb6eb9a060e54bf8d69288fbee4904', 'HEAD', '--', ...BINARY_NAME_PATHSPECS).split('\0').filter(Boolean);
    expect(picked.sort()).toEqual(names.filter(hasBinaryName).sort());
  } finally {
    cleanup();
  }
});
