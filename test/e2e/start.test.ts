/**
 * Fast start keeps every answer: `requireRepo` asks git once for the top level and the common dir, and
 * must give what the two separate calls give from every kind of place (a subfolder, a linked worktree,
 * a symbolic link to the checkout, a checkout whose path holds a newline), and the same error outside a
 * repository. Real git, real temp repositories.
 */
import { mkdirSync, realpathSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { createGit, requireRepo, type Git } from '../../src/exec/git.js';
import { cleanup, git, makeRepo, tempDir } from '../helpers.js';

afterAll(cleanup);

/** The answer of the two separate calls requireRepo used to make. */
async function twoCalls(g: Git, cwd: string): Promise<{ root: string; commonDir: string } | null> {
  const root = await g.topLevel(cwd);
  return root ? { root, commonDir: await g.commonDir(root) } : null;
}

/** A git module that records requireRepo's calls: `raw` argument vectors, and `topLevel`/`commonDir` by name. */
function counting(): { g: Git; calls: string[][] } {
  const inner = createGit();
  const calls: string[][] = [];
  const g: Git = {
    ...inner,
    raw: (where, args, o) => (calls.push([...args]), inner.raw(where, args, o)),
    topLevel: (cwd) => (calls.push(['topLevel']), inner.topLevel(cwd)),
    commonDir: (where) => (calls.push(['commonDir']), inner.commonDir(where)),
  };
  return { g, calls };
}

describe('requireRepo: one git call, the same answer', () => {
  it('from the top level, a subfolder, a linked worktree and a symbolic link to the checkout', async () => {
    const { repo } = makeRepo({ 'README.md': '# r\n', 'a/b/c.txt': 'x\n' });
    const wt = join(tempDir('agentctl-wt-'), 'wt');
    git(repo, 'worktree', 'add', '-q', '-b', 'side', wt);
    mkdirSync(join(wt, 'deep', 'er'), { recursive: true });
    const link = join(tempDir('agentctl-link-'), 'link');
    symlinkSync(repo, link);
    const g = createGit();
    for (const cwd of [repo, join(repo, 'a', 'b'), wt, join(wt, 'deep', 'er'), link, join(link, 'a')]) {
      const expected = await twoCalls(g, cwd);
      expect(expected, cwd).not.toBeNull();
      expect(await requireRepo(g, cwd), cwd).toEqual(expected);
    }
    expect((await requireRepo(g, wt)).commonDir).toBe(join(realpathSync(repo), '.git'));
  });

  it('takes one git process where the old way took two', async () => {
    const { repo } = makeRepo({ 'README.md': '# r\n' });
    const { g, calls } = counting();
    await requireRepo(g, repo);
    expect(calls).toEqual([['rev-parse', '--show-toplevel', '--path-format=absolute', '--git-common-dir']]);
  });

  it('a checkout whose path holds a newline: the two separate calls answer, correctly', async () => {
    const parent = join(tempDir('agentctl-nl-'), 'odd\nname');
    mkdirSync(parent);
    git(parent, 'init', '-q', '-b', 'main');
    const { g, calls } = counting();
    const got = await requireRepo(g, parent);
    expect(got).toEqual({ root: realpathSync(parent), commonDir: join(realpathSync(parent), '.git') });
    expect(calls.map((a) => a[0])).toEqual(['rev-parse', 'topLevel', 'commonDir']);
  });

  it('outside a repository: the same ConfigError', async () => {
    const outside = tempDir('agentctl-norepo-');
    await expect(requireRepo(createGit(), outside)).rejects.toThrow(ConfigError);
    await expect(requireRepo(createGit(), join(outside, 'missing'))).rejects.toThrow(/not a git repository/);
  });
});
