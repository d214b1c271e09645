/**
 * `agentctl gc`: find and repair drift between the event log, git's worktree list and the
 * filesystem, both ways, without losing data:
 * - a worktree whose run was merged or discarded (from another clone, through the remote) → torn down
 *   and removed with its branch (a discarded run's work archived under `refs/agentctl/archive/<run>`);
 * - a folder under AGENTCTL_HOME's worktrees that git no longer lists → moved to `lost+found/`;
 * - a worktree git lists under AGENTCTL_HOME whose folder is gone → `git worktree prune` (the branch
 *   is kept; `agentctl restore` recreates the folder);
 * - an `agentctl/…` branch with no worktree whose run is over (or unknown) → archived under
 *   `refs/agentctl/archive/<run>`, then deleted.
 */
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { basename, join, sep } from 'node:path';
import type { EventInput } from '../evidence/events.js';
import { awaitsDecision, type RunView } from '../evidence/projections/runs.js';
import { getRun } from '../evidence/runsStore.js';
import { archiveRef, removeSandbox } from '../exec/worktree.js';
import { withFileLock } from '../core/lock.js';
import { adminDirOf } from '../exec/gitPointer.js';
import { teardownWorktree } from './teardown.js';
import type { Context } from './context.js';

/** One repair gc would make (or made). */
export interface GcAction {
  kind: 'finished-worktree' | 'lost-folder' | 'missing-folder' | 'orphan-branch' | 'needs-restore';
  path: string | undefined;
  branch: string | undefined;
  runId: string | undefined;
  /** What is (or would be) done, in words. */
  action: string;
}

/**
 * Plan (and unless `dryRun`, apply) the repairs for this project.
 * @returns the actions, in the order they are applied
 */
export async function collectGarbage(ctx: Context, dryRun: boolean): Promise<GcAction[]> {
  const { git } = ctx;
  const project = ctx.project.config.project;
  // Runs are looked up one by one (branch and folder names carry the run id) in the persisted runs
  // projection, so gc costs what is on disk, not the length of the log.
  const runOf = (runId: string | undefined): RunView | undefined => (runId ? getRun(ctx.store, project, runId) : undefined);
  const runOfBranch = (branch: string): RunView | undefined => {
    const run = runOf(branch.split('/').pop());
    return run?.branch === branch ? run : undefined;
  };
  const root = join(ctx.paths.worktreesRoot, ctx.project.key);
  const before = await ctx.git.worktrees(ctx.project.root);
  const actions: GcAction[] = [];
  const events: EventInput[] = [];
  const subject = (runId: string | undefined) => {
    const r = runOf(runId);
    return r ? { runId: r.runId, task: r.task, agent: r.agent, project, taskType: r.taskType } : { project };
  };

  // 0. Worktrees of runs already merged or discarded (from another clone, through the remote; or a
  // removal that did not finish): their work is on the remote or archived, the folder is dead weight.
  for (const w of before) {
    if (!w.path.startsWith(root + sep) || !existsSync(w.path)) continue;
    const named = runOf(basename(w.path).split('-').pop());
    if (!named || named.worktree !== w.path || !named.sandboxLive || (named.state !== 'merged' && named.state !== 'discarded')) continue;
    const keep = named.state === 'discarded' && named.headSha && named.headSha !== named.baseSha ? archiveRef(named.runId) : undefined;
    actions.push({ kind: 'finished-worktree', path: w.path, branch: named.branch, runId: named.runId, action: `the run was ${named.state}: ${keep ? `keep its work as ${keep}, ` : ''}remove the worktree and its branch` });
    if (!dryRun) {
      if (keep && (await git.resolve(ctx.project.root, named.headSha!)) && !(await git.resolve(ctx.project.root, keep))) await git.raw(ctx.project.root, ['update-ref', keep, named.headSha!]);
      await teardownWorktree(ctx, named);
      // The branch git lists comes from the worktree's own HEAD, which could have been rewritten: the
      // branch deleted is the one the run recorded.
      await removeSandbox(git, ctx.project.root, ctx.lockPath, w.path, named.branch, adminDirOf(ctx.project.commonDir, w.path));
      events.push({ ...subject(named.runId), type: 'sandbox.removed', payload: { path: w.path, branchDeleted: named.branch ?? null } });
    }
  }
  const listed = dryRun || !actions.length ? before : await ctx.git.worktrees(ctx.project.root);
  const listedPaths = new Set(listed.map((w) => w.path));

  // 1. Folders git does not know.
  if (existsSync(root)) {
    for (const name of readdirSync(root)) {
      const path = join(root, name);
      if (listedPaths.has(path)) continue;
      const named = runOf(name.split('-').pop());
      const run = named?.worktree === path ? named : undefined;
      const dest = join(ctx.paths.home, 'lost+found', ctx.project.key, `${name}-${Date.now()}`);
      actions.push({ kind: 'lost-folder', path, branch: undefined, runId: run?.runId, action: `move to ${dest}` });
      if (!dryRun) {
        mkdirSync(join(ctx.paths.home, 'lost+found', ctx.project.key), { recursive: true });
        renameSync(path, dest);
        events.push({ ...subject(run?.runId), type: 'gc.repaired', payload: { kind: 'lost-folder', path, movedTo: dest } });
        if (run?.sandboxLive) events.push({ ...subject(run.runId), type: 'sandbox.removed', payload: { path, reason: 'not a git worktree any more; moved to lost+found', movedTo: dest } });
      }
    }
  }

  // 2. Worktrees git lists under our root whose folder is gone.
  const missing = listed.filter((w) => w.path.startsWith(root + sep) && !existsSync(w.path));
  for (const w of missing) {
    const run = w.branch ? runOfBranch(w.branch) : undefined;
    actions.push({ kind: 'missing-folder', path: w.path, branch: w.branch, runId: run?.runId, action: `prune the worktree entry; keep branch ${w.branch ?? '-'}` });
  }
  if (missing.length && !dryRun) {
    await withFileLock(ctx.lockPath, async () => {
      for (const w of missing) await git.raw(ctx.project.root, ['worktree', 'unlock', w.path], { accept: [0, 128] });
      await git.raw(ctx.project.root, ['worktree', 'prune']);
    });
    for (const w of missing) {
      const run = w.branch ? runOfBranch(w.branch) : undefined;
      events.push({ ...subject(run?.runId), type: 'gc.repaired', payload: { kind: 'missing-folder', path: w.path, branch: w.branch ?? null } });
      if (run?.sandboxLive) events.push({ ...subject(run.runId), type: 'sandbox.removed', payload: { path: w.path, reason: 'folder missing', branchKept: w.branch ?? null } });
    }
  }

  // 3. agentctl branches without a worktree.
  const stillListed = new Set((dryRun ? listed.filter((w) => !missing.includes(w)) : await ctx.git.worktrees(ctx.project.root)).map((w) => w.branch));
  const branches = (await git.out(ctx.project.root, ['for-each-ref', '--format=%(refname:short)', 'refs/heads/agentctl/'], { readOnly: true })).split('\n').filter(Boolean);
  for (const branch of branches) {
    if (stillListed.has(branch)) continue;
    const run = runOfBranch(branch);
    const runId = run?.runId ?? branch.split('/').pop()!;
    const live = run && (awaitsDecision(run) || run.state === 'running' || run.state === 'planned');
    if (live) {
      actions.push({ kind: 'needs-restore', path: undefined, branch, runId, action: `keep; recreate its worktree with: agentctl restore ${runId}` });
      continue;
    }
    actions.push({ kind: 'orphan-branch', path: undefined, branch, runId, action: `archive as ${archiveRef(runId)}, then delete the branch` });
    if (!dryRun) {
      const head = await git.resolve(ctx.project.root, `refs/heads/${branch}`);
      if (head && !(await git.resolve(ctx.project.root, archiveRef(runId)))) await git.raw(ctx.project.root, ['update-ref', archiveRef(runId), head]);
      await git.raw(ctx.project.root, ['branch', '-D', '--', branch], { accept: [0, 1] });
      events.push({ ...subject(run?.runId), type: 'gc.repaired', payload: { kind: 'orphan-branch', branch, archiveRef: archiveRef(runId) } });
    }
  }
  if (events.length) ctx.store.append(events);
  return actions;
}
