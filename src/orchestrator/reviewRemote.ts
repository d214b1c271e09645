/**
 * Review from any machine: merging or discarding a run whose worktree lives in another clone (another
 * machine's worker, or another checkout), through the shared remote the run branch was pushed to.
 *
 * A run is reviewed *here* when its worktree belongs to this repository (review.ts: git on the worktree,
 * the user's checkout merged); otherwise *remotely*:
 * - show: the run branch is fetched (no ref the user sees moves) and the diff is read between commits;
 *   the gate result, scope and summary come from the shared log;
 * - merge: the base branch and the run branch are fetched; the run branch's tip must be the commit the
 *   log recorded (the remote's content is untrusted: a branch moved by someone else is refused); the run
 *   is merged onto the remote base's tip between commits (`merge-tree --write-tree` + `commit-tree`, no
 *   checkout) and pushed atomically with the run branch's removal (leased on the recorded tip). When the
 *   remote base moved and the merge is no longer clean, or the push is refused (someone pushed in
 *   between), nothing is recorded and no local ref moves. Once landed, the local base branch follows
 *   only when that is a fast-forward of a clean checkout (or of a branch checked out nowhere);
 * - discard: the run branch is deleted on the remote (leased on the recorded tip) and its work is kept
 *   here under `refs/agentctl/archive/<run>`.
 * The events are those of a local review (`review.approved` + `run.merged`, `review.rejected` +
 * `run.discarded`), with the host the human acted from. The worktree on the other machine is that
 * machine's to remove.
 */
import { dirname, resolve } from 'node:path';
import { StateError } from '../core/errors.js';
import type { StoredEvent } from '../evidence/events.js';
import type { RunView } from '../evidence/projections/runs.js';
import { DEFAULT_REMOTE, fetchBranches, pushAtomic } from '../exec/gitRemote.js';
import { archiveRef, removeSandbox, runBranch } from '../exec/worktree.js';
import { withFileLock } from '../core/lock.js';
import { currentHost, type Context } from './context.js';
import { GIT_ESCALATIONS, assertAwaitsDecision, assertUnchanged, checkoutOf, discardRun, mergeMessage, mergeRun, runGitTarget, subjectOf, type ReviewDecision } from './review.js';
import { teardownWorktree } from './teardown.js';
import { payloadOf } from '../evidence/eventSchemas.js';
import type { GitTarget } from '../exec/git.js';

/** Where a run is reviewed from this clone. */
export type ReviewSite = 'worktree' | 'remote';

/**
 * Whether this clone holds the run's worktree (`worktree`) or the run is reviewed through the remote.
 * A run is remote when it came from the queue (its branch is on the remote), when its `run.planned` names
 * another host (and no later `sandbox.restored` moved it),
 * or the admin dir its last `sandbox.created`/`sandbox.restored` recorded is not under this repository's
 * `<common dir>/worktrees/` (or, for runs that recorded none, its repository root is another folder).
 */
export function reviewSite(ctx: Context, run: RunView): ReviewSite {
  const events = ctx.store.query({ runId: run.runId, types: ['run.planned', 'sandbox.created', 'sandbox.restored'] });
  const planned = events.find((e) => e.type === 'run.planned');
  // A queued run's branch was pushed to the shared remote, which is where it lands: every clone, the
  // worker's own included, reviews it through the remote (a local merge would never reach the team).
  const plan = planned && payloadOf(planned, 'run.planned');
  if (plan?.queueJob) return 'remote';
  const owner = plan?.ownerHost;
  const restored = events.some((e) => e.type === 'sandbox.restored');
  if (!restored && typeof owner === 'string' && owner !== currentHost()) return 'remote';
  const gitDir = events
    .map((e) => e.payload.gitDir)
    .filter((g): g is string => typeof g === 'string')
    .pop();
  if (gitDir) return resolve(dirname(gitDir)) === resolve(ctx.project.commonDir, 'worktrees') ? 'worktree' : 'remote';
  return !run.repoRoot || resolve(run.repoRoot) === resolve(ctx.project.root) ? 'worktree' : 'remote';
}

/** The run branch's name (as the run recorded it). */
const branchOf = (run: RunView): string => run.branch || runBranch(run.task, run.runId);

/**
 * Make the run's commits readable here for `review show`: when the head (or, for a merged run, the merge
 * commit) is not in this clone's object store, fetch the run branch (else the base branch) from the
 * remote. No ref the user sees moves.
 * @throws StateError when the remote cannot be reached, or the remote run branch is not at the recorded head
 */
export async function fetchRunCommits(ctx: Context, run: RunView, remote = DEFAULT_REMOTE): Promise<void> {
  const want = run.mergeSha ?? run.headSha;
  if (!want || (await ctx.git.resolve(ctx.project.root, want))) return;
  const branch = branchOf(run);
  const tips = await fetchBranches(ctx.git, ctx.project.root, remote, [branch, run.baseBranch]);
  if (!run.mergeSha && tips.get(branch) && tips.get(branch) !== run.headSha) {
    throw new StateError(`the run branch ${branch} on "${remote}" is at ${tips.get(branch)!.slice(0, 10)}, but run ${run.runId} recorded ${run.headSha!.slice(0, 10)}: someone changed it; showing nothing`);
  }
  if (!(await ctx.git.resolve(ctx.project.root, want))) {
    throw new StateError(`run ${run.runId}'s commit ${want.slice(0, 10)} is neither in this clone nor on "${remote}" (branch ${branch}${run.mergeSha ? ` or ${run.baseBranch}` : ''})`, { hint: `The machine that ran it pushes ${branch}: git push ${remote} ${branch}` });
  }
}

/** What a remote merge did. */
export interface RemoteMergeResult {
  /** The merge commit, now the tip of the remote's base branch. */
  mergeSha: string;
  remote: string;
  /** Whether the local base branch was moved to the merge, and why not when it was not. */
  localBase: { updated: true } | { updated: false; reason: string };
}

/**
 * Merge a run held by another clone: onto the remote's base tip, pushed to the remote (see the module doc).
 * @param decision the human's decision (auto merges never take this path)
 * @returns the merge commit and what happened to the local base branch
 * @throws StateError (exit 5; nothing recorded, no ref moved here or on the remote) when the run is not
 *   reviewable, changed nothing, moved since it was read, its branch is not on the remote or not at the
 *   recorded head, the merge onto the remote's base conflicts, or the push is refused. A run whose
 *   agent rewrote git's records is refused and recorded (`merge.failed`) as a local merge is.
 */
export async function mergeRemoteRun(ctx: Context, run: RunView, decision: ReviewDecision, onEvent?: (e: StoredEvent) => void, remote = DEFAULT_REMOTE): Promise<RemoteMergeResult> {
  assertAwaitsDecision(run);
  if (!run.headSha || run.headSha === run.baseSha || run.fileCount === 0) {
    throw new StateError(`run ${run.runId} changed nothing; there is nothing to merge`, { hint: `agentctl review discard ${run.runId}` });
  }
  const escalation = ctx.store.query({ runId: run.runId, types: ['escalation.attempted'] }).find((e) => GIT_ESCALATIONS.has(String(e.payload.kind)));
  if (escalation) {
    const reason = `run ${run.runId} changed git's own records (${String(escalation.payload.kind)}: ${String(escalation.payload.found ?? escalation.payload.path ?? '')}); it was put back and recorded, nothing was merged`;
    ctx.store.append({ ...subjectOf(run), type: 'merge.failed', payload: { reason, auto: decision.auto } });
    throw new StateError(reason, { hint: `agentctl review discard ${run.runId}` });
  }
  const { git } = ctx;
  const root = ctx.project.root;
  const base = run.baseBranch;
  const branch = branchOf(run);
  const result = await withFileLock(ctx.lockPath, async () => {
    assertUnchanged(ctx, run);
    const tips = await fetchBranches(git, root, remote, [base, branch]);
    const baseTip = tips.get(base);
    const runTip = tips.get(branch);
    if (!baseTip) throw new StateError(`the remote "${remote}" has no branch "${base}"; nothing was merged`);
    if (!runTip) {
      throw new StateError(`the run branch ${branch} is not on "${remote}" (not pushed yet, or merged or discarded from another machine); nothing was merged`, { hint: `agentctl review show ${run.runId}` });
    }
    if (runTip !== run.headSha) {
      throw new StateError(`the run branch ${branch} on "${remote}" is at ${runTip.slice(0, 10)}, but run ${run.runId} recorded ${run.headSha!.slice(0, 10)}: someone changed it after the run; nothing was merged`, { hint: `Discard it (agentctl review discard ${run.runId}) or review the branch by hand.` });
    }
    const merged = await git.mergeTree(root, baseTip, runTip);
    if ('conflicts' in merged) {
      throw new StateError(`run ${run.runId} conflicts with "${base}" on "${remote}" (now at ${baseTip.slice(0, 10)}) in: ${merged.conflicts.join(', ') || 'unknown files'}; nothing was merged or pushed`, {
        hint: 'Resolve it on the run branch, or discard the run.',
      });
    }
    const mergeSha = await git.commitTree(root, merged.tree, [baseTip, runTip], mergeMessage(run, decision));
    const pushed = await pushAtomic(git, root, remote, [
      { ref: `refs/heads/${base}`, sha: mergeSha },
      { ref: `refs/heads/${branch}`, sha: undefined, expect: runTip },
    ]);
    if (!pushed.ok) {
      throw new StateError(`"${remote}" refused the merge (${pushed.rejected.join('; ')}): someone pushed in between; nothing was merged or recorded`, { hint: `Run it again: agentctl review merge ${run.runId}` });
    }
    const host = currentHost();
    const events = ctx.store.append([
      { ...subjectOf(run), type: 'review.approved', payload: { by: decision.by, host, note: decision.note ?? null } },
      { ...subjectOf(run), type: 'run.merged', payload: { mergeSha, baseBranch: base, by: decision.by, host, auto: false, strategy: 'merge' } },
    ]);
    for (const e of events) onEvent?.(e);
    return { mergeSha, remote, localBase: await followLocally(ctx, remote, base, mergeSha) };
  });
  await releaseHeldWorktree(ctx, run, onEvent);
  return result;
}

/**
 * After a remote merge or discard of a run whose worktree this clone holds (a queued run that a worker
 * here ran): tear it down and remove it with its local branch, as a local merge does. A worktree held
 * by another clone is that clone's to remove.
 */
async function releaseHeldWorktree(ctx: Context, run: RunView, onEvent?: (e: StoredEvent) => void): Promise<void> {
  if (!run.sandboxLive || !run.worktree) return;
  let target: GitTarget;
  try {
    target = runGitTarget(ctx, run);
  } catch {
    return;
  }
  await teardownWorktree(ctx, run, onEvent);
  await removeSandbox(ctx.git, ctx.project.root, ctx.lockPath, target.workTree, run.branch, target.gitDir);
  for (const e of ctx.store.append({ ...subjectOf(run), type: 'sandbox.removed', payload: { path: target.workTree, branchDeleted: run.branch ?? null } })) onEvent?.(e);
}

/**
 * After a merge landed on the remote: move `refs/remotes/<remote>/<base>` (when it exists) and the local
 * base branch, the latter only when it is safe: the branch is an ancestor of the merge and either checked
 * out nowhere (its ref moves) or checked out clean (fast-forward there).
 * @returns whether the local base branch now points at the merge, or why not
 */
async function followLocally(ctx: Context, remote: string, base: string, mergeSha: string): Promise<RemoteMergeResult['localBase']> {
  const { git } = ctx;
  const root = ctx.project.root;
  const tracking = `refs/remotes/${remote}/${base}`;
  const trackingNow = await git.resolve(root, tracking);
  if (trackingNow) await git.raw(root, ['update-ref', tracking, mergeSha, trackingNow], { accept: [0, 1, 128] });
  const local = await git.resolve(root, `refs/heads/${base}`);
  const pull = `git pull ${remote} ${base}`;
  if (!local) return { updated: false, reason: `there is no local branch "${base}"` };
  if (local === mergeSha) return { updated: true };
  if (!(await git.isAncestor(root, local, mergeSha))) return { updated: false, reason: `your "${base}" has commits that are not on "${remote}"; ${pull} to bring the merge in` };
  const checkout = await checkoutOf(ctx, base);
  if (!checkout) {
    const r = await git.raw(root, ['update-ref', `refs/heads/${base}`, mergeSha, local], { accept: [0, 1, 128] });
    return r.exitCode === 0 ? { updated: true } : { updated: false, reason: `"${base}" moved meanwhile; ${pull}` };
  }
  const dirty = (await git.status(checkout)).filter((f) => f.index !== '?');
  if (dirty.length > 0) return { updated: false, reason: `your checkout of "${base}" at ${checkout} has uncommitted changes; ${pull} when it is clean` };
  const r = await git.raw(checkout, ['merge', '--ff-only', '--quiet', mergeSha], { accept: [0, 1, 128] });
  return r.exitCode === 0 ? { updated: true } : { updated: false, reason: `git did not fast-forward your checkout at ${checkout}: ${(r.stderr || r.stdout).trim().split('\n')[0]}` };
}

/**
 * Discard a run held by another clone: delete its branch on the remote (only if it is still at the
 * recorded head) and keep its work here under `refs/agentctl/archive/<run>`; records `review.rejected`
 * and `run.discarded` (with host).
 * @returns the archive ref (undefined when the run changed nothing)
 * @throws StateError (nothing recorded, nothing deleted) when the run is not reviewable, moved since it
 *   was read, or its remote branch is at another commit or the remote refuses the deletion
 */
export async function discardRemoteRun(ctx: Context, run: RunView, by: string, reason: string | undefined, remote = DEFAULT_REMOTE): Promise<string | undefined> {
  assertAwaitsDecision(run);
  const { git } = ctx;
  const root = ctx.project.root;
  const branch = branchOf(run);
  const archived = await withFileLock(ctx.lockPath, async () => {
    assertUnchanged(ctx, run);
    const tip = (await fetchBranches(git, root, remote, [branch])).get(branch);
    if (tip && run.headSha && tip !== run.headSha) {
      throw new StateError(`the run branch ${branch} on "${remote}" is at ${tip.slice(0, 10)}, but run ${run.runId} recorded ${run.headSha.slice(0, 10)}: someone changed it; nothing was discarded`);
    }
    if (tip) {
      const pushed = await pushAtomic(git, root, remote, [{ ref: `refs/heads/${branch}`, sha: undefined, expect: tip }]);
      if (!pushed.ok) throw new StateError(`"${remote}" refused to delete ${branch} (${pushed.rejected.join('; ')}); nothing was discarded`);
    }
    let archived: string | undefined;
    const head = run.headSha && (await git.resolve(root, run.headSha)) ? run.headSha : undefined;
    if (head && head !== run.baseSha) {
      archived = archiveRef(run.runId);
      await git.raw(root, ['update-ref', archived, head]);
    }
    const host = currentHost();
    ctx.store.append([
      { ...subjectOf(run), type: 'review.rejected', payload: { by, host, reason: reason ?? null } },
      { ...subjectOf(run), type: 'run.discarded', payload: { by, host, reason: reason ?? null, archiveRef: archived ?? null, headSha: run.headSha ?? null } },
    ]);
    return archived;
  });
  await releaseHeldWorktree(ctx, run);
  return archived;
}

/**
 * Merge a run wherever it is: its worktree here (review.ts mergeRun), else through the remote.
 * @returns the merge commit, and for a remote merge what happened to the local base branch
 */
export async function mergeAnywhere(ctx: Context, run: RunView, decision: ReviewDecision, onEvent?: (e: StoredEvent) => void): Promise<{ mergeSha: string; remote?: RemoteMergeResult }> {
  if (reviewSite(ctx, run) === 'remote') {
    const remote = await mergeRemoteRun(ctx, run, decision, onEvent);
    return { mergeSha: remote.mergeSha, remote };
  }
  return { mergeSha: await mergeRun(ctx, run, decision, onEvent) };
}

/**
 * Discard a run wherever it is: its worktree here (review.ts discardRun), else through the remote.
 * @returns the archive ref (undefined when the run changed nothing)
 */
export async function discardAnywhere(ctx: Context, run: RunView, by: string, reason: string | undefined): Promise<string | undefined> {
  if (reviewSite(ctx, run) === 'remote') return discardRemoteRun(ctx, run, by, reason);
  return discardRun(ctx, run, by, reason);
}
