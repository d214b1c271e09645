/**
 * Doctor checks for the agent CLIs: found, version against the one agentctl was tested with, API key
 * variable present. A CLI older than tested fails (the rendered permission config may not hold for it);
 * a missing one is a warning (the run's own agent decides whether it matters).
 */
import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { sep } from 'node:path';
import { adapterFor } from '../adapters/registry.js';
import { keyVariables } from '../adapters/types.js';
import { installCommand, testedAgentVersions, type ToolAgent } from '../core/agentTools.js';
import type { AgentSettings } from '../definition/config.js';
import type { ProcessRunner } from './doctor.js';
import { childEnv, commandFor, resolveExecutable } from '../exec/runner.js';
import type { DoctorCheck } from './doctor.js';

/** How long `<agent> --version` may take, in milliseconds. */
const VERSION_TIMEOUT_MS = 10_000;

/**
 * The first `major.minor.patch` in a tool's `--version` output (`2.1.330 (Claude Code)`,
 * `codex-cli 0.169.0`). Pure.
 * @returns the version text, or undefined when there is none
 */
export function extractVersion(output: string): string | undefined {
  return /(\d+)\.(\d+)\.(\d+)/.exec(output)?.[0];
}

/**
 * Compare two `major.minor.patch` versions numerically (pre-release tags ignored). Pure.
 * @returns negative when `a` is older, 0 when equal, positive when newer
 */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => (/(\d+)\.(\d+)\.(\d+)/.exec(v) ?? ['', '0', '0', '0']).slice(1).map(Number);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}


/** True when `path` (symlinks resolved) lies inside `dir`. */
function inside(path: string, dir: string | undefined): boolean {
  if (!dir) return false;
  try {
    const real = realpathSync(path);
    const root = realpathSync(dir);
    return real === root || real.startsWith(root + sep);
  } catch {
    return false;
  }
}

/**
 * Check one agent CLI.
 * @param settings the agent's settings (`agents.<name>` of the project config, or the defaults)
 * @param repoRoot the repository doctor runs in, if any: a CLI inside it, or one its config names by a
 *   path (`settings.binFromRepository`: `../x/claude`, a committed link), is the repository's choice and
 *   is never started outside the OS sandbox, so its version is not checked
 * @param run the process runner (`<bin> --version` goes through it, with a short timeout, from a neutral folder)
 */
export async function checkToolAgent(agent: ToolAgent, settings: AgentSettings, env: NodeJS.ProcessEnv, repoRoot: string | undefined, run: ProcessRunner, tested = testedAgentVersions()[agent]): Promise<DoctorCheck> {
  const keys = keyVariables(adapterFor(agent));
  const present = keys.filter((k) => (env[k] ?? '') !== '');
  const keyFix = `export ${keys[0]}=… (passed to ${agent} only; a login in its own config folder is not visible in the sandbox)`;
  const base = { id: agent, group: 'agents' as const, title: agent };
  const data = { bin: settings.bin, path: null as string | null, version: null as string | null, tested: tested ?? null, keys: present, usable: false };
  const path = resolveExecutable(settings.bin, env.PATH, repoRoot ?? process.cwd());
  if (!path) return { ...base, status: 'warn', detail: `not found (bin: ${settings.bin})`, fix: `${installCommand(agent, tested)}, then ${keyFix}`, data };
  data.path = path;
  if (inside(path, repoRoot) || settings.binFromRepository) {
    const where = inside(path, repoRoot) ? 'is inside the repository' : `was chosen by the repository (agents.${agent}.bin is a path from it)`;
    return { ...base, status: 'warn', detail: `${path} ${where}: not started outside the OS sandbox, so its version is not checked`, fix: `point agents.${agent}.bin at an installed CLI (${installCommand(agent, tested)})`, data };
  }
  const cmd = commandFor(path, ['--version']);
  let output = '';
  try {
    const r = await run(cmd.file, cmd.args, { cwd: tmpdir(), env: childEnv(env), acceptExitCodes: 'any', timeoutMs: VERSION_TIMEOUT_MS, maxBufferBytes: 64 * 1024 });
    output = `${r.stdout}\n${r.stderr}`;
  } catch (error) {
    return { ...base, status: 'warn', detail: `${path} could not be started: ${(error as Error).message}`, fix: `reinstall it: ${installCommand(agent, tested)}`, data };
  }
  const version = extractVersion(output);
  data.version = version ?? null;
  const keyText = present.length ? `${present.join(', ')} set` : `no ${keys.join(' or ')}`;
  if (!version) {
    return { ...base, status: 'warn', detail: `${path}: \`${agent} --version\` printed no version; ${keyText}`, fix: `check that \`${settings.bin} --version\` works, or ${installCommand(agent, tested)}`, data };
  }
  const cmp = tested ? compareVersions(version, tested) : 0;
  if (cmp < 0) {
    return { ...base, status: 'fail', detail: `${version} is older than the tested ${tested} (${path}): its permission settings may not hold`, fix: installCommand(agent, tested), data };
  }
  data.usable = present.length > 0;
  const versionText = `${version}${tested ? (cmp === 0 ? ` (tested)` : ` (newer than the tested ${tested})`) : ''}`;
  if (!present.length) return { ...base, status: 'warn', detail: `${versionText} at ${path}; ${keyText}`, fix: keyFix, data };
  if (cmp > 0) return { ...base, status: 'warn', detail: `${versionText} at ${path}; ${keyText}`, fix: `if its runs misbehave: ${installCommand(agent, tested)}`, data };
  return { ...base, status: 'ok', detail: `${versionText} at ${path}; ${keyText}`, data };
}

/**
 * Check the `command` agent: skipped when `agents.command.bin` is not set, fails when it is set but not
 * found (a run with it would be refused).
 */
export function checkCommandAgent(settings: AgentSettings, env: NodeJS.ProcessEnv, repoRoot: string | undefined): DoctorCheck {
  const base = { id: 'command', group: 'agents' as const, title: 'command' };
  if (!settings.bin) return { ...base, status: 'skip', detail: 'not configured (agents.command.bin)', data: { bin: null, path: null, usable: false } };
  const path = resolveExecutable(settings.bin, env.PATH, repoRoot ?? process.cwd());
  if (!path) return { ...base, status: 'fail', detail: `agents.command.bin ${settings.bin} not found or not executable`, fix: 'fix agents.command.bin in .agentrc.yaml (a name on PATH, or a path from the repository root), or chmod +x it', data: { bin: settings.bin, path: null, usable: false } };
  return { ...base, status: 'ok', detail: path, data: { bin: settings.bin, path, usable: true } };
}
