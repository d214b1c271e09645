/**
 * The shared remote, as a queue worker uses it: fetch the base branch's tip before a run, push the run
 * branch after it. Through exec/gitRemote.ts (agentctl's hardened git: no hooks, drivers or
 * repository-configured programs), under the repository lock so that concurrent runs of one clone do not
 * race on its refs.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { InputError, StateError } from '../../core/errors.js';
import { CONFIG_FILE } from '../../definition/config.js';
import type { Task } from '../../definition/task.js';
import { fetchBranches, pushAtomic, type RefUpdate } from '../../exec/gitRemote.js';
import { withFileLock } from '../../core/lock.js';
import type { Context } from '../context.js';

const BRANCH = /^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,200}$/;

/** @throws InputError when `branch` is not a plain branch name (it comes from a queue job) */
function requireBranch(branch: string): string {
  if (!BRANCH.test(branch) || branch.endsWith('/') || branch.endsWith('.lock')) throw new InputError(`"${branch.slice(0, 80)}" is not a branch name agentctl uses`, { field: 'baseBranch' });
  return branch;
}

/**
 * Fetch `branch`'s tip from `remote` (exec/gitRemote.ts: the hardened fetch review uses too; no ref the
 * user sees moves).
 * @returns the fetched tip (sha), now in this clone's object store
 * @throws StateError when the remote cannot be reached; InputError when it has no such branch
 */
export async function fetchBase(ctx: Context, remote: string, branch: string): Promise<string> {
  requireBranch(branch);
  const sha = (await withFileLock(ctx.lockPath, () => fetchBranches(ctx.git, ctx.project.root, remote, [branch]))).get(branch);
  if (!sha) throw new InputError(`the remote "${remote}" has no branch "${branch}"`, { field: 'baseBranch' });
  return sha;
}

/**
 * Push the local branch `branch` to the same name on `remote` (a run branch is new: a plain update,
 * refused if the remote already has another commit there).
 * @returns false when the branch does not exist locally (the run never got a worktree)
 * @throws StateError when the push is refused or the remote cannot be reached
 */
export async function pushBranch(ctx: Context, remote: string, branch: string): Promise<boolean> {
  requireBranch(branch);
  const sha = await ctx.git.resolve(ctx.project.root, `refs/heads/${branch}`);
  if (!sha) return false;
  await pushOrThrow(ctx, remote, { ref: `refs/heads/${branch}`, sha });
  return true;
}

/**
 * Publish a base branch an auto merge moved here: a fast-forward push of `branch` to `remote` (never
 * forced: when the remote moved since the run's base was fetched, the push is refused and the merge stays
 * in this clone only, which the caller reports).
 * @throws StateError when the push is refused or the remote cannot be reached
 */
export async function pushBase(ctx: Context, remote: string, branch: string): Promise<void> {
  requireBranch(branch);
  const sha = await ctx.git.resolve(ctx.project.root, `refs/heads/${branch}`);
  if (!sha) throw new StateError(`there is no local branch "${branch}" to push`);
  await pushOrThrow(ctx, remote, { ref: `refs/heads/${branch}`, sha });
}

async function pushOrThrow(ctx: Context, remote: string, update: RefUpdate): Promise<void> {
  const r = await withFileLock(ctx.lockPath, () => pushAtomic(ctx.git, ctx.project.root, remote, [update]));
  if (!r.ok) throw new StateError(`"${remote}" refused ${update.ref}: ${r.rejected.join('; ')}`);
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
