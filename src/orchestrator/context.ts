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
import type { Controls } from '../evidence/projections/breakers.js';
import type { TrustView } from '../evidence/projections/trust.js';
import { currentControls } from '../evidence/projectionCatalog.js';
import { getRun, runsByPrefix, runsBySuffix } from '../evidence/runsStore.js';
import { currentTrust } from '../evidence/trustStore.js';
import { recoverOrphanedRuns } from './recovery.js';
import { scanMergedRuns } from './scan.js';
import { InputError } from '../core/errors.js';
import { claimProjectName } from './settingsApproval.js';

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
    // The settled name: the first clone on this machine to use it owns it (another needs an approval).
    await claimProjectName(paths, project);
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

/**
 * One run of this project folded from its own events (the authoritative view a decision acts on;
 * cheap: the log is indexed by run), or undefined.
 */
export function runFromLog(ctx: Pick<Context, 'store'>, runId: string): RunView | undefined {
  return projectRuns(ctx.store.query({ runId })).get(runId);
}

/**
 * The project's trust, current: git evidence (reverts, follow-ups) is scanned first, then the saved
 * read view is used, or the persisted projection is brought up to date and its view taken (currentTrust).
 * @returns the read view (TrustView: levels, history, each profile's last max(window.runs, 60) runs),
 *   not the fold's whole state
 */
export async function trustOf(ctx: Context): Promise<TrustView> {
  await scanMergedRuns(ctx);
  return currentTrust(ctx.store, ctx.project.config.project, ctx.project.config.trust);
}

/** Fewest characters of a run id {@link findRun} matches by prefix or by suffix. */
export const MIN_RUN_ID_CHARS = 4;

/**
 * Find a run by its id, a unique prefix of it (like git does for commits), or the short id agentctl
 * prints (its last characters: {@link runsBySuffix}, among the newest 1,000 runs), each at least
 * {@link MIN_RUN_ID_CHARS} characters.
 * @throws InputError when no run or several runs match, or the text is too short to look up
 */
export function findRun(ctx: Context, idOrPrefix: string): RunView {
  const project = ctx.project.config.project;
  // The persisted projection resolves the id; the view returned is folded again from the run's own
  // events, so what a command acts on never depends on derived data.
  const exact = getRun(ctx.store, project, idOrPrefix);
  const fresh = (r: RunView) => runFromLog(ctx, r.runId) ?? r;
  if (exact) return fresh(exact);
  if (idOrPrefix.length < MIN_RUN_ID_CHARS) throw new InputError(`"${idOrPrefix}" is too short to name a run: give at least ${MIN_RUN_ID_CHARS} characters of its id`, { hint: 'List runs with: agentctl runs' });
  const id = idOrPrefix.toLowerCase();
  for (const lookup of [() => runsByPrefix(ctx.store, project, id, 10), () => runsBySuffix(ctx.store, project, id).slice(0, 10)]) {
    const matches = lookup();
    if (matches.length === 1) return fresh(matches[0]!);
    if (matches.length > 1) throw new InputError(`run id "${idOrPrefix}" is ambiguous: ${matches.map((m) => m.runId).join(', ')}${matches.length === 10 ? ', …' : ''}`);
  }
  throw new InputError(`no run "${idOrPrefix}" in project ${project}`, { hint: 'List runs with: agentctl runs' });
}

/** The current kill-switch and circuit-breaker state (all projects of this AGENTCTL_HOME). */
export function controlsOf(ctx: Pick<Context, 'store'>): Controls {
  return currentControls(ctx.store);
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
