/**
 * Review decisions: merge a run into its base branch, or discard it. The user's checkout is touched
 * only by a merge, and only when it is clean and on the base branch (or the base branch is not checked
 * out anywhere, in which case only the branch ref moves).
 */
import { StateError } from '../core/errors.js';
import type { EventInput, StoredEvent } from '../evidence/events.js';
import type { RunView } from '../evidence/projections/runs.js';
import { archiveRef, removeSandbox } from '../exec/worktree.js';
import type { Context } from './context.js';

/** Who decided, and why. */
export interface ReviewDecision {
  /** The human (git user.email) or `agentctl (auto)`. */
  by: string;
  note: string | undefined;
  /** True for an auto merge decided by the pipeline. */
  auto: boolean;
}

function subjectOf(run: RunView) {
  return { runId: run.runId, task: run.task, agent: run.agent, project: run.project, taskType: run.taskType };
}

/** Path of the worktree that has `branch` checked out, or undefined. */
async function checkoutOf(ctx: Context, branch: string): Promise<string | undefined> {
  const list = await ctx.git.out(ctx.project.root, ['worktree', 'list', '--porcelain'], { readOnly: true });
  let path: string | undefined;
  for (const line of list.split('\n')) {
    if (line.startsWith('worktree ')) path = line.slice('worktree '.length);
    else if (line === `branch refs/heads/${branch}`) return path;
  }
  return undefined;
}

/**
 * Merge a run's branch into its base branch with a merge commit, then remove its worktree and branch.
 * @throws StateError (nothing changed) when the run is not reviewable, has no changes, the base
 *   branch's checkout is dirty, or the merge would conflict
 */
export async function mergeRun(ctx: Context, run: RunView, decision: ReviewDecision, onEvent?: (e: StoredEvent) => void): Promise<string> {
  const { git } = ctx;
  if (!run.sandboxLive || !run.worktree || !run.headSha) {
    throw new StateError(`run ${run.runId} is ${run.state}; only a run whose sandbox still exists can be merged`);
  }
  if (!decision.auto && run.state !== 'awaiting_review' && run.state !== 'failed' && run.state !== 'interrupted') {
    throw new StateError(`run ${run.runId} is ${run.state}, not awaiting review`);
  }
  if (run.headSha === run.baseSha || run.files.length === 0) {
    throw new StateError(`run ${run.runId} changed nothing; there is nothing to merge`, { hint: `agentctl review discard ${run.runId}` });
  }
  const base = run.baseBranch;
  const baseNow = await git.resolve(ctx.project.root, `refs/heads/${base}`);
  if (!baseNow) throw new StateError(`base branch "${base}" no longer exists`);

  const checkout = await checkoutOf(ctx, base);
  if (checkout) {
    const dirty = (await git.status(checkout)).filter((l) => !l.startsWith('??'));
    if (dirty.length > 0) {
      throw new StateError(`your checkout of "${base}" at ${checkout} has uncommitted changes; nothing was merged`, {
        hint: 'Commit or stash them, then run the merge again.',
      });
    }
  }

  const merged = await git.mergeTree(ctx.project.root, baseNow, run.headSha);
  if ('conflicts' in merged) {
    throw new StateError(`run ${run.runId} conflicts with "${base}" in: ${merged.conflicts.join(', ') || 'unknown files'}; nothing was merged`, {
      hint: 'Resolve it on the run branch or discard the run.',
    });
  }
  const message = [
    `agentctl: merge ${run.task} (run ${run.runId})`,
    '',
    run.title,
    '',
    `Agent: ${run.agent}`,
    `Decision: ${decision.auto ? 'auto (earned, gated, inside scope)' : `review by ${decision.by}`}`,
    ...(decision.note ? [`Note: ${decision.note}`] : []),
    `Agentctl-Run: ${run.runId}`,
  ].join('\n');
  const mergeSha = await git.commitTree(ctx.project.root, merged.tree, [baseNow, run.headSha], message);
  if (checkout) {
    const r = await git.raw(checkout, ['merge', '--ff-only', '--quiet', mergeSha], { accept: [0, 1, 128] });
    if (r.exitCode !== 0) {
      throw new StateError(`git refused to update your checkout at ${checkout}: ${(r.stderr || r.stdout).trim().split('\n')[0]}; nothing was merged`);
    }
  } else {
    await git.raw(ctx.project.root, ['update-ref', '-m', `agentctl merge ${run.runId}`, `refs/heads/${base}`, mergeSha, baseNow]);
  }

  const events: EventInput[] = [];
  if (!decision.auto) events.push({ ...subjectOf(run), type: 'review.approved', payload: { by: decision.by, note: decision.note ?? null } });
  events.push({ ...subjectOf(run), type: 'run.merged', payload: { mergeSha, baseBranch: base, by: decision.by, auto: decision.auto } });
  for (const e of ctx.store.append(events)) onEvent?.(e);

  await removeSandbox(git, ctx.project.root, ctx.lockPath, run.worktree, run.branch);
  for (const e of ctx.store.append({ ...subjectOf(run), type: 'sandbox.removed', payload: { path: run.worktree, branchDeleted: run.branch ?? null } })) onEvent?.(e);
  return mergeSha;
}

/**
 * Discard a run: keep its work under `refs/agentctl/archive/<run>`, then remove its worktree and branch.
 * @throws StateError when the run's sandbox no longer exists
 */
export async function discardRun(ctx: Context, run: RunView, by: string, reason: string | undefined): Promise<string | undefined> {
  if (!run.sandboxLive || !run.worktree) throw new StateError(`run ${run.runId} is ${run.state}; its sandbox is already gone`);
  const { git } = ctx;
  // Anything left uncommitted (an interrupted run) is committed first so the archive holds every byte.
  await git.commitAll(run.worktree, `agentctl: uncommitted work of run ${run.runId}`, { name: `${run.agent} via agentctl`, email: 'agentctl@localhost' }).catch(() => null);
  const head = (await git.resolve(run.worktree, 'HEAD')) ?? run.headSha;
  let ref: string | undefined;
  if (head && head !== run.baseSha) {
    ref = archiveRef(run.runId);
    await git.raw(ctx.project.root, ['update-ref', ref, head]);
  }
  ctx.store.append({ ...subjectOf(run), type: 'review.rejected', payload: { by, reason: reason ?? null } });
  ctx.store.append({ ...subjectOf(run), type: 'run.discarded', payload: { by, reason: reason ?? null, archiveRef: ref ?? null, headSha: head ?? null } });
  await removeSandbox(git, ctx.project.root, ctx.lockPath, run.worktree, run.branch);
  ctx.store.append({ ...subjectOf(run), type: 'sandbox.removed', payload: { path: run.worktree, branchDeleted: run.branch ?? null } });
  return ref;
}
