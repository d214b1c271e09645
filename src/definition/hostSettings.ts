/**
 * The repository's settings that reach outside the OS sandbox. Pure.
 *
 * `.agentrc.yaml` and the project's profiles are committed with the repository, so whoever can push to
 * it (or the author of a repository you cloned) writes them. Most of what they say is confined: agents,
 * gates and setup commands run in the OS sandbox. These are not, and an attack session used each:
 * - `sandbox.bin`: the program that confines every process of a run. A script that runs its arguments
 *   unconfined gave the agent the machine, while `tasks` and `runs` still said `os`.
 * - `sandbox.read` makes folders of this machine readable in the sandbox (`~/.config`, another checkout).
 * - `notify.command` runs on this machine outside the sandbox; `notify.webhook` receives every
 *   notification (run, task, project) from it.
 * - a project profile's `env` passes host variables into the sandbox: `GITHUB_TOKEN`, `PGPASSWORD`.
 * - `agents.<tool>.bin` written as a path into or beside the repository (`./steal.sh`): that program is
 *   run as Claude Code, Gemini CLI or Codex and gets the use of the tool's API key; an attack session had
 *   it write the key where `review show` printed it (in the OS sandbox it now holds a stand-in that the
 *   sandbox's proxy replaces on the way to the API, but the program still spends on your account).
 * - `agents.<tool>.args` go to Claude Code, Gemini CLI or Codex before agentctl's own flags, and can
 *   loosen the permission settings agentctl renders for them (`--dangerously-skip-permissions`).
 * - `agents.<name>.env` is also the environment of the sandbox's own program, which runs on the host:
 *   `NODE_OPTIONS: --require ./evil.cjs` ran the repository's code there, `PATH` a fake `bwrap`.
 * - a project profile's `sandbox: none` runs its tasks' agents on this machine as you.
 * - `worktree.copy` (the project's or a task's) copies files of your checkout into the sandbox, untracked
 *   ones such as `.env` included, and `worktree.shared` makes them readable there (an attack session read
 *   `.envrc` and `terraform.tfstate`); `worktree.network` lets setup commands reach hosts with them.
 * - the project's name (`project:`, or the one derived from the root commit, which a fork shares) selects
 *   the runs, follow-up requests, trust and circuit breakers recorded under it on this machine: a cloned
 *   repository that named itself after another one added its runs and requests to that project's lists
 *   and shared its breakers. A name belongs to the first clone on this machine that used it
 *   (settingsApproval.ts); another clone using it is a setting here ({@link projectNameSetting}).
 * So they apply only once this machine's user approved them as they are (`agentctl approve`,
 * settingsApproval.ts); a change to any of them needs a new approval. (`sandbox.bin` and
 * `notify.command` may not name a program inside the repository at all: config.ts.)
 */
import { createHash, createHmac } from 'node:crypto';
import { composePolicy } from '../authz/policy.js';
import type { Profile } from '../authz/profile.js';
import { InputError } from '../core/errors.js';
import type { ProjectConfig } from './config.js';
import { AGENT_NAMES, type Task } from './task.js';
import type { WorktreeBlock } from './worktree.js';

/** One setting that reaches outside the sandbox, as the repository has it. */
export interface HostSetting {
  /** Where it is set: `sandbox.bin`, `notify.command`, `.agentctl/profiles/p.yaml: env`, `agents.claude.args`. */
  setting: string;
  /** Its value as JSON text (a path, a URL, a list of names or flags, a map of variables): one text per value. */
  value: string;
  /** What it does outside the sandbox. */
  reach: string;
}

/** A task as {@link hostSettings} reads it: its own `worktree:` block, and what composes its policy. */
export type HostSettingsTask = Pick<Task, 'id' | 'file' | 'worktree' | 'profiles' | 'paths' | 'autonomy'>;

/**
 * The repository's settings that reach outside the sandbox, in a fixed order; empty when it has none.
 * @param config the project's `.agentrc.yaml`, parsed
 * @param profiles every loaded profile (built-in ones, agentctl's own, are left out of the profile
 *   settings; they compose the tasks' policies)
 * @param tasks the project's tasks (their own `worktree:` blocks, and whether their policy turns the
 *   network on: a task file chooses its profiles, `yolo` included)
 */
export function hostSettings(config: ProjectConfig, profiles: Iterable<Profile>, tasks: Iterable<HostSettingsTask>): HostSetting[] {
  const out: HostSetting[] = [];
  const add = (setting: string, value: unknown, reach: string) => out.push({ setting, value: JSON.stringify(value), reach });
  const list = [...profiles]; // read once: an iterator (a Map's values) is empty the second time
  const byName = new Map(list.map((p) => [p.name, p]));
  const sortedTasks = [...tasks].sort((a, b) => a.file.localeCompare(b.file));
  if (config.osSandboxBin !== undefined) add('sandbox.bin', config.osSandboxBin, 'runs every process of every run: it is the OS sandbox');
  if (config.osSandboxRead.length) add('sandbox.read', config.osSandboxRead, 'folders of this machine every confined process of every run may read');
  if (config.notify.command !== undefined) add('notify.command', config.notify.command, 'runs on this machine, outside the sandbox, at each notification');
  if (config.notify.webhook !== undefined) add('notify.webhook', config.notify.webhook, 'receives each notification (run, task, project) from this machine');
  for (const p of list.filter((p) => p.origin !== 'builtin').sort((a, b) => a.origin.localeCompare(b.origin))) {
    if (p.env.length) add(`${p.origin}: env`, p.env, 'host variables passed into the sandbox');
    if (p.sandbox === 'none') add(`${p.origin}: sandbox`, 'none', 'the agents of its tasks run on this machine as you, unconfined');
  }
  for (const name of AGENT_NAMES) {
    const { args, env, bin, binFromRepository } = config.agents[name];
    if (binFromRepository && name !== 'command') add(`agents.${name}.bin`, bin, `a program the repository chose, run as ${name} and given the use of your ${name} credentials (its API key variables)`);
    if (args.length && name !== 'command') add(`agents.${name}.args`, args, `flags given to ${name} before agentctl's own, which can loosen the permissions agentctl renders for it`);
    if (Object.keys(env).length) add(`agents.${name}.env`, Object.fromEntries(Object.entries(env).sort(([a], [b]) => a.localeCompare(b))), 'also the environment of the OS sandbox\'s own program, on this machine (NODE_OPTIONS, PATH)');
  }
  const blocks: [string, WorktreeBlock | undefined][] = [['', config.worktree], ...sortedTasks.map((t): [string, WorktreeBlock | undefined] => [`${t.file}: `, t.worktree])];
  for (const [where, block] of blocks) {
    if (block?.copy?.length) add(`${where}worktree.copy`, block.copy, 'files of your checkout, untracked ones too (.env), copied into the sandbox');
    if (block?.shared?.length) add(`${where}worktree.shared`, block.shared, 'files of your checkout, untracked ones too (.envrc, terraform.tfstate), readable in the sandbox');
    if (block?.network?.length) add(`${where}worktree.network`, block.network, 'hosts the setup and teardown commands may reach');
  }
  for (const t of sortedTasks) {
    if (networkOn(t, byName, config)) {
      // The value is the task's profiles: an approval for one profile does not carry over to another (yolo adds every command).
      add(`${t.file}: network`, t.profiles, `the registries and code hosts (npm, PyPI, GitHub…) from inside the sandbox, which take uploads of whatever code the agent runs can read`);
    }
  }
  return out;
}

/** Whether a task's composed policy turns the network on; a task whose profiles do not compose cannot run (false). */
function networkOn(task: HostSettingsTask, profiles: ReadonlyMap<string, Profile>, config: ProjectConfig): boolean {
  try {
    return composePolicy(task, profiles, { tasksDir: config.tasksDir, profilesDir: config.profilesDir }).network.value;
  } catch (error) {
    if (error instanceof InputError) return false;
    throw error;
  }
}

/** The clone on this machine that first used a project name (settingsApproval.ts records one per name). */
export interface NameOwner {
  /** Its Project.key. */
  key: string;
  /** Its checkout, for the message. */
  root: string;
}

/**
 * A project name that another clone on this machine used first, as a setting to approve: sharing it adds
 * this clone's runs, follow-up requests and evidence to what that clone's project shows and earns.
 * @param project the project's name; @param projectKey this clone's key (Project.key)
 * @param owner the name's first clone, or undefined when none is recorded
 * @returns the setting, or undefined when the name is this clone's (or nobody's yet)
 */
export function projectNameSetting(project: string, projectKey: string, owner: NameOwner | undefined): HostSetting | undefined {
  if (!owner || owner.key === projectKey) return undefined;
  return {
    setting: 'project',
    value: JSON.stringify(project),
    reach: `the name the clone at ${JSON.stringify(owner.root)} records its runs under on this machine: this clone's runs and follow-up requests would be listed as that project's, and count in its trust and circuit breakers`,
  };
}

/** How many hex digits an approval code has (`agentctl approve <code>`): 64 bits. */
export const APPROVAL_CODE_LENGTH = 16;

/**
 * What a person types to approve exactly these settings of one clone on one machine: the first
 * {@link APPROVAL_CODE_LENGTH} hex digits of an HMAC-SHA-256, keyed with a secret of this machine, over
 * the project's key and {@link hostSettingsFingerprint}. Only a refusal (or `approve`, `doctor`) on this
 * machine can show it: a repository's README cannot hand out a code that approves what nobody read.
 * @param machineKey this machine's secret (settingsApproval.ts keeps it in AGENTCTL_HOME)
 * @param projectKey the clone's key (Project.key)
 */
export function approvalCode(settings: readonly HostSetting[], machineKey: string, projectKey: string): string {
  return createHmac('sha256', machineKey)
    .update(JSON.stringify([projectKey, hostSettingsFingerprint(settings)]))
    .digest('hex')
    .slice(0, APPROVAL_CODE_LENGTH);
}

/**
 * The approval's fingerprint of some settings: sha256 (hex) of their settings and values (JSON: two lists
 * that join to the same text differ), so any change to one needs a new approval.
 * @param settings as {@link hostSettings} returns them
 */
export function hostSettingsFingerprint(settings: readonly HostSetting[]): string {
  return createHash('sha256')
    .update(JSON.stringify(settings.map((s) => [s.setting, s.value])))
    .digest('hex');
}
