/** `review show`'s change counts (src/ui/describe.ts): lines for text files, bytes for binary ones. */
import { describe, expect, it } from 'vitest';
import { describeChanges, describeFileChange } from '../../src/ui/describe.js';

describe('describeChanges', () => {
  it('counts a same-size text edit by its lines, not as "0 B changed"', () => {
    // An edit that keeps the file's size records bytes 0 (its size difference): the lines say what changed.
    expect(describeChanges([{ insertions: 3, deletions: 3, bytes: 0 }])).toBe('1 file, +3 -3 lines');
    expect(describeFileChange({ insertions: 3, deletions: 3, bytes: 0 })).toBe('+3 -3');
  });

  it('sums lines over text files and bytes over binary files', () => {
    const files = [
      { insertions: 10, deletions: 1, bytes: 200 },
      { insertions: 0, deletions: 2, bytes: 40 },
      { insertions: -1, deletions: -1, bytes: 1024 * 1024 },
      { insertions: -1, deletions: -1, bytes: 512 * 1024 },
    ];
    expect(describeChanges(files)).toBe('4 files, +10 -3 lines, 2 binary files (1.5 MiB)');
    expect(describeFileChange(files[2]!)).toBe('binary, 1.0 MiB');
  });

  it('leaves out bytes it does not know (runs recorded before bytes were counted)', () => {
    expect(describeChanges([{ insertions: -1, deletions: -1 }])).toBe('1 file, 1 binary file');
    expect(describeFileChange({ insertions: -1, deletions: -1 })).toBe('binary');
    expect(describeChanges([])).toBe('0 files');
  });

  it('counts every file of a run whose log lists only the first 1,000, with its line totals', () => {
    const listed = Array.from({ length: 1000 }, () => ({ insertions: 1, deletions: 0 }));
    expect(describeChanges(listed, { fileCount: 5000, insertions: 5000, deletions: 7 })).toBe('5000 files (the first 1000 listed), +5000 -7 lines');
    expect(describeChanges([{ insertions: -1, deletions: -1, bytes: 2048 }], { fileCount: 3, insertions: 0, deletions: 0 })).toBe('3 files (the first 1 listed), +0 -0 lines, 1 binary file among those listed (2.0 KiB)');
  });
});
