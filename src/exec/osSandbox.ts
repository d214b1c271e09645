/**
 * The OS sandbox on disk: finding `srt` (@anthropic-ai/sandbox-runtime) and the programs it needs,
 * writing its settings, and wrapping a command so it runs confined. Every process agentctl starts on an
 * agent's behalf (the agent tool, the gate, setup commands) goes through {@link confine}; the rules
 * themselves are rendered by `authz/render/os.ts`.
 *
 * srt runs the command under bubblewrap with `--unshare-pid --die-with-parent --new-session`: the
 * command and everything it starts (background, `setsid`, `nohup`) live in one PID namespace that the
 * kernel tears down when the command ends or srt is killed.
 */
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import type { Policy } from '../authz/policy.js';
import { gitConfigHoldsCredentials, renderOsSandbox, toolchainFolders, type KeyInjectionSettings, type SandboxLayout } from '../authz/render/os.js';
import { isJavaScript, resolveExecutable } from './runner.js';

/** Programs srt needs on Linux besides itself (bubblewrap, the network bridge, the deny-glob scanner). */
export const OS_SANDBOX_PROGRAMS = ['bwrap', 'socat', 'rg'] as const;

/** Debian/Ubuntu package names for {@link OS_SANDBOX_PROGRAMS}. */
const DEBIAN_PACKAGE: Record<string, string> = { bwrap: 'bubblewrap', socat: 'socat', rg: 'ripgrep' };

/** How to run srt: the executable and the arguments before `--settings`. */
export interface OsSandbox {
  file: string;
  args: string[];
  /**
   * The srt installed with agentctl, started through agentctl's entry point (exec/srtMain.ts), whose
   * proxy puts the agent tool's API keys back in for the API (authz/credentials.ts): confined agents
   * then hold stand-ins. False for a `sandbox.bin` of the user's, which gets the keys themselves.
   */
  injectsKeys: boolean;
}

/**
 * srt as installed with agentctl: its entry point in agentctl's build (exec/srtMain.ts, run with this
 * Node), or undefined when srt is not installed or the build lacks it.
 */
function bundledSrt(): string | undefined {
  const main = join(packageRoot(), 'dist', 'exec', 'srtMain.js');
  try {
    createRequire(import.meta.url).resolve('@anthropic-ai/sandbox-runtime/dist/cli.js');
  } catch {
    return undefined;
  }
  return existsSync(main) ? main : undefined;
}

/**
 * Find the OS sandbox and the programs it depends on.
 * @param env the environment whose PATH is searched
 * @param cwd folder relative `configuredBin` paths are resolved against
 * @param configuredBin `sandbox.bin` from .agentrc.yaml (a path or a name on PATH), or undefined for the bundled srt
 * @returns `{sandbox}` when everything is there, else `{missing}`: human names of what is missing
 */
export function locateOsSandbox(env: NodeJS.ProcessEnv, cwd: string, configuredBin: string | undefined): { sandbox: OsSandbox } | { missing: string[] } {
  const missing: string[] = [];
  let sandbox: OsSandbox | undefined;
  if (configuredBin) {
    const srt = resolveExecutable(configuredBin, env.PATH, cwd);
    if (srt) sandbox = { file: srt, args: [], injectsKeys: false };
    else missing.push(`srt (${configuredBin})`);
  } else {
    const main = bundledSrt();
    if (main) sandbox = { file: process.execPath, args: [main], injectsKeys: true };
    else missing.push('srt (@anthropic-ai/sandbox-runtime is not installed with agentctl, or dist/exec/srtMain.js is not built: npm run build)');
  }
  if (process.platform === 'linux') missing.push(...OS_SANDBOX_PROGRAMS.filter((p) => !resolveExecutable(p, env.PATH, cwd)));
  else if (process.platform !== 'darwin') missing.push(`an OS sandbox for ${process.platform} (only Linux and macOS have one)`);
  return missing.length || !sandbox ? { missing } : { sandbox };
}

/**
 * Like {@link locateOsSandbox}, but refuses when anything is missing.
 * @param why who needs it, for the message (e.g. `run of task "x"`)
 * @throws ConfigError (exit 3) naming each missing program and how to install it
 */
export function requireOsSandbox(env: NodeJS.ProcessEnv, cwd: string, configuredBin: string | undefined, why: string): OsSandbox {
  const found = locateOsSandbox(env, cwd, configuredBin);
  if ('sandbox' in found) return found.sandbox;
  const packages = found.missing.map((m) => DEBIAN_PACKAGE[m]).filter(Boolean);
  throw new ConfigError(`the OS sandbox cannot start (missing: ${found.missing.join(', ')}), so the ${why} was refused; nothing was started`, {
    hint:
      process.platform === 'linux'
        ? `Install ${packages.length ? `them (Debian/Ubuntu: sudo apt-get install ${packages.join(' ')})` : 'the missing programs'}, then check with: agentctl doctor. ` +
          'To run without it (capped at review, earning nothing toward auto), a profile must say sandbox: none.'
        : 'Install @anthropic-ai/sandbox-runtime with agentctl; to run without the OS sandbox a profile must say sandbox: none.',
  });
}

/** The system-wide git config: git in a worktree reads it, and stops when it cannot (so it cannot be hidden). */
const SYSTEM_GIT_CONFIG = '/etc/gitconfig';

/**
 * Refuse to confine an agent where a git config that git in its worktree must read holds credentials
 * (gitConfigHoldsCredentials: a token in `remote.origin.url`, actions/checkout's `extraheader`): the
 * repository's common `.git/config` and `/etc/gitconfig`. The OS sandbox cannot hide them (git stops on
 * an unreadable config, tried), so an agent would read the token. An unreadable or missing file passes.
 * @param commonDir the repository's common `.git`
 * @param why who needs the sandbox, for the message (e.g. `run of task "x"`)
 * @throws ConfigError (exit 3) naming the file and how to move the credentials out of it
 */
export function requireCredentialFreeGitConfig(commonDir: string, why: string): void {
  for (const file of [join(commonDir, 'config'), SYSTEM_GIT_CONFIG]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    if (!gitConfigHoldsCredentials(text)) continue;
    throw new ConfigError(`${file} holds credentials (a token in a URL, an extraheader, a password, token or cookie file, an inline credential helper), which every agent in the OS sandbox can read (git in its worktree reads that file), so the ${why} was refused; nothing was started`, {
      hint: 'Keep them in a credential helper instead (git config --global credential.helper ...), drop the token from the remote URL (git remote set-url origin https://host/owner/repo.git) and remove extraheader entries; on GitHub Actions, check out with persist-credentials: false.',
    });
  }
}

/**
 * The OS sandbox an agent process of this policy runs in, refusing what would make it unsafe: the
 * sandbox's programs missing ({@link requireOsSandbox}), credentials in a git config the sandbox cannot
 * hide ({@link requireCredentialFreeGitConfig}). The one check before a run, an attempt or a reviewer.
 * @param project the repository: its checkout (`root`, where a relative `sandbox.bin` resolves) and
 *   common `.git` (`commonDir`)
 * @param sandboxMode the policy's `sandbox` value
 * @param configuredBin `sandbox.bin`, or undefined for the bundled srt
 * @param why who needs it, for the messages (e.g. `run of task "x"`)
 * @returns the sandbox, or undefined for `sandbox: none`
 * @throws ConfigError (exit 3) from either check; nothing was started
 */
export function requireAgentSandbox(env: NodeJS.ProcessEnv, project: { root: string; commonDir: string }, sandboxMode: 'os' | 'none', configuredBin: string | undefined, why: string): OsSandbox | undefined {
  if (sandboxMode !== 'os') return undefined;
  const sandbox = requireOsSandbox(env, project.root, configuredBin, why);
  requireCredentialFreeGitConfig(project.commonDir, why);
  return sandbox;
}

/**
 * The folders outside the system's that confined processes read to run at all (SandboxLayout.toolchains):
 * the toolchains on PATH and this Node's own folder ({@link toolchainFolders}), agentctl's built code and
 * its packages (the command guard hook runs from them), and the folders `sandbox.read` adds.
 * @param env the environment confined processes get (its PATH)
 * @param homeDir the user's home folder
 * @param hidden folders that stay hidden whatever PATH says (the checkout, AGENTCTL_HOME, the temp root)
 * @param extra `sandbox.read`, absolute (already resolved against the home folder)
 * @returns absolute folders
 */
export function confinedToolchains(env: NodeJS.ProcessEnv, homeDir: string, hidden: readonly string[], extra: readonly string[] = []): string[] {
  const root = packageRoot();
  return [...new Set([...toolchainFolders([dirname(process.execPath), ...(env.PATH ?? '').split(':')], homeDir, hidden), join(root, 'dist'), join(root, 'node_modules'), ...extra])];
}

/**
 * Where a program is and really is, for what the sandbox grants it: found as a shell would but through
 * PATH's absolute entries only (a relative entry such as `node_modules/.bin` would be looked up in the
 * checkout, whose links the repository writes), then its links followed (`~/.local/bin/claude` is a link
 * into `~/.local/share/claude/versions`).
 * @param program a name or a path
 * @param env the environment whose PATH is searched
 * @param cwd folder a relative path is resolved against
 * @returns `found` (where the lookup found it), `real` (absolute, links followed) and `runnable`: the real
 *   file is one a program could be, a regular file with an execute bit or named `.js`, `.mjs`, `.cjs`
 *   (a `.js` bin needs only to be readable, and a committed link `agent.js -> ~/notes/todo.txt` would
 *   otherwise pass); undefined when it is not found (or gone)
 */
export function realProgram(program: string, env: NodeJS.ProcessEnv, cwd: string): { found: string; real: string; runnable: boolean } | undefined {
  const absolutePath = (env.PATH ?? '').split(':').filter((e) => e.startsWith('/')).join(':');
  const found = resolveExecutable(program, absolutePath, cwd);
  if (!found) return undefined;
  try {
    const real = realpathSync(found);
    const stat = statSync(real);
    return { found, real, runnable: stat.isFile() && ((stat.mode & 0o111) !== 0 || isJavaScript(real)) };
  } catch {
    return undefined;
  }
}

/**
 * Write the settings for one confined process (mode 0400 in the run's folder, which the sandbox can read
 * but not write) and return the command that runs `cmd` inside the sandbox.
 * @param name settings file name below `layout.runDir` (one per kind of process: agent, gate, setup)
 * @param apiHosts hosts reachable even when the policy turns the network off (the agent's model API)
 * @param keys set when the process holds stand-ins for the agent tool's API keys (see osSandboxSettings)
 * @returns the wrapped command and the settings file's path
 */
export function confine(sandbox: OsSandbox, cmd: { file: string; args: readonly string[] }, policy: Policy, layout: SandboxLayout, apiHosts: readonly string[], name: string, keys?: KeyInjectionSettings): { file: string; args: string[]; settingsFile: string } {
  // On Linux srt starts agentctl's bubblewrap, which keeps the kernel's settings read-only (bin/agentctl-bwrap).
  const settings = renderOsSandbox(policy, process.platform === 'linux' ? { ...layout, bwrap: join(packageRoot(), 'bin', 'agentctl-bwrap') } : layout, apiHosts, name, keys);
  mkdirSync(layout.runDir, { recursive: true, mode: 0o700 });
  for (const dir of layout.writable) mkdirSync(dir, { recursive: true, mode: 0o700 });
  rmSync(settings.path, { force: true });
  writeFileSync(settings.path, settings.content, { mode: 0o400 });
  return { file: sandbox.file, args: [...sandbox.args, '--settings', settings.path, '--', cmd.file, ...cmd.args], settingsFile: settings.path };
}
