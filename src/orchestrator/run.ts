/**
 * The run pipeline: plan → sandbox → configure → launch → capture → commit → scope check → gate →
 * decide (merge / await review / failed). Every step is an event in the log.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname } from 'node:path';
import { ulid } from 'ulid';
import { adapterFor } from '../adapters/registry.js';
import type { AgentEvent, StreamSummary } from '../adapters/types.js';
import { decidePath, scopeViolations } from '../authz/check.js';
import { composePolicy, type Policy } from '../authz/policy.js';
import { ConfigError, InputError, StateError } from '../core/errors.js';
import { runDir, worktreePath } from '../core/paths.js';
import { findTask, loadProfiles } from '../definition/load.js';
import type { Task } from '../definition/task.js';
import type { EventInput, StoredEvent } from '../evidence/events.js';
import { earnedLevel } from '../evidence/projections/trust.js';
import { projectRuns, type RunView } from '../evidence/projections/runs.js';
import { childEnv, commandFor, resolveExecutable, runProcess } from '../exec/runner.js';
import { processStartTime } from '../exec/processes.js';
import { captureWork, createSandbox, runBranch, symlinksOutside } from '../exec/worktree.js';
import { trustOf, type Context } from './context.js';
import { decideRun, sensitiveMatches, taskAutonomy, type RunDecision } from './decide.js';
import { mergeRun } from './review.js';

/** Options for {@link runTask}. */
export interface RunTaskOptions {
  /** A human drives the agent interactively in the sandbox (required for `hold` tasks). */
  claim?: boolean;
  /** stdin and stdout are a terminal (needed for --claim). */
  interactiveTerminal: boolean;
  /** Aborting stops the agent (whole process tree) and records the run as interrupted. */
  signal?: AbortSignal;
  /** Called for every event appended for this run (progress display). */
  onEvent?: (event: StoredEvent) => void;
}

/** The result of a run. */
export interface RunTaskResult {
  run: RunView;
  decision: RunDecision | undefined;
}

/** Gate timeout in milliseconds. */
export const GATE_TIMEOUT_MS = 20 * 60 * 1000;
/** Longest gate output kept in the event, in characters (the tail). */
export const GATE_OUTPUT_CHARS = 8000;

/** Compose the policy for a task, surfacing a broken profile file's own error. */
export function policyFor(ctx: Context, task: Task): Policy {
  const { profiles, errors } = loadProfiles(ctx.project);
  for (const name of task.profiles) {
    if (!profiles.has(name)) {
      const own = errors.find((e) => e.file?.replace(/\.ya?ml$/, '').endsWith(`/${name}`));
      if (own) throw own;
    }
  }
  return composePolicy(task, profiles, { tasksDir: ctx.project.config.tasksDir, profilesDir: ctx.project.config.profilesDir });
}

/**
 * Run one task end to end.
 * @param taskId the task's id
 * @returns the run as projected after the pipeline, and the decision (undefined when interrupted)
 * @throws InputError (bad task/profile, --claim without a terminal), StateError (hold without --claim,
 *   detached HEAD), ConfigError (agent binary missing) — all before any worktree exists
 */
export async function runTask(ctx: Context, taskId: string, options: RunTaskOptions): Promise<RunTaskResult> {
  const { project, git, store } = ctx;
  const cfg = project.config;
  const task = findTask(project, taskId);
  const policy = policyFor(ctx, task);

  const earned = earnedLevel(await trustOf(ctx), cfg.trust, task.agent, cfg.project, task.type);
  const effective = taskAutonomy(task, earned, cfg.sensitivePaths);
  if (effective.level === 'hold' && !options.claim) {
    const why = task.autonomy === 'hold' ? `task "${task.id}" is on hold` : `${task.agent} has earned only hold for "${task.type}" tasks (${earned.reason})`;
    throw new StateError(`${why}: agentctl never starts an agent on it unattended`, {
      hint: `Drive the agent yourself in a sandbox: agentctl run ${task.id} --claim`,
    });
  }
  if (options.claim && !options.interactiveTerminal) {
    throw new InputError('--claim starts the agent interactively and needs a terminal (stdin and stdout are not a TTY)');
  }

  const baseBranch = cfg.baseBranch ?? (await git.currentBranch(project.root));
  if (!baseBranch) throw new StateError('HEAD is detached: check out the branch runs should start from, or set baseBranch in .agentrc.yaml');
  const baseSha = await git.resolve(project.root, `refs/heads/${baseBranch}`);
  if (!baseSha) throw new StateError(`base branch "${baseBranch}" has no commits`);

  const adapter = adapterFor(task.agent);
  const settings = cfg.agents[task.agent];
  const launchProbe = adapter.launch({ prompt: '', worktree: project.root, settings, rendered: undefined, interactive: false });
  if (!resolveExecutable(launchProbe.bin, ctx.env.PATH, project.root)) {
    throw new ConfigError(`agent "${task.agent}": executable "${launchProbe.bin}" not found`, {
      hint: `Install it, or set agents.${task.agent}.bin in .agentrc.yaml`,
    });
  }

  const runId = ulid().toLowerCase();
  const subject = { runId, task: task.id, agent: task.agent, project: cfg.project, taskType: task.type };
  const emit = (events: Omit<EventInput, keyof typeof subject>[]): void => {
    if (events.length === 0) return;
    for (const e of store.append(events.map((e) => ({ ...subject, ...e }) as EventInput))) options.onEvent?.(e);
  };

  emit([
    {
      type: 'run.planned',
      payload: {
        title: task.title,
        taskFile: task.file,
        requested: task.autonomy,
        effective: effective.level,
        reasons: effective.reasons,
        profiles: policy.profiles,
        claim: options.claim === true,
        repoRoot: project.root,
        baseBranch,
        baseSha,
        gate: task.gate ?? null,
        timeoutMs: task.timeoutMs ?? null,
        // Who runs it: crash recovery treats the run as orphaned once this process is gone.
        ownerPid: process.pid,
        ownerStart: processStartTime(process.pid) ?? null,
      },
    },
  ]);

  const wtPath = worktreePath(ctx.paths, project.key, task.id, runId);
  const branch = runBranch(task.id, runId);
  try {
    await createSandbox(git, project.root, ctx.lockPath, wtPath, branch, baseSha, `agentctl run ${runId}`);
  } catch (error) {
    emit([{ type: 'run.failed', payload: { step: 'sandbox', error: (error as Error).message } }]);
    throw error;
  }
  emit([{ type: 'sandbox.created', payload: { path: wtPath, branch, baseSha } }]);

  try {
    // Configure: generated files live in the run directory, never in the worktree.
    const dir = runDir(ctx.paths, runId);
    const rendered = adapter.render(policy, { worktree: wtPath, runDir: dir, homeDir: homedir() });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const f of rendered?.files ?? []) {
      mkdirSync(dirname(f.path), { recursive: true, mode: 0o700 });
      writeFileSync(f.path, f.content, { mode: 0o600 });
    }
    // Tool homes referenced by env must exist (Codex refuses a missing CODEX_HOME).
    for (const [name, value] of Object.entries(rendered?.env ?? {})) {
      if (/_(HOME|DIR)$/.test(name)) mkdirSync(value, { recursive: true, mode: 0o700 });
    }
    emit([{ type: 'policy.rendered', payload: { tool: rendered?.tool ?? task.agent, files: (rendered?.files ?? []).map((f) => f.path), args: rendered?.args ?? [], policy: policySummary(policy) } }]);

    // Launch and capture.
    const interactive = options.claim === true;
    const spec = adapter.launch({ prompt: task.prompt, worktree: wtPath, settings, rendered, interactive });
    const cmd = commandFor(spec.bin, spec.args);
    const env = childEnv(
      ctx.env,
      { ...settings.env, ...spec.env, AGENTCTL_RUN_ID: runId, AGENTCTL_TASK: task.id, AGENTCTL_WORKTREE: wtPath },
      [...policy.env.map((e) => e.value), ...adapter.credentialEnv],
    );
    if (interactive) {
      process.stderr.write(`\nagentctl: you are driving ${task.agent} in the sandbox ${wtPath}\nTask prompt:\n\n${task.prompt}\n\n`);
    }
    const parser = adapter.parser(wtPath);
    const launched = (pid: number | null) =>
      emit([{ type: 'agent.launched', payload: { bin: spec.bin, args: spec.args.map((a) => (a === task.prompt ? '<prompt>' : a)), interactive, timeoutMs: task.timeoutMs ?? null, pid, pidStart: pid ? processStartTime(pid) ?? null : null } }]);
    let summary: StreamSummary = { finalText: undefined, reportedError: false, errorText: undefined };
    const result = await runProcess(cmd.file, cmd.args, {
      cwd: wtPath,
      env,
      acceptExitCodes: 'any',
      processGroup: !interactive,
      interactive,
      ...(spec.input !== undefined ? { input: spec.input } : {}),
      ...(task.timeoutMs !== undefined ? { timeoutMs: task.timeoutMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onSpawn: (pid) => launched(pid),
      onStdoutLine: (line) => {
        const parsed = parser.line(line);
        emit([...parsed, ...escalationAttempts(policy, parsed)]);
      },
    });
    summary = parser.finish();
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
          durationMs: result.durationMs,
          summary: summary.finalText ?? null,
          error: agentOk ? null : summary.errorText ?? (result.timedOut ? `timed out after ${task.timeoutMs} ms` : stderrTail || `exit ${result.exitCode ?? result.signal}`),
        },
      },
    ]);

    if (result.pid === 0) launched(null);

    // Capture the work: whatever the agent left in the worktree becomes one commit on the run branch,
    // and the run branch is put back if the agent moved HEAD elsewhere.
    const capture = await captureWork(git, wtPath, branch, `agentctl: ${task.id} (run ${runId})\n\n${task.title}`, { name: `${task.agent} via agentctl`, email: 'agentctl@localhost' });
    const headSha = capture.headSha;
    const files = headSha === baseSha ? [] : await git.numstat(wtPath, baseSha, headSha);
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

    if (result.aborted) {
      emit([{ type: 'run.interrupted', payload: { reason: 'interrupted by the user (SIGINT)' } }]);
      return { run: currentRun(ctx, runId), decision: undefined };
    }

    const violations = [
      ...scopeViolations(policy, files.map((f) => f.path)).map((v) => ({ path: v.path, reason: v.reason, protected: v.protected })),
      ...(headSha === baseSha ? [] : await symlinksOutside(git, wtPath, baseSha, headSha)).map((l) => ({ path: l.path, reason: `symbolic link pointing outside the worktree (${l.target})`, protected: false })),
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
      emit([
        {
          type: gatePassed ? 'gate.passed' : 'gate.failed',
          payload: { command: task.gate, exitCode: gate.exitCode, timedOut: gate.timedOut, durationMs: gate.durationMs, output: output.slice(-GATE_OUTPUT_CHARS) },
        },
      ]);
      // The gate may write files (build output, caches); they are not the agent's work and are dropped.
      await git.raw(wtPath, ['reset', '--hard', '--quiet', headSha]);
      await git.raw(wtPath, ['clean', '-fdq']);
    }

    const decision = decideRun({
      effective: effective.level,
      earned: earned.level,
      agentSucceeded: agentOk,
      changedFiles: files.length,
      gatePassed,
      scopeViolations: violations.length,
      sensitiveFiles: sensitiveMatches(files.map((f) => f.path), cfg.sensitivePaths),
    });
    emit([{ type: 'run.decided', payload: { outcome: decision.outcome, reasons: decision.reasons } }]);
    if (decision.outcome === 'failed') {
      emit([{ type: 'run.failed', payload: { step: 'agent', error: summary.errorText ?? `agent exited ${result.exitCode ?? result.signal}` } }]);
    } else if (decision.outcome === 'merge') {
      try {
        await mergeRun(ctx, currentRun(ctx, runId), { by: 'agentctl (auto)', note: undefined, auto: true }, (e) => options.onEvent?.(e));
      } catch (error) {
        // Never fail silently: mergeRun recorded the refusal (merge.failed); the run waits for a human.
        if (!(error instanceof StateError)) throw error;
      }
    }
    return { run: currentRun(ctx, runId), decision };
  } catch (error) {
    // Whatever broke after the sandbox exists, the run is closed in the log and its worktree kept for review.
    emit([{ type: 'run.failed', payload: { step: 'pipeline', error: (error as Error).message } }]);
    throw error;
  }
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
export function policySummary(policy: Policy): Record<string, unknown> {
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
