/**
 * The run pipeline, as named stages (each in ./stages/, each recording its events):
 *
 *   plan → prepare → setup → launch → capture → check → gate → decide → land
 *
 * `plan` refuses before anything exists; `prepare` makes the worktree (with its bootstrap: copied and
 * shared checkout paths, ports) and the tool's config; `setup` runs the `worktree.setup` commands; `launch`
 * runs the agent in the OS sandbox (stages/confine.ts is the one place that wraps a process in it, for
 * the agent and the gate alike); `capture` kills what the agent left and commits its work; `check` holds
 * the change against the policy; `gate` runs the task's gate in the sandbox; `decide` and `land` merge,
 * wait for review or fail the run.
 */
import { hostname } from 'node:os';
import { rmSync } from 'node:fs';
import type { EventPayloads } from '../evidence/eventSchemas.js';
import type { StoredEvent } from '../evidence/events.js';
import { processStartTime } from '../exec/processes.js';
import { projectRuns, type RunView } from '../evidence/projections/runs.js';
import type { Context } from './context.js';
import type { RunDecision } from './decide.js';
import { planRun, type RunBase, type RunPlan } from './plan.js';
import type { QueueJobRef } from './queue/lease.js';
import { GIT_ESCALATIONS } from './review.js';
import { captureRun } from './stages/capture.js';
import { checkRun } from './stages/check.js';
import { decideStage } from './stages/decide.js';
import { gateRun } from './stages/gate.js';
import { landRun } from './stages/land.js';
import { launchAgent } from './stages/launch.js';
import { prepareRun, releaseRun } from './stages/prepare.js';
import { setupRun } from './stages/setup.js';
import type { Emit, PreparedRun } from './stages/types.js';

/** Options for {@link runTask}. */
export interface RunTaskOptions {
  /** A human drives the agent interactively in the sandbox (required when the effective level is `hold`). */
  claim?: boolean;
  /** stdin and stdout are a terminal (needed for --claim). */
  interactiveTerminal: boolean;
  /** Aborting stops the agent (whole process tree) and records the run as interrupted. */
  signal?: AbortSignal;
  /** Called for every event appended for this run (progress display). */
  onEvent?: (event: StoredEvent) => void;
  /** Random numbers in [0, 1) for audit sampling (tests pass a seeded one). */
  random?: () => number;
  /** Start from this commit of this base branch instead of the checked-out base branch's tip (queue workers). */
  base?: RunBase;
  /** The queue job this run is for (recorded in `run.planned`: recovery closes the run when its lease is lost). */
  queueJob?: QueueJobRef;
  /** Why `signal` was aborted, for the `run.interrupted` event (default: the signal's reason when it is a string, else the user's Ctrl-C). */
  interruptReason?: () => string;
  /** Called once `run.planned` is recorded, with the run's id (before the worktree exists). */
  onPlanned?: (runId: string) => void;
}

/** The result of a run. */
export interface RunTaskResult {
  run: RunView;
  decision: RunDecision | undefined;
}

/**
 * Why a run was stopped, for its `run.interrupted` event: the abort's reason when it is a sentence
 * (cli/interrupt.ts interruptible: `interrupted by SIGTERM`), else the user's Ctrl-C.
 */
export function interruptReasonOf(signal: AbortSignal | undefined): string {
  return typeof signal?.reason === 'string' ? signal.reason : 'interrupted by the user (SIGINT)';
}

/**
 * Run one task end to end.
 * @param taskId the task's id (a task file, or a follow-up a run requested)
 * @returns the run as projected after the pipeline, and the decision (undefined when interrupted)
 * @throws InputError / StateError / ConfigError from {@link planRun} — before any worktree exists
 */
export async function runTask(ctx: Context, taskId: string, options: RunTaskOptions): Promise<RunTaskResult> {
  const plan = await planRun(ctx, taskId, options);
  const emit = emitterFor(ctx, plan, options.onEvent);
  emit([{ type: 'run.planned', payload: plannedPayload(ctx, plan, options) }]);
  options.onPlanned?.(plan.runId);
  const run = await prepareRun(ctx, plan, emit);
  try {
    return await execute(ctx, run, options, emit);
  } catch (error) {
    // Whatever broke after the worktree exists, the run is closed in the log and its worktree kept for review.
    emit([{ type: 'run.failed', payload: { step: 'pipeline', error: (error as Error).message } }]);
    throw error;
  } finally {
    rmSync(run.tmpDir, { recursive: true, force: true });
    releaseRun(ctx, run);
  }
}

async function execute(ctx: Context, run: PreparedRun, options: RunTaskOptions, emit: Emit): Promise<RunTaskResult> {
  if ((await setupRun(ctx, run, emit, options.signal)) !== 'ok') return { run: currentRun(ctx, run.plan.runId), decision: undefined };
  const launched = await launchAgent(ctx, run, { interactive: options.claim === true, signal: options.signal }, emit);
  const captured = await captureRun(ctx, run, emit);
  const interrupted = (reason: string): RunTaskResult => {
    // A queued run whose lease was lost may be closed by another machine's recovery at the same time:
    // both use recovery's idempotency key, so the run is recorded interrupted once.
    emit([{ type: 'run.interrupted', ...(options.queueJob ? { key: `recovered:${run.plan.runId}` } : {}), payload: { reason } }]);
    return { run: currentRun(ctx, run.plan.runId), decision: undefined };
  };
  const userReason = () => options.interruptReason?.() ?? interruptReasonOf(options.signal);
  if (launched.interrupted) {
    const { report } = launched;
    return interrupted(report.stop && (report.stop.kind === 'halted' || report.stop.kind === 'breaker') ? report.stop.reason : userReason());
  }
  const violations = checkRun(captured, emit);
  const gatePassed = await gateRun(ctx, run, launched, captured.headSha, emit, options.signal);
  // Interrupted while the gate ran: nothing is decided (the gate did not finish).
  if (options.signal?.aborted) return interrupted(userReason());
  // Found at capture or after the gate (both record them).
  const gitEscalations = ctx.store.query({ runId: run.plan.runId, types: ['escalation.attempted'] }).filter((e) => GIT_ESCALATIONS.has(String(e.payload.kind))).length;
  const outcome = await decideStage(ctx, run, launched, captured, { violations: violations.length, gatePassed, gitEscalations }, emit);
  await landRun(ctx, run, launched, captured.files, outcome, emit, { currentRun: () => currentRun(ctx, run.plan.runId), random: options.random ?? Math.random, onEvent: options.onEvent });
  return { run: currentRun(ctx, run.plan.runId), decision: outcome.decision };
}

/** Append events for this run, filling in its subject, and tell the progress display. */
function emitterFor(ctx: Context, plan: RunPlan, onEvent: ((e: StoredEvent) => void) | undefined): Emit {
  const cfg = ctx.project.config;
  const subject = { runId: plan.runId, task: plan.task.id, agent: plan.task.agent, project: cfg.project, taskType: plan.task.type };
  return (events) => {
    if (events.length === 0) return [];
    const stored = ctx.store.append(events.map((e) => ({ ...subject, ...e })));
    for (const e of stored) onEvent?.(e);
    return stored;
  };
}

/** The `run.planned` payload: what was asked, what was granted and why, who runs it. */
function plannedPayload(ctx: Context, plan: RunPlan, options: RunTaskOptions): EventPayloads['run.planned'] {
  const { task } = plan;
  return {
    title: task.title,
    taskFile: task.file,
    requestedBy: task.requestedBy?.runId ?? null,
    requested: task.autonomy,
    effective: plan.effective.level,
    reasons: plan.effective.reasons,
    profiles: plan.policy.profiles,
    claim: options.claim === true,
    repoRoot: ctx.project.root,
    baseBranch: plan.baseBranch,
    baseSha: plan.baseSha,
    gate: task.gate ?? null,
    timeoutMs: task.timeoutMs ?? null,
    // `none` only when a profile said so: such a run is capped at review and earns nothing toward auto.
    sandbox: plan.osSandbox ? 'os' : 'none',
    // Who runs it: crash recovery treats the run as orphaned once this process is gone.
    ownerPid: process.pid,
    ownerStart: processStartTime(process.pid) ?? null,
    // The machine it runs on: with a shared log, only that machine can tell whether the owner is alive.
    ownerHost: hostname(),
    ...(options.queueJob ? { queueJob: options.queueJob } : {}),
  };
}

function currentRun(ctx: Context, runId: string): RunView {
  return projectRuns(ctx.store.query({ runId })).get(runId)!;
}
