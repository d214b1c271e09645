/**
 * Fast start keeps every answer and stays fast:
 * - `requireRepo` asks git once for the top level and the common dir, and must give what the two separate
 *   calls give from every kind of place (a subfolder, a linked worktree, a symbolic link to the checkout, a
 *   checkout whose path holds a newline), and the same error outside a repository. Real git, real repos.
 * - The shipped bundle (src/bundle.mjs, built here in memory from dist/ with the same options) loads what a
 *   command does not use only when asked: what every start loads, and what `tasks` loads, are checked by
 *   package. Needs `npm run build` (dist/).
 */
import { existsSync, mkdirSync, realpathSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { createGit, requireRepo, type Git } from '../../src/exec/git.js';
import { ROOT, cleanup, git, makeRepo, tempDir } from '../helpers.js';

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

/** esbuild's metafile outputs: path → the files it imports and the inputs it holds. */
type Outputs = Record<string, { entryPoint?: string; imports: { path: string; kind: string }[]; inputs: Record<string, unknown> }>;

/** npm packages in what loading `output` loads at once (static imports, followed), by package name. */
function packagesLoadedWith(outputs: Outputs, output: string): Set<string> {
  const seen = new Set<string>();
  const todo = [output];
  while (todo.length) {
    const o = todo.pop()!;
    if (seen.has(o)) continue;
    seen.add(o);
    for (const i of outputs[o]!.imports) if (i.kind === 'import-statement' && outputs[i.path]) todo.push(i.path);
  }
  const packages = new Set<string>();
  for (const o of seen) {
    for (const input of Object.keys(outputs[o]!.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      if (m) packages.add(m[1]!);
    }
  }
  return packages;
}

describe('the bundle: each command loads what it uses', () => {
  it('every start loads commander and little else; `tasks` loads neither the terminal UI nor execa; `run` gets its own chunk', async () => {
    expect(existsSync(join(ROOT, 'dist', 'cli', 'main.js')), 'run npm run build first').toBe(true);
    const { build } = await import('esbuild');
    const { bundleOptions } = (await import('../../src/bundle.mjs')) as { bundleOptions: Record<string, unknown> };
    const result = await build({ ...bundleOptions, write: false, metafile: true, logLevel: 'silent' });
    const outputs = result.metafile.outputs as Outputs;
    const rel = (o: string) => o.replace(/\\/g, '/');
    const byEntry = (entry: string) => {
      const hit = Object.keys(outputs).find((o) => outputs[o]!.entryPoint === entry);
      expect(hit, entry).toBeDefined();
      return hit!;
    };
    const start = packagesLoadedWith(outputs, Object.keys(outputs).find((o) => rel(o).endsWith('dist/bundle/agentctl.js'))!);
    expect([...start].sort()).toEqual(expect.arrayContaining(['commander']));
    for (const heavy of ['ink', 'react', 'execa', 'simple-git', 'zod', 'yaml', 'proper-lockfile', 'picomatch']) expect(start, heavy).not.toContain(heavy);
    const tasks = packagesLoadedWith(outputs, byEntry('dist/commands/tasks.js'));
    // What it needs is there (the check sees packages), what it does not use is not.
    for (const needed of ['zod', 'yaml', 'simple-git']) expect(tasks, needed).toContain(needed);
    for (const unused of ['ink', 'react', 'react-reconciler', 'execa', 'proper-lockfile', 'p-limit']) expect(tasks, unused).not.toContain(unused);
    expect(packagesLoadedWith(outputs, byEntry('dist/commands/run.js'))).toContain('ink');
  }, 120_000);
});
