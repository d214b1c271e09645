/**
 * `agentctl doctor`: can runs start here? Each check says what it found and, when something is wrong,
 * how to fix it. Runs can start when nothing failed: the project config is valid, the OS sandbox is
 * there and passes its live self-test, git is new enough, the event log verifies (or does not exist yet),
 * and at least one agent is usable. Nothing is created: no AGENTCTL_HOME, no database.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { AGENT_NAMES, type AgentName } from '../definition/task.js';
import { AgentctlError, ConfigError, InputError } from '../core/errors.js';
import { TOOL_AGENTS } from '../core/agentTools.js';
import { agentctlHome, homePaths } from '../core/paths.js';
import { parseConfig, type ProjectConfig } from '../definition/config.js';
import type { HostSetting } from '../definition/hostSettings.js';
import { loadProject, type Project } from '../definition/load.js';
import { readCheckpointFor, verifyLog } from '../evidence/integrity.js';
import { readLogKey } from '../evidence/key.js';
import { expectedSchemaFingerprint, openEventStore } from '../evidence/store.js';
import { storeName, storeTarget, verifyStore } from '../evidence/openStore.js';
import { createGit } from '../exec/git.js';
import { locateOsSandbox, requireOsSandbox } from '../exec/osSandbox.js';
import { childEnv, runProcess } from '../exec/runner.js';

/** A function with the shape of {@link runProcess} (tests pass a fake for the `--version` probes). */
export type ProcessRunner = typeof runProcess;
import { checkCommandAgent, checkToolAgent, compareVersions, extractVersion } from './doctorAgents.js';
import { sandboxSelfTest } from './sandboxSelfTest.js';
import { approvalCodeOf, approveHint, hostSettingsOf, unapprovedOf, unapprovedText } from './settingsApproval.js';

/** `ok` ✓, `warn` ! (runs can start, something may bite), `fail` ✗ (runs cannot start), `skip` (not applicable). */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

/** One check. */
export interface DoctorCheck {
  /** Stable key: an agent name, `agents`, `project`, `settings`, `osSandbox`, `sandboxSelfTest`, `git`, `eventLog`. */
  id: string;
  group: 'project' | 'agents' | 'sandbox' | 'git' | 'log';
  title: string;
  status: CheckStatus;
  /** What was found (may quote paths and tool output: untrusted, print through terminalSafe). */
  detail: string;
  /** How to fix it, when the status is `warn` or `fail`. */
  fix?: string;
  /** Machine-readable findings (for `--json`). */
  data: Record<string, unknown>;
}

/** Everything doctor found. */
export interface DoctorReport {
  /** Runs can start: no check failed (which includes "at least one agent is usable"). */
  ok: boolean;
  /** Agents a run could use now. */
  usableAgents: AgentName[];
  checks: DoctorCheck[];
}

/** git ≥ 2.38: `merge-tree --write-tree` (merging a run without touching a checkout) needs it. */
export const MIN_GIT = '2.38.0';

/** The verdict over the checks. Pure. */
export function doctorVerdict(checks: readonly DoctorCheck[]): DoctorReport {
  const usableAgents = AGENT_NAMES.filter((a) => checks.some((c) => c.group === 'agents' && c.id === a && c.data.usable === true));
  return { ok: checks.every((c) => c.status !== 'fail'), usableAgents, checks: [...checks] };
}

/** The project doctor runs in (when in a repository) and the config the other checks use. */
async function checkProject(cwd: string, env: NodeJS.ProcessEnv): Promise<{ check: DoctorCheck; config: ProjectConfig; root: string | undefined; project?: Project }> {
  const base = { id: 'project', group: 'project' as const, title: 'project' };
  const defaults = () => parseConfig(cwd, undefined, basename(cwd));
  try {
    const project = await loadProject(createGit({ env }), cwd);
    const file = project.config.file;
    return {
      check: { ...base, status: 'ok', detail: `${project.root}; ${file ? `${file} is valid` : 'no .agentrc.yaml (defaults apply; agentctl init writes one)'}`, data: { root: project.root, config: file ?? null } },
      config: project.config,
      root: project.root,
      project,
    };
  } catch (error) {
    if (error instanceof InputError) {
      return { check: { ...base, status: 'fail', detail: error.message, fix: 'fix .agentrc.yaml (every field: agentctl schema config)', data: { root: null } }, config: defaults(), root: undefined };
    }
    if (error instanceof ConfigError) {
      return { check: { ...base, status: 'warn', detail: `${error.message}: agent settings are the defaults`, fix: 'run agentctl doctor inside the repository you will run tasks in', data: { root: null } }, config: defaults(), root: undefined };
    }
    throw error;
  }
}

/** The summary over the agent checks: fails when no agent is usable. */
function checkAnyAgent(agentChecks: readonly DoctorCheck[]): DoctorCheck {
  const usable = agentChecks.filter((c) => c.data.usable === true).map((c) => c.id);
  const base = { id: 'agents', group: 'agents' as const, title: 'usable agents' };
  if (usable.length) return { ...base, status: 'ok', detail: usable.join(', '), data: { usable } };
  return {
    ...base,
    status: 'fail',
    detail: 'no agent can run: none is installed at the tested version with its API key set, and agents.command.bin is not set',
    fix: 'install one (see the lines above), or set agents.command.bin in .agentrc.yaml to any program',
    data: { usable },
  };
}

/**
 * The repository's settings that reach outside the sandbox (definition/hostSettings.ts): none, or
 * approved on this machine as they are; else runs cannot start.
 * @returns the check, and whether `sandbox.bin` may be run (the self-test runs it)
 */
function checkSettings(project: Project | undefined, env: NodeJS.ProcessEnv): { check: DoctorCheck; sandboxBinApproved: boolean } {
  const base = { id: 'settings', group: 'project' as const, title: 'settings outside the sandbox' };
  if (!project) return { check: { ...base, status: 'skip', detail: 'not in a repository', data: { unapproved: [] } }, sandboxBinApproved: true };
  const paths = homePaths(agentctlHome(env));
  let settings: HostSetting[];
  let unapproved: HostSetting[];
  try {
    settings = hostSettingsOf(project, paths);
    unapproved = unapprovedOf(paths, project.key, settings);
  } catch (error) {
    if (!(error instanceof AgentctlError)) throw error;
    return { check: { ...base, status: 'fail', detail: error.message, fix: error.hint ?? 'see the message', data: { unapproved: [] } }, sandboxBinApproved: false };
  }
  const sandboxBinApproved = !unapproved.some((s) => s.setting === 'sandbox.bin');
  if (!settings.length) return { check: { ...base, status: 'ok', detail: 'none: nothing the repository sets acts outside the OS sandbox', data: { unapproved: [] } }, sandboxBinApproved };
  if (!unapproved.length) return { check: { ...base, status: 'ok', detail: `approved on this machine: ${settings.map((s) => s.setting).join(', ')}`, data: { unapproved: [] } }, sandboxBinApproved };
  let code: string;
  try {
    code = approvalCodeOf(paths, project.key, unapproved);
  } catch (error) {
    if (!(error instanceof AgentctlError)) throw error;
    return { check: { ...base, status: 'fail', detail: `${unapprovedText(unapproved)}\n${error.message}`, fix: error.hint ?? 'see the message', data: { unapproved: unapproved.map((s) => s.setting) } }, sandboxBinApproved };
  }
  return { check: { ...base, status: 'fail', detail: unapprovedText(unapproved), fix: approveHint(paths, project.key, unapproved), data: { unapproved: unapproved.map((s) => s.setting), code } }, sandboxBinApproved };
}

/** The OS sandbox's programs, then (when they are there) the live self-test. */
async function checkSandbox(env: NodeJS.ProcessEnv, cwd: string, config: ProjectConfig, sandboxBinApproved: boolean): Promise<DoctorCheck[]> {
  const programs = { id: 'osSandbox', group: 'sandbox' as const, title: 'OS sandbox' };
  const selfTest = { id: 'sandboxSelfTest', group: 'sandbox' as const, title: 'sandbox self-test' };
  if (!sandboxBinApproved) {
    // The repository's sandbox.bin is not run before its approval: it would run here unconfined.
    return [
      { ...programs, status: 'fail', detail: `sandbox.bin (${config.osSandboxBin ?? ''}) is not approved on this machine`, fix: 'see the settings check: agentctl approve <its code>', data: { missing: [] } },
      { ...selfTest, status: 'fail', detail: 'not run: sandbox.bin is not approved', fix: 'see the line above', data: { passed: false } },
    ];
  }
  const located = locateOsSandbox(env, cwd, config.osSandboxBin);
  if ('missing' in located) {
    let fix = 'install the missing programs';
    try {
      requireOsSandbox(env, cwd, config.osSandboxBin, 'sandbox self-test');
    } catch (error) {
      if (error instanceof ConfigError && error.hint) fix = error.hint;
    }
    return [
      { ...programs, status: 'fail', detail: `cannot start: missing ${located.missing.join(', ')}`, fix, data: { missing: located.missing } },
      { ...selfTest, status: 'fail', detail: 'not run: the OS sandbox cannot start', fix: 'see the line above', data: { passed: false } },
    ];
  }
  const what = process.platform === 'darwin' ? 'srt over Seatbelt' : 'srt over bubblewrap (bwrap, socat, rg found)';
  const result = await sandboxSelfTest(located.sandbox, env);
  const user = { id: 'sandboxUser', group: 'sandbox' as const, title: 'sandbox user' };
  const root = process.getuid?.() === 0;
  return [
    { ...programs, status: 'ok', detail: what, data: { srt: [located.sandbox.file, ...located.sandbox.args].join(' '), missing: [] } },
    // The sandbox hides folders; what it shows is read with the user's own rights, so as root an agent
    // reads every root-only file of the system's folders that is not on SYSTEM_SECRETS' list.
    root
      ? { ...user, status: 'warn', detail: 'agentctl runs as root, so confined processes do too: they can read any root-only file in the system folders (/etc, /opt) that agentctl does not hide by name', fix: 'run agentctl as an ordinary user', data: { uid: 0 } }
      : { ...user, status: 'ok', detail: `confined processes run as uid ${process.getuid?.() ?? '?'}, not root`, data: { uid: process.getuid?.() ?? null } },
    result.passed
      ? { ...selfTest, status: 'ok', detail: result.detail, data: { passed: true, attempts: result.attempts } }
      : {
          ...selfTest,
          status: 'fail',
          detail: result.detail,
          fix:
            result.attempts.readCanary === 'not run'
              ? 'the sandbox cannot start processes here; if bwrap reports a namespace error, allow unprivileged user namespaces (e.g. sysctl kernel.unprivileged_userns_clone=1, or kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu 24.04) or run outside this container'
              : 'the OS sandbox does not confine processes here: do not run agents until it does; report this with the output of agentctl doctor --json',
          data: { passed: false, attempts: result.attempts, exitCode: result.exitCode, stderr: result.stderr },
        },
  ];
}

/** git is there and new enough. */
async function checkGit(env: NodeJS.ProcessEnv, cwd: string, run: ProcessRunner): Promise<DoctorCheck> {
  const base = { id: 'git', group: 'git' as const, title: 'git' };
  const fix = `install git ${MIN_GIT.replace(/\.0$/, '')} or newer (Debian/Ubuntu: sudo apt-get install git; macOS: brew install git)`;
  try {
    const out = (await run('git', ['--version'], { cwd, env: childEnv(env), acceptExitCodes: [0], timeoutMs: 10_000 })).stdout.trim();
    const version = extractVersion(out);
    if (!version) return { ...base, status: 'fail', detail: `unrecognised \`git --version\`: ${out}`, fix, data: { version: null } };
    if (compareVersions(version, MIN_GIT) < 0) return { ...base, status: 'fail', detail: `git ${version} is older than ${MIN_GIT}, which merging runs needs (merge-tree --write-tree)`, fix, data: { version } };
    return { ...base, status: 'ok', detail: `git ${version} (≥ ${MIN_GIT})`, data: { version } };
  } catch (error) {
    return { ...base, status: 'fail', detail: `git cannot be started: ${(error as Error).message}`, fix, data: { version: null } };
  }
}

/** The nearest folder at or above `path` that exists. */
function nearestExisting(path: string): string {
  let p = resolve(path);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

/** The event log: opens and verifies (as `audit verify` does); none yet is fine when its folder can be made. */
function checkEventLog(env: NodeJS.ProcessEnv, configured: string | undefined): DoctorCheck {
  const base = { id: 'eventLog', group: 'log' as const, title: 'event log' };
  const paths = homePaths(agentctlHome(env));
  const { home, database } = paths;
  let target;
  try {
    target = storeTarget(paths, env, configured);
  } catch (error) {
    return { ...base, status: 'fail', detail: (error as Error).message, fix: (error instanceof AgentctlError && error.hint) || 'set AGENTCTL_STORE to sqlite or a postgres:// URL', data: {} };
  }
  if (target.kind === 'postgres') return checkSharedLog(base, storeName(target), () => verifyStore(target, paths, env));
  if (!existsSync(database)) {
    const parent = nearestExisting(home);
    try {
      accessSync(parent, constants.W_OK);
    } catch {
      return { ...base, status: 'fail', detail: `no log yet, and ${parent} is not writable, so ${database} cannot be created`, fix: 'set AGENTCTL_HOME to a folder you can write', data: { database, exists: false } };
    }
    return { ...base, status: 'ok', detail: `no log yet at ${database} (the first run creates it)`, data: { database, exists: false } };
  }
  const fix = 'see the first bad event with: agentctl audit verify; restore the log from a backup, or move it aside to start a new one (the trust it held is lost)';
  try {
    // Read-only, as audit verify: never creates a key or writes a checkpoint.
    const key = readLogKey(homePaths(dirname(database)).keyFile);
    const store = openEventStore(database, { allowTampered: true });
    try {
      const report = verifyLog(store.db, expectedSchemaFingerprint(), key, readCheckpointFor(database, key));
      if (!report.ok) return { ...base, status: 'fail', detail: `${database} fails verification: ${report.problems.join('; ')}`, fix, data: { database, exists: true, ...report } };
      return { ...base, status: 'ok', detail: `${database}: ${report.events} events, hash chain intact, checkpoint ${report.checkpoint ? `at #${report.checkpoint.seq} matches` : 'not written yet'}`, data: { database, exists: true, ...report } };
    } finally {
      store.close();
    }
  } catch (error) {
    return { ...base, status: 'fail', detail: (error as Error).message, fix, data: { database, exists: true } };
  }
}

/** A team's PostgreSQL log: reachable, initialised, and verifying with this machine's team key (read-only, as audit verify). */
function checkSharedLog(base: { id: string; group: 'log'; title: string }, name: string, verify: () => ReturnType<typeof verifyStore>): DoctorCheck {
  const fix = 'see the first bad event with: agentctl audit verify';
  try {
    const report = verify();
    if (!report?.ok) return { ...base, status: 'fail', detail: `${name} fails verification: ${report?.problems.join('; ')}`, fix, data: { database: name, exists: true, ...report } };
    return { ...base, status: 'ok', detail: `${name} (shared): ${report.events} events, chain authenticated with the team key, head row matches`, data: { database: name, exists: true, ...report } };
  } catch (error) {
    return { ...base, status: 'fail', detail: (error as Error).message, fix: 'check AGENTCTL_STORE, the server, and that `agentctl store init` was run', data: { database: name, exists: false } };
  }
}

/**
 * Run every check.
 * @param cwd where doctor was started (its repository's config is used when there is one)
 * @param env the environment (PATH, API keys, AGENTCTL_HOME)
 * @param run the process runner for `--version` probes
 */
export async function runDoctor(cwd: string, env: NodeJS.ProcessEnv, run: ProcessRunner = runProcess): Promise<DoctorReport> {
  const { check: project, config, root, project: loaded } = await checkProject(cwd, env);
  const settings = checkSettings(loaded, env);
  const [agents, sandbox, git] = await Promise.all([
    Promise.all(TOOL_AGENTS.map((a) => checkToolAgent(a, config.agents[a], env, root, run))),
    checkSandbox(env, root ?? cwd, config, settings.sandboxBinApproved),
    checkGit(env, cwd, run),
  ]);
  const agentChecks = [...agents, checkCommandAgent(config.agents.command, env, root)];
  return doctorVerdict([project, settings.check, ...agentChecks, checkAnyAgent(agentChecks), ...sandbox, git, checkEventLog(env, config.store)]);
}
