/**
 * Independent review: a second agent reads a run's task and diff under the read-only `research`
 * profile and gives a verdict. It works in the run's worktree; anything it changes is thrown away.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { parseLine } from '../adapters/admit.js';
import { adapterFor } from '../adapters/registry.js';
import { clip, launchablePrompt } from '../adapters/types.js';
import { StateError } from '../core/errors.js';
import { runDir, runTempDir } from '../core/paths.js';
import type { AgentName } from '../definition/task.js';
import { isEvent, payloadOf } from '../evidence/eventSchemas.js';
import type { StoredEvent } from '../evidence/events.js';
import type { VerdictRow } from '../evidence/projectionCatalog.js';
import type { RunView } from '../evidence/projections/runs.js';
import { DIFF_BIG_FILE_BYTES } from '../exec/git.js';
import { requireAgentSandbox } from '../exec/osSandbox.js';
import { runProcess } from '../exec/runner.js';
import { resetToCommit } from '../exec/worktree.js';
import type { Context } from './context.js';
import { policyFor, requireLaunchable } from './plan.js';
import { PROTOCOL_PATHS } from './protocol.js';
import { runDiff, runGitTarget } from './review.js';
import { toolCommand } from './stages/launch.js';
import { sandboxLayout } from './stages/prepare.js';
import { writeRendered } from './stages/render.js';
import { describeFileChange, diffWithLeftOut, gitAttributesWarning } from '../ui/describe.js';
import { terminalSafe } from '../ui/terminal.js';
import { findRunnableTask } from './tasks.js';
import { requireApprovedSettings } from './settingsApproval.js';

/** Longest diff given to the reviewer, in characters. */
const REVIEW_DIFF_CHARS = 100_000;
/** Reviewer timeout in milliseconds. */
const REVIEW_TIMEOUT_MS = 15 * 60 * 1000;

/** Most changed files listed to the reviewer one by one. */
const REVIEW_FILES_LISTED = 200;

/**
 * The reviewer's list of changed files, one line each (`- path: +10 -3`, `- path: binary, 9.0 MiB`),
 * at most {@link REVIEW_FILES_LISTED} and a count of the rest, then a line saying where to read what the
 * diff leaves out: files with a binary name (images, archives, compiled code) and files above
 * {@link DIFF_BIG_FILE_BYTES} show in the diff only as `Binary files … differ` (a file listed as binary
 * for its content but named as text is in the diff as text). Paths are the run's (agent-written) text: one line each, with control, bidi
 * and other invisible characters shown as escapes ({@link terminalSafe}, the one rule for them). Pure.
 * @param files the run's changed files as recorded (RunView.files)
 * @param fileCount how many files the run changed (RunView.fileCount: the log lists at most 1,000)
 */
export function changedFileLines(files: RunView['files'], fileCount = files.length): string[] {
  const listed = files.slice(0, REVIEW_FILES_LISTED).map((f) => `- ${terminalSafe(f.path)}: ${describeFileChange(f)}`);
  const rest = Math.max(fileCount, files.length) - listed.length;
  return [
    ...(listed.length ? listed : ['(none)']),
    ...(rest > 0 ? [`- … and ${rest} more`] : []),
    ...(listed.length ? [`Files with a binary name (images, archives, compiled code) and files above ${DIFF_BIG_FILE_BYTES / 1024 / 1024} MiB appear in the diff below only as "Binary files … differ": read them in the worktree (your working directory).`] : []),
  ];
}

/** Parse `VERDICT: approve|reject` (last occurrence wins) out of the reviewer's final message. */
export function parseVerdict(text: string | undefined): 'approve' | 'reject' | 'none' {
  const all = [...(text ?? '').matchAll(/VERDICT:\s*(approve|reject)/gi)];
  const last = all.at(-1)?.[1]?.toLowerCase();
  return last === 'approve' || last === 'reject' ? last : 'none';
}

/**
 * Ask `reviewer` to review a run.
 * @returns the stored `review.agent_verdict` event
 * @throws StateError when the run has no worktree; ConfigError when the reviewer cannot start (requireLaunchable)
 */
export async function askReviewer(ctx: Context, run: RunView, reviewer: AgentName): Promise<StoredEvent> {
  if (!run.sandboxLive || !run.worktree || !run.headSha) throw new StateError(`run ${run.runId} has no worktree to review`);
  const worktree = run.worktree;
  const task = findRunnableTask(ctx, run.task);
  const policy = policyFor(ctx, { ...task, profiles: ['research'], requestedBy: undefined });
  const adapter = adapterFor(reviewer);
  const settings = ctx.project.config.agents[reviewer];
  const target = runGitTarget(ctx, run);
  // The same diff as review show: read from the commits, no attribute of the checkout or the worktree
  // applies (an agent's own `*.js -diff` would show its code as "Binary files differ").
  const read = await runDiff(ctx.git, ctx.project.root, run.baseSha, run.headSha);
  const diff = read.omitted ? `(not shown: the diff is ${read.omitted}; read the changed files listed above in the worktree)` : diffWithLeftOut({ ...read, text: read.text || '(no changes)' }, '; read them in the worktree');
  const prompt = [
    `You are reviewing another agent's work on the task "${run.task}" (${run.title}). Do not change any file.`,
    '',
    '## The task',
    task.prompt,
    '',
    '## The changed files',
    ...changedFileLines(run.files, run.fileCount),
    ...(gitAttributesWarning(run.files) ? [`Note: this run ${gitAttributesWarning(run.files)}.`] : []),
    '',
    '## The diff',
    '```diff',
    clip(diff, REVIEW_DIFF_CHARS),
    '```',
    '',
    'Judge whether this diff does the task correctly and safely. End your answer with a line',
    '`VERDICT: approve` or `VERDICT: reject`, then your comments.',
  ].join('\n');
  requireLaunchable(ctx, reviewer, policy, `reviewer "${reviewer}"`);
  requireApprovedSettings(ctx, `review of run ${run.runId} by ${reviewer}`);
  const osSandbox = requireAgentSandbox(ctx.env, ctx.project, policy.sandbox.value, ctx.project.config.osSandboxBin, `review of run ${run.runId} by ${reviewer}`);
  const dir = `${runDir(ctx.paths, run.runId)}-review-${Date.now()}`;
  const rendered = adapter.render(policy, { worktree, runDir: dir, homeDir: homedir() });
  writeRendered(rendered);
  const tmpDir = runTempDir(tmpdir(), `${run.runId}-review`);
  mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  // The reviewer is an agent like any other: the same OS sandbox, under the research profile.
  const confined = { plan: { osSandbox, policy, runId: run.runId, worktree, task: { id: run.task } }, layout: sandboxLayout(ctx, worktree, dir, tmpDir, rendered), tmpDir };
  const spec = adapter.launch({ prompt: launchablePrompt(prompt), worktree, settings, rendered, interactive: false });
  const { cmd, env } = toolCommand(ctx, confined, 'reviewer', adapter, spec, { ...settings.env, ...spec.env, AGENTCTL_REVIEW_OF: run.runId });
  const parser = adapter.parser(worktree);
  const result = await runProcess(cmd.file, cmd.args, {
    cwd: worktree,
    env,
    acceptExitCodes: 'any',
    processGroup: true,
    timeoutMs: REVIEW_TIMEOUT_MS,
    overflow: 'tail',
    ...(spec.input !== undefined ? { input: spec.input } : {}),
    // The reviewer's tool output is untrusted too: a line the parser cannot read costs that line.
    onStdoutLine: (l) => void parseLine(parser, l),
  });
  rmSync(tmpDir, { recursive: true, force: true });
  const summary = parser.finish();
  // Whatever the reviewer touched is discarded: the run's work stays exactly as it was.
  await resetToCommit(ctx.git, target, run.headSha, PROTOCOL_PATHS);
  const verdict = parseVerdict(summary.finalText);
  const [event] = ctx.store.append({
    type: 'review.agent_verdict',
    runId: run.runId,
    task: run.task,
    agent: run.agent,
    project: run.project,
    taskType: run.taskType,
    payload: { reviewer, verdict, comments: clip(summary.finalText ?? summary.errorText ?? '', 8000), exitCode: result.exitCode, timedOut: result.timedOut },
  });
  return event!;
}

/** Agreement of reviewer agents with the human decisions that followed their verdicts. */
export interface ReviewerAgreement {
  reviewer: string;
  verdicts: number;
  decided: number;
  agreed: number;
  agreementRate: number | null;
}

/**
 * {@link reviewerAgreement} from the persisted verdict rows (one per run a reviewer judged): same result,
 * reviewers in the order of their first verdict. Pure.
 */
export function agreementOfRows(rows: readonly VerdictRow[]): ReviewerAgreement[] {
  const by = new Map<string, ReviewerAgreement & { first: number }>();
  for (const row of rows) {
    for (const v of row.verdicts) {
      const a = by.get(v.reviewer) ?? { reviewer: v.reviewer, verdicts: 0, decided: 0, agreed: 0, agreementRate: null, first: v.seq };
      a.first = Math.min(a.first, v.seq);
      a.verdicts++;
      if (row.outcome && v.verdict !== 'none') {
        a.decided++;
        if ((v.verdict === 'approve') === (row.outcome === 'merged')) a.agreed++;
      }
      a.agreementRate = a.decided ? a.agreed / a.decided : null;
      by.set(v.reviewer, a);
    }
  }
  return [...by.values()].sort((a, b) => a.first - b.first).map(({ first: _first, ...a }) => a);
}

/**
 * How often each reviewer agent's verdict matched the human decision (approve ↔ merged, reject ↔ discarded). Pure.
 * @param events the project's events in sequence order
 */
export function reviewerAgreement(events: readonly StoredEvent[]): ReviewerAgreement[] {
  const outcome = new Map<string, 'merged' | 'discarded'>();
  for (const e of events) if (e.runId && (e.type === 'run.merged' || e.type === 'run.discarded')) outcome.set(e.runId, e.type === 'run.merged' ? 'merged' : 'discarded');
  const by = new Map<string, ReviewerAgreement>();
  for (const e of events) {
    if (!isEvent(e, 'review.agent_verdict') || !e.runId) continue;
    const { reviewer, verdict } = payloadOf(e, 'review.agent_verdict');
    const a = by.get(reviewer) ?? { reviewer, verdicts: 0, decided: 0, agreed: 0, agreementRate: null };
    a.verdicts++;
    const o = outcome.get(e.runId);
    if (o && verdict !== 'none') {
      a.decided++;
      if ((verdict === 'approve') === (o === 'merged')) a.agreed++;
    }
    a.agreementRate = a.decided ? a.agreed / a.decided : null;
    by.set(reviewer, a);
  }
  return [...by.values()];
}
