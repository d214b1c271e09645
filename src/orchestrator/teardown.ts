/**
 * `worktree.teardown`: commands run in a run's worktree, in the OS sandbox, just before the worktree is
 * removed by a review decision (merge or discard). The commands are the ones recorded when the run was
 * bootstrapped (`worktree.bootstrapped`), not whatever the config says now: what a run tears down was
 * fixed when it started. So are the files they run on: the worktree is put at the run's base commit, and
 * untracked files back as setup left them (setupState.ts), first. An attack session had the agent rewrite
 * the `clean.sh` a teardown ran, which then ran after a discard, with the setup's network. They run under the task's policy as it composes now, write only the worktree and
 * a temp dir, reach the network as setup did (`worktree.network`), and get 5 minutes each.
 *
 * Teardown never blocks the removal: the decision is already recorded, so every outcome (a failing
 * command, a task that no longer exists, an OS sandbox that cannot start) is recorded as
 * `teardown.finished` and the removal goes on. `gc` removes no live worktree (it moves folders git no
 * longer knows and prunes missing ones), so it runs no teardown.
 */
import { payloadOf } from '../evidence/eventSchemas.js';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { runDir as runDirOf, runTempDir } from '../core/paths.js';
import type { EventOf, StoredEvent } from '../evidence/events.js';
import type { RunView } from '../evidence/projections/runs.js';
import { locateOsSandbox } from '../exec/osSandbox.js';
import { runProcess } from '../exec/runner.js';
import type { Context } from './context.js';
import { policyFor } from './plan.js';
import { confineCommand } from './stages/confine.js';
import { runEnv } from './stages/launch.js';
import { sandboxLayout } from './stages/prepare.js';
import type { ConfinedRun } from './stages/types.js';
import { findRunnableTask } from './tasks.js';
import { requireApprovedSettings } from './settingsApproval.js';
import { checkoutDetached } from '../exec/worktree.js';
import { PROTOCOL_PATHS } from './protocol.js';
import { runGitTarget } from './review.js';
import { restoreSetupState } from './stages/setupState.js';

/** Timeout of one teardown command, in milliseconds. */
export const TEARDOWN_TIMEOUT_MS = 5 * 60 * 1000;
/** Longest output kept in `teardown.finished`, in characters (the tail). */
const OUTPUT_CHARS = 4000;

/** The teardown commands and setup network recorded for a run when it was bootstrapped. */
export function recordedTeardown(ctx: Context, runId: string): { commands: string[]; hosts: string[] } {
  const e = ctx.store.query({ runId, types: ['worktree.bootstrapped'] }).at(-1);
  const p = e && payloadOf(e, 'worktree.bootstrapped');
  return { commands: p?.teardown ?? [], hosts: p?.network ?? [] };
}

/**
 * Run a run's teardown commands in its worktree (events `teardown.started` / `teardown.finished`).
 * Call it before the worktree is removed. Never throws: every failure is recorded.
 * @param onEvent called for each event appended
 */
export async function teardownWorktree(ctx: Context, run: RunView, onEvent?: (e: StoredEvent) => void): Promise<void> {
  const worktree = run.worktree;
  const { commands, hosts } = recordedTeardown(ctx, run.runId);
  if (!worktree || commands.length === 0) return;
  const subject = { runId: run.runId, task: run.task, agent: run.agent, project: run.project, taskType: run.taskType };
  const record = (event: EventOf<'teardown.started'> | EventOf<'teardown.finished'>) => {
    for (const e of ctx.store.append({ ...subject, ...event })) onEvent?.(e);
  };
  let confined: ConfinedRun;
  try {
    const policy = policyFor(ctx, findRunnableTask(ctx, run.task));
    requireApprovedSettings(ctx, 'teardown');
    const found = policy.sandbox.value === 'os' ? locateOsSandbox(ctx.env, ctx.project.root, ctx.project.config.osSandboxBin) : undefined;
    if (found && 'missing' in found) throw new Error(`the OS sandbox cannot start (missing: ${found.missing.join(', ')})`);
    const dir = runDirOf(ctx.paths, run.runId);
    // The base's files, and what setup left outside git: nothing the agent wrote runs here.
    const target = runGitTarget(ctx, run);
    await checkoutDetached(ctx.git, target, run.baseSha, PROTOCOL_PATHS);
    await restoreSetupState(ctx.git, worktree, target, [], dir);
    const tmpDir = runTempDir(tmpdir(), `${run.runId.slice(-9)}-td`);
    mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
    confined = { plan: { osSandbox: found?.sandbox, policy, runId: run.runId, worktree, task: { id: run.task } }, layout: sandboxLayout(ctx, worktree, dir, tmpDir, undefined), tmpDir };
  } catch (error) {
    for (const [index, command] of commands.entries()) record({ type: 'teardown.finished', payload: { command, index, exitCode: null, error: `not run: ${(error as Error).message}` } });
    return;
  }
  try {
    for (const [index, command] of commands.entries()) {
      record({ type: 'teardown.started', payload: { command, index, of: commands.length, sandbox: confined.plan.osSandbox ? 'os' : 'none' } });
      try {
        const cmd = confineCommand(confined, 'teardown', { file: 'sh', args: ['-c', command] }, hosts);
        const r = await runProcess(cmd.file, cmd.args, { cwd: worktree, env: runEnv(ctx, confined, { CI: '1' }), acceptExitCodes: 'any', processGroup: true, timeoutMs: TEARDOWN_TIMEOUT_MS });
        record({ type: 'teardown.finished', payload: { command, index, exitCode: r.exitCode, signal: r.signal, timedOut: r.timedOut, durationMs: r.durationMs, output: `${r.stdout}${r.stderr}`.slice(-OUTPUT_CHARS) } });
      } catch (error) {
        record({ type: 'teardown.finished', payload: { command, index, exitCode: null, error: (error as Error).message } });
      }
    }
  } finally {
    rmSync(confined.tmpDir, { recursive: true, force: true });
  }
}
