/**
 * The common `.git` control files, snapshotted before a run and compared after: every way an unconfined
 * agent can change what git runs later (config keys, hooks, info/, other worktrees' records, its own
 * worktree's records, a hard link to the config) shows as a change, ordinary work in its own worktree
 * does not, and restore puts each back without writing through links.
 */
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createGit } from '../../src/exec/git.js';
import { diffGitControl, restoreGitControl, snapshotGitControl } from '../../src/exec/gitState.js';
import { createSandbox } from '../../src/exec/worktree.js';
import { cleanup, git, makeRepo, tempDir, writeFiles } from '../helpers.js';

afterEach(cleanup);

async function repoWithWorktrees() {
  const { repo } = makeRepo();
  const gitApi = createGit();
  const base = git(repo, 'rev-parse', 'HEAD');
  const lock = join(tempDir('lock-'), 'lock');
  const own = await createSandbox(gitApi, repo, lock, join(tempDir('wt-'), 'own'), 'agentctl/t/own', base, 'test');
  const other = await createSandbox(gitApi, repo, lock, join(tempDir('wt-'), 'other'), 'agentctl/t/other', base, 'test');
  return { repo, common: join(repo, '.git'), own, other };
}

describe('git control files: snapshot, compare, restore', () => {
  it('shows each change an agent can make, ignores ordinary work in its own worktree, and restore reverts every one', async () => {
    const { repo, common, own, other } = await repoWithWorktrees();
    const before = snapshotGitControl(common, own.gitDir);
    expect(JSON.parse(JSON.stringify(before))).toEqual(before); // plain data

    // Ordinary work in the run's own worktree: index, HEAD, logs, refs change; none is a control change.
    writeFiles(own.path, { 'a.md': 'a\n' });
    git(own.path, 'add', 'a.md');
    git(own.path, 'commit', '-qm', 'agent commit');
    git(own.path, 'checkout', '-q', '--detach');
    expect(diffGitControl(before, snapshotGitControl(common, own.gitDir))).toEqual([]);

    // The attack.
    const evil = tempDir('evil-');
    git(own.path, 'config', 'core.hooksPath', evil);
    git(own.path, 'config', 'core.fsmonitor', join(evil, 'fsmonitor'));
    git(own.path, 'config', 'filter.x.clean', 'touch /tmp/pwned');
    git(own.path, 'config', 'diff.x.textconv', 'touch /tmp/pwned');
    writeFileSync(join(common, 'hooks', 'post-merge'), '#!/bin/sh\ntouch /tmp/pwned\n', { mode: 0o755 });
    chmodSync(join(common, 'hooks', 'pre-commit.sample'), 0o777);
    writeFileSync(join(common, 'info', 'attributes'), '* filter=x diff=x\n');
    writeFileSync(join(common, 'info', 'exclude'), '*\n');
    writeFileSync(join(common, 'worktrees', 'other', 'gitdir'), `${join(repo, '.git')}\n`);
    writeFileSync(join(common, 'worktrees', 'other', 'HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(join(own.gitDir, 'commondir'), '/elsewhere/.git\n');
    writeFileSync(join(own.gitDir, 'config.worktree'), '[core]\n\thooksPath = /tmp\n');
    mkdirSync(join(common, 'objects', 'info'), { recursive: true });
    writeFileSync(join(common, 'objects', 'info', 'alternates'), '/elsewhere/objects\n');
    linkSync(join(common, 'config'), join(own.path, 'config-link')); // writable later through the worktree

    const changes = diffGitControl(before, snapshotGitControl(common, own.gitDir));
    const byPath = Object.fromEntries(changes.map((c) => [c.path, c]));
    expect(Object.keys(byPath).sort()).toEqual(
      [
        'config',
        'hooks/post-merge',
        'hooks/pre-commit.sample',
        'info/attributes',
        'info/exclude',
        'objects/info/alternates',
        'worktrees/other/HEAD',
        'worktrees/other/gitdir',
        'worktrees/own/commondir',
        'worktrees/own/config.worktree',
      ].sort(),
    );
    expect(byPath['config']).toMatchObject({ change: 'modified', detail: 'content, links 1 → 2' });
    expect(byPath['hooks/post-merge']).toMatchObject({ change: 'added' });
    expect(byPath['hooks/pre-commit.sample']).toMatchObject({ change: 'modified', detail: 'mode 755 → 777' });
    expect(byPath['info/attributes']).toMatchObject({ change: 'added' });
    expect(byPath['worktrees/other/gitdir']).toMatchObject({ change: 'modified', worktree: 'other' });
    expect(byPath['worktrees/own/config.worktree']).toMatchObject({ change: 'added', worktree: 'own' });

    const restored = restoreGitControl(before);
    expect(restored.map((c) => c.path)).toEqual(changes.map((c) => c.path));
    expect(diffGitControl(before, snapshotGitControl(common, own.gitDir))).toEqual([]);
    expect(readFileSync(join(common, 'config'), 'utf8')).not.toMatch(/hooksPath|fsmonitor|filter|textconv/);
    expect(existsSync(join(common, 'hooks', 'post-merge'))).toBe(false);
    expect(statSync(join(common, 'config')).nlink).toBe(1); // the worktree's hard link no longer reaches it
    expect(readFileSync(join(common, 'worktrees', 'other', 'gitdir'), 'utf8')).toBe(`${join(other.path, '.git')}\n`);
    expect(git(other.path, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('agentctl/t/other');
  });

  it('a control directory replaced by a link is put back without writing through the link', async () => {
    const { repo, common, own } = await repoWithWorktrees();
    mkdirSync(join(common, 'modules', 'sub'), { recursive: true });
    writeFileSync(join(common, 'modules', 'sub', 'config'), '[core]\n');
    const before = snapshotGitControl(common, own.gitDir);
    writeFileSync(join(common, 'modules', 'sub', 'config'), '[core]\n\thooksPath = /tmp\n');
    git(repo, 'replace', git(repo, 'rev-parse', 'HEAD'), git(repo, 'commit-tree', 'HEAD^{tree}', '-m', 'decoy'));
    const outside = tempDir('outside-');
    writeFileSync(join(outside, 'post-merge'), '#!/bin/sh\ntouch /tmp/pwned\n', { mode: 0o755 });
    rmSync(join(common, 'hooks'), { recursive: true });
    symlinkSync(outside, join(common, 'hooks'));
    mkdirSync(join(common, 'info', 'sub'));

    const changes = diffGitControl(before, snapshotGitControl(common, own.gitDir));
    expect(changes.map((c) => [c.path, c.change, c.detail])).toEqual([
      ['hooks', 'modified', 'dir → symlink'],
      ['info/sub', 'added', 'dir (mode 755)'],
      ['modules/sub/config', 'modified', 'content'],
      ['refs/replace', 'added', 'dir (mode 755)'],
    ]);
    restoreGitControl(before);
    expect(git(repo, 'replace', '-l')).toBe('');
    expect(lstatSync(join(common, 'hooks')).isDirectory()).toBe(true);
    expect(readdirSync(join(common, 'hooks')).sort()).toEqual(Object.keys(before.entries).filter((p) => p.startsWith('hooks/')).map((p) => p.slice(6)).sort());
    expect(readdirSync(outside)).toEqual(['post-merge']); // nothing was written there
    expect(diffGitControl(before, snapshotGitControl(common, own.gitDir))).toEqual([]);
  });

  it('restore reverts only the changes it is given (another live run’s worktree records are left alone)', async () => {
    const { repo, common, own } = await repoWithWorktrees();
    const before = snapshotGitControl(common, own.gitDir);
    git(repo, 'config', 'core.hooksPath', '/tmp');
    const third = join(tempDir('wt-'), 'third');
    git(repo, 'worktree', 'add', '-q', third, '-b', 'third'); // another run starting meanwhile
    const changes = diffGitControl(before, snapshotGitControl(common, own.gitDir));
    expect(changes.map((c) => [c.path, c.change, c.worktree])).toEqual([
      ['config', 'modified', undefined],
      ['worktrees/third', 'added', 'third'],
    ]);
    restoreGitControl(before, changes.filter((c) => c.worktree === undefined));
    expect(existsSync(join(common, 'worktrees', 'third', 'gitdir'))).toBe(true);
    expect(git(third, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('third');
    expect(diffGitControl(before, snapshotGitControl(common, own.gitDir)).map((c) => c.path)).toEqual(['worktrees/third']);
  });
});
