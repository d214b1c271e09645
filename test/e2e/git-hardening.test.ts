/**
 * Finding 3 of issue 9, as an attacker: a repository config, hooks and `.gitattributes` written by an
 * unconfined agent name programs git would run during agentctl's own git calls (capture, numstat, diff,
 * merge, worktree add/remove). Every program here only touches a marker file; after agentctl's calls no
 * marker may exist. A control at the end runs plain git on the same setup and sees the markers appear,
 * so the setup is real.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createGit } from '../../src/exec/git.js';
import { captureWork, createSandbox, MAX_LEFT_OUT, removeSandbox, sandboxTarget } from '../../src/exec/worktree.js';
import { cleanup, git, makeRepo, tempDir, writeFiles } from '../helpers.js';

afterEach(cleanup);

const author = { name: 'agent', email: 'a@localhost' };

/** A shell command that records `name` in the markers dir (and passes content through, for filters). */
const mark = (marks: string, name: string, tail = 'cat') => `touch ${join(marks, name)}; ${tail}`;

/** Write an executable script. */
function script(path: string, body: string): void {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

/** Make the repository hostile the way an agent with write access to `.git` can. */
function poison(repo: string, marks: string, worktree?: string): void {
  const hooks = tempDir('hooks-');
  for (const hook of ['post-checkout', 'pre-commit', 'post-commit', 'commit-msg', 'reference-transaction', 'post-merge', 'post-rewrite', 'pre-auto-gc', 'post-index-change']) {
    script(join(hooks, hook), `touch ${join(marks, `hooksPath-${hook}`)}`);
    script(join(repo, '.git', 'hooks', hook), `touch ${join(marks, `dotgit-hook-${hook}`)}`);
  }
  const fsmonitor = join(hooks, 'fsmonitor');
  script(fsmonitor, `touch ${join(marks, 'fsmonitor')}; exit 1`);
  const cfg = (key: string, value: string) => git(repo, 'config', key, value);
  cfg('core.hooksPath', hooks);
  cfg('core.fsmonitor', fsmonitor);
  cfg('filter.evil.clean', mark(marks, 'filter-clean'));
  cfg('filter.evil.smudge', mark(marks, 'filter-smudge'));
  cfg('filter.evil.required', 'true');
  cfg('filter.proc.process', mark(marks, 'filter-process', 'exit 1'));
  cfg('filter.a=b.clean', mark(marks, 'filter-eq-clean')); // `-c filter.a=b.clean=` would split at the first `=`
  cfg('diff.evil.textconv', mark(marks, 'textconv'));
  cfg('diff.evil.command', mark(marks, 'diff-command', 'true'));
  script(join(hooks, 'external-diff'), `touch ${join(marks, 'diff-external')}`);
  cfg('diff.external', join(hooks, 'external-diff'));
  cfg('merge.evil.driver', mark(marks, 'merge-driver', 'exit 0'));
  cfg('gpg.program', mark(marks, 'gpg', 'exit 1'));
  cfg('commit.gpgSign', 'true');
  // A config file the agent controls, pulled in by include.path.
  const included = join(worktree ?? hooks, 'included.gitconfig');
  writeFileSync(included, `[filter "inc"]\n\tclean = ${mark(marks, 'filter-included')}\n`);
  cfg('include.path', included);
  writeFileSync(join(repo, '.git', 'info', 'attributes'), '*.txt filter=evil diff=evil merge=evil\n*.p filter=proc\n');
}

/**
 * A repository whose second commit adds a gitlink at `path` (to its own first commit, `base0`), and a run
 * worktree made from it.
 */
async function withSubmodule(path: string) {
  const { repo } = makeRepo({ 'a.txt': 'a\n' });
  const base0 = git(repo, 'rev-parse', 'HEAD');
  git(repo, 'update-index', '--add', '--cacheinfo', `160000,${base0},${path}`);
  git(repo, 'commit', '-qm', 'a submodule');
  const gitApi = createGit();
  const wt = join(tempDir('wt-'), 'run');
  const sandbox = await createSandbox(gitApi, repo, join(tempDir('lock-'), 'lock'), wt, 'agentctl/t/r1', git(repo, 'rev-parse', 'HEAD'), 'test');
  return { repo, base0, gitApi, wt, sandbox, target: sandboxTarget(sandbox) };
}

describe("agentctl's git ignores what a repository or an agent controls", () => {
  it('runs no hook, fsmonitor, filter, textconv, external diff, merge driver or signer during create, capture, diff, merge and remove', async () => {
    const { repo } = makeRepo({ 'shared.txt': 'base\n', 'doc.p': 'p\n' });
    const marks = tempDir('marks-');
    poison(repo, marks);
    // Markers are checked before any error is rethrown: a hostile program that runs may also break the call.
    let failure: unknown;
    try {
      const gitApi = createGit();
      const base = git(repo, 'rev-parse', 'HEAD');
      const wt = join(tempDir('wt-'), 'run');
      const sandbox = await createSandbox(gitApi, repo, join(tempDir('lock-'), 'lock'), wt, 'agentctl/t/r1', base, 'test'); // checkout: smudge, post-checkout
      // The agent's own in-tree attributes name the other drivers.
      writeFiles(wt, {
        '.gitattributes': '*.b filter=a=b\n*.c filter=inc\n',
        'shared.txt': 'changed by the agent\n',
        'new.txt': 'x\n',
        'x.b': 'b\n',
        'x.c': 'c\n',
        'doc.p': 'changed\n',
      });
      const target = sandboxTarget(sandbox);
      const { headSha } = await captureWork(gitApi, target, sandbox.branch, 'work', author); // add (clean filters, fsmonitor), commit (hooks, gpg)
      expect(await gitApi.status(target)).toEqual([]);
      const files = (await gitApi.numstat(target, base, headSha)).map((f) => f.path).sort();
      expect(files).toEqual(['.gitattributes', 'doc.p', 'new.txt', 'shared.txt', 'x.b', 'x.c']);
      expect(await gitApi.diff(target, base, headSha)).toContain('+changed by the agent'); // textconv / external diff would replace this
      // Main moves on the same file: a content merge, where a merge driver would run.
      writeFileSync(join(repo, 'shared.txt'), 'changed on main\n');
      await gitApi.commitAll(repo, 'main moves', author);
      const merged = await gitApi.mergeTree(repo, 'main', headSha);
      expect(merged).toEqual({ conflicts: ['shared.txt'] }); // the driver is set to `false`: a conflict agentctl refuses
      const clean = await gitApi.mergeTree(repo, base, headSha);
      expect('tree' in clean).toBe(true);
      const commit = await gitApi.commitTree(repo, (clean as { tree: string }).tree, [base, headSha], 'merge');
      await gitApi.raw(repo, ['update-ref', 'refs/heads/landing', commit]); // reference-transaction hook
      await gitApi.raw(repo, ['checkout', '-q', 'landing']); // post-checkout, smudge
      await gitApi.raw(repo, ['merge', '--ff-only', '--quiet', commit]); // post-merge
      await removeSandbox(gitApi, repo, join(tempDir('lock-'), 'lock'), wt, sandbox.branch, sandbox.gitDir);
    } catch (error) {
      failure = error;
    }
    expect(readdirSync(marks)).toEqual([]);
    if (failure) throw failure;

    // Control: plain git on the same repository runs them (so the assertions above could fail).
    writeFileSync(join(repo, 'new2.txt'), 'y\n');
    try {
      execFileSync('git', ['add', 'new2.txt'], { cwd: repo, stdio: 'ignore' });
      execFileSync('git', ['diff', '--cached'], { cwd: repo, stdio: 'ignore' });
    } catch {
      /* the hostile programs may make git fail; what matters is that they ran */
    }
    expect(readdirSync(marks)).toEqual(expect.arrayContaining(['filter-clean', 'fsmonitor']));
  }, 60_000);

  it('a capture leaves nested repositories out whatever their place: one inside an unpopulated gitlink, one beside it, a .git file; past the cap their .git entries go and their files are captured', async () => {
    const { repo, base0, gitApi, wt, sandbox, target } = await withSubmodule('G');
    const nestedRepo = (dir: string) => {
      mkdirSync(dir, { recursive: true });
      execFileSync('git', ['init', '-q', dir]);
      writeFileSync(join(dir, 'f'), 'inside\n');
    };
    // Inside G (git refuses a pathspec there: "is in submodule"), beside it, and a bare .git file.
    nestedRepo(join(wt, 'G/x/D'));
    nestedRepo(join(wt, 'other'));
    writeFiles(wt, { 'gitfile/.git': 'gitdir: /nonexistent\n', 'gitfile/g': 'g\n', 'a.txt': 'changed\n', 'new.txt': 'n\n' });
    const first = await captureWork(gitApi, target, sandbox.branch, 'work', author);
    const entries = (sha: string) => git(repo, 'ls-tree', '-r', sha).split('\n').map((l) => { const [mode, , rest] = l.split(' '); return `${mode} ${rest!.split('\t')[1]}`; });
    expect(entries(first.headSha).sort()).toEqual(['100644 .agentrc.yaml', '100644 README.md', '100644 a.txt', '100644 new.txt', '160000 G']);
    expect(git(repo, 'rev-parse', `${first.headSha}:G`)).toBe(base0);

    // Past MAX_LEFT_OUT: too many to leave out by pathspec, so their .git entries are removed.
    for (let i = 0; i <= MAX_LEFT_OUT.count; i++) writeFiles(wt, { [`many/d${i}/.git`]: 'gitdir: /nonexistent\n', [`many/d${i}/f`]: `${i}\n` });
    const second = await captureWork(gitApi, target, sandbox.branch, 'many', author);
    const files = git(repo, 'ls-tree', '-r', '--name-only', second.headSha).split('\n');
    expect(files.filter((f) => f.startsWith('many/'))).toHaveLength(MAX_LEFT_OUT.count + 1);
    expect(files.some((f) => f.endsWith('/.git'))).toBe(false);
    expect(readdirSync(join(wt, 'many/d0'))).toEqual(['f']);
  }, 60_000);

  it('names that are not UTF-8, a submodule holding a file over 100 MiB, paths too long for one command line: the capture neither runs a nested filter nor fails (a review found each)', async () => {
    const { repo, gitApi, wt, sandbox, target } = await withSubmodule('vendor/lib');
    const marker = join(tempDir('marks-'), 'filter-ran');
    const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { cwd: wt, stdio: 'ignore' });
    // A repository in a folder named "sub\xff" (read as text, the name came back altered and the walk
    // lost it), whose clean filter git would run at the second capture; a file named "f\xff".
    sh(`d=$(printf 'sub\\377'); mkdir "$d" && cd "$d" && git init -q . && git config user.name x && git config user.email x@y && echo hi > a.txt && git add -A && git commit -qm c1 && printf '#!/bin/sh\\ntouch ${marker}\\ncat\\n' > .git/p.sh && echo '* filter=x' > .git/info/attributes && git config filter.x.clean 'sh .git/p.sh' && git config filter.x.required true && rm -f .git/index && git read-tree HEAD`);
    sh(`echo x > "$(printf 'f\\377')"`);
    // The submodule populated, with a pack above 100 MiB (sparse): no pathspec may point inside it.
    sh('mkdir -p vendor/lib && cd vendor/lib && git init -q . && truncate -s 150M .git/objects/pack/pack-big.pack');
    // 900 .git files each ~2,900 bytes deep: as pathspecs they were more than a command line holds (E2BIG).
    const long = Array.from({ length: 14 }, (_, i) => `${String(i).padStart(2, '0')}${'x'.repeat(198)}`).join('/');
    for (let i = 0; i < 900; i++) writeFiles(wt, { [`deep/${long}/${i}/.git`]: 'gitdir: /nonexistent\n' });
    writeFileSync(join(wt, 'a.txt'), 'changed\n');
    await captureWork(gitApi, target, sandbox.branch, 'first', author);
    writeFileSync(join(wt, 'b.txt'), 'b\n');
    const { headSha } = await captureWork(gitApi, target, sandbox.branch, 'second', author);
    expect(existsSync(marker), 'the nested filter ran on the host').toBe(false);
    const tree = git(repo, 'ls-tree', '-r', headSha);
    expect(tree).not.toMatch(/\tsub/);
    expect(tree).toMatch(/^160000 commit [0-9a-f]+\tvendor\/lib$/m);
    expect(git(repo, 'ls-tree', '-r', '--name-only', headSha).split('\n')).toEqual(expect.arrayContaining(['a.txt', 'b.txt']));
  }, 60_000);

  it('does not honour core.worktree: the work tree is the directory holding .git', async () => {
    const { repo } = makeRepo();
    const elsewhere = tempDir('elsewhere-');
    writeFileSync(join(elsewhere, 'planted.md'), 'x\n');
    git(repo, 'config', 'core.worktree', elsewhere);
    const gitApi = createGit();
    expect(await gitApi.topLevel(repo)).toBe(repo);
    mkdirSync(join(repo, 'sub'));
    expect(await gitApi.topLevel(join(repo, 'sub'))).toBe(repo);
    writeFileSync(join(repo, 'README.md'), 'edited\n');
    expect((await gitApi.status(repo)).map((f) => f.path)).toEqual(['README.md']);
  });

  it('sees through replace refs: numstat reports the commit that is really there', async () => {
    const { repo } = makeRepo();
    const base = git(repo, 'rev-parse', 'HEAD');
    writeFiles(repo, { '.github/workflows/x.yml': 'on: push\n' });
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'workflow');
    const head = git(repo, 'rev-parse', 'HEAD');
    // The agent plants a replacement for its commit with the base's tree: plain git then sees no change.
    const decoy = git(repo, 'commit-tree', `${base}^{tree}`, '-p', base, '-m', 'decoy');
    git(repo, 'replace', head, decoy);
    expect(git(repo, 'diff', '--numstat', base, head)).toBe('');
    expect((await createGit().numstat(repo, base, head)).map((f) => f.path)).toEqual(['.github/workflows/x.yml']);
  });

  it('sees a gitlink even when the config says diff.ignoreSubmodules=all', async () => {
    const { repo } = makeRepo();
    const base = git(repo, 'rev-parse', 'HEAD');
    git(repo, 'update-index', '--add', '--cacheinfo', `160000,${base},vendor/embedded`);
    git(repo, 'commit', '-qm', 'gitlink');
    git(repo, 'config', 'diff.ignoreSubmodules', 'all');
    expect(git(repo, 'diff', '--numstat', base, 'HEAD')).toBe('');
    expect((await createGit().numstat(repo, base, 'HEAD')).map((f) => f.path)).toEqual(['vendor/embedded']);
  });

  it('refuses output above its cap instead of returning part of it', async () => {
    const { repo } = makeRepo({ 'big.txt': 'x'.repeat(200_000) });
    const base = git(repo, 'rev-list', '--max-parents=0', 'HEAD');
    rmSync(join(repo, 'big.txt'));
    git(repo, 'commit', '-qam', 'drop');
    await expect(createGit({ maxOutputBytes: 50_000 }).diff(repo, base, 'HEAD')).rejects.toThrow(/more than 50000 bytes/);
    expect((await createGit().diff(repo, base, 'HEAD')).length).toBeGreaterThan(200_000);
  });
});
