/**
 * The sandbox lifecycle: one module owns creating and removing run worktrees. Worktree operations on
 * one repository are serialized with a lock file (parallel `git worktree add` fails on `.git/config`
 * locks). agentctl only ever deletes branches it created (`agentctl/…`), and archives a run's work
 * under `refs/agentctl/archive/<run>` before removing its worktree.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import lockfile from 'proper-lockfile';
import { InternalError } from '../core/errors.js';
import type { Git } from './git.js';

/** A created sandbox. */
export interface Sandbox {
  path: string;
  branch: string;
  baseSha: string;
}

/** Branch name for a run: `agentctl/<task>/<run>`. */
export function runBranch(taskId: string, runId: string): string {
  return `agentctl/${taskId}/${runId}`;
}

/** Ref under which a discarded run's work is kept. */
export function archiveRef(runId: string): string {
  return `refs/agentctl/archive/${runId}`;
}

/**
 * Hold the repository's worktree lock while `fn` runs (waits up to ~30 s for other agentctl processes).
 * @param lockPath file path of the lock (created if missing)
 */
export async function withRepoLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(lockPath), { recursive: true });
  if (!existsSync(lockPath)) writeFileSync(lockPath, '');
  const release = await lockfile.lock(lockPath, { retries: { retries: 120, minTimeout: 50, maxTimeout: 500, factor: 1.5 }, stale: 60_000 });
  try {
    return await fn();
  } finally {
    await release();
  }
}

/**
 * Create a worktree on a new branch at `baseSha`.
 * @param repoRoot the user's checkout (git commands run there)
 * @returns the sandbox
 * @throws ProcessFailedError when git refuses (the lock prevents concurrent adds)
 */
export async function createSandbox(git: Git, repoRoot: string, lockPath: string, path: string, branch: string, baseSha: string): Promise<Sandbox> {
  if (existsSync(path)) throw new InternalError(`worktree path already exists: ${path}`);
  mkdirSync(dirname(path), { recursive: true });
  await withRepoLock(lockPath, () => git.raw(repoRoot, ['worktree', 'add', '--quiet', '-b', branch, path, baseSha]));
  return { path, branch, baseSha };
}

/**
 * Remove a run's worktree and its branch. Work not reachable from another ref must be archived first
 * by the caller ({@link archiveRef}).
 * @param branch deleted only when it starts with `agentctl/`
 */
export async function removeSandbox(git: Git, repoRoot: string, lockPath: string, path: string, branch: string | undefined): Promise<void> {
  await withRepoLock(lockPath, async () => {
    if (existsSync(path)) await git.raw(repoRoot, ['worktree', 'remove', '--force', path]);
    await git.raw(repoRoot, ['worktree', 'prune']);
    if (branch?.startsWith('agentctl/')) {
      await git.raw(repoRoot, ['branch', '-D', '--', branch], { accept: [0, 1] });
    }
  });
}
