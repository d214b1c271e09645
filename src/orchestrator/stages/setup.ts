/**
 * Stage "setup": the `worktree.setup` commands run one by one in the fresh worktree, in the run's OS
 * sandbox, after prepare and before the agent (events `setup.started` / `setup.finished` per command).
 * Like a gate they write only the worktree and the run's temp dir; their network is the policy's rule
 * plus the hosts in `worktree.network` (e.g. the npm registry), which the agent and the gate never get.
 * The first command that fails (or times out) stops the run before the agent: `run.failed`, step `setup`
 * (the CLI exits 4, as for a failed agent); the worktree is kept for a look. Once every command passed,
 * the untracked files are recorded as setup left them (setupState.ts), for the gate and teardown.
 */
import { join } from 'node:path';
import { runProcess } from '../../exec/runner.js';
import type { Context } from '../context.js';
import { confineCommand } from './confine.js';
import { runEnv } from './launch.js';
import { sandboxTarget } from '../../exec/worktree.js';
import { recordSetupState } from './setupState.js';
import type { Emit, PreparedRun } from './types.js';

/** Timeout of one setup command, in milliseconds. */
export const SETUP_TIMEOUT_MS = 20 * 60 * 1000;
/** Longest output kept in `setup.finished`, in characters (the tail). */
const OUTPUT_CHARS = 4000;

/**
 * Variables pointing each package manager at the project's cache, which setup may write (the user's own
 * `~/.npm` is readable, not writable, in the sandbox, so an install that must fetch would fail there).
 * Sources: npm `cache` config (docs.npmjs.com/cli/using-npm/config: any config as `npm_config_<key>`),
 * pnpm `store-dir` (pnpm.io/configuring: npm's config format), yarn classic `YARN_CACHE_FOLDER`, bun
 * `BUN_INSTALL_CACHE_DIR`.
 * @param cacheDir absolute folder; undefined gives no variables
 */
export function packageCacheEnv(cacheDir: string | undefined): Record<string, string> {
  if (!cacheDir) return {};
  return {
    npm_config_cache: join(cacheDir, 'npm'),
    npm_config_store_dir: join(cacheDir, 'pnpm'),
    YARN_CACHE_FOLDER: join(cacheDir, 'yarn'),
    BUN_INSTALL_CACHE_DIR: join(cacheDir, 'bun'),
  };
}

/** How the setup ended. */
export type SetupOutcome = 'ok' | 'failed' | 'interrupted';

/**
 * Run the setup commands.
 * @param signal aborting stops the current command; the run is then recorded interrupted
 * @returns `ok` when every command exited 0 (or there were none); otherwise the run is already closed in
 *   the log (`run.failed` step `setup`, or `run.interrupted`) and the agent must not start
 * @throws GitError when the untracked files cannot be listed; a file system error when their state cannot be written
 */
export async function setupRun(ctx: Context, run: PreparedRun, emit: Emit, signal?: AbortSignal): Promise<SetupOutcome> {
  const { setup, setupHosts } = run.plan.bootstrap.settings;
  for (const [index, command] of setup.entries()) {
    emit([{ type: 'setup.started', payload: { command, index, of: setup.length, network: setupHosts.length ? setupHosts : null, sandbox: run.plan.osSandbox ? 'os' : 'none' } }]);
    const cmd = confineCommand(run, 'setup', { file: 'sh', args: ['-c', command] }, setupHosts);
    const result = await runProcess(cmd.file, cmd.args, {
      cwd: run.plan.worktree,
      env: runEnv(ctx, run, { CI: '1', ...packageCacheEnv(run.cacheDir) }),
      acceptExitCodes: 'any',
      processGroup: true,
      timeoutMs: SETUP_TIMEOUT_MS,
      ...(signal ? { signal } : {}),
    });
    const output = `${result.stdout}${result.stderr}`.slice(-OUTPUT_CHARS);
    emit([{ type: 'setup.finished', payload: { command, index, exitCode: result.exitCode, signal: result.signal, timedOut: result.timedOut, durationMs: result.durationMs, output } }]);
    if (result.aborted && signal?.aborted) {
      emit([{ type: 'run.interrupted', payload: { reason: `interrupted by the user (SIGINT) during setup command "${command}"` } }]);
      return 'interrupted';
    }
    if (result.exitCode !== 0 || result.timedOut) {
      const how = result.timedOut ? `timed out after ${SETUP_TIMEOUT_MS / 60000} min` : `exited ${result.exitCode ?? result.signal}`;
      const last = output.trim().split('\n').slice(-3).join(' | ');
      emit([{ type: 'run.failed', payload: { step: 'setup', error: `setup command "${command}" ${how}; the agent was not started${last ? ` (last output: ${last})` : ''}` } }]);
      return 'failed';
    }
  }
  const { worktree } = run.plan;
  await recordSetupState(ctx.git, worktree, sandboxTarget({ path: worktree, gitDir: run.gitDir }), run.plan.bootstrap.shared.map((s) => s.path), run.runDir);
  return 'ok';
}
