/**
 * Everything a command needs, opened once: the repository, its config, AGENTCTL_HOME paths, the event
 * store and the git module. Commands call {@link openContext} and close it when done.
 */
import { hostname, userInfo } from 'node:os';
import { agentctlHome, homePaths, repoLockPath, type HomePaths } from '../core/paths.js';
import { loadProject, type Project } from '../definition/load.js';
import { createGit, type Git } from '../exec/git.js';
import type { EventStore } from '../evidence/store.js';
import { openStore, storeTarget, type StoreTarget } from '../evidence/openStore.js';
import { settleLegacyIdentity } from '../definition/identity.js';
import { projectRuns, type RunView } from '../evidence/projections/runs.js';
import { CONTROL_EVENT_TYPES, projectControls, type Controls } from '../evidence/projections/breakers.js';
import type { TrustState } from '../evidence/projections/trust.js';
import { currentTrust } from '../evidence/trustStore.js';
import { recoverOrphanedRuns } from './recovery.js';
import { scanMergedRuns } from './scan.js';
import { InputError } from '../core/errors.js';

/** An open working context. */
export interface Context {
  git: Git;
  project: Project;
  paths: HomePaths;
  store: EventStore;
  env: NodeJS.ProcessEnv;
  /** Lock file for this repository's worktree operations. */
  lockPath: string;
  close(): void;
}

/**
 * Open the context for the repository containing `cwd`.
 * @throws ConfigError (not a repository, unusable AGENTCTL_HOME), InputError (bad .agentrc.yaml)
 */
export async function openContext(cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Context> {
  const git = createGit({ env });
  const project = await loadProject(git, cwd);
  const paths = homePaths(agentctlHome(env));
  const store = openStore(storeTarget(paths, env, project.config.store), paths, env);
  try {
    settleLegacyIdentity(project, store);
  } catch (error) {
    store.close();
    throw error;
  }
  const ctx: Context = { git, project, paths, store, env, lockPath: repoLockPath(paths, project.key), close: () => store.close() };
  // Every command first closes runs whose agentctl died mid-run, so they show up for review.
  recoverOrphanedRuns(ctx);
  return ctx;
}

/**
 * The store for commands that need no repository (audit verify, halt, resume, doctor): AGENTCTL_STORE,
 * else `store:` of the repository at `cwd` when there is one and its config reads, else the local log.
 */
export async function storeTargetAt(cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<StoreTarget> {
  const paths = homePaths(agentctlHome(env));
  if (env.AGENTCTL_STORE?.trim()) return storeTarget(paths, env);
  let configured: string | undefined;
  try {
    configured = (await loadProject(createGit({ env }), cwd)).config.store;
  } catch {
    // Not in a repository, or its config does not read: the local log.
  }
  return storeTarget(paths, env, configured);
}

/** All runs of this project, folded from the log. */
export function projectRunsOf(ctx: Context): Map<string, RunView> {
  return projectRuns(ctx.store.query({ project: ctx.project.config.project }));
}

/**
 * The project's trust projection, current: git evidence (reverts, follow-ups) is scanned first, then
 * the persisted projection is brought up to date with the events since it was saved.
 */
export async function trustOf(ctx: Context): Promise<TrustState> {
  await scanMergedRuns(ctx);
  return currentTrust(ctx.store, ctx.project.config.project, ctx.project.config.trust);
}

/**
 * Find a run by id or unique id prefix (at least 4 characters), like git does for commits.
 * @throws InputError when no run or several runs match
 */
export function findRun(ctx: Context, idOrPrefix: string): RunView {
  const runs = projectRunsOf(ctx);
  const exact = runs.get(idOrPrefix);
  if (exact) return exact;
  if (idOrPrefix.length >= 4) {
    const matches = [...runs.values()].filter((r) => r.runId.startsWith(idOrPrefix.toLowerCase()));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw new InputError(`run id "${idOrPrefix}" is ambiguous: ${matches.map((m) => m.runId).join(', ')}`);
  }
  throw new InputError(`no run "${idOrPrefix}" in project ${ctx.project.config.project}`, { hint: 'List runs with: agentctl runs' });
}

/** The current kill-switch and circuit-breaker state (all projects of this AGENTCTL_HOME). */
export function controlsOf(ctx: Pick<Context, 'store'>): Controls {
  return projectControls(ctx.store.query({ types: CONTROL_EVENT_TYPES }));
}

/** The machine a human acted from, recorded beside their identity in review and promotion events. */
export function currentHost(): string {
  return hostname();
}

/** Who the human is, for review and promotion events: git user.email, else the OS user name. */
export async function currentHuman(ctx: Context): Promise<string> {
  const r = await ctx.git.raw(ctx.project.root, ['config', 'user.email'], { readOnly: true, accept: [0, 1] });
  const email = r.stdout.trim();
  return email || userInfo().username;
}
