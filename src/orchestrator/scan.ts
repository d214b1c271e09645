/**
 * Evidence from git after a merge: reverts of agent merges (regressions) and human follow-up commits
 * to a run's files (the merge was not "approved unmodified"). Found by reading the base branch's
 * history and recorded as events, once each (idempotency keys).
 */
import { borrowsProjectName } from './settingsApproval.js';
import type { EventInput } from '../evidence/events.js';
import type { RunView } from '../evidence/projections/runs.js';
import { listRuns } from '../evidence/runsStore.js';
import type { Context } from './context.js';

/** Merged runs examined per scan (newest first). */
const SCAN_LIMIT = 100;

/**
 * Scan the base branch after each merged run of the project. Not in a clone that uses another clone's
 * project name unapproved (settingsApproval.ts borrowsProjectName): a fork can hold reverts of its merges.
 * @returns the number of new events recorded
 */
export async function scanMergedRuns(ctx: Context): Promise<number> {
  if (borrowsProjectName(ctx)) return 0;
  const project = ctx.project.config.project;
  // The newest merged runs (an index read), oldest first; then what is already recorded about each (by run).
  const merged = listRuns(ctx.store, project, { states: ['merged'], limit: SCAN_LIMIT }).runs.filter((r) => r.mergeSha).reverse();
  const seen = merged.flatMap((r) => ctx.store.query({ runId: r.runId, types: ['regression.detected', 'review.followup'] }));
  const reverted = new Set(seen.filter((e) => e.type === 'regression.detected').map((e) => e.runId));
  const followed = new Set(seen.filter((e) => e.type === 'review.followup').map((e) => e.runId));
  // Which merge commits this repository has, in one git call (a log can name merges of a repository that
  // was re-cloned, or runs of another checkout); only those are examined one by one.
  const shas = merged.map((r) => r.mergeSha!).filter((sha) => /^[0-9a-f]{40,64}$/.test(sha));
  const present = new Set(
    shas.length ? (await ctx.git.out(ctx.project.root, ['rev-list', '--no-walk', '--ignore-missing', ...shas], { readOnly: true }).catch(() => shas.join('\n'))).split('\n').filter(Boolean) : [],
  );
  const events: EventInput[] = [];
  for (const run of merged) {
    if (reverted.has(run.runId) || !present.has(run.mergeSha!)) continue;
    const base = `refs/heads/${run.baseBranch}`;
    if (!(await ctx.git.isAncestor(ctx.project.root, run.mergeSha!, base).catch(() => false))) continue;
    const range = `${run.mergeSha}..${base}`;
    const subject = { runId: run.runId, task: run.task, agent: run.agent, project, taskType: run.taskType };
    const targets = [run.mergeSha!, run.headSha].filter((s): s is string => !!s && /^[0-9a-f]{40,64}$/.test(s));
    const revert = await revertOf(ctx, range, targets);
    if (revert) {
      events.push({ ...subject, type: 'regression.detected', key: `regression:${run.runId}`, payload: { kind: 'revert', commit: revert.sha, subject: revert.subject } });
      continue;
    }
    if (followed.has(run.runId) || ctx.project.config.followUpCommits === 0) continue;
    const files = new Set(await changedPaths(ctx, run));
    for (const c of await firstHumanCommits(ctx, range, ctx.project.config.followUpCommits)) {
      const touched = (await ctx.git.out(ctx.project.root, ['diff-tree', '--no-commit-id', '--name-only', '-r', '-z', c.sha], { readOnly: true })).split('\0').filter(Boolean);
      const overlap = touched.filter((p) => files.has(p));
      if (overlap.length) {
        events.push({ ...subject, type: 'review.followup', key: `followup:${run.runId}`, payload: { commit: c.sha, subject: c.subject, files: overlap } });
        break;
      }
    }
  }
  if (events.length) ctx.store.append(events);
  return events.length;
}

/** Commits after a merge read for follow-ups, oldest first (a window, so a long history costs no more). */
const FOLLOW_UP_WINDOW = 500;

/** A commit of the base branch as the scan reads it. */
interface Commit {
  sha: string;
  subject: string;
  body: string;
}

/** Commits as `git log --format=%H%x1f%s%x1f%b%x1e` prints them. */
function parseCommits(log: string): Commit[] {
  return log.split('\x1e').map((c) => c.trim()).filter(Boolean).map((c) => {
    const [sha, subject, body] = c.split('\x1f');
    return { sha: sha!, subject: subject ?? '', body: body ?? '' };
  });
}

/** agentctl's own commits (a run's work, a merge): their messages carry text an agent chose (a follow-up's title). */
const isAgentctlCommit = (c: Commit) => c.subject.startsWith('agentctl:');

/**
 * The commit in `range` that reverts one of `targets`: a commit that is not agentctl's own whose message
 * has the line `git revert` writes, `This reverts commit <full sha>`. (An attack session had an agent put
 * "This reverts commit <7 hex>" in a follow-up's title, which agentctl's merge commit carried: any such
 * text anywhere in any message counted, and another run was demoted for a revert that never happened.)
 * @param targets full commit ids (the run's merge and its captured head)
 * @returns the oldest such commit, or undefined
 */
async function revertOf(ctx: Context, range: string, targets: readonly string[]): Promise<Commit | undefined> {
  if (!targets.length) return undefined;
  const grep = targets.flatMap((t) => ['--grep', `This reverts commit ${t}`]);
  const found = parseCommits(await ctx.git.out(ctx.project.root, ['log', '--format=%H%x1f%s%x1f%b%x1e', ...grep, range], { readOnly: true }));
  const line = new RegExp(`^This reverts commit (${targets.join('|')})\\b`, 'm');
  return found.filter((c) => !isAgentctlCommit(c) && line.test(c.body)).at(-1);
}

/**
 * The first `n` commits after a merge that are not agentctl's own, oldest first, from the oldest
 * {@link FOLLOW_UP_WINDOW} (agentctl's commits of later merges no longer use up the window: an attack
 * session hid a human fix behind them).
 */
async function firstHumanCommits(ctx: Context, range: string, n: number): Promise<Commit[]> {
  const count = Number(await ctx.git.out(ctx.project.root, ['rev-list', '--count', range], { readOnly: true }));
  // --skip and --max-count apply before --reverse: skipping the newest leaves the oldest, then reversed.
  const log = await ctx.git.out(ctx.project.root, ['log', '--reverse', `--skip=${Math.max(0, count - FOLLOW_UP_WINDOW)}`, `--max-count=${FOLLOW_UP_WINDOW}`, '--format=%H%x1f%s%x1f%x1e', range], { readOnly: true });
  return parseCommits(log).filter((c) => !isAgentctlCommit(c)).slice(0, n);
}

/**
 * Every path a merged run changed: its recorded files, or when the log lists only some of them
 * (RunView.fileCount), all of them from git (base to the captured head; the recorded ones if git no
 * longer has those commits).
 */
async function changedPaths(ctx: Context, run: RunView): Promise<string[]> {
  const recorded = run.files.map((f) => f.path);
  if (run.fileCount <= recorded.length || !run.headSha) return recorded;
  const listed = await ctx.git
    .out(ctx.project.root, ['diff-tree', '-r', '--no-renames', '--name-only', '-z', run.baseSha, run.headSha], { readOnly: true })
    .catch(() => undefined);
  return listed === undefined ? recorded : listed.split('\0').filter(Boolean);
}
