/**
 * The one place where the run pipeline puts a process in the OS sandbox. Every process started on an
 * agent's behalf goes through {@link confineCommand}: the agent tool (and all it starts), the gate, setup
 * commands. With `sandbox: none` (said explicitly by a profile) the command runs as it is, and the run
 * is capped at review (decide.ts sandboxCaps).
 */
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { keyVariables, plainHttpApi, type AgentAdapter } from '../../adapters/types.js';
import { KEY_INJECTION_ENV, type KeyInjection } from '../../authz/credentials.js';
import type { KeyInjectionSettings, SandboxLayout } from '../../authz/render/os.js';
import { toolchainFolders } from '../../authz/render/os.js';
import { confine, realProgram, type OsSandbox } from '../../exec/osSandbox.js';
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
 * @param keys set when the process's environment holds stand-ins for the tool's API keys ({@link maskKeys})
 * @returns the command to start (through exec/runner.ts)
 */
export function confineCommand(run: ConfinedRun, purpose: ConfinedPurpose, cmd: { file: string; args: readonly string[] }, apiHosts: readonly string[] = [], tool?: { bin: string; env: NodeJS.ProcessEnv }, keys?: KeyInjectionSettings): { file: string; args: string[] } {
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
  // A path may be a committed link to any file (`agent.js -> ~/notes/todo.txt`): only one a program could be is granted.
  const readable = program && !byName && program.runnable ? [program.real] : [];
  const toolchains = [...(layout.toolchains ?? []), ...(program && byName && !foundHidden ? toolchainFolders([dirname(program.real)], layout.homeDir, hidden) : [])];
  const wrapped = confine(sandbox, cmd, run.plan.policy, { ...layout, readable: [...(layout.readable ?? []), ...readable], toolchains: [...new Set(toolchains)] }, apiHosts, `os-sandbox.${purpose}.json`, keys);
  return { file: wrapped.file, args: wrapped.args };
}

/**
 * Which of the agent tool's API keys a confined process of it gets as stand-ins, and where its API is:
 * the one decision behind {@link maskKeys} and `policy show`. Stand-ins need agentctl's own srt
 * (OsSandbox.injectsKeys), whose proxy puts the keys back in (authz/credentials.ts); without it, and
 * without the OS sandbox, the tool keeps its keys. The API and whether it is plain HTTP are read from
 * `env`, the base URL the tool will use: one source for what is reachable and what gets a key. Pure.
 * @param sandbox the OS sandbox the process runs in, or undefined for none
 * @param env the environment the tool gets (its key variables, its base URL)
 * @returns `apiHosts`, the tool's `host:port` endpoints, its API proper first (the only one that gets
 *   the keys: Codex's second, chatgpt.com, is its ChatGPT sign-in backend); `names`, the key variables
 *   set in `env` that become stand-ins (empty when none do); `keys`, for {@link confineCommand}
 *   (undefined when `names` is empty)
 */
export function keyStandIns(sandbox: OsSandbox | undefined, adapter: Pick<AgentAdapter, 'credentialEnv' | 'apiHosts'>, env: Readonly<Record<string, string | undefined>>): { apiHosts: string[]; names: string[]; keys: KeyInjectionSettings | undefined } {
  const apiHosts = adapter.apiHosts(env);
  const names = sandbox?.injectsKeys && apiHosts.length ? keyVariables(adapter).filter((name) => env[name]) : [];
  return { apiHosts, names, keys: names.length ? { plaintext: plainHttpApi(adapter, env) } : undefined };
}

/**
 * The environment of a confined agent tool (the agent, a reviewer) with the API keys
 * {@link keyStandIns} names replaced by stand-ins: the tool and everything it starts (code the agent
 * wrote included) never hold a real key.
 * @param env the process's environment, real keys included; a {@link KEY_INJECTION_ENV} in it (from
 *   `agents.<tool>.env`) is dropped
 * @returns the environment to start the process with (stand-ins, and the keys for srt's entry point in
 *   {@link KEY_INJECTION_ENV}, which it removes before starting anything), with `apiHosts` and `keys`
 *   for {@link confineCommand} as {@link keyStandIns} gives them
 */
export function maskKeys(run: ConfinedRun, adapter: Pick<AgentAdapter, 'credentialEnv' | 'apiHosts'>, env: Record<string, string>): { env: Record<string, string>; apiHosts: string[]; keys: KeyInjectionSettings | undefined } {
  const out = { ...env };
  delete out[KEY_INJECTION_ENV];
  const { apiHosts, names, keys } = keyStandIns(run.plan.osSandbox, adapter, out);
  if (!keys) return { env: out, apiHosts, keys };
  const injection: KeyInjection = { hosts: [apiHosts[0]!.toLowerCase()], keys: [] };
  for (const name of names) {
    // 32 random hex digits: no key of its own, nothing a request could guess.
    const standIn = `agentctl-stand-in-${randomBytes(16).toString('hex')}`;
    injection.keys.push({ standIn, value: out[name]! });
    out[name] = standIn;
  }
  out[KEY_INJECTION_ENV] = JSON.stringify(injection);
  return { env: out, apiHosts, keys };
}
