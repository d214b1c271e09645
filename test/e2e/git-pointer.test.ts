/**
 * Finding 8 of issue 9, as an attacker: the agent rewrites its worktree's `.git` pointer to the user's
 * `.git` (or another run's admin dir, or replaces it with a link) and adds a CI workflow. agentctl's
 * capture must commit on the run branch through the admin dir it recorded, `main` must not move, and
 * the change must be reported; a plain path whose `.git` leads into another checkout is refused.
 */
import { chmodSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createGit } from '../../src/exec/git.js';
import { adminDirOf, checkGitPointer, GitPointerError, locateRepo, restoreGitPointer } from '../../src/exec/gitPointer.js';
import { captureWork, createSandbox, removeSandbox, sandboxTarget } from '../../src/exec/worktree.js';
import { agentctl, approveRepo, cleanup, git, makeRepo, taskFile, tempDir, writeFiles } from '../helpers.js';

afterEach(cleanup);

const author = { name: 'agent', email: 'a@localhost' };

async function sandboxIn(repo: string, name = 'r1') {
  const gitApi = createGit();
  const base = git(repo, 'rev-parse', 'HEAD');
  const wt = join(tempDir('wt-'), name);
  const sandbox = await createSandbox(gitApi, repo, join(tempDir('lock-'), 'lock'), wt, `agentctl/t/${name}`, base, 'test');
  return { gitApi, base, wt, sandbox };
}

/** Everything, without the OS sandbox: the detection layer, where a process can reach the pointer. */
const OPEN_PROFILE = 'description: everything, without the OS sandbox\nread: ["**"]\nwrite: ["**"]\ncommands: { allow: ["*"] }\nsandbox: none\n';

describe('the worktree .git pointer is never trusted', () => {
  it('createSandbox records the admin dir from the common dir', async () => {
    const { repo } = makeRepo();
    const { wt, sandbox } = await sandboxIn(repo);
    expect(sandbox.gitDir).toBe(join(git(repo, 'rev-parse', '--path-format=absolute', '--git-common-dir'), 'worktrees', 'r1'));
    expect(checkGitPointer(wt, sandbox.gitDir)).toEqual({ ok: true });
    expect(adminDirOf(join(repo, '.git'), wt)).toBe(sandbox.gitDir);
  });

  it('a pointer rewritten to the main .git: capture commits on the run branch, main does not move, the change is reported', async () => {
    const { repo } = makeRepo();
    const { gitApi, base, wt, sandbox } = await sandboxIn(repo);
    const mainBefore = git(repo, 'rev-parse', 'main');
    writeFiles(wt, { '.github/workflows/x.yml': 'on: push\n' });
    writeFileSync(join(wt, '.git'), `gitdir: ${join(repo, '.git')}\n`);

    expect(checkGitPointer(wt, sandbox.gitDir)).toEqual({ ok: false, found: join(repo, '.git') });
    expect(adminDirOf(join(repo, '.git'), wt)).toBe(sandbox.gitDir); // the common dir's records are unchanged
    const capture = await captureWork(gitApi, sandboxTarget(sandbox), sandbox.branch, 'work', author);
    expect(git(repo, 'rev-parse', sandbox.branch)).toBe(capture.headSha);
    expect(git(repo, 'diff', '--name-only', base, capture.headSha)).toBe('.github/workflows/x.yml');
    expect(git(repo, 'rev-parse', 'main')).toBe(mainBefore);
    expect(git(repo, 'status', '--porcelain')).toBe('');

    restoreGitPointer(wt, sandbox.gitDir);
    expect(checkGitPointer(wt, sandbox.gitDir)).toEqual({ ok: true });
    await removeSandbox(gitApi, repo, join(tempDir('lock-'), 'lock'), wt, sandbox.branch, sandbox.gitDir);
  });

  it('a plain path whose .git leads into another checkout is refused before git runs', async () => {
    const { repo } = makeRepo();
    const { gitApi, wt, sandbox } = await sandboxIn(repo);
    const { wt: other, sandbox: otherBox } = await sandboxIn(repo, 'r2');
    const mainBefore = git(repo, 'rev-parse', 'main');
    writeFiles(wt, { '.github/workflows/x.yml': 'on: push\n' });

    writeFileSync(join(wt, '.git'), `gitdir: ${join(repo, '.git')}\n`);
    await expect(captureWork(gitApi, wt, sandbox.branch, 'work', author)).rejects.toBeInstanceOf(GitPointerError);
    // Another run's admin dir: its record names the other worktree.
    writeFileSync(join(wt, '.git'), `gitdir: ${otherBox.gitDir}\n`);
    expect(() => locateRepo(wt)).toThrow(GitPointerError);
    // A link to the main .git.
    rmSync(join(wt, '.git'));
    symlinkSync(join(repo, '.git'), join(wt, '.git'));
    expect(() => locateRepo(wt)).toThrow(GitPointerError);
    expect(checkGitPointer(wt, sandbox.gitDir)).toEqual({ ok: false, found: 'a symbolic link' });

    expect(git(repo, 'rev-parse', 'main')).toBe(mainBefore);
    expect(git(repo, 'rev-parse', otherBox.branch)).toBe(mainBefore);
    expect(locateRepo(other)).toEqual({ workTree: other, gitDir: otherBox.gitDir });
    expect(locateRepo(repo)).toEqual({ workTree: repo, gitDir: join(repo, '.git') });
  });

  it('end to end (sandbox: none, the detection layer; the OS sandbox refuses the write): an agent rewriting its pointer never moves main; the run records and repairs it', async () => {
    const agent = [
      '#!/bin/sh',
      'mkdir -p .github/workflows && echo "on: push" > .github/workflows/x.yml',
      'printf "gitdir: %s\\n" "$(git rev-parse --path-format=absolute --git-common-dir)" > .git',
      'echo done',
    ].join('\n');
    const { repo, home } = makeRepo({
      '.agentrc.yaml': 'agents:\n  command:\n    bin: ./agent.sh\n',
      'agent.sh': `${agent}\n`,
      '.agentctl/profiles/open.yaml': OPEN_PROFILE,
      'tasks/t.md': taskFile({ agent: 'command', type: 'docs', profile: 'open' }, 'ok'),
    });
    chmodSync(join(repo, 'agent.sh'), 0o755);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'agent');
    approveRepo(repo, home); // the open profile's sandbox: none
    const mainBefore = git(repo, 'rev-parse', 'main');
    await agentctl(repo, home, ['run', 't']);
    expect(git(repo, 'rev-parse', 'main')).toBe(mainBefore);
    expect(git(repo, 'ls-tree', '-r', '--name-only', 'main')).not.toContain('.github/workflows/x.yml');

    const runs = JSON.parse((await agentctl(repo, home, ['runs', '--json'])).stdout).runs as { runId: string; worktree: string }[];
    const run = runs[0]!;
    const discarded = await agentctl(repo, home, ['review', 'discard', run.runId]);
    expect(discarded.code, discarded.stderr).toBe(0);
    expect(git(repo, 'rev-parse', 'main')).toBe(mainBefore);
    const log = JSON.parse((await agentctl(repo, home, ['log', '--json'])).stdout).events as { type: string; payload: Record<string, unknown> }[];
    expect(log.find((e) => e.type === 'escalation.attempted' && e.payload.kind === 'git-pointer')?.payload).toMatchObject({ found: join(repo, '.git'), restored: true });
    // The archive holds the agent's work, committed through the recorded admin dir.
    expect(git(repo, 'ls-tree', '-r', '--name-only', `refs/agentctl/archive/${run.runId}`)).toContain('.github/workflows/x.yml');
  }, 60_000);

  it('end to end: a pointer rewritten after the run (a surviving process) refuses the merge, is put back and recorded', async () => {
    const { repo, home } = makeRepo({
      '.agentrc.yaml': 'agents:\n  command:\n    bin: ./agent.sh\n',
      'agent.sh': '#!/bin/sh\nmkdir -p docs && echo hi > docs/x.md\n',
      // Without the OS sandbox, as that is where a process could outlive its run and reach the pointer.
      '.agentctl/profiles/open.yaml': OPEN_PROFILE,
      'tasks/t.md': taskFile({ agent: 'command', type: 'docs', profile: 'open' }, 'ok'),
    });
    chmodSync(join(repo, 'agent.sh'), 0o755);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'agent');
    approveRepo(repo, home); // the open profile's sandbox: none
    const mainBefore = git(repo, 'rev-parse', 'main');
    await agentctl(repo, home, ['run', 't']);
    const run = (JSON.parse((await agentctl(repo, home, ['runs', '--json'])).stdout).runs as { runId: string; worktree: string; state: string }[])[0]!;
    expect(run.state).toBe('awaiting_review');
    writeFileSync(join(run.worktree, '.git'), `gitdir: ${join(repo, '.git')}\n`);

    const merged = await agentctl(repo, home, ['review', 'merge', run.runId]);
    expect(merged.code).toBe(5);
    expect(merged.stderr).toMatch(/changed git's own records \(git-pointer/);
    expect(git(repo, 'rev-parse', 'main')).toBe(mainBefore);
    expect(readFileSync(join(run.worktree, '.git'), 'utf8')).toBe(`gitdir: ${join(repo, '.git', 'worktrees', basename(run.worktree))}\n`);
    // Still refused once the pointer is back: the run stays unmergeable.
    expect((await agentctl(repo, home, ['review', 'merge', run.runId])).code).toBe(5);
    expect(git(repo, 'rev-parse', 'main')).toBe(mainBefore);
  }, 60_000);
});
