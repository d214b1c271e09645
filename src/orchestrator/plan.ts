/**
 * Planning a run: everything that can refuse is checked here, before anything changes (no event, no
 * worktree): the task and its policy, trust, the kill switch, circuit breakers, the base branch and
 * the agent binary.
 */
import { ulid } from 'ulid';
import { adapterFor } from '../adapters/registry.js';
import type { AgentAdapter } from '../adapters/types.js';
import { composePolicy, intersectPolicies, type Policy } from '../authz/policy.js';
import { ConfigError, InputError, StateError } from '../core/errors.js';
import { existsSync } from 'node:fs';
import { worktreePath } from '../core/paths.js';
import { loadProfiles } from '../definition/load.js';
import type { AgentSettings } from '../definition/config.js';
import type { AgentName, Task } from '../definition/task.js';
import type { Controls } from '../evidence/projections/breakers.js';
import { earnedLevel, type TrustView } from '../evidence/projections/trust.js';
import { requireAgentSandbox, type OsSandbox } from '../exec/osSandbox.js';
import { resolveExecutable } from '../exec/runner.js';
import { runBranch } from '../exec/worktree.js';
import { planBootstrap, type Bootstrap } from './bootstrap.js';
import { projectFacts } from '../evidence/projectionCatalog.js';
import { controlsOf, trustOf, type Context } from './context.js';
import { controlCaps, sandboxCaps, taskAutonomy, type EffectiveAutonomy } from './decide.js';
import { protocolText } from './protocol.js';
import { findRunnableTask } from './tasks.js';
import { requireApprovedSettings } from './settingsApproval.js';

/** Where a run starts when the caller decides it (a queue worker: the remote's tip of the base branch). */
export interface RunBase {
  /** The base branch the run is for (recorded; review merges into it). */
  branch: string;
  /** The commit (sha) the worktree starts from; must be in this repository (fetched). */
  sha: string;
}

/** Everything a run needs, decided before it starts. */
export interface RunPlan {
  task: Task;
  policy: Policy;
  adapter: AgentAdapter;
  settings: AgentSettings;
  earned: { level: 'hold' | 'review' | 'auto'; reason: string };
  effective: EffectiveAutonomy;
  baseBranch: string;
  baseSha: string;
  runId: string;
  worktree: string;
  branch: string;
  /** The prompt given to the agent: the task's, the protocol, and the previous run's handover. */
  prompt: string;
  /** How to start the OS sandbox; undefined only when the policy says `sandbox: none`. */
  osSandbox: OsSandbox | undefined;
  /** The worktree bootstrap (setup/teardown commands, shared and copied paths, ports), checked. */
  bootstrap: Bootstrap;
}

/**
 * Check, changing nothing, that `agent` can start here under `policy`: its executable, the programs its
 * rendered config depends on (e.g. Claude Code's sandbox for yolo) and the files agentctl ships for it
 * (the command guard hook, without which the hook would fail open).
 * @param what how a refusal names the launch, e.g. `agent "claude"` or `reviewer "codex"`
 * @throws ConfigError naming what is missing
 */
export function requireLaunchable(ctx: Context, agent: AgentName, policy: Policy, what: string): void {
  const root = ctx.project.root;
  const adapter = adapterFor(agent);
  const probe = adapter.launch({ prompt: '', worktree: root, settings: ctx.project.config.agents[agent], rendered: undefined, interactive: false });
  if (!resolveExecutable(probe.bin, ctx.env.PATH, root)) {
    throw new ConfigError(`${what}: executable "${probe.bin}" not found`, { hint: `Install it, or set agents.${agent}.bin in .agentrc.yaml` });
  }
  const programs = adapter.requiredPrograms(policy, process.platform).filter((p) => !resolveExecutable(p, ctx.env.PATH, root));
  if (programs.length) {
    throw new ConfigError(`${what} needs ${programs.join(' and ')} on PATH with profile(s) ${policy.profiles.join(', ')} (its own sandbox for every command); nothing was started`, {
      hint: `Install ${programs.join(', ')}${process.platform === 'linux' ? ` (Debian/Ubuntu: apt-get install ${programs.map((p) => (p === 'bwrap' ? 'bubblewrap' : p)).join(' ')})` : ''}`,
    });
  }
  const files = adapter.requiredFiles().filter((f) => !existsSync(f));
  if (files.length) {
    throw new ConfigError(`${what}: agentctl's ${files.join(', ')} is missing, so the tool could not be held to the policy; nothing was started`, { hint: 'Build agentctl: npm run build' });
  }
}

/**
 * A task's effective autonomy before it runs: requested, earned, sensitive paths, the kill switch and
 * breakers, and the OS sandbox (a `sandbox: none` policy caps it at review). The one place this rule
 * lives: `run` and `tasks` both use it.
 */
export function effectiveAutonomyOf(ctx: Context, task: Task, policy: Policy, trust: TrustView, controls: Controls): EffectiveAutonomy {
  const cfg = ctx.project.config;
  return taskAutonomy(task, earnedLevel(trust, cfg.trust, task.agent, cfg.project, task.type), cfg.sensitivePaths, [...controlCaps(controls, task.agent, cfg.project), ...sandboxCaps(policy.sandbox)]);
}

/**
 * Compose the policy for a task, surfacing a broken profile file's own error. A follow-up task that a
 * run requested gets the intersection with its parent's policy.
 * @param loaded the project's profiles, when the caller composes many tasks' policies (`tasks`): loaded
 *   once instead of once per task (parsing the profile files was most of `tasks`' time). Default: loaded now.
 */
export function policyFor(ctx: Context, task: Task, loaded: ReturnType<typeof loadProfiles> = loadProfiles(ctx.project)): Policy {
  const { profiles, errors } = loaded;
  const compose = (names: string[]) => {
    for (const name of names) {
      if (!profiles.has(name)) {
        // Its own file's error, or the profiles folder's (a link out of the repository is not followed).
        const dir = ctx.project.config.profilesDir;
        const own = errors.find((e) => e.file?.replace(/\.ya?ml$/, '').endsWith(`/${name}`)) ?? errors.find((e) => e.file !== undefined && (dir === e.file || dir.startsWith(`${e.file}/`)));
        if (own) throw own;
      }
    }
    return composePolicy({ ...task, profiles: names }, profiles, { tasksDir: ctx.project.config.tasksDir, profilesDir: ctx.project.config.profilesDir });
  };
  const own = compose(task.profiles);
  if (!task.requestedBy) return own;
  return intersectPolicies(own, compose(task.requestedBy.parentProfiles.length ? task.requestedBy.parentProfiles : ['research']));
}

/** The latest handover note left by a run of the same task type in this project, if any. */
function previousHandover(ctx: Context, taskType: string): string | undefined {
  const handovers = projectFacts(ctx.store, ctx.project.config.project).handovers;
  return Object.hasOwn(handovers, taskType) ? handovers[taskType] : undefined;
}

/**
 * Plan a run of `taskId`.
 * @throws InputError (bad task/profile, --claim without a terminal), StateError (halted, hold without
 *   --claim, detached HEAD), ConfigError (agent binary missing)
 */
export async function planRun(ctx: Context, taskId: string, options: { claim?: boolean; interactiveTerminal: boolean; base?: RunBase }): Promise<RunPlan> {
  const { project, git } = ctx;
  const cfg = project.config;
  const task = findRunnableTask(ctx, taskId);
  const policy = policyFor(ctx, task);
  requireApprovedSettings(ctx, `run of task "${task.id}"`);

  const controls = controlsOf(ctx);
  if (controls.halted) {
    throw new StateError(`agentctl is halted (by ${controls.halted.by}: ${controls.halted.reason}); no run starts until it is resumed`, { hint: 'agentctl resume' });
  }
  const trust = await trustOf(ctx);
  const earned = earnedLevel(trust, cfg.trust, task.agent, cfg.project, task.type);
  const effective = effectiveAutonomyOf(ctx, task, policy, trust, controls);
  if (effective.level === 'hold' && !options.claim) {
    const why = task.autonomy === 'hold' ? `task "${task.id}" is on hold` : `${task.agent} may only be driven by a human on "${task.type}" tasks (${effective.reasons.slice(1).join('; ')})`;
    throw new StateError(`${why}: agentctl never starts an agent on it unattended`, { hint: `Drive the agent yourself in a sandbox: agentctl run ${task.id} --claim` });
  }
  if (options.claim && !options.interactiveTerminal) {
    throw new InputError('--claim starts the agent interactively and needs a terminal (stdin and stdout are not a TTY)');
  }

  const baseBranch = options.base?.branch ?? cfg.baseBranch ?? (await git.currentBranch(project.root));
  if (!baseBranch) throw new StateError('HEAD is detached: check out the branch runs should start from, or set baseBranch in .agentrc.yaml');
  const baseSha = options.base ? await git.resolve(project.root, options.base.sha) : await git.resolve(project.root, `refs/heads/${baseBranch}`);
  if (!baseSha) throw new StateError(options.base ? `base ${options.base.sha} of branch "${baseBranch}" is not in this repository` : `base branch "${baseBranch}" has no commits`);
  const bootstrap = await planBootstrap(ctx, task, policy, baseSha);

  const adapter = adapterFor(task.agent);
  const settings = cfg.agents[task.agent];
  requireLaunchable(ctx, task.agent, policy, `agent "${task.agent}"`);
  const osSandbox = requireAgentSandbox(ctx.env, project, policy.sandbox.value, cfg.osSandboxBin, `run of task "${task.id}"`);
  const runId = ulid().toLowerCase();
  const handover = previousHandover(ctx, task.type);
  const prompt = [
    task.prompt,
    '',
    '---',
    protocolText(cfg.protocol.escalateBelow),
    ...(handover ? ['## Notes from the previous run of this kind of task', '', handover] : []),
  ].join('\n');
  return {
    task,
    policy,
    adapter,
    settings,
    earned,
    effective,
    baseBranch,
    baseSha,
    runId,
    worktree: worktreePath(ctx.paths, project.key, task.id, runId),
    branch: runBranch(task.id, runId),
    prompt,
    osSandbox,
    bootstrap,
  };
}
