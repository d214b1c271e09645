/**
 * Fast start keeps every answer and stays fast:
 * - `requireRepo` asks git once for the top level and the common dir, and must give what the two separate
 *   calls give from every kind of place (a subfolder, a linked worktree, a symbolic link to the checkout, a
 *   checkout whose path holds a newline), and the same error outside a repository. Real git, real repos.
 * - The shipped bundle (src/bundle.mjs, built here in memory from dist/ with the same options) loads what a
 *   command does not use only when asked: what every start loads, and what `tasks` loads, are checked by
 *   package. Needs `npm run build` (dist/).
 * - bin/agentctl runs the CommonJS build through a V8 code cache kept in AGENTCTL_HOME/cache, and a
 *   command that draws with ink through the ES module build: the built CLI, real processes.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { createGit, requireRepo, type Git } from '../../src/exec/git.js';
import { ROOT, agentctl, cleanup, git, makeRepo, tempDir } from '../helpers.js';

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

describe('bin/agentctl: the CommonJS build with a V8 code cache', () => {
  const CACHE = /^cli-[0-9a-f]{16}-v\d+\.\d+\.\d+-[a-z0-9]+\.v8$/;

  it('the first command writes one private cache under AGENTCTL_HOME/cache; later ones read it and leave it; a damaged one is refused and replaced; the answer never changes', async () => {
    const { repo, home } = makeRepo({ 'tasks/fix.md': '---\nagent: claude\ntype: docs\n---\nFix it.\n' });
    const first = await agentctl(repo, home, ['tasks', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const dir = join(home, 'cache');
    const names = readdirSync(dir);
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(CACHE);
    const file = join(dir, names[0]!);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const written = readFileSync(file);
    const second = await agentctl(repo, home, ['tasks', '--json']);
    expect(second).toEqual(first);
    expect(readFileSync(file).equals(written)).toBe(true);
    // Bytes V8 did not write: refused (the command compiles from source), then replaced by a good cache.
    const junk = Buffer.alloc(written.length, 7);
    writeFileSync(file, junk);
    const third = await agentctl(repo, home, ['tasks', '--json']);
    expect(third).toEqual(first);
    expect(readFileSync(file).equals(junk)).toBe(false);
    expect(readdirSync(dir)).toEqual(names);
    // The cache of another build (another bundle or Node) is removed when this one is written.
    const other = join(dir, 'cli-0000000000000000-v20.0.0-x64.v8');
    writeFileSync(other, 'old');
    rmSync(file);
    expect((await agentctl(repo, home, ['tasks', '--json'])).code).toBe(0);
    expect(readdirSync(dir)).toEqual(names);
  }, 60_000);

  it('a command that draws with ink (an ES module that awaits at its top level) runs with the ES module build', async () => {
    const { repo, home } = makeRepo();
    const r = await agentctl(repo, home, ['review', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ runs: [] });
  }, 60_000);
});
