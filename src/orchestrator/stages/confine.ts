/**
 * The one place where the run pipeline puts a process in the OS sandbox. Every process started on an
 * agent's behalf goes through {@link confineCommand}: the agent tool (and all it starts), the gate, setup
 * commands. With `sandbox: none` (said explicitly by a profile) the command runs as it is, and the run
 * is capped at review (decide.ts sandboxCaps).
 */
import { dirname } from 'node:path';
import type { SandboxCredentials, SandboxLayout } from '../../authz/render/os.js';
import { toolchainFolders } from '../../authz/render/os.js';
import { confine, realProgram } from '../../exec/osSandbox.js';
import type { ConfinedRun } from './types.js';

/** What a confined process is for: it picks the settings file and what it may write. */
export type ConfinedPurpose = 'agent' | 'gate' | 'setup' | 'teardown' | 'reviewer';

/**
 * The layout a process of this purpose gets: the agent writes its worktree, its tool home and its temp
 * dir; a gate or teardown command writes the worktree and the temp dir only; a setup command also the
 * project's package cache (setup runs the base commit's install before any agent code exists; teardown
 * runs in the agent's worktree, so it never gets the cache).
 */
export function layoutFor(run: ConfinedRun, purpose: ConfinedPurpose): SandboxLayout {
  if (purpose === 'agent' || purpose === 'reviewer') return run.layout;
  const cache = purpose === 'setup' && run.cacheDir ? [run.cacheDir] : [];
  return { ...run.layout, writable: [run.tmpDir, ...cache], readOnlyFiles: [] };
}

/**
 * Wrap `cmd` so it runs in the run's OS sandbox (or unchanged when the policy says `sandbox: none`).
 * @param apiHosts hosts reachable whatever the policy's network rule (the agent tool's model API)
 * @param tool the agent tool's executable as configured (a name on `env`'s PATH or a path): for a path,
 *   the file it really is stays readable although it may lie in a hidden folder (the checkout); for a
 *   name found on PATH's absolute entries outside the checkout, the folder it really lives in (through
 *   links) is readable as a toolchain
 * @param credentials the agent tool's API keys in the environment the process gets, which the sandbox
 *   masks (the agent and a reviewer: `maskedCredentials`); none for gates and setup commands
 * @returns the command to start (through exec/runner.ts)
 */
export function confineCommand(run: ConfinedRun, purpose: ConfinedPurpose, cmd: { file: string; args: readonly string[] }, apiHosts: readonly string[] = [], tool?: { bin: string; env: NodeJS.ProcessEnv }, credentials?: SandboxCredentials): { file: string; args: string[] } {
  const sandbox = run.plan.osSandbox;
  if (!sandbox) return { file: cmd.file, args: [...cmd.args] };
  const layout = layoutFor(run, purpose);
  // The agent tool may live where PATH does not lead: found by name on PATH (outside the checkout and
  // AGENTCTL_HOME), the folder its link really leads to is its toolchain (a native install's
  // `~/.local/share/claude`). Named by a path (which a repository's .agentrc.yaml may write), only the
  // file it really is: a path cannot grant a folder. Never the name as written: srt would expand a glob.
  const hidden = [layout.repoRoot, layout.agentctlHome, layout.worktree, ...(layout.tempRoot ? [layout.tempRoot] : [])];
  const program = tool ? realProgram(tool.bin, tool.env, run.plan.worktree) : undefined;
  const byName = tool !== undefined && !tool.bin.includes('/');
  const foundHidden = program !== undefined && hidden.some((h) => program.found === h || program.found.startsWith(`${h}/`));
  const readable = program && !byName ? [program.real] : [];
  const toolchains = [...(layout.toolchains ?? []), ...(program && byName && !foundHidden ? toolchainFolders([dirname(program.real)], layout.homeDir, hidden) : [])];
  const wrapped = confine(sandbox, cmd, run.plan.policy, { ...layout, readable: [...(layout.readable ?? []), ...readable], toolchains: [...new Set(toolchains)] }, apiHosts, `os-sandbox.${purpose}.json`, credentials);
  return { file: wrapped.file, args: wrapped.args };
}
