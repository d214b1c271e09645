/**
 * gitRemote.ts against real repositories: what a repository's config says about its remote never runs
 * (a planted `remote.origin.uploadpack`/`receivepack` program, an `ext::` URL), and a fetch moves no
 * ref (the fetched commits are only in the object store).
 */
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createGit } from '../../src/exec/git.js';
import { fetchBranches, pushAtomic } from '../../src/exec/gitRemote.js';
import { cleanup, git, makeRepo, tempDir } from '../helpers.js';

/** A bare remote with a branch `feature` one commit ahead of main, and a clone of it (main only fetched). */
function remoteAndClone(): { remote: string; clone: string; feature: string; marker: string; evil: string } {
  const { repo } = makeRepo();
  git(repo, 'switch', '-q', '-c', 'feature');
  writeFileSync(join(repo, 'f.txt'), 'feature\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'feature');
  const feature = git(repo, 'rev-parse', 'HEAD');
  git(repo, 'switch', '-q', 'main');
  const base = tempDir();
  const remote = join(base, 'remote.git');
  git(base, 'clone', '-q', '--bare', repo, remote);
  const clone = join(base, 'clone');
  git(base, 'clone', '-q', '--single-branch', '-b', 'main', remote, clone);
  const marker = join(base, 'ran');
  const evil = join(base, 'evil.sh');
  writeFileSync(evil, `#!/bin/sh\ntouch ${marker}\nexec "$(basename "$0" | sed s/evil.sh//)git-upload-pack" "$@"\n`);
  chmodSync(evil, 0o755);
  return { remote, clone, feature, marker, evil };
}

describe('gitRemote: the shared remote, with hardened git', () => {
  afterEach(cleanup);

  it('fetches a branch into the object store only; a configured upload-pack or receive-pack program never runs', async () => {
    const { clone, feature, marker, evil } = remoteAndClone();
    git(clone, 'config', 'remote.origin.uploadpack', evil);
    git(clone, 'config', 'remote.origin.receivepack', evil);
    const refs = git(clone, 'for-each-ref');
    const g = createGit();
    const tips = await fetchBranches(g, clone, 'origin', ['feature', 'missing']);
    expect(tips.get('feature')).toBe(feature);
    expect(tips.get('missing')).toBeUndefined();
    expect(git(clone, 'cat-file', '-t', feature)).toBe('commit');
    expect(git(clone, 'for-each-ref')).toBe(refs);
    expect(await pushAtomic(g, clone, 'origin', [{ ref: 'refs/heads/copy', sha: feature }])).toEqual({ ok: true });
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses the ext:: transport', async () => {
    const { clone, marker } = remoteAndClone();
    git(clone, 'remote', 'set-url', 'origin', `ext::sh -c touch% ${marker}`);
    await expect(fetchBranches(createGit(), clone, 'origin', ['main'])).rejects.toThrow(/cannot reach the remote "origin"/);
    expect(existsSync(marker)).toBe(false);
  });

  it('a push publishes only the refs it names: push.followTags set by the repository sends no tag', async () => {
    const { remote, clone } = remoteAndClone();
    git(clone, 'config', 'push.followTags', 'true');
    git(clone, 'tag', '-a', 'leak', '-m', 'annotated', 'main');
    expect(await pushAtomic(createGit(), clone, 'origin', [{ ref: 'refs/heads/copy', sha: git(clone, 'rev-parse', 'main') }])).toEqual({ ok: true });
    expect(git(remote, 'tag', '--list')).toBe('');
  });

  it("runs no program a repository's core.gitProxy names (git:// is not a transport agentctl uses)", async () => {
    const { clone, marker } = remoteAndClone();
    const proxy = join(clone, '..', 'proxy.sh');
    writeFileSync(proxy, `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    git(clone, 'config', 'core.gitProxy', proxy);
    git(clone, 'remote', 'set-url', 'origin', 'git://127.0.0.1:1/repo');
    await expect(fetchBranches(createGit(), clone, 'origin', ['main'])).rejects.toThrow(/cannot reach the remote "origin"/);
    expect(await pushAtomic(createGit(), clone, 'origin', [{ ref: 'refs/heads/x', sha: git(clone, 'rev-parse', 'main') }]).catch(() => ({ ok: false }))).toMatchObject({ ok: false });
    expect(existsSync(marker)).toBe(false);
  });

  it('a push with one refused update is refused whole (atomic): a broken lease leaves the remote as it was', async () => {
    const { remote, clone, feature } = remoteAndClone();
    const before = git(remote, 'for-each-ref');
    const main = git(clone, 'rev-parse', 'main');
    // Creating `new` alone would be accepted; deleting `feature` leased on a tip it does not have is not.
    const r = await pushAtomic(createGit(), clone, 'origin', [
      { ref: 'refs/heads/new', sha: main },
      { ref: 'refs/heads/feature', sha: undefined, expect: main },
    ]);
    expect(r).toMatchObject({ ok: false, rejected: expect.arrayContaining([expect.stringMatching(/refs\/heads\/feature.*stale info/)]) });
    expect(git(remote, 'for-each-ref')).toBe(before);
    expect(git(remote, 'rev-parse', 'feature')).toBe(feature);
  });
});
