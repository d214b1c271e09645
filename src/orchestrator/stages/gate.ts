/**
 * Stage "gate": the task's gate command runs in the run's OS sandbox (it runs code the agent wrote), with
 * the policy's network rule and no way to write outside the worktree and its temp dir
 * (event `gate.passed` / `gate.failed`). It sees the captured head and, outside git, only what setup left
 * (setupState.ts: anything else untracked, such as an ignored file the agent planted for the gate to
 * load, is removed first) and the shared links. What it writes in the worktree is dropped afterwards.
 */
import { killRunProcesses } from '../../exec/processes.js';
import { runProcess } from '../../exec/runner.js';
import { resetToCommit, sandboxTarget } from '../../exec/worktree.js';
import { controlsOf, type Context } from '../context.js';
import { relinkShared } from '../bootstrap.js';
import { PROTOCOL_PATHS } from '../protocol.js';
import { restoreSetupState } from './setupState.js';
import { confineCommand } from './confine.js';
import { runEnv, type LaunchOutcome } from './launch.js';
import { guardGitState } from './gitGuard.js';
import type { Emit, PreparedRun } from './types.js';

/** Gate timeout in milliseconds. */
const GATE_TIMEOUT_MS = 20 * 60 * 1000;
/** Longest gate output kept in the event, in characters (the tail). */
const GATE_OUTPUT_CHARS = 8000;

/**
 * Run the gate on the captured head, when the agent finished or stopped to ask (a run that asks goes to a
 * human, who may merge it: an attack session's agent escalated when its change failed the gate, and its
 * merge counted as a clean first-time merge with no gate result recorded).
 * @param launched how the agent ended: no gate when it failed, timed out or was interrupted
 * @param headSha the run's captured commit (the worktree is reset to it afterwards)
 * @returns true when it passed, false when it failed (its timeout included), undefined when the task has
 *   no gate, the agent did not end as above, or the gate was stopped by an interrupt or the kill switch
 *   (then nothing is recorded)
 */
export async function gateRun(ctx: Context, run: PreparedRun, launched: Pick<LaunchOutcome, 'agentOk' | 'asked'>, headSha: string, emit: Emit, signal?: AbortSignal): Promise<boolean | undefined> {
  const gate = run.plan.task.gate;
  if (!gate || !(launched.agentOk || launched.asked)) return undefined;
  // Judged on the captured work: untracked files are put back as setup left them, shared links made again.
  const target = sandboxTarget({ path: run.plan.worktree, gitDir: run.gitDir });
  await restoreSetupState(ctx.git, run.plan.worktree, target, run.plan.bootstrap.shared.map((s) => s.path), run.runDir);
  relinkShared(run.plan.worktree, run.plan.bootstrap);
  const cmd = confineCommand(run, 'gate', { file: 'sh', args: ['-c', gate] });
  const result = await runProcess(cmd.file, cmd.args, {
    cwd: run.plan.worktree,
    env: runEnv(ctx, run, { CI: '1' }),
    acceptExitCodes: 'any',
    processGroup: true,
    timeoutMs: GATE_TIMEOUT_MS,
    // A verbose test suite is normal: its tail is what the event keeps.
    overflow: 'tail',
    ...(signal ? { signal } : {}),
  });
  // The gate ran code the agent wrote: git itself is checked again (without the OS sandbox it could reach it).
  guardGitState(ctx, run, emit);
  // Whatever the gate left running is stopped before its files are dropped (without the OS sandbox, a
  // background child of the gate outlives it and could write on).
  await killRunProcesses(run.plan.runId);
  // The gate may write files (build output, caches); they are not the agent's work and are dropped.
  await resetToCommit(ctx.git, target, headSha, PROTOCOL_PATHS);
  // A gate stopped by an interrupt or the kill switch gave no verdict: nothing is recorded (a failure
  // would count against the agent's trust for a stop it did not make). An interrupted run then ends
  // interrupted; a halted one cannot merge (no gate passed, and the kill switch caps it at hold).
  if (result.aborted || controlsOf(ctx).halted) return undefined;
  // Exit 0 passes only when the gate ended by itself: the OS sandbox's runner exits 0 when its command is
  // killed by SIGINT or SIGTERM, which is how the timeout stops it (a gate that hung until its timeout
  // was recorded as passed and auto-merged).
  const passed = result.exitCode === 0 && result.signal === null && !result.timedOut;
  const output = `${result.stdout}${result.stderr}`;
  emit([{ type: passed ? 'gate.passed' : 'gate.failed', payload: { command: gate, exitCode: result.exitCode, timedOut: result.timedOut, durationMs: result.durationMs, output: output.slice(-GATE_OUTPUT_CHARS), sandbox: run.plan.osSandbox ? 'os' : 'none' } }]);
  return passed;
}
