/**
 * The shared remote, as a queue worker uses it: fetch the base branch's tip before a run, push the run
 * branch after it. Through agentctl's hardened git (no hooks, no drivers), under the repository lock so
 * that concurrent runs of one clone do not race on its refs.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { InputError, StateError } from '../../core/errors.js';
import { CONFIG_FILE } from '../../definition/config.js';
import type { Task } from '../../definition/task.js';
import { withRepoLock } from '../../exec/worktree.js';
import type { Context } from '../context.js';

const BRANCH = /^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,200}$/;

/** @throws InputError when `branch` is not a plain branch name (it comes from a queue job) */
function requireBranch(branch: string): string {
  if (!BRANCH.test(branch) || branch.endsWith('/') || branch.endsWith('.lock')) throw new InputError(`"${branch.slice(0, 80)}" is not a branch name agentctl uses`, { field: 'baseBranch' });
  return branch;
}

/**
 * Fetch `branch` from `remote` into `refs/remotes/<remote>/<branch>`.
 * @returns the fetched tip (sha)
 * @throws GitCommandError when the remote cannot be reached or has no such branch
 */
export async function fetchBase(ctx: Context, remote: string, branch: string): Promise<string> {
  requireBranch(branch);
  const ref = `refs/remotes/${remote}/${branch}`;
  await withRepoLock(ctx.lockPath, () => ctx.git.raw(ctx.project.root, ['fetch', '--quiet', '--no-tags', '--no-recurse-submodules', remote, `+refs/heads/${branch}:${ref}`]));
  const sha = await ctx.git.resolve(ctx.project.root, ref);
  if (!sha) throw new InputError(`the remote "${remote}" has no branch "${branch}"`, { field: 'baseBranch' });
  return sha;
}

/**
 * Push the local branch `branch` to the same name on `remote` (creating or moving it: a run branch is
 * written by one run only).
 * @returns false when the branch does not exist locally (the run never got a worktree)
 * @throws GitCommandError when the push is refused
 */
export async function pushBranch(ctx: Context, remote: string, branch: string): Promise<boolean> {
  requireBranch(branch);
  if (!(await ctx.git.resolve(ctx.project.root, `refs/heads/${branch}`))) return false;
  await withRepoLock(ctx.lockPath, () => ctx.git.raw(ctx.project.root, ['push', '--quiet', '--no-verify', '--force', remote, `refs/heads/${branch}:refs/heads/${branch}`]));
  return true;
}

/**
 * Publish a base branch an auto merge moved here: a fast-forward push of `branch` to `remote` (never
 * forced: when the remote moved since the run's base was fetched, the push is refused and the merge stays
 * in this clone only, which the caller reports).
 * @throws GitCommandError when the push is refused
 */
export async function pushBase(ctx: Context, remote: string, branch: string): Promise<void> {
  requireBranch(branch);
  await withRepoLock(ctx.lockPath, () => ctx.git.raw(ctx.project.root, ['push', '--quiet', '--no-verify', remote, `refs/heads/${branch}:refs/heads/${branch}`]));
}

/**
 * Refuse to run `task` from a checkout whose definition of it differs from the base the run starts from:
 * the worker reads the task, the profiles and `.agentrc.yaml` from its own checkout, so a clone that was
 * not pulled (or holds local edits) would run another definition than the one queued.
 * @throws StateError naming the files that differ (the job fails and is offered to another worker)
 */
export async function requireDefinitionAt(ctx: Context, task: Task, baseSha: string): Promise<void> {
  const cfg = ctx.project.config;
  const paths = [CONFIG_FILE, cfg.profilesDir, ...(isAbsolute(task.file) || !existsSync(join(ctx.project.root, task.file)) ? [] : [task.file])];
  const r = await ctx.git.raw(ctx.project.root, ['diff', '--name-only', '--no-ext-diff', '--no-textconv', baseSha, '--', ...paths.map((p) => `:(literal)${p}`)], { readOnly: true });
  const differ = r.stdout.split('\n').filter(Boolean);
  if (differ.length) {
    throw new StateError(`this clone's definition of task "${task.id}" differs from the base ${baseSha.slice(0, 10)} it would run on (${differ.slice(0, 5).join(', ')}); not run here`, { hint: 'Pull the base branch in this clone (and commit or drop local edits to the task, profiles and .agentrc.yaml).' });
  }
}
