/**
 * Every filesystem location agentctl uses comes from here.
 *
 * Layout under AGENTCTL_HOME (default: `$XDG_DATA_HOME/agentctl`, i.e. `~/.local/share/agentctl` on Linux):
 *   agentctl.db                         the append-only event log (SQLite, WAL)
 *   agentctl.db.checkpoint              the log's authenticated head (sequence, hash), outside the database
 *   keys/log.key                        the per-installation log key (32 random bytes, 0600, folder 0700)
 *   keys/team.key                       the team's key of a shared (PostgreSQL) log, provisioned by the team
 *   stores/<log id>.checkpoint          this machine's authenticated checkpoint of each shared log
 *   worktrees/<project-key>/<task>-<run> the disposable sandboxes
 *   runs/<run>/                          per-run generated tool configs and tool homes (outside the worktree)
 *   locks/<project-key>.lock             per-repository lock for worktree operations
 *   ports/<run>.json                     the block of ports a running run holds (released at its end)
 *   cache/cli-<sha256>-<node>-<arch>.v8  V8 code cache of the CLI bundle (bin/agentctl; V8 trusts it as code)
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import envPaths from 'env-paths';

/**
 * Resolve agentctl's home directory.
 * @param env process environment (reads `AGENTCTL_HOME`, and `XDG_DATA_HOME` through env-paths)
 * @returns absolute path; not created here
 */
export function agentctlHome(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.AGENTCTL_HOME;
  if (override && override.trim() !== '') return resolve(override);
  return envPaths('agentctl', { suffix: '' }).data;
}

/** The resolved locations for one AGENTCTL_HOME. All absolute. */
export interface HomePaths {
  home: string;
  database: string;
  /** The per-installation HMAC-SHA256 key that authenticates the event log and its checkpoint. */
  keyFile: string;
  /** The team's key of a shared (PostgreSQL) log, unless AGENTCTL_LOG_KEY_FILE names another file. */
  teamKeyFile: string;
  /** This machine's checkpoints of shared logs. */
  storesDir: string;
  worktreesRoot: string;
  runsRoot: string;
  locksRoot: string;
}

/**
 * The project's package-manager cache (npm, yarn, pnpm, bun below it): `<home>/caches/<project key>`.
 * Only `worktree.setup` commands may write it (they run the base commit's install); agents, gates and
 * teardown (which runs the agent's code) never see it.
 */
export function packageCacheDir(paths: HomePaths, project: string): string {
  return join(paths.home, 'caches', project);
}

/** Build the {@link HomePaths} for a home directory (absolute path in, absolute paths out). */
export function homePaths(home: string): HomePaths {
  return {
    home,
    database: join(home, 'agentctl.db'),
    keyFile: join(home, 'keys', 'log.key'),
    teamKeyFile: join(home, 'keys', 'team.key'),
    storesDir: join(home, 'stores'),
    worktreesRoot: join(home, 'worktrees'),
    runsRoot: join(home, 'runs'),
    locksRoot: join(home, 'locks'),
  };
}

/**
 * A stable, filesystem-safe key for a repository: `<basename>-<8 hex of sha256(common git dir)>`.
 * Two clones with the same folder name get different keys.
 */
export function projectKey(gitCommonDir: string): string {
  const name = basename(resolve(gitCommonDir, gitCommonDir.endsWith('.git') ? '..' : '.'))
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .slice(0, 40);
  const hash = createHash('sha256').update(resolve(gitCommonDir)).digest('hex').slice(0, 8);
  return `${name || 'repo'}-${hash}`;
}

/** Worktree directory for one run. */
export function worktreePath(paths: HomePaths, project: string, taskId: string, runId: string): string {
  return join(paths.worktreesRoot, project, `${taskId}-${runId}`);
}

/** Per-run directory for generated configs and tool homes (never inside the worktree). */
export function runDir(paths: HomePaths, runId: string): string {
  return join(paths.runsRoot, runId);
}

/**
 * The parent of every run's temp dir: `<system temp>/agentctl-<uid>`. Short on purpose: the OS sandbox
 * puts its Unix sockets in the temp dir, and a socket path may not exceed 108 bytes.
 * @param systemTemp the system temp dir (os.tmpdir())
 */
export function runTempRoot(systemTemp: string): string {
  return join(systemTemp, `agentctl-${process.getuid?.() ?? 'user'}`);
}

/** A run's own temp dir (TMPDIR of its confined processes), below {@link runTempRoot}. */
export function runTempDir(systemTemp: string, runId: string): string {
  return join(runTempRoot(systemTemp), runId.slice(-12));
}

/** Lock file guarding worktree add/remove for one repository. */
export function repoLockPath(paths: HomePaths, project: string): string {
  return join(paths.locksRoot, `${project}.lock`);
}

/**
 * Folder of the V8 code cache bin/agentctl keeps for the CommonJS bundle (dist/fast/agentctl.cjs). V8 runs
 * what it finds there as compiled code: it must stay where only agentctl writes (AGENTCTL_HOME, hidden
 * from agents by the OS sandbox).
 */
export function codeCacheDir(home: string): string {
  return join(home, 'cache');
}

/** Folder of the port leases: one file per running run naming its block of ports. */
export function portLeasesDir(paths: HomePaths): string {
  return join(paths.home, 'ports');
}

/** Root of the installed agentctl package (holds `profiles/`, `dist/`). */
export function packageRoot(): string {
  // dist/core/paths.js or src/core/paths.ts → two levels up.
  return resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
}

/** agentctl's version, as `package.json` at {@link packageRoot} states it (e.g. `0.1.0`). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** Folder of the built-in profiles shipped with agentctl. */
export function builtinProfilesDir(): string {
  return join(packageRoot(), 'profiles');
}
