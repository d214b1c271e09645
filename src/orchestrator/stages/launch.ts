/**
 * Stage "launch": start the agent tool in the OS sandbox, guarded by the kill switch, the breakers and
 * the agent's own reports, and turn its output into events until it exits (event `agent.exited`).
 */
import { admitAgentEvents, OutputBudget, parseLine } from '../../adapters/admit.js';
import { clip, launchablePrompt, MAX_SUMMARY_CHARS, type AgentAdapter, type AgentEvent, type LaunchSpec, type StreamSummary } from '../../adapters/types.js';
import { decidePath } from '../../authz/check.js';
import type { Policy } from '../../authz/policy.js';
import type { EventOf } from '../../evidence/events.js';
import { killRunProcesses, processStartTime } from '../../exec/processes.js';
import { childEnv, commandFor, runProcess, type RunResult } from '../../exec/runner.js';
import { MAX_LINE_CHARS } from '../../exec/lines.js';
import { terminalSafe } from '../../ui/terminal.js';
import type { Context } from '../context.js';
import { startGuard, type GuardReport } from '../guard.js';
import { confineCommand, maskKeys } from './confine.js';
import type { ConfinedRun, Emit, PreparedRun } from './types.js';

/** Options for {@link launchAgent}. */
export interface LaunchOptions {
  /** A human drives the agent through the terminal. */
  interactive: boolean;
  /** Aborting stops the agent (its whole sandbox) and marks the run interrupted. */
  signal?: AbortSignal | undefined;
  /** Resume this session of the tool (a later attempt of the run; see AgentAdapter.canResume). */
  resume?: string | undefined;
}

/** What the agent did, as far as the run's decision cares. */
export interface LaunchOutcome {
  result: RunResult;
  summary: StreamSummary;
  report: GuardReport;
  /** Stopped by the user (Ctrl-C), the kill switch or a breaker. */
  interrupted: boolean;
  /** The agent asked for guidance or reported confidence too low to go on. */
  asked: boolean;
  /** Exit 0, in time, and no error reported. */
  agentOk: boolean;
}

/**
 * The environment every confined process of a run gets: the allowlisted basics, the run's identity, the
 * run's own temp dir, its variables (ports) and `extra`.
 */
export function runEnv(ctx: Context, run: ConfinedRun, extra: Record<string, string | undefined>, allow: readonly string[] = []): Record<string, string> {
  // srt hands its child TMPDIR=$CLAUDE_CODE_TMPDIR (else /tmp/claude, which does not exist here) and keeps
  // its own bridge sockets in TMPDIR: both are the run's short private temp dir.
  return childEnv(ctx.env, { TMPDIR: run.tmpDir, CLAUDE_CODE_TMPDIR: run.tmpDir, ...extra, ...run.vars, AGENTCTL_RUN_ID: run.plan.runId, AGENTCTL_TASK: run.plan.task.id, AGENTCTL_WORKTREE: run.plan.worktree }, allow);
}

/**
 * How an agent tool (the run's agent, or a reviewer) is started: in the OS sandbox with its API
 * reachable, with the run's environment ({@link runEnv}), the tool's own variables, the policy's `env`
 * and the tool's credential variables passed through, its API keys as stand-ins there ({@link maskKeys}).
 * @param purpose which settings file and write rules the sandbox uses
 * @param spec what the adapter launches (its program, arguments and variables)
 * @param toolEnv the tool's variables (`agents.<tool>.env`, the spec's, and any of the caller's)
 * @returns the command to give the process runner and the environment to start it with
 */
export function toolCommand(ctx: Context, run: ConfinedRun, purpose: 'agent' | 'reviewer', adapter: AgentAdapter, spec: LaunchSpec, toolEnv: Record<string, string | undefined>): { cmd: { file: string; args: string[] }; env: Record<string, string> } {
  const { env, apiHosts, keys } = maskKeys(run, adapter, runEnv(ctx, run, toolEnv, [...run.plan.policy.env.map((e) => e.value), ...adapter.credentialEnv]));
  return { cmd: confineCommand(run, purpose, commandFor(spec.bin, spec.args), apiHosts, { bin: spec.bin, env: ctx.env }, keys), env };
}

/**
 * Launch the agent and wait for it.
 * @returns the outcome; the `agent.launched` / `agent.exited` (with the tool's `sessionId`, or null) events
 *   and everything the agent reported are recorded
 */
export async function launchAgent(ctx: Context, run: PreparedRun, options: LaunchOptions, emit: Emit): Promise<LaunchOutcome> {
  const { task, policy, adapter, settings, runId, worktree } = run.plan;
  const prompt = launchablePrompt(run.plan.prompt);
  const interactive = options.interactive;
  const spec = adapter.launch({ prompt, worktree, settings, rendered: run.rendered, interactive, resume: options.resume });
  // In the OS sandbox the tool holds stand-ins for its API keys: the sandbox's proxy puts them back in for its API.
  const { cmd, env } = toolCommand(ctx, run, 'agent', adapter, spec, { ...settings.env, ...spec.env });
  if (interactive) {
    process.stderr.write(`\nagentctl: you are driving ${task.agent} in the sandbox ${terminalSafe(worktree)}\nTask prompt:\n\n${terminalSafe(task.prompt, { multiline: true })}\n\n`);
  }
  const stopper = new AbortController();
  const onOuterAbort = () => stopper.abort();
  if (options.signal?.aborted) stopper.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const guard = startGuard(ctx, { runId, task: task.id, agent: task.agent, taskType: task.type, worktree, profiles: policy.profiles }, stopper, emit);
  const parser = adapter.parser(worktree);
  // What the agent prints is recorded up to a cap (the log is append-only): see OutputBudget.
  const budget = new OutputBudget();
  const launched = (pid: number | null) =>
    emit([{ type: 'agent.launched', payload: { bin: spec.bin, args: spec.args.map((a) => (a === prompt ? '<prompt>' : a)), interactive, timeoutMs: task.timeoutMs ?? null, pid, pidStart: pid ? processStartTime(pid) ?? null : null, sandbox: run.plan.osSandbox ? 'os' : 'none' } }]);
  let report: GuardReport;
  let result: RunResult;
  try {
    result = await runProcess(cmd.file, cmd.args, {
      cwd: worktree,
      env,
      acceptExitCodes: 'any',
      // Every stdout line is parsed as it comes; stderr's tail is what the event keeps.
      overflow: 'tail',
      processGroup: !interactive,
      interactive,
      ...(spec.input !== undefined ? { input: spec.input } : {}),
      ...(task.timeoutMs !== undefined ? { timeoutMs: task.timeoutMs } : {}),
      signal: stopper.signal,
      onSpawn: (pid) => launched(pid),
      // Whatever the agent left running (without the OS sandbox's PID namespace) must not hold the run open.
      onExit: async () => void (await killRunProcesses(runId)),
      onStdoutLine: (line) => {
        const parsed = admitAgentEvents(parseLine(parser, line));
        const recorded = budget.admit([...parsed, ...escalationAttempts(policy, parsed)]);
        if (recorded.length) emit(recorded);
      },
    });
  } finally {
    report = await guard.finish();
    options.signal?.removeEventListener('abort', onOuterAbort);
  }
  const counted = budget.finish();
  if (counted.length) emit(counted);
  if (result.linesSkipped.stdout) {
    // Never read, so never parsed: whatever events those lines held are not in the log. Said so in their place.
    emit([{ type: 'agent.message', payload: { text: `agentctl skipped ${result.linesSkipped.stdout} line(s) of the agent's output longer than ${MAX_LINE_CHARS} characters: not read, so what they reported is not recorded`, severity: 'warning' } }]);
  }
  const summary = parser.finish();
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
        summary: summary.finalText === undefined ? null : clip(summary.finalText, MAX_SUMMARY_CHARS, summary.finalTextLength),
        error: agentOk || asked ? null : clip(summary.errorText ?? (result.timedOut ? `timed out after ${task.timeoutMs} ms` : stderrTail || `exit ${result.exitCode ?? result.signal}`)),
        // The tool's own session (checked by the parser), so a later attempt can resume it.
        sessionId: summary.sessionId ?? null,
      },
    },
  ]);
  return { result, summary, report, interrupted, asked, agentOk };
}

/**
 * Tool calls aimed at files the agent may never write (agentctl's own and the tools' configuration):
 * each is an `escalation.attempted` event, whether or not the tool let it through.
 */
export function escalationAttempts(policy: Policy, parsed: readonly AgentEvent[]): EventOf<'escalation.attempted'>[] {
  const out: EventOf<'escalation.attempted'>[] = [];
  for (const e of parsed) {
    if (e.type !== 'tool.called' || typeof e.payload.path !== 'string') continue;
    const d = decidePath(policy, 'write', e.payload.path);
    if (d.rule?.kind === 'protected') out.push({ type: 'escalation.attempted', payload: { tool: e.payload.tool, path: e.payload.path, rule: d.rule.value } });
  }
  return out;
}
