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
    const log = await ctx.git.out(ctx.project.root, ['log', '--reverse', '--max-count=500', '--format=%H%x1f%s%x1f%b%x1e', `${run.mergeSha}..${base}`], { readOnly: true });
    const commits = log.split('\x1e').map((c) => c.trim()).filter(Boolean).map((c) => {
      const [sha, subject, body] = c.split('\x1f');
      return { sha: sha!, subject: subject ?? '', body: body ?? '' };
    });
    const subject = { runId: run.runId, task: run.task, agent: run.agent, project, taskType: run.taskType };
    const targets = [run.mergeSha!, run.headSha].filter((s): s is string => !!s);
    const revert = commits.find((c) => targets.some((t) => new RegExp(`This reverts commit ${t.slice(0, 7)}[0-9a-f]*`).test(c.body)));
    if (revert) {
      events.push({ ...subject, type: 'regression.detected', key: `regression:${run.runId}`, payload: { kind: 'revert', commit: revert.sha, subject: revert.subject } });
      continue;
    }
    if (followed.has(run.runId) || ctx.project.config.followUpCommits === 0) continue;
    const files = new Set(await changedPaths(ctx, run));
    for (const c of commits.slice(0, ctx.project.config.followUpCommits)) {
      if (c.subject.startsWith('agentctl:')) continue;
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
