/**
 * The runs projection: the current state of every run, folded from its events. Pure.
 */
import type { Autonomy } from '../../core/autonomy.js';
import type { StoredEvent } from '../events.js';
import { storedView, type StoredTypedEvent } from '../eventSchemas.js';
import { textOf } from '../../core/text.js';

/** Lifecycle states of a run (DESIGN.md). */
export type RunState = 'planned' | 'running' | 'awaiting_review' | 'merged' | 'discarded' | 'failed' | 'interrupted';

/**
 * One attempt of a run: attempt 1 is the run as planned; each `review.changes_requested` starts the next
 * one in the same worktree. Fields hold what that attempt ended with (`files` is the run's whole change
 * against its base at the end of the attempt).
 */
export interface RunAttempt {
  /** 1, 2, … */
  attempt: number;
  startedAt: string;
  /** The review notes that started it (undefined for attempt 1); human text, untrusted for a terminal. */
  note: string | undefined;
  /** Who requested the changes (undefined for attempt 1). */
  by: string | undefined;
  /** The tool session this attempt resumed (undefined: a fresh session). */
  resumed: string | undefined;
  /** The tool session the agent reported, if any. */
  sessionId: string | undefined;
  exitCode: number | null | undefined;
  summary: string | undefined;
  headSha: string | undefined;
  /** The attempt's changed files as recorded: at most MAX_RECORDED_FILES (orchestrator/stages/capture.ts). */
  files: RunView['files'];
  /** How many files the attempt changed (`files` may list fewer). */
  fileCount: number;
  gate: RunView['gate'];
  /** Scope violations found, recorded one by one or counted (`more`). */
  scopeViolations: number;
  decision: string | undefined;
}

/** One run as the projection sees it. Times are ISO strings. */
export interface RunView {
  runId: string;
  task: string;
  title: string;
  agent: string;
  project: string;
  taskType: string;
  requested: Autonomy;
  effective: Autonomy;
  reasons: string[];
  state: RunState;
  repoRoot: string;
  baseBranch: string;
  baseSha: string;
  worktree: string | undefined;
  branch: string | undefined;
  headSha: string | undefined;
  /** True while the worktree exists (created and not removed). */
  sandboxLive: boolean;
  /** `os` when every process of the run lived in the OS sandbox; `none` otherwise (explicit, or logged before runs were confined). */
  osSandbox: 'os' | 'none';
  startedAt: string;
  updatedAt: string;
  exitCode: number | null | undefined;
  timedOut: boolean;
  summary: string | undefined;
  agentError: string | undefined;
  /**
   * Changed files as recorded: at most MAX_RECORDED_FILES (orchestrator/stages/capture.ts), see
   * `fileCount`; `bytes` (added + removed) and `mode` (after the change) are absent in runs recorded
   * before they were counted.
   */
  files: { path: string; insertions: number; deletions: number; bytes?: number; mode?: string }[];
  /** How many files the run changed (`files` lists at most MAX_RECORDED_FILES of them). */
  fileCount: number;
  /** Lines added and removed over every changed file (binary files count 0). */
  insertions: number;
  deletions: number;
  /** Total changed bytes of the run (binary files included), or undefined for runs recorded before bytes were counted. */
  bytes: number | undefined;
  gate: { command: string; passed: boolean; exitCode: number | null; output: string } | undefined;
  /** Scope violations recorded one by one (at most MAX_RECORDED_VIOLATIONS, orchestrator/stages/check.ts). */
  scopeViolations: { path: string; reason: string }[];
  /** Scope violations found beyond those in `scopeViolations`. */
  scopeViolationsMore: number;
  permissionDenials: number;
  toolCalls: number;
  usage: { inputTokens: number; outputTokens: number; costUsd: number | null };
  decision: string | undefined;
  mergeSha: string | undefined;
  archiveRef: string | undefined;
  note: string | undefined;
  /** The agent's protocol reports. */
  statuses: string[];
  reasoning: { observed: unknown; considered: unknown; decided: unknown; confidence: number | null }[];
  escalations: { reason: unknown; question: unknown; source: unknown }[];
  followUps: string[];
  handover: string | undefined;
  reviewerVerdicts: { reviewer: string; verdict: string; comments: string }[];
  audit: 'sampled' | 'agreed' | 'disagreed' | undefined;
  /** Every attempt, in order (one unless changes were requested); the run-level fields above are the latest attempt's. */
  attempts: RunAttempt[];
}

/**
 * Fold events into run views.
 * @param events events in sequence order (any mix of runs; non-run events are ignored)
 * @returns views keyed by run id, in the order runs were planned
 */
export function projectRuns(events: Iterable<StoredEvent>): Map<string, RunView> {
  const runs = new Map<string, RunView>();
  for (const e of events) {
    if (!e.runId) continue;
    const next = applyRunEvent(e.type === 'run.planned' ? undefined : runs.get(e.runId), e);
    if (next) runs.set(e.runId, next);
  }
  return runs;
}

/**
 * Fold one event of a run into its view: the one definition of the run rules, shared by the in-memory
 * fold ({@link projectRuns}) and the persisted one (runRows.ts).
 * @param run the run's view so far (undefined before its `run.planned`; ignored for `run.planned`)
 * @param e an event with `e.runId` equal to the run's id
 * @returns the new view for `run.planned`, `run` itself (mutated) for any other event, or undefined
 *   when the run was never planned
 */
export function applyRunEvent(run: RunView | undefined, e: StoredEvent): RunView | undefined {
  {
    if (!e.runId) return run;
    const t = storedView(e);
    if (t?.type === 'run.planned') {
      const p = t.payload;
      return {
        runId: e.runId,
        task: e.task ?? '',
        title: p.title,
        agent: e.agent ?? '',
        project: e.project ?? '',
        taskType: e.taskType ?? '',
        requested: p.requested,
        effective: p.effective,
        reasons: p.reasons,
        state: 'planned',
        repoRoot: p.repoRoot,
        baseBranch: p.baseBranch,
        baseSha: p.baseSha,
        worktree: undefined,
        branch: undefined,
        headSha: undefined,
        sandboxLive: false,
        osSandbox: p.sandbox === 'os' ? 'os' : 'none',
        startedAt: e.ts,
        updatedAt: e.ts,
        exitCode: undefined,
        timedOut: false,
        summary: undefined,
        agentError: undefined,
        files: [],
        fileCount: 0,
        insertions: 0,
        deletions: 0,
        bytes: undefined,
        gate: undefined,
        scopeViolations: [],
        scopeViolationsMore: 0,
        permissionDenials: 0,
        toolCalls: 0,
        usage: { inputTokens: 0, outputTokens: 0, costUsd: null },
        decision: undefined,
        mergeSha: undefined,
        archiveRef: undefined,
        note: undefined,
        statuses: [],
        reasoning: [],
        escalations: [],
        followUps: [],
        handover: undefined,
        reviewerVerdicts: [],
        audit: undefined,
        attempts: [newAttempt(1, e.ts, undefined, undefined, undefined)],
      };
    }
    if (!run) return undefined;
    run.updatedAt = e.ts;
    if (!t) return run;
    foldAttempt(run, t);
    switch (t.type) {
      case 'sandbox.created':
        run.worktree = t.payload.path;
        run.branch = t.payload.branch;
        run.headSha = t.payload.baseSha;
        run.sandboxLive = true;
        break;
      case 'agent.launched':
        run.state = 'running';
        break;
      case 'tool.called':
        run.toolCalls++;
        break;
      case 'permission.denied':
        run.permissionDenials++;
        break;
      case 'agent.usage':
        run.usage.inputTokens += t.payload.inputTokens;
        run.usage.outputTokens += t.payload.outputTokens;
        if (t.payload.costUsd != null) run.usage.costUsd = (run.usage.costUsd ?? 0) + t.payload.costUsd;
        break;
      case 'agent.exited':
        run.exitCode = t.payload.exitCode;
        run.timedOut = t.payload.timedOut === true;
        run.summary = t.payload.summary ?? run.summary;
        run.agentError = t.payload.error ?? undefined;
        break;
      case 'sandbox.committed':
        run.headSha = t.payload.headSha;
        run.files = t.payload.files;
        run.fileCount = t.payload.fileCount ?? t.payload.files.length;
        run.insertions = t.payload.insertions;
        run.deletions = t.payload.deletions;
        run.bytes = typeof t.payload.bytes === 'number' && Number.isFinite(t.payload.bytes) ? t.payload.bytes : undefined;
        break;
      case 'scope.violation':
        run.scopeViolations.push({ path: t.payload.path, reason: t.payload.reason });
        run.scopeViolationsMore += t.payload.more ?? 0;
        break;
      case 'gate.passed':
      case 'gate.failed':
        run.gate = { command: t.payload.command, passed: t.type === 'gate.passed', exitCode: t.payload.exitCode, output: t.payload.output };
        break;
      case 'run.decided':
        run.decision = t.payload.outcome;
        if (t.payload.outcome === 'review') run.state = 'awaiting_review';
        break;
      case 'run.failed':
        run.state = 'failed';
        run.agentError = t.payload.error || run.agentError;
        break;
      case 'run.interrupted':
        run.state = 'interrupted';
        break;
      case 'review.approved':
        run.note = t.payload.note ?? run.note;
        break;
      case 'review.rejected':
        run.note = t.payload.reason ?? run.note;
        break;
      case 'run.merged':
        run.state = 'merged';
        run.mergeSha = t.payload.mergeSha;
        break;
      case 'run.discarded':
        run.state = 'discarded';
        run.archiveRef = t.payload.archiveRef ?? undefined;
        break;
      case 'sandbox.removed':
        run.sandboxLive = false;
        break;
      case 'sandbox.restored':
        run.sandboxLive = true;
        run.worktree = t.payload.path;
        run.branch = t.payload.branch;
        run.headSha = t.payload.headSha || run.headSha;
        run.state = 'awaiting_review';
        break;
      case 'agent.status':
        run.statuses.push(textOf(t.payload.status ?? t.payload));
        break;
      case 'agent.reasoning':
        run.reasoning.push({ observed: t.payload.observed, considered: t.payload.considered, decided: t.payload.decided, confidence: t.payload.confidence ?? null });
        break;
      case 'agent.escalated':
        run.escalations.push({ reason: t.payload.reason, question: t.payload.question, source: t.payload.source });
        break;
      case 'task.requested':
        run.followUps.push(textOf(t.payload.id));
        break;
      case 'agent.handover':
        run.handover = t.payload.text;
        break;
      case 'review.agent_verdict':
        run.reviewerVerdicts.push({ reviewer: t.payload.reviewer, verdict: t.payload.verdict, comments: t.payload.comments });
        break;
      case 'audit.sampled':
        run.audit = 'sampled';
        break;
      case 'audit.agreed':
        run.audit = 'agreed';
        break;
      case 'audit.disagreed':
        run.audit = 'disagreed';
        break;
      case 'merge.failed':
        run.state = 'awaiting_review';
        run.note = t.payload.reason;
        break;
      case 'review.changes_requested':
        // The same worktree goes back to the agent: what the last attempt ended with no longer stands.
        run.state = 'planned';
        run.decision = undefined;
        run.gate = undefined;
        run.exitCode = undefined;
        run.timedOut = false;
        run.agentError = undefined;
        run.scopeViolations = [];
        run.scopeViolationsMore = 0;
        run.summary = undefined;
        // What the agent reported and what a reviewer said were about the last attempt's work (each
        // attempt keeps its own in \`attempts\`): shown beside the new attempt's diff they would mislead.
        run.reasoning = [];
        run.escalations = [];
        run.statuses = [];
        run.handover = undefined;
        run.reviewerVerdicts = [];
        break;
      default:
        break;
    }
  }
  return run;
}

function newAttempt(attempt: number, ts: string, note: string | undefined, by: string | undefined, resumed: string | undefined): RunAttempt {
  return { attempt, startedAt: ts, note, by, resumed, sessionId: undefined, exitCode: undefined, summary: undefined, headSha: undefined, files: [], fileCount: 0, gate: undefined, scopeViolations: 0, decision: undefined };
}

/** The per-attempt part of the fold (run-level fields are folded in projectRuns). */
function foldAttempt(run: RunView, t: StoredTypedEvent): void {
  if (t.type === 'review.changes_requested') {
    const p = t.payload;
    run.attempts.push(newAttempt(p.attempt, t.ts, p.note, p.by, undefined));
    return;
  }
  const a = run.attempts.at(-1)!;
  switch (t.type) {
    case 'run.attempt_started':
      a.startedAt = t.ts;
      a.resumed = t.payload.resume ?? undefined;
      break;
    case 'agent.exited':
      a.exitCode = t.payload.exitCode;
      a.summary = t.payload.summary ?? undefined;
      a.sessionId = t.payload.sessionId ?? undefined;
      break;
    case 'sandbox.committed':
      a.headSha = t.payload.headSha;
      a.files = t.payload.files;
      a.fileCount = t.payload.fileCount ?? t.payload.files.length;
      break;
    case 'scope.violation':
      a.scopeViolations += 1 + (t.payload.more ?? 0);
      break;
    case 'gate.passed':
    case 'gate.failed':
      a.gate = { command: t.payload.command, passed: t.type === 'gate.passed', exitCode: t.payload.exitCode, output: t.payload.output };
      break;
    case 'run.decided':
      a.decision = t.payload.outcome;
      break;
    default:
      break;
  }
}

/**
 * Whether the run is in a state a human decides (merge or discard): awaiting review, failed or
 * interrupted; never while it runs, nor once decided. The one definition of that rule.
 */
export function awaitsDecision(run: Pick<RunView, 'state'>): boolean {
  return run.state === 'awaiting_review' || run.state === 'failed' || run.state === 'interrupted';
}

/** States in which a human can still merge or discard the run, its sandbox still there. */
export function isReviewable(run: RunView): boolean {
  return run.sandboxLive && awaitsDecision(run);
}
