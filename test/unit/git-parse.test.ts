/** Pure parts of agentctl's git client: output parsers and the hardening overrides. */
import { describe, expect, it } from 'vitest';
import { parseNumstat, parseWorktrees, unencodablePath } from '../../src/exec/git.js';
import { configEnv, driverOverrides, mayRunDrivers, withDiffFlags } from '../../src/exec/gitHarden.js';

describe('parseNumstat', () => {
  it('keeps paths exactly, including tabs and newlines, and marks binary files', () => {
    expect(parseNumstat('1\t2\ta\tb.txt\0-\t-\tbin\nary\0')).toEqual([
      { path: 'a\tb.txt', insertions: 1, deletions: 2 },
      { path: 'bin\nary', insertions: -1, deletions: -1 },
    ]);
  });
  it('throws on an entry that is not numstat (never a NaN count)', () => {
    expect(() => parseNumstat('ile-00001.txt\0')).toThrow(/unexpected git numstat entry/);
  });
});

it('parseWorktrees reads NUL-terminated records, a path with a newline included', () => {
  const text = 'worktree /r\0HEAD abc\0branch refs/heads/main\0\0worktree /w/a\nb\0HEAD def\0detached\0\0';
  expect(parseWorktrees(text)).toEqual([
    { path: '/r', branch: 'main' },
    { path: '/w/a\nb', branch: undefined },
  ]);
});

describe('driverOverrides', () => {
  it('empties every filter driver (also one whose name holds = or dots) and sets merge drivers to false', () => {
    const listed = 'core.bare\0filter.lfs.clean\0filter.a=b.c.smudge\0merge.ff\0merge.x.driver\0diff.x.textconv\0';
    expect(driverOverrides(listed)).toEqual([
      ['filter.lfs.clean', ''], ['filter.lfs.smudge', ''], ['filter.lfs.process', ''], ['filter.lfs.required', 'false'],
      ['filter.a=b.c.clean', ''], ['filter.a=b.c.smudge', ''], ['filter.a=b.c.process', ''], ['filter.a=b.c.required', 'false'],
      ['merge.x.driver', 'false'],
    ]);
  });
  it('passes overrides as GIT_CONFIG_COUNT/KEY/VALUE, never as -c (which splits at the first =)', () => {
    expect(configEnv([['filter.a=b.clean', '']])).toEqual({ GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'filter.a=b.clean', GIT_CONFIG_VALUE_0: '' });
    expect(configEnv([])).toEqual({});
  });
});

it('withDiffFlags switches off textconv and external diff for diff, log and show only', () => {
  expect(withDiffFlags(['diff', 'a', 'b'])).toEqual(['diff', '--no-ext-diff', '--no-textconv', 'a', 'b']);
  expect(withDiffFlags(['log', '--format=%H'])).toEqual(['log', '--no-ext-diff', '--no-textconv', '--format=%H']);
  expect(withDiffFlags(['diff-tree', '-r', 'x'])).toEqual(['diff-tree', '-r', 'x']);
});

it('a caller\'s leading -c settings do not hide the subcommand from the hardening', () => {
  expect(withDiffFlags(['-c', 'core.bigFileThreshold=8', 'diff', 'a', 'b'])).toEqual(['-c', 'core.bigFileThreshold=8', 'diff', '--no-ext-diff', '--no-textconv', 'a', 'b']);
  expect(withDiffFlags(['-c', 'a=1', '-c', 'b=2', 'show', 'x'])).toEqual(['-c', 'a=1', '-c', 'b=2', 'show', '--no-ext-diff', '--no-textconv', 'x']);
  expect(mayRunDrivers(['-c', 'a=1', 'rev-parse', 'HEAD'])).toBe(false);
  expect(mayRunDrivers(['-c', 'a=1', 'worktree', 'add', 'p'])).toBe(true);
  expect(mayRunDrivers(['-c', 'a=1', 'worktree', 'list'])).toBe(false);
  expect(mayRunDrivers(['-c'])).toBe(true);
});

it('mayRunDrivers: only subcommands that never touch file contents skip the driver listing', () => {
  for (const args of [['add', '-A'], ['commit', '-m', 'x'], ['status'], ['merge-tree', 'a', 'b'], ['worktree', 'add', 'p'], ['worktree', 'remove', 'p'], ['diff', '--cached'], ['cat-file', '--filters', 'HEAD:x'], ['checkout', 'b'], ['reset', '--hard'], ['rebase', 'x'], ['something-new']]) {
    expect(mayRunDrivers(args), args.join(' ')).toBe(true);
  }
  for (const args of [['rev-parse', 'HEAD'], ['update-ref', 'r', 'x'], ['branch', '-f', 'b', 'x'], ['worktree', 'list'], ['worktree', 'prune'], ['cat-file', 'blob', 'x'], ['commit-tree', 't'], ['log', '--format=%H']]) {
    expect(mayRunDrivers(args), args.join(' ')).toBe(false);
  }
});

it('an option other than -c before the subcommand is refused, not read as the subcommand', () => {
  // `-C <dir> diff` would otherwise be seen as subcommand "-C": no --no-textconv added, drivers assumed.
  for (const args of [['-C', '/elsewhere', 'diff', 'a', 'b'], ['--git-dir=/x', 'show', 'y'], ['-c', 'a=1', '--no-pager', 'log']]) {
    expect(() => withDiffFlags(args), args.join(' ')).toThrow(/before the subcommand/);
    expect(() => mayRunDrivers(args), args.join(' ')).toThrow(/before the subcommand/);
  }
});

it('unencodablePath names the file of git add\'s working-tree-encoding failures, and nothing for any other failure', () => {
  expect(unencodablePath("hint: The file 'docs/a.txt' is missing a byte order mark (BOM).\nfatal: BOM is required in 'docs/a.txt' if encoded as UTF-16\n")).toBe('docs/a.txt');
  expect(unencodablePath("fatal: failed to encode 'd/it\'s.ps1' from UTF-16LE to UTF-8\n")).toBe("d/it's.ps1");
  expect(unencodablePath("fatal: pathspec 'x' did not match any files\n")).toBeUndefined();
  expect(unencodablePath("fatal: BOM is required in 'a.txt' if encoded as UTF-16\nfatal: Unable to create '.git/index.lock': File exists.\n")).toBeUndefined();
});
