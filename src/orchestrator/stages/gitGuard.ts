/**
 * Part of stage "capture": before agentctl's own git touches the worktree again, what the agent could
 * have changed about git itself is checked against what agentctl recorded when the run started. A
 * rewritten worktree `.git` pointer and any change to the common `.git`'s control files (config, hooks,
 * info, other worktrees' records) are each an `escalation.attempted` (which drops the agent's trust for
 * the task type to hold and blocks the merge: review.ts GIT_ESCALATIONS), and are put back.
 */
import { basename, join } from 'node:path';
import { checkGitPointer, restoreGitPointer } from '../../exec/gitPointer.js';
import { diffGitControl, restoreGitControl, snapshotGitControl, type GitControlChange } from '../../exec/gitState.js';
import type { Context } from '../context.js';
import type { Emit, PreparedRun } from './types.js';

/** Admin dir names of agentctl's run worktrees: `<task>-<run id>` (a 26-character ULID). */
const RUN_WORKTREE = /-[0-9a-hjkmnp-tv-z]{26}$/;

/**
 * Changes made by agentctl itself for other runs going on at the same time: their worktrees being added
 * (file by file while this run's snapshot was taken) or removed, and their HEAD moving. Any change under
 * another run worktree's admin dir counts; a worktree of the user's own stays watched. Pure.
 * @param own the run's own admin dir name (`worktrees/<own>`)
 */
export function othersChurn(change: GitControlChange, own: string): boolean {
  if (!change.worktree || change.worktree === own) return false;
  if (RUN_WORKTREE.test(change.worktree)) return true;
  return change.path === `worktrees/${change.worktree}` || change.path === `worktrees/${change.worktree}/HEAD` || change.path === `worktrees/${change.worktree}/locked`;
}

/**
 * Check and repair. Call after the agent's processes are gone and before any git call on the worktree.
 * @returns the number of escalations recorded (0 when git was left alone)
 */
export function guardGitState(ctx: Context, run: PreparedRun, emit: Emit): number {
  let found = 0;
  const pointer = checkGitPointer(run.plan.worktree, run.gitDir);
  if (!pointer.ok) {
    restoreGitPointer(run.plan.worktree, run.gitDir);
    emit([{ type: 'escalation.attempted', payload: { kind: 'git-pointer', tool: 'git', path: join(run.plan.worktree, '.git'), found: pointer.found, expected: run.gitDir, restored: true } }]);
    found++;
  }
  const own = basename(run.gitDir);
  const changes = diffGitControl(run.gitControl, snapshotGitControl(ctx.project.commonDir, run.gitDir)).filter((c) => !othersChurn(c, own));
  if (changes.length) {
    restoreGitControl(run.gitControl, changes);
    emit([{ type: 'escalation.attempted', payload: { kind: 'git-control', tool: 'git', path: changes.map((c) => c.path).join(', '), changes: changes.map((c) => ({ path: c.path, change: c.change, detail: c.detail })), restored: true } }]);
    found++;
  }
  return found;
}
