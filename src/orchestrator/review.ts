/**
 * Review decisions: merge a run into its base branch, or discard it.
 *
 * Merge safety: the user's checkout is touched only by a merge, only when it is on the base branch and
 * clean; if the base branch is checked out in another worktree, that one must be clean; a base branch
 * checked out nowhere has only its ref moved. When the base moved since the run started, the run is
 * merged (merge commit) or rebased (`merge.strategy: rebase`); a conflict aborts cleanly, keeps the
 * worktree and is recorded (`merge.failed`). Merges into one repository are serialized.
 *
 * Git on a run's worktree runs with the admin dir recorded in the run's `sandbox.created` (or
 * `sandbox.restored`) event (`payload.gitDir`), never through the worktree's `.git` file; a pointer
 * found rewritten is put back, recorded as `escalation.attempted`, and refuses a merge.
 */
import { existsSync, lstatSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { OutputTooLargeError, StateError } from '../core/errors.js';
import type { EventInput, StoredEvent } from '../evidence/events.js';
import { awaitsDecision, type RunView } from '../evidence/projections/runs.js';
import { AGENTCTL_IDENTITY, agentIdentity, DIFF_BIG_FILE_BYTES, DIFF_MAX_BYTES, type Git, type GitTarget, type GitWhere } from '../exec/git.js';
import { changedFileSizes } from '../exec/inspect.js';
import { adminDirOf, checkGitPointer, restoreGitPointer } from '../exec/gitPointer.js';
import { archiveRef, captureWork, removeSandbox, restoreSandbox, runBranch } from '../exec/worktree.js';
import { withFileLock } from '../core/lock.js';
import { worktreePath } from '../core/paths.js';
import { currentHost, runFromLog, type Context } from './context.js';
import { PROTOCOL_PATHS } from './protocol.js';
import { teardownWorktree } from './teardown.js';
import { BINARY_NAME_PATHSPECS, hasBinaryName, selectDiffFiles, type DiffSelection } from './diffBudget.js';

/** A run's diff as a reader gets it: the text, what it leaves out, or why it is left out whole. */
export interface RunDiff {
  /** The unified diff of the files shown ('' when it is left out or there is no change). */
  text: string;
  /** Why the whole diff is left out (`larger than 16 MiB`), or undefined when `text` holds it. */
  omitted: string | undefined;
  /** Files not shown in `text`, with the larger of their sizes in bytes (see diffBudget.ts). */
  leftOut: DiffSelection['leftOut'];
}

/** A pathspec with `exclude` added to its magic: `:(glob)x` → `:(exclude,glob)x`. */
const excluding = (pathspec: string): string => pathspec.replace(/^:\(/, ':(exclude,');

/** Most characters of `:(exclude)` pathspecs passed to git for the files left out (well within argv). */
const MAX_EXCLUDE_CHARS = 200_000;

/**
 * The diff from `base` to `head` for a human or an agent to read (`review show`, the review view,
 * `review ask`, `request-changes`). Bounded whatever the agent wrote: a file above DIFF_BIG_FILE_BYTES
 * is never read, and the others are shown smallest first within DIFF_MAX_BYTES of diff (each counted at
 * twice its blobs, diffBudget.ts); what is left out is named in `leftOut`. Every file shown is diffed as
 * text unless its name has a binary extension (diffBudget.ts: a NUL byte does not hide code), and no
 * attribute of the repository or the run applies. The whole diff is left out
 * (`omitted`) when the files to leave out are too many to name to git, or one has a name that is not
 * UTF-8, or git's output still exceeds DIFF_MAX_BYTES.
 * @param head the head commit; undefined or equal to `base`: no change
 * @throws GitCommandError when git fails
 */
export async function runDiff(git: Git, where: GitWhere, base: string, head: string | undefined): Promise<RunDiff> {
  if (!head || head === base) return { text: '', omitted: undefined, leftOut: [] };
  const files = await changedFileSizes(git, where, base, head);
  const { leftOut } = selectDiffFiles(files, DIFF_BIG_FILE_BYTES, DIFF_MAX_BYTES);
  // A name that is not UTF-8 comes back from git with U+FFFD in it and cannot be handed back to git to
  // leave the file out: then nothing is diffed (git would read the file after all).
  if (leftOut.some((f) => f.path.includes('\uFFFD'))) return { text: '', omitted: 'a file too large to show has a name that is not UTF-8', leftOut };
  const excludes = leftOut.map((f) => `:(exclude,literal)${f.path}`);
  if (excludes.reduce((n, p) => n + p.length + 1, 0) > MAX_EXCLUDE_CHARS) return { text: '', omitted: `${leftOut.length} files too large to show`, leftOut };
  try {
    // Text for every file but those with a binary name, whatever git would guess from their content (a
    // NUL byte); those after, as git shows them. `where` never says which attributes apply (Git.diff).
    const left = new Set(leftOut.map((f) => f.path));
    const binaryNamed = files.some((f) => !left.has(f.path) && hasBinaryName(f.path));
    const text = await git.diff(where, base, head, [...excludes, ...BINARY_NAME_PATHSPECS.map(excluding)], { text: true });
    const binary = binaryNamed ? await git.diff(where, base, head, [...BINARY_NAME_PATHSPECS, ...excludes]) : '';
    return { text: text && binary ? `${text}\n${binary}` : text || binary, omitted: undefined, leftOut };
  } catch (error) {
    if (error instanceof OutputTooLargeError) return { text: '', omitted: `larger than ${DIFF_MAX_BYTES / 1024 / 1024} MiB`, leftOut };
    throw error;
  }
}

/**
 * `escalation.attempted` kinds that block a merge: `git-pointer` (the worktree's `.git` rewritten) and
 * `git-control` (the common `.git` control files changed; recorded by the run pipeline from gitState.ts).
 */
export const GIT_ESCALATIONS: ReadonlySet<string> = new Set(['git-pointer', 'git-control']);

/** Who decided, and why. */
export interface ReviewDecision {
  /** The human (git user.email) or `agentctl (auto)`. */
  by: string;
  note: string | undefined;
  /** True for an auto merge decided by the pipeline. */
  auto: boolean;
  /** Checked under the repository lock just before landing; a returned reason refuses the merge (auto merges re-check trust and breakers). */
  verify?: () => Promise<string | undefined>;
}

/** The subject fields of a run's events. */
export function subjectOf(run: RunView) {
  return { runId: run.runId, task: run.task, agent: run.agent, project: run.project, taskType: run.taskType };
}

/**
 * Where git runs for a run's worktree: the admin dir recorded when agentctl made it (the last
 * `sandbox.created` / `sandbox.restored` payload's `gitDir`), or for runs recorded before that field
 * existed, the common dir's own record of the worktree. Never the worktree's `.git` file.
 * @throws StateError when the run has no worktree, its worktree is in another clone, or no admin dir
 *   inside `<commonDir>/worktrees/` is found
 */
export function runGitTarget(ctx: Context, run: RunView): GitTarget {
  if (!run.worktree) throw new StateError(`run ${run.runId} has no worktree`);
  const recorded = ctx.store
    .query({ runId: run.runId, types: ['sandbox.created', 'sandbox.restored'] })
    .map((e) => e.payload.gitDir)
    .filter((g): g is string => typeof g === 'string')
    .pop();
  const gitDir = recorded ?? adminDirOf(ctx.project.commonDir, run.worktree);
  // Only an admin dir directly under this repository's `worktrees/` is acceptable.
  if (recorded && resolve(dirname(recorded)) !== resolve(ctx.project.commonDir, 'worktrees')) {
    throw new StateError(`run ${run.runId}'s worktree is in another clone (${recorded}); what needs its worktree (request-changes, ask) runs there. From here: review show, merge or discard it through the remote`, { hint: `agentctl review show ${run.runId}` });
  }
  if (!gitDir || resolve(dirname(gitDir)) !== resolve(ctx.project.commonDir, 'worktrees') || !existsSync(gitDir)) {
    throw new StateError(`cannot find the git admin dir of run ${run.runId}'s worktree (${gitDir ?? 'none recorded'}); nothing was changed`, { hint: 'agentctl gc' });
  }
  return { workTree: run.worktree, gitDir };
}

/**
 * Check the worktree's `.git` pointer; a rewritten one is put back and recorded as `escalation.attempted`.
 * @returns what the pointer held when it was wrong, else undefined
 */
function repairPointer(ctx: Context, run: RunView, target: GitTarget): string | undefined {
  if (!existsSync(target.workTree)) return undefined;
  const check = checkGitPointer(target.workTree, target.gitDir);
  if (check.ok) return undefined;
  restoreGitPointer(target.workTree, target.gitDir);
  ctx.store.append({ ...subjectOf(run), type: 'escalation.attempted', payload: { kind: 'git-pointer', path: join(target.workTree, '.git'), found: check.found, expected: target.gitDir, restored: true } });
  return check.found;
}

/** Path of the worktree that has `branch` checked out, or undefined. */
export async function checkoutOf(ctx: Context, branch: string): Promise<string | undefined> {
  return (await ctx.git.worktrees(ctx.project.root)).find((w) => w.branch === branch)?.path;
}

/**
 * Merge a run into its base branch, then remove its worktree and branch.
 * @returns the new tip of the base branch
 * @throws StateError (nothing changed in the base branch or any checkout) when the run is not
 *   reviewable, has no changes, the checkout is dirty or on another branch, or the merge conflicts
 *   (the conflict is recorded as `merge.failed`)
 */
export async function mergeRun(ctx: Context, run: RunView, decision: ReviewDecision, onEvent?: (e: StoredEvent) => void): Promise<string> {
  if (!run.sandboxLive || !run.worktree || !run.headSha) {
    throw new StateError(`run ${run.runId} is ${run.state}; only a run whose sandbox still exists can be merged`);
  }
  if (!decision.auto) assertAwaitsDecision(run);
  if (run.headSha === run.baseSha || run.fileCount === 0) {
    throw new StateError(`run ${run.runId} changed nothing; there is nothing to merge`, { hint: `agentctl review discard ${run.runId}` });
  }
  // Only the head the run's last capture inspected (its files listed, its scope checked) merges. A run
  // restored from an archive that holds more (work a discard committed after the capture) must be sent
  // back to its agent, whose next capture checks it, or discarded.
  // (An attempt that failed before its capture left the previous one's inspected head in place.)
  const inspected = run.attempts.findLast((a) => a.headSha !== undefined)?.headSha;
  if (run.headSha !== inspected) {
    throw new StateError(`run ${run.runId} is at ${run.headSha}, which no capture inspected (its last capture was ${inspected ?? 'never made'}); nothing was merged`, {
      hint: `agentctl review request-changes ${run.runId} (its agent's next capture checks it), or agentctl review discard ${run.runId}`,
    });
  }
  const worktree = runGitTarget(ctx, run);
  repairPointer(ctx, run, worktree);
  // A run whose agent rewrote git's records (its pointer, the common .git control files) never merges:
  // what it changed was put back, but what else it did is not known.
  const escalation = ctx.store.query({ runId: run.runId, types: ['escalation.attempted'] }).find((e) => GIT_ESCALATIONS.has(String(e.payload.kind)));
  if (escalation) {
    const reason = `run ${run.runId} changed git's own records (${String(escalation.payload.kind)}: ${String(escalation.payload.found ?? escalation.payload.path ?? '')}); it was put back and recorded, nothing was merged`;
    ctx.store.append({ ...subjectOf(run), type: 'merge.failed', payload: { reason, auto: decision.auto } });
    throw new StateError(reason, { hint: `agentctl review discard ${run.runId}` });
  }
  // Recorded under the repository lock, where the next merge or discard of this run checks that it has
  // not moved on (assertUnchanged): recorded after the lock, two merges at once both landed the run.
  const mergeSha = await withFileLock(ctx.lockPath, async () => {
    const sha = await landRun(ctx, run, worktree, decision);
    const events: EventInput[] = [];
    if (!decision.auto) events.push({ ...subjectOf(run), type: 'review.approved', payload: { by: decision.by, host: currentHost(), note: decision.note ?? null } });
    events.push({ ...subjectOf(run), type: 'run.merged', payload: { mergeSha: sha, baseBranch: run.baseBranch, by: decision.by, host: currentHost(), auto: decision.auto, strategy: ctx.project.config.mergeStrategy } });
    for (const e of ctx.store.append(events)) onEvent?.(e);
    return sha;
  });
  await teardownWorktree(ctx, run, onEvent);
  await removeSandbox(ctx.git, ctx.project.root, ctx.lockPath, worktree.workTree, run.branch, worktree.gitDir);
  for (const e of ctx.store.append({ ...subjectOf(run), type: 'sandbox.removed', payload: { path: worktree.workTree, branchDeleted: run.branch ?? null } })) onEvent?.(e);
  return mergeSha;
}

/**
 * A human merges or discards only a run that awaits a decision (runs.ts awaitsDecision): never one
 * still running, whose agent is working in the worktree a discard would remove.
 * @throws StateError (exit 5) naming the run's state
 */
export function assertAwaitsDecision(run: RunView): void {
  if (!awaitsDecision(run)) {
    throw new StateError(`run ${run.runId} is ${run.state}, not awaiting review`, run.state === 'running' ? { hint: 'Wait for it to finish (agentctl runs), or stop every run with: agentctl halt' } : {});
  }
}

/**
 * Refuse when the run moved on since `run` was read (another attempt was started by request-changes,
 * or it was merged or discarded meanwhile). Call under the repository lock, where request-changes
 * claims its attempt, so a decision never lands an older attempt's work or tears down a busy worktree.
 * @throws StateError naming what the run is now (nothing changed)
 */
export function assertUnchanged(ctx: Context, run: RunView): void {
  const now = runFromLog(ctx, run.runId);
  if (!now || now.state !== run.state || now.attempts.length !== run.attempts.length || now.headSha !== run.headSha || now.sandboxLive !== run.sandboxLive) {
    throw new StateError(`run ${run.runId} changed while this was prepared (it is now ${now?.state ?? 'unknown'}, attempt ${now?.attempts.length ?? '?'}); nothing was done`, { hint: `agentctl review show ${run.runId}` });
  }
}

/** The message of the merge commit of a run. */
export function mergeMessage(run: RunView, decision: Pick<ReviewDecision, 'auto' | 'by' | 'note'>): string {
  return [
    `agentctl: merge ${run.task} (run ${run.runId})`,
    '',
    run.title,
    '',
    `Agent: ${run.agent}`,
    `Decision: ${decision.auto ? 'auto (earned, gated, inside scope)' : `review by ${decision.by}`}`,
    ...(decision.note ? [`Note: ${decision.note}`] : []),
    `Agentctl-Run: ${run.runId}`,
  ].join('\n');
}

/**
 * Whether a path a merge adds is taken in the checkout `root`: something (a file, a link, even a
 * dangling one) is at the path itself, or one of its leading folders is not a real folder (a file, or a
 * link git would replace by a folder). Links are never followed.
 */
function occupied(root: string, path: string): boolean {
  const parts = path.split('/');
  for (let i = 1; i <= parts.length; i++) {
    let st;
    try {
      st = lstatSync(join(root, ...parts.slice(0, i)));
    } catch {
      return false;
    }
    if (i === parts.length || !st.isDirectory()) return true;
  }
  return false;
}

/** The part of a merge that changes git state; runs under the repository lock. */
async function landRun(ctx: Context, run: RunView, worktree: GitTarget, decision: ReviewDecision): Promise<string> {
  assertUnchanged(ctx, run);
  const { git } = ctx;
  const base = run.baseBranch;
  const refuse = (message: string, hint?: string): never => {
    ctx.store.append({ ...subjectOf(run), type: 'merge.failed', payload: { reason: message, auto: decision.auto } });
    throw new StateError(message, hint ? { hint } : {});
  };
  // The person's own checkout not ready (another branch, uncommitted changes, untracked files in the way,
  // a fast-forward git refused) says nothing about the run:
  // a person is told and nothing is written; an auto merge, which no one watched, is recorded.
  const refuseCheckout = (message: string, hint: string): never => {
    if (decision.auto) return refuse(message, hint);
    throw new StateError(message, { hint });
  };
  const veto = await decision.verify?.();
  if (veto) return refuse(`${veto}; nothing was merged`);
  const baseNow = await git.resolve(ctx.project.root, `refs/heads/${base}`);
  if (!baseNow) return refuse(`base branch "${base}" no longer exists; nothing was merged`);
  // Already on the base: a merge of agentctl's whose record was never written (killed between git and
  // the log) is recorded now, once; anything else (a merge by hand) is refused. Never landed twice.
  if (await git.isAncestor(ctx.project.root, run.headSha!, baseNow)) {
    const earlier = await git.out(ctx.project.root, ['log', '-1', '--format=%H %P', `--grep=^Agentctl-Run: ${run.runId}$`, baseNow], { readOnly: true, drivers: false });
    const [sha, , second] = earlier.split(' ');
    if (sha && second === run.headSha) return sha;
    return refuse(`run ${run.runId}'s commit ${run.headSha!.slice(0, 10)} is already on "${base}" (merged outside agentctl); nothing was merged`);
  }

  const checkout = await checkoutOf(ctx, base);
  if (!checkout) {
    const current = await git.currentBranch(ctx.project.root);
    return refuseCheckout(`your checkout at ${ctx.project.root} is on ${current ?? 'a detached HEAD'}, not "${base}"; nothing was merged`, `git switch ${base}, then merge again`);
  }
  const dirty = (await git.status(checkout)).filter((f) => f.index !== '?');
  if (dirty.length > 0) {
    return refuseCheckout(`your checkout of "${base}" at ${checkout} has uncommitted changes; nothing was merged`, 'Commit or stash them, then run the merge again.');
  }

  // What lands, whichever the strategy: the inspected head merged into the base as it is now.
  const merged = await git.mergeTree(ctx.project.root, baseNow, run.headSha!);
  if ('conflicts' in merged) {
    return refuse(`run ${run.runId} conflicts with "${base}" in: ${merged.conflicts.join(', ') || 'unknown files'}; nothing was merged, the worktree is kept`, 'Resolve it on the run branch or discard the run.');
  }
  // git's fast-forward replaces an untracked file of yours that the merge brings (an ignored local note,
  // a .env), or one standing where the merge needs a folder, without a word: refused before anything moves.
  const added = (await git.out(ctx.project.root, ['diff', '--name-only', '-z', '--no-renames', '--diff-filter=A', baseNow, merged.tree], { readOnly: true, drivers: false })).split('\0').filter(Boolean);
  const taken = added.filter((p) => occupied(checkout, p));
  if (taken.length) {
    const named = taken.slice(0, 5).map((p) => JSON.stringify(p)).join(', ');
    return refuseCheckout(`merging run ${run.runId} would replace untracked file(s) in your checkout at ${checkout}: ${named}${taken.length > 5 ? ` and ${taken.length - 5} more` : ''}; nothing was merged`, 'Move them away (they may be ignored by .gitignore), then merge again.');
  }

  let target: string;
  let rebased = false;
  /** Put the run branch back where the reviewed head was (after a rebase that does not land). */
  const unrebase = async () => {
    if (rebased) await git.raw(worktree, ['reset', '--hard', '--quiet', run.headSha!]);
  };
  if (ctx.project.config.mergeStrategy === 'rebase' && baseNow !== run.baseSha) {
    // Rebase the run branch onto the moved base inside the sandbox; abort cleanly on conflict. Only the
    // commits that were captured and checked are rebased, and nothing else in the worktree is added.
    const head = await git.resolve(worktree, 'HEAD');
    if (head !== run.headSha) return refuse(`run ${run.runId}'s worktree is at ${head ?? 'no commit'}, not at the reviewed ${run.headSha}; nothing was merged`, `agentctl review discard ${run.runId}`);
    const r = await git.raw(worktree, ['rebase', '--quiet', baseNow], { accept: [0, 1, 128], env: { GIT_COMMITTER_NAME: AGENTCTL_IDENTITY.name, GIT_COMMITTER_EMAIL: AGENTCTL_IDENTITY.email } });
    if (r.exitCode !== 0) {
      // `all`: a work-tree diff asks a populated submodule for its status, running git there with its config.
      const conflicts = (await git.out(worktree, ['diff', '--name-only', '--diff-filter=U', '--ignore-submodules=all'], { readOnly: true }).catch(() => '')).split('\n').filter(Boolean);
      await git.raw(worktree, ['rebase', '--abort'], { accept: [0, 128] });
      return refuse(`rebasing run ${run.runId} onto "${base}" conflicts in: ${conflicts.join(', ') || 'unknown files'}; nothing was merged, the worktree is kept`);
    }
    rebased = true;
    target = (await git.resolve(worktree, 'HEAD')) ?? '';
    // Replaying commit by commit can land what the inspected diff never showed (a commit the branch's
    // own merge commit dropped again): the rebased tree must be the reviewed change on the new base.
    const tree = target && (await git.out(worktree, ['rev-parse', `${target}^{tree}`], { readOnly: true }));
    if (tree !== merged.tree) {
      await unrebase();
      return refuse(`rebasing run ${run.runId} onto "${base}" gives other content than its reviewed change on "${base}" (its history holds commits its diff does not show); nothing was merged`, 'Set merge.strategy: merge, or discard the run.');
    }
  } else {
    target = await git.commitTree(ctx.project.root, merged.tree, [baseNow, run.headSha!], mergeMessage(run, decision));
  }
  const r = await git.raw(checkout, ['merge', '--ff-only', '--quiet', target], { accept: [0, 1, 128] });
  if (r.exitCode !== 0) {
    await unrebase();
    return refuseCheckout(`git refused to update your checkout at ${checkout}: ${(r.stderr || r.stdout).trim().split('\n')[0]}; nothing was merged`, 'Look at your checkout (git status), then merge again.');
  }
  return target;
}

/**
 * Discard a run: keep its work under `refs/agentctl/archive/<run>`, then remove its worktree and branch.
 * @returns the archive ref, or undefined when the run changed nothing
 * @throws StateError when the run does not await a decision (it is still running, or was decided) or its
 *   sandbox no longer exists
 */
export async function discardRun(ctx: Context, run: RunView, by: string, reason: string | undefined): Promise<string | undefined> {
  assertAwaitsDecision(run);
  if (!run.sandboxLive || !run.worktree) throw new StateError(`run ${run.runId} is ${run.state}; its sandbox is already gone`);
  const { git } = ctx;
  const target = runGitTarget(ctx, run);
  repairPointer(ctx, run, target);
  // Under the repository lock, where request-changes claims an attempt: a run sent back meanwhile is refused.
  const ref = await withFileLock(ctx.lockPath, async () => {
    assertUnchanged(ctx, run);
    // Anything left uncommitted (an interrupted run) is committed first so the archive holds every byte.
    const { headSha } = await captureWork(git, target, run.branch!, `agentctl: uncommitted work of run ${run.runId}`, agentIdentity(run.agent), PROTOCOL_PATHS, run.baseSha);
    let archived: string | undefined;
    if (headSha !== run.baseSha) {
      archived = archiveRef(run.runId);
      await git.raw(ctx.project.root, ['update-ref', archived, headSha]);
    }
    ctx.store.append([
      { ...subjectOf(run), type: 'review.rejected', payload: { by, host: currentHost(), reason: reason ?? null } },
      { ...subjectOf(run), type: 'run.discarded', payload: { by, host: currentHost(), reason: reason ?? null, archiveRef: archived ?? null, headSha } },
    ]);
    return archived;
  });
  await teardownWorktree(ctx, run);
  await removeSandbox(git, ctx.project.root, ctx.lockPath, run.worktree, run.branch, target.gitDir);
  ctx.store.append({ ...subjectOf(run), type: 'sandbox.removed', payload: { path: run.worktree, branchDeleted: run.branch ?? null } });
  return ref;
}

/**
 * Restore a discarded (or lost) run's worktree from its branch or its archive ref; it awaits review again.
 * Records `sandbox.restored`.
 * @returns the worktree path, its branch and head commit
 * @throws StateError when the run still has its worktree or was merged
 */
export async function restoreRun(ctx: Context, run: RunView): Promise<{ path: string; branch: string; headSha: string }> {
  if (run.sandboxLive) throw new StateError(`run ${run.runId} still has its worktree at ${run.worktree}`);
  if (run.state === 'merged') throw new StateError(`run ${run.runId} was merged; its work is on ${run.baseBranch}`);
  const branch = run.branch ?? runBranch(run.task, run.runId);
  const sandbox = await restoreSandbox(ctx.git, ctx.project.root, ctx.lockPath, worktreePath(ctx.paths, ctx.project.key, run.task, run.runId), branch, run.runId, `agentctl restore ${run.runId}`);
  ctx.store.append({ ...subjectOf(run), type: 'sandbox.restored', payload: { path: sandbox.path, branch, headSha: sandbox.headSha, gitDir: sandbox.gitDir } });
  return { path: sandbox.path, branch, headSha: sandbox.headSha };
}
