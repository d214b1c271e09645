/**
 * Request changes: a human sends a run awaiting review back to the same agent, in the same worktree, with
 * review notes and the current diff. The run becomes attempt 2 (3, …) of the same run id:
 *
 *   review.changes_requested + run.attempt_started → bootstrap (links, ports) → configure → launch →
 *   capture → check → gate → decide → land
 *
 * The stages are the run pipeline's (./stages/), so the agent and the gate live in the OS sandbox as in
 * attempt 1. `setup` does not run again: what it made in the worktree is still there (the gate's clean
 * keeps ignored files). The tool resumes its own session where it can (the id it printed in an earlier
 * attempt, checked by the adapter's parser); otherwise it gets a fresh session whose prompt tells the
 * whole story. The attempt is capped at `review`: a human asked for changes, so the result comes back
 * to a human, whatever the agent has earned.
 *
 * Everything that can refuse is checked before the first event: bad input changes nothing.
 */
import { existsSync, lstatSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isSessionId } from '../adapters/types.js';
import { adapterFor } from '../adapters/registry.js';
import { InputError, StateError } from '../core/errors.js';
import { assertOutsideRun } from '../core/humanOnly.js';
import { AGENT_NAMES, minAutonomy, type AgentName } from '../definition/task.js';
import type { EventInput, StoredEvent } from '../evidence/events.js';
import { projectRuns, type RunView } from '../evidence/projections/runs.js';
import { earnedLevel } from '../evidence/projections/trust.js';
import { snapshotGitControl } from '../exec/gitState.js';
import { withFileLock } from '../core/lock.js';
import { requireAgentSandbox } from '../exec/osSandbox.js';
import { processStartTime } from '../exec/processes.js';
import { freshPrompt, resumePrompt } from './attemptPrompt.js';
import { planBootstrap } from './bootstrap.js';
import { controlsOf, currentHost, trustOf, type Context } from './context.js';
import type { RunDecision } from './decide.js';
import { effectiveAutonomyOf, policyFor, requireLaunchable, type RunPlan } from './plan.js';
import { PROTOCOL_PATHS, protocolText } from './protocol.js';
import { GIT_ESCALATIONS, runDiff, runGitTarget } from './review.js';
import { diffWithLeftOut } from '../ui/describe.js';
import { captureRun } from './stages/capture.js';
import { checkRun } from './stages/check.js';
import { decideStage } from './stages/decide.js';
import { gateRun } from './stages/gate.js';
import { interruptReasonOf } from './run.js';
import { landRun } from './stages/land.js';
import { launchAgent } from './stages/launch.js';
import { bootstrapWorktree, configure, releaseRun } from './stages/prepare.js';
import type { Emit, PreparedRun } from './stages/types.js';
import { findRunnableTask } from './tasks.js';
import { requireApprovedSettings } from './settingsApproval.js';

/** Longest review note accepted, in characters. */
export const MAX_NOTE_CHARS = 64_000;

/** The human's request. */
export interface RequestChangesInput {
  /** The review notes (human text; `--note` and `--file` joined by the command). */
  note: string;
  /** Who asks (git user.email, as for merges). */
  by: string;
}

/** The outcome of the new attempt. */
export interface RequestChangesResult {
  /** The run as projected after the attempt. */
  run: RunView;
  /** The attempt that ran (2, 3, …). */
  attempt: number;
  /** The tool session it resumed, or undefined when it got a fresh one. */
  resumed: string | undefined;
  /** The attempt's decision (undefined when it was interrupted or failed before the agent). */
  decision: RunDecision | undefined;
}

/** Options besides the fixed signature's. */
export interface RequestChangesOptions {
  /** Aborting stops the agent (whole sandbox) and records the attempt as interrupted. */
  signal?: AbortSignal;
}

/**
 * Send a run back to its agent with review notes; the run becomes its next attempt and awaits review again.
 * @param run the run as projected (must be awaiting review, with its worktree)
 * @param input the notes (non-empty after trimming, at most {@link MAX_NOTE_CHARS}) and who asks
 * @param onEvent called for every event appended for the attempt (progress display)
 * @returns the run after the attempt, the attempt number, the resumed session and the decision
 * @throws StateError (exit 5) from inside a run, for a run not awaiting review or without its worktree,
 *   when agentctl is halted, when the task may only be driven by a human (hold), or when the policy's
 *   OS sandbox mode differs from the run's; InputError (exit 2) for empty or oversized notes or a task
 *   that no longer exists or whose worktree block is refused; ConfigError (exit 3) when the agent or the
 *   OS sandbox cannot start. Nothing is recorded when one of these is thrown.
 */
export async function requestChanges(ctx: Context, run: RunView, input: RequestChangesInput, onEvent?: (e: StoredEvent) => void, options: RequestChangesOptions = {}): Promise<RequestChangesResult> {
  assertOutsideRun('request changes', ctx.env);
  const note = input.note.trim();
  if (!note) throw new InputError('the review notes are empty: say what the agent should change', { field: '--note' });
  if (note.length > MAX_NOTE_CHARS) throw new InputError(`the review notes are ${note.length} characters; at most ${MAX_NOTE_CHARS} are accepted`, { field: '--note' });
  if (run.state !== 'awaiting_review') {
    throw new StateError(`run ${run.runId} is ${run.state}, not awaiting review; only a run awaiting review can be sent back with changes`, { hint: 'agentctl review' });
  }
  if (!run.sandboxLive || !run.worktree || !run.branch || !run.headSha || !existsSync(run.worktree)) {
    throw new StateError(`run ${run.runId} has no worktree to work in`, { hint: `agentctl restore ${run.runId}` });
  }
  const target = runGitTarget(ctx, run);
  const attempt = run.attempts.length + 1;
  const plan = await planAttempt(ctx, run, attempt);
  const previous = run.attempts.at(-1)?.sessionId;
  const resume = plan.adapter.canResume && isSessionId(previous) ? previous : undefined;
  const read = await runDiff(ctx.git, ctx.project.root, run.baseSha, run.headSha);
  const diff = read.omitted ? `(not shown: your diff so far is ${read.omitted}; git diff ${run.baseSha.slice(0, 10)} in your worktree shows it)` : diffWithLeftOut(read);
  const promptInput = { attempt, note, diff, base: run.baseSha.slice(0, 10) };
  plan.prompt = resume ? resumePrompt(promptInput) : freshPrompt(plan.prompt, run.attempts.map((a) => ({ attempt: a.attempt, note: a.note, summary: a.summary })), promptInput);

  const emit = emitterFor(ctx, run, onEvent);
  // Two requests (or a request and another decision) at once: the state is read again under the
  // repository lock and the attempt claimed there, so only one agent ever works in the worktree.
  await withFileLock(ctx.lockPath, async () => {
    const now = currentRun(ctx, run.runId);
    if (now.state !== 'awaiting_review' || now.attempts.length !== run.attempts.length) {
      throw new StateError(`run ${run.runId} is ${now.state} (attempt ${now.attempts.length}); it changed while the request was prepared, nothing was recorded`);
    }
    emit([
      { type: 'review.changes_requested', payload: { attempt, note, by: input.by, host: currentHost(), diffChars: diff.length } },
      {
        type: 'run.attempt_started',
        payload: { attempt, resume: resume ?? null, effective: plan.effective.level, reasons: plan.effective.reasons, profiles: plan.policy.profiles, sandbox: plan.osSandbox ? 'os' : 'none', ownerPid: process.pid, ownerStart: processStartTime(process.pid) ?? null, ownerHost: currentHost() },
      },
    ]);
  });
  let prepared: PreparedRun | undefined;
  try {
    // Inside the try: once the attempt is claimed, any failure is recorded (run.failed) and the run released.
    resetProtocol(run.worktree);
    // Copies are in the worktree already (ignored files outlive the gate's clean); only links and ports are renewed.
    const ports = await bootstrapWorktree(ctx, { ...plan, bootstrap: { ...plan.bootstrap, copy: [] } }, emit);
    prepared = await configure(ctx, plan, target.gitDir, snapshotGitControl(ctx.project.commonDir, target.gitDir), ports, emit);
    const decision = await execute(ctx, prepared, resume, emit, options, onEvent);
    return { run: currentRun(ctx, run.runId), attempt, resumed: resume, decision };
  } catch (error) {
    emit([{ type: 'run.failed', payload: { step: 'pipeline', error: (error as Error).message, attempt } }]);
    throw error;
  } finally {
    if (prepared) rmSync(prepared.tmpDir, { recursive: true, force: true });
    releaseRun(ctx, { plan });
  }
}

/** launch → capture → check → gate → decide → land, as in orchestrator/run.ts. */
async function execute(ctx: Context, run: PreparedRun, resume: string | undefined, emit: Emit, options: RequestChangesOptions, onEvent: ((e: StoredEvent) => void) | undefined): Promise<RunDecision | undefined> {
  const launched = await launchAgent(ctx, run, { interactive: false, signal: options.signal, resume }, emit);
  const captured = await captureRun(ctx, run, emit);
  if (launched.interrupted) {
    const { stop } = launched.report;
    emit([{ type: 'run.interrupted', payload: { reason: stop && (stop.kind === 'halted' || stop.kind === 'breaker') ? stop.reason : interruptReasonOf(options.signal) } }]);
    return undefined;
  }
  const violations = checkRun(captured, emit);
  const gatePassed = await gateRun(ctx, run, launched, captured.headSha, emit, options.signal);
  // Interrupted while the gate ran: nothing is decided (the gate did not finish).
  if (options.signal?.aborted) {
    emit([{ type: 'run.interrupted', payload: { reason: interruptReasonOf(options.signal) } }]);
    return undefined;
  }
  // Any attempt's change to git itself blocks the run for good (mergeRun refuses it too).
  const gitEscalations = ctx.store.query({ runId: run.plan.runId, types: ['escalation.attempted'] }).filter((e) => GIT_ESCALATIONS.has(String(e.payload.kind))).length;
  const outcome = await decideStage(ctx, run, launched, captured, { violations: violations.length, gatePassed, gitEscalations }, emit);
  await landRun(ctx, run, launched, captured.files, outcome, emit, { currentRun: () => currentRun(ctx, run.plan.runId), random: Math.random, onEvent });
  return outcome.decision;
}

/**
 * Everything the attempt needs, checked before anything is recorded: the task (same agent, same task
 * type as the run), its policy, the kill switch, trust and breakers (hold refuses), the bootstrap, the
 * agent's executable and the OS sandbox.
 */
async function planAttempt(ctx: Context, run: RunView, attempt: number): Promise<RunPlan> {
  const cfg = ctx.project.config;
  if (!(AGENT_NAMES as readonly string[]).includes(run.agent)) throw new StateError(`run ${run.runId} was made by an unknown agent "${run.agent}"`);
  const agent = run.agent as AgentName;
  // The same agent works on: the run's agent and task type, whatever the task file says now.
  const task = { ...findRunnableTask(ctx, run.task), agent, type: run.taskType };
  const policy = policyFor(ctx, task);
  const controls = controlsOf(ctx);
  if (controls.halted) {
    throw new StateError(`agentctl is halted (by ${controls.halted.by}: ${controls.halted.reason}); no agent starts until it is resumed`, { hint: 'agentctl resume' });
  }
  const trust = await trustOf(ctx);
  const effective = effectiveAutonomyOf(ctx, task, policy, trust, controls);
  if (effective.level === 'hold') {
    throw new StateError(`${agent} may only be driven by a human on task "${task.id}" (${effective.reasons.join('; ')}): agentctl never starts an agent on it unattended`, {
      hint: `Discard the run, or drive the agent yourself: agentctl run ${task.id} --claim`,
    });
  }
  requireApprovedSettings(ctx, `attempt ${attempt} of run ${run.runId}`);
  const osSandbox = requireAgentSandbox(ctx.env, ctx.project, policy.sandbox.value, cfg.osSandboxBin, `attempt ${attempt} of run ${run.runId}`);
  if ((osSandbox ? 'os' : 'none') !== run.osSandbox) {
    // A run's evidence says how all of it ran: an attempt may not run otherwise.
    throw new StateError(`run ${run.runId} ran ${run.osSandbox === 'os' ? 'in' : 'without'} the OS sandbox and its policy now says sandbox: ${osSandbox ? 'os' : 'none'}; every attempt of a run runs as the first did`, {
      hint: `Discard the run and start a new one: agentctl run ${task.id}`,
    });
  }
  const bootstrap = await planBootstrap(ctx, task, policy, run.baseSha);
  requireLaunchable(ctx, agent, policy, `agent "${agent}"`);
  return {
    task,
    policy,
    adapter: adapterFor(agent),
    settings: cfg.agents[agent],
    earned: earnedLevel(trust, cfg.trust, agent, cfg.project, task.type),
    effective: { level: minAutonomy(effective.level, 'review'), reasons: [...effective.reasons, `changes requested by a human: attempt ${attempt} comes back for review`] },
    baseBranch: run.baseBranch,
    baseSha: run.baseSha,
    runId: run.runId,
    worktree: run.worktree!,
    branch: run.branch!,
    // The prompt attempt 1 was given (task and protocol); requestChanges replaces it with the attempt's.
    prompt: [task.prompt, '', '---', protocolText(cfg.protocol.escalateBelow)].join('\n'),
    osSandbox,
    bootstrap,
  };
}

/**
 * Empty the protocol folder for the new attempt (the last attempt's reports were recorded; an old
 * escalate.json would stop this one at once). Only links are removed, never what they point to: a
 * `.agentctl` that is not a folder is removed itself, and each protocol file is unlinked.
 */
export function resetProtocol(worktree: string): void {
  const dir = join(worktree, '.agentctl');
  try {
    if (!lstatSync(dir).isDirectory()) rmSync(dir, { force: true });
  } catch {
    return; // no folder: configure makes it
  }
  for (const path of PROTOCOL_PATHS) {
    const file = join(worktree, path);
    try {
      if (lstatSync(file).isDirectory()) rmSync(file, { recursive: true, force: true });
      else rmSync(file, { force: true });
    } catch {
      // Not there.
    }
  }
}

/** Append events for this run, filling in its subject, and tell the progress display. */
function emitterFor(ctx: Context, run: RunView, onEvent: ((e: StoredEvent) => void) | undefined): Emit {
  const subject = { runId: run.runId, task: run.task, agent: run.agent, project: run.project, taskType: run.taskType };
  return (events) => {
    if (events.length === 0) return [];
    const stored = ctx.store.append(events.map((e) => ({ ...subject, ...e }) as EventInput));
    for (const e of stored) onEvent?.(e);
    return stored;
  };
}

function currentRun(ctx: Context, runId: string): RunView {
  return projectRuns(ctx.store.query({ runId })).get(runId)!;
}
