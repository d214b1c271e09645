/**
 * The repository's settings that reach outside the OS sandbox. Pure.
 *
 * `.agentrc.yaml` and the project's profiles are committed with the repository, so whoever can push to
 * it (or the author of a repository you cloned) writes them. Most of what they say is confined: agents,
 * gates and setup commands run in the OS sandbox. These are not, and an attack session used each:
 * - `sandbox.bin`: the program that confines every process of a run. A script that runs its arguments
 *   unconfined gave the agent the machine, while `tasks` and `runs` still said `os`.
 * - `notify.command` runs on this machine outside the sandbox; `notify.webhook` receives every
 *   notification (run, task, project) from it.
 * - a project profile's `env` passes host variables into the sandbox: `GITHUB_TOKEN`, `PGPASSWORD`.
 * - `agents.<tool>.args` go to Claude Code, Gemini CLI or Codex before agentctl's own flags, and can
 *   loosen the permission settings agentctl renders for them (`--dangerously-skip-permissions`).
 * So they apply only once this machine's user approved them as they are (`agentctl approve`,
 * settingsApproval.ts); a change to any of them needs a new approval.
 */
import { createHash } from 'node:crypto';
import type { Profile } from '../authz/profile.js';
import { TOOL_AGENTS } from '../core/agentTools.js';
import type { ProjectConfig } from './config.js';

/** One setting that reaches outside the sandbox, as the repository has it. */
export interface HostSetting {
  /** Where it is set: `sandbox.bin`, `notify.command`, `.agentctl/profiles/p.yaml: env`, `agents.claude.args`. */
  setting: string;
  /** Its value as text (a path, a URL, names or flags joined by spaces). */
  value: string;
  /** What it does outside the sandbox. */
  reach: string;
}

/**
 * The repository's settings that reach outside the sandbox, in a fixed order; empty when it has none.
 * @param config the project's `.agentrc.yaml`, parsed
 * @param profiles every loaded profile (built-in ones, agentctl's own, are left out)
 */
export function hostSettings(config: ProjectConfig, profiles: Iterable<Profile>): HostSetting[] {
  const out: HostSetting[] = [];
  if (config.osSandboxBin !== undefined) out.push({ setting: 'sandbox.bin', value: config.osSandboxBin, reach: 'runs every process of every run: it is the OS sandbox' });
  if (config.notify.command !== undefined) out.push({ setting: 'notify.command', value: config.notify.command, reach: 'runs on this machine, outside the sandbox, at each notification' });
  if (config.notify.webhook !== undefined) out.push({ setting: 'notify.webhook', value: config.notify.webhook, reach: 'receives each notification (run, task, project) from this machine' });
  for (const p of [...profiles].filter((p) => p.origin !== 'builtin' && p.env.length).sort((a, b) => a.origin.localeCompare(b.origin))) {
    out.push({ setting: `${p.origin}: env`, value: p.env.join(' '), reach: 'host variables passed into the sandbox' });
  }
  for (const tool of TOOL_AGENTS) {
    const args = config.agents[tool].args;
    if (args.length) out.push({ setting: `agents.${tool}.args`, value: args.join(' '), reach: `flags given to ${tool} before agentctl's own, which can loosen the permissions agentctl renders for it` });
  }
  return out;
}

/**
 * The approval's fingerprint of some settings: sha256 (hex) of their settings and values, so any change
 * to one needs a new approval.
 * @param settings as {@link hostSettings} returns them
 */
export function hostSettingsFingerprint(settings: readonly HostSetting[]): string {
  return createHash('sha256')
    .update(JSON.stringify(settings.map((s) => [s.setting, s.value])))
    .digest('hex');
}
