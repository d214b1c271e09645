/**
 * The run pipeline: plan → sandbox → configure → launch (guarded) → capture → commit → scope check →
 * gate → decide (merge / await review / failed) → notify. Every step is an event in the log.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname } from 'node:path';
import type { AgentEvent, StreamSummary } from '../adapters/types.js';
import { decidePath, scopeViolations } from '../authz/check.js';
import type { Policy } from '../authz/policy.js';
import { renderOsSandbox } from '../authz/render/os.js';
import type { RenderedConfig } from '../authz/render/types.js';
import { StateError } from '../core/errors.js';
import { runDir } from '../core/paths.js';
import type { EventInput, StoredEvent } from '../evidence/events.js';
import { minAutonomy } from '../definition/task.js';
import { auditProbability } from '../evidence/projections/breakers.js';
import { earnedLevel } from '../evidence/projections/trust.js';
import { projectRuns, type RunView } from '../evidence/projections/runs.js';
import { agentIdentity } from '../exec/git.js';
import { processStartTime } from '../exec/processes.js';
import { childEnv, commandFor, runProcess } from '../exec/runner.js';
import { captureWork, createSandbox, removePlaceholders, symlinksOutside } from '../exec/worktree.js';
import { controlsOf, trustOf, type Context } from './context.js';
import { controlCaps, decideRun, sensitiveMatches, type RunDecision } from './decide.js';
import { recordTrips, startGuard, type GuardReport } from './guard.js';
import { notify } from './notify.js';
import { planRun, type RunPlan } from './plan.js';
import { PROTOCOL_PATHS, installProtocol } from './protocol.js';
import { mergeRun } from './review.js';


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
}

/** The result of a run. */
export interface RunTaskResult {
  run: RunView;
  decision: RunDecision | undefined;
}

/** Gate timeout in milliseconds. */
const GATE_TIMEOUT_MS = 20 * 60 * 1000;
/** Longest gate output kept in the event, in characters (the tail). */
const GATE_OUTPUT_CHARS = 8000;

/**
 * Run one task end to end.
 * @param taskId the task's id (a task file, or a follow-up a run requested)
 * @returns the run as projected after the pipeline, and the decision (undefined when interrupted)
 * @throws InputError / StateError / ConfigError from {@link planRun} — before any worktree exists
 */
export async function runTask(ctx: Context, taskId: string, options: RunTaskOptions): Promise<RunTaskResult> {
  const plan = await planRun(ctx, taskId, options);
  const { task, runId } = plan;
  const cfg = ctx.project.config;
  const subject = { runId, task: task.id, agent: task.agent, project: cfg.project, taskType: task.type };
  const emit = (events: Omit<EventInput, keyof typeof subject>[]): StoredEvent[] => {
    if (events.length === 0) return [];
    const stored = ctx.store.append(events.map((e) => ({ ...subject, ...e }) as EventInput));
    for (const e of stored) options.onEvent?.(e);
    return stored;
  };

  emit([
    {
      type: 'run.planned',
      payload: {
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
        // Who runs it: crash recovery treats the run as orphaned once this process is gone.
        ownerPid: process.pid,
        ownerStart: processStartTime(process.pid) ?? null,
      },
    },
  ]);

  try {
    await createSandbox(ctx.git, ctx.project.root, ctx.lockPath, plan.worktree, plan.branch, plan.baseSha, `agentctl run ${runId}`);
  } catch (error) {
    emit([{ type: 'run.failed', payload: { step: 'sandbox', error: (error as Error).message } }]);
    throw error;
  }
  emit([{ type: 'sandbox.created', payload: { path: plan.worktree, branch: plan.branch, baseSha: plan.baseSha } }]);

  try {
    return await execute(ctx, plan, options, emit);
  } catch (error) {
    // Whatever broke after the sandbox exists, the run is closed in the log and its worktree kept for review.
    emit([{ type: 'run.failed', payload: { step: 'pipeline', error: (error as Error).message } }]);
    throw error;
  }
}

type Emit = (events: Omit<EventInput, 'runId' | 'task' | 'agent' | 'project' | 'taskType'>[]) => StoredEvent[];

async function execute(ctx: Context, plan: RunPlan, options: RunTaskOptions, emit: Emit): Promise<RunTaskResult> {
  const { task, policy, adapter, settings, runId, worktree: wtPath } = plan;
  const cfg = ctx.project.config;
  const git = ctx.git;

  // Configure: the protocol folder first (renderers may look at what exists), then the tool's config
  // in the run directory, never in the worktree.
  installProtocol(wtPath, cfg.protocol.escalateBelow);
  const dir = runDir(ctx.paths, runId);
  const rendered = adapter.render(policy, { worktree: wtPath, runDir: dir, homeDir: homedir() });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeRendered(rendered);
  emit([{ type: 'policy.rendered', payload: { tool: rendered?.tool ?? task.agent, files: (rendered?.files ?? []).map((f) => f.path), args: rendered?.args ?? [], osSandbox: plan.osSandbox ?? null, policy: policySummary(policy) } }]);

  // Launch and capture, guarded by the kill switch, the breakers and the agent's own reports.
  const interactive = options.claim === true;
  const spec = adapter.launch({ prompt: plan.prompt, worktree: wtPath, settings, rendered, interactive });
  let cmd = commandFor(spec.bin, spec.args);
  if (plan.osSandbox) {
    // The OS sandbox wraps the whole agent: the tool's own home and temp dir stay writable.
    const osFile = renderOsSandbox(policy, { worktree: wtPath, runDir: dir, homeDir: homedir() }, [dir, tmpdir()], adapter.apiHosts(ctx.env));
    writeFileSync(osFile.path, osFile.content, { mode: 0o600 });
    cmd = { file: plan.osSandbox, args: ['--settings', osFile.path, '--', cmd.file, ...cmd.args] };
  }
  const env = childEnv(
    ctx.env,
    { ...settings.env, ...spec.env, AGENTCTL_RUN_ID: runId, AGENTCTL_TASK: task.id, AGENTCTL_WORKTREE: wtPath },
    [...policy.env.map((e) => e.value), ...adapter.credentialEnv],
  );
  if (interactive) {
    process.stderr.write(`\nagentctl: you are driving ${task.agent} in the sandbox ${wtPath}\nTask prompt:\n\n${task.prompt}\n\n`);
  }
  const stopper = new AbortController();
  const onOuterAbort = () => stopper.abort();
  if (options.signal?.aborted) stopper.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const guard = startGuard(ctx, { runId, task: task.id, agent: task.agent, taskType: task.type, worktree: wtPath, profiles: policy.profiles }, stopper, emit);
  const parser = adapter.parser(wtPath);
  const launched = (pid: number | null) =>
    emit([{ type: 'agent.launched', payload: { bin: spec.bin, args: spec.args.map((a) => (a === plan.prompt ? '<prompt>' : a)), interactive, timeoutMs: task.timeoutMs ?? null, pid, pidStart: pid ? processStartTime(pid) ?? null : null } }]);
  let summary: StreamSummary = { finalText: undefined, reportedError: false, errorText: undefined };
  let report: GuardReport;
  let result;
  try {
    result = await runProcess(cmd.file, cmd.args, {
      cwd: wtPath,
      env,
      acceptExitCodes: 'any',
      processGroup: !interactive,
      interactive,
      ...(spec.input !== undefined ? { input: spec.input } : {}),
      ...(task.timeoutMs !== undefined ? { timeoutMs: task.timeoutMs } : {}),
      signal: stopper.signal,
      onSpawn: (pid) => launched(pid),
      onStdoutLine: (line) => {
        const parsed = parser.line(line);
        emit([...parsed, ...escalationAttempts(policy, parsed)]);
      },
    });
  } finally {
    report = await guard.finish();
    options.signal?.removeEventListener('abort', onOuterAbort);
  }
  summary = parser.finish();
  const stoppedByGuard = report.stop !== undefined && (report.stop.kind === 'halted' || report.stop.kind === 'breaker');
  const interrupted = (result.aborted && options.signal?.aborted === true) || stoppedByGuard;
  const asked = report.stop?.kind === 'escalated' || report.stop?.kind === 'low-confidence';
  const agentOk = result.exitCode === 0 && !result.timedOut && !result.aborted && (interactive || !summary.reportedError);
  const stderrTail = result.stderr.trim().split('\n').slice(-10).join('\n');
  emit([
    {
      type: 'agent.exited',
      payload: {
        exitCode: result.exitCode,
        signal: result.signal,
        timedOut: result.timedOut,
        interrupted: result.aborted,
        stoppedBy: report.stop ?? null,
        durationMs: result.durationMs,
        summary: summary.finalText ?? null,
        error: agentOk || asked ? null : (summary.errorText ?? (result.timedOut ? `timed out after ${task.timeoutMs} ms` : stderrTail || `exit ${result.exitCode ?? result.signal}`)),
      },
    },
  ]);

  // Capture the work: whatever the agent left becomes one commit on the run branch (protocol files
  // excluded), and the run branch is put back if the agent moved HEAD elsewhere. The tool sandbox's empty
  // stand-ins for protected paths go first.
  removePlaceholders(rendered?.placeholders ?? []);
  const capture = await captureWork(git, wtPath, plan.branch, `agentctl: ${task.id} (run ${runId})\n\n${task.title}`, agentIdentity(task.agent), PROTOCOL_PATHS, plan.baseSha);
  const headSha = capture.headSha;
  const files = headSha === plan.baseSha ? [] : await git.numstat(wtPath, plan.baseSha, headSha);
  emit([
    {
      type: 'sandbox.committed',
      payload: {
        headSha,
        files,
        insertions: files.reduce((n, f) => n + Math.max(0, f.insertions), 0),
        deletions: files.reduce((n, f) => n + Math.max(0, f.deletions), 0),
        branchRepaired: capture.repaired ? { from: capture.repaired.from } : null,
      },
    },
  ]);

  if (interrupted) {
    emit([{ type: 'run.interrupted', payload: { reason: report.stop && stoppedByGuard ? report.stop.reason : 'interrupted by the user (SIGINT)' } }]);
    return { run: currentRun(ctx, runId), decision: undefined };
  }

  const violations = [
    ...scopeViolations(policy, files.map((f) => f.path)).map((v) => ({ path: v.path, reason: v.reason, protected: v.protected })),
    ...(headSha === plan.baseSha ? [] : await symlinksOutside(git, wtPath, plan.baseSha, headSha)).map((l) => ({ path: l.path, reason: `symbolic link pointing outside the worktree (${l.target})`, protected: false })),
  ];
  emit(violations.map((v) => ({ type: 'scope.violation' as const, payload: v })));

  let gatePassed: boolean | undefined;
  if (task.gate && agentOk) {
    const gate = await runProcess('sh', ['-c', task.gate], {
      cwd: wtPath,
      env: childEnv(ctx.env, { CI: '1', AGENTCTL_RUN_ID: runId }),
      acceptExitCodes: 'any',
      processGroup: true,
      timeoutMs: GATE_TIMEOUT_MS,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    gatePassed = gate.exitCode === 0;
    const output = `${gate.stdout}${gate.stderr}`;
    emit([{ type: gatePassed ? 'gate.passed' : 'gate.failed', payload: { command: task.gate, exitCode: gate.exitCode, timedOut: gate.timedOut, durationMs: gate.durationMs, output: output.slice(-GATE_OUTPUT_CHARS) } }]);
    // The gate may write files (build output, caches); they are not the agent's work and are dropped.
    await git.raw(wtPath, ['reset', '--hard', '--quiet', headSha]);
    await git.raw(wtPath, ['clean', '-fdq', '-e', '.agentctl/']);
  }

  // Breakers look at the finished run too (gate failures, scope violations, changed lines). Trust and
  // the controls are read again now: a breaker trip or demotion during the run must stop an auto merge.
  await recordTrips(ctx, task.agent);
  const controls = controlsOf(ctx);
  const earnedNow = earnedLevel(await trustOf(ctx), cfg.trust, task.agent, cfg.project, task.type);
  const decision = decideRun({
    effective: minAutonomy(plan.effective.level, earnedNow.level, ...controlCaps(controls, task.agent, cfg.project).map((c) => c.level)),
    earned: earnedNow.level,
    agentSucceeded: agentOk || asked,
    changedFiles: files.length,
    gatePassed,
    scopeViolations: violations.length,
    sensitiveFiles: sensitiveMatches(files.map((f) => f.path), cfg.sensitivePaths),
    escalation: asked ? report.stop!.reason : report.minConfidence < cfg.protocol.escalateBelow ? `the agent reported confidence ${report.minConfidence} (below ${cfg.protocol.escalateBelow})` : undefined,
  });
  const [decided] = emit([{ type: 'run.decided', payload: { outcome: decision.outcome, reasons: decision.reasons } }]);
  if (decision.outcome === 'failed') {
    emit([{ type: 'run.failed', payload: { step: 'agent', error: summary.errorText ?? `agent exited ${result.exitCode ?? result.signal}` } }]);
  } else if (decision.outcome === 'merge') {
    try {
      const verify = async (): Promise<string | undefined> => {
        const cap = controlCaps(controlsOf(ctx), task.agent, cfg.project)[0];
        if (cap) return `${cap.reason}, before the auto merge`;
        const level = earnedLevel(await trustOf(ctx), cfg.trust, task.agent, cfg.project, task.type).level;
        return level === 'auto' ? undefined : `${task.agent}'s earned level for "${task.type}" fell to ${level} before the auto merge`;
      };
      await mergeRun(ctx, currentRun(ctx, runId), { by: 'agentctl (auto)', note: undefined, auto: true, verify }, (e) => options.onEvent?.(e));
      const merged = ctx.store.query({ runId, types: ['run.merged'] })[0]!;
      await notify(ctx, 'auto-merged', merged, `${task.agent} auto-merged ${task.id} into ${plan.baseBranch}`);
      sampleForAudit(ctx, files, options.random ?? Math.random, emit);
    } catch (error) {
      // Never fail silently: mergeRun recorded the refusal (merge.failed); the run waits for a human.
      if (!(error instanceof StateError)) throw error;
    }
  } else if (decided) {
    await notify(ctx, 'awaiting-review', decided, `${task.id} (${task.agent}) awaits review: ${decision.reasons.join('; ')}`);
  }
  return { run: currentRun(ctx, runId), decision };
}

/**
 * Write a tool's generated config files (mode 0600, folders 0700) and create the tool homes its env
 * names (`*_HOME`, `*_DIR`: Codex refuses a missing CODEX_HOME). All paths are outside the worktree.
 */
export function writeRendered(rendered: RenderedConfig | undefined): void {
  for (const f of rendered?.files ?? []) {
    mkdirSync(dirname(f.path), { recursive: true, mode: 0o700 });
    writeFileSync(f.path, f.content, { mode: 0o600 });
  }
  for (const [name, value] of Object.entries(rendered?.env ?? {})) {
    if (/_(HOME|DIR)$/.test(name)) mkdirSync(value, { recursive: true, mode: 0o700 });
  }
}

/** Queue an auto merge for post-hoc audit with a risk-weighted probability (recorded with the roll). */
function sampleForAudit(ctx: Context, files: { path: string; insertions: number; deletions: number }[], random: () => number, emit: Emit): void {
  const lines = files.reduce((n, f) => n + Math.max(0, f.insertions) + Math.max(0, f.deletions), 0);
  const sensitive = sensitiveMatches(files.map((f) => f.path), ctx.project.config.sensitivePaths).length > 0;
  const probability = auditProbability(ctx.project.config.auditSampleRate, lines, sensitive);
  const roll = random();
  if (roll < probability) emit([{ type: 'audit.sampled', payload: { probability, roll, changedLines: lines, sensitive } }]);
}

function currentRun(ctx: Context, runId: string): RunView {
  return projectRuns(ctx.store.query({ runId })).get(runId)!;
}

/**
 * Tool calls aimed at files the agent may never write (agentctl's own and the tools' configuration):
 * each is an `escalation.attempted` event, whether or not the tool let it through.
 */
export function escalationAttempts(policy: Policy, parsed: readonly AgentEvent[]): { type: 'escalation.attempted'; payload: Record<string, unknown> }[] {
  const out: { type: 'escalation.attempted'; payload: Record<string, unknown> }[] = [];
  for (const e of parsed) {
    if (e.type !== 'tool.called' || typeof e.payload.path !== 'string') continue;
    const d = decidePath(policy, 'write', e.payload.path);
    if (d.rule?.kind === 'protected') out.push({ type: 'escalation.attempted', payload: { tool: e.payload.tool, path: e.payload.path, rule: d.rule.value } });
  }
  return out;
}

/** A compact, serializable summary of a policy for the event log. */
function policySummary(policy: Policy): Record<string, unknown> {
  const values = (list: { value: string }[]) => list.map((r) => r.value);
  return {
    profiles: policy.profiles,
    read: values(policy.read),
    write: values(policy.write),
    deny: values(policy.deny),
    commandsAllow: values(policy.commands.allow),
    commandsDeny: values(policy.commands.deny),
    network: policy.network.value,
    yolo: policy.yolo,
    narrowed: policy.narrowed,
  };
}
