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
  const readable = program && !byName ? [program.real] : [];
  const toolchains = [...(layout.toolchains ?? []), ...(program && byName && !foundHidden ? toolchainFolders([dirname(program.real)], layout.homeDir, hidden) : [])];
  const wrapped = confine(sandbox, cmd, run.plan.policy, { ...layout, readable: [...(layout.readable ?? []), ...readable], toolchains: [...new Set(toolchains)] }, apiHosts, `os-sandbox.${purpose}.json`, keys);
  return { file: wrapped.file, args: wrapped.args };
}

/**
 * The environment of a confined agent tool (the agent, a reviewer) with its API keys replaced by
 * stand-ins: the tool and everything it starts (code the agent wrote included) never hold a real key,
 * which the sandbox's proxy puts back in the authentication header of requests to the tool's API
 * (authz/credentials.ts). Needs agentctl's own srt (OsSandbox.injectsKeys); otherwise, and without the
 * OS sandbox, the keys stay as they are. The API's endpoints and whether it is plain HTTP are read from
 * `env` itself, the base URL the tool will use: one source for what is reachable and what gets a key.
 * @param env the process's environment, real keys included (the keys of {@link keyVariables} set in it,
 *   its base URL); a {@link KEY_INJECTION_ENV} in it (from `agents.<tool>.env`) is dropped
 * @returns the environment to start the process with (stand-ins, and the keys for srt's entry point in
 *   {@link KEY_INJECTION_ENV}, which it removes before starting anything); `apiHosts`, the tool's
 *   `host:port` endpoints for {@link confineCommand} (the keys go to the first only, the tool's API
 *   proper: Codex's second, chatgpt.com, is its ChatGPT sign-in backend); and `keys` for
 *   {@link confineCommand}, undefined when nothing was replaced
 */
export function maskKeys(run: ConfinedRun, adapter: Pick<AgentAdapter, 'credentialEnv' | 'apiHosts'>, env: Record<string, string>): { env: Record<string, string>; apiHosts: string[]; keys: KeyInjectionSettings | undefined } {
  const out = { ...env };
  delete out[KEY_INJECTION_ENV];
  const apiHosts = adapter.apiHosts(out);
  const names = keyVariables(adapter).filter((name) => out[name]);
  if (!run.plan.osSandbox?.injectsKeys || !names.length || !apiHosts.length) return { env: out, apiHosts, keys: undefined };
  const injection: KeyInjection = { hosts: [apiHosts[0]!.toLowerCase()], keys: [] };
  for (const name of names) {
    // 32 random hex digits: no key of its own, nothing a request could guess.
    const standIn = `agentctl-stand-in-${randomBytes(16).toString('hex')}`;
    injection.keys.push({ standIn, value: out[name]! });
    out[name] = standIn;
  }
  out[KEY_INJECTION_ENV] = JSON.stringify(injection);
  return { env: out, apiHosts, keys: { plaintext: plainHttpApi(adapter, env) } };
}
