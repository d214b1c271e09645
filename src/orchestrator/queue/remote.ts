/**
 * The shared remote, as a queue worker uses it: fetch the base branch's tip before a run, push the run
 * branch after it. Through agentctl's hardened git (no hooks, no drivers), under the repository lock so
 * that concurrent runs of one clone do not race on its refs.
 */
import { InputError } from '../../core/errors.js';
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
