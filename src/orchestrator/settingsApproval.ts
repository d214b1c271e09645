/**
 * This machine's approvals of repositories' settings that reach outside the OS sandbox (which ones and
 * why: definition/hostSettings.ts). Kept in `$AGENTCTL_HOME/approvals/settings.json`, a folder the OS
 * sandbox hides from agents, per project (its key: one clone), as the fingerprint of the settings the
 * user approved with `agentctl approve` (a human command, refused inside a run). What starts processes
 * with those settings asks first: a run, an attempt, a reviewer and teardown through
 * {@link requireApprovedSettings}; a notification and doctor's sandbox self-test through
 * {@link unapprovedSettings} / {@link unapprovedOf}, recording or reporting what they did not run.
 *
 * Project names: `$AGENTCTL_HOME/approvals/projects.json` records, per name, the first clone on this
 * machine that used it ({@link claimProjectName}, at every command's start); in another clone the name is
 * a setting to approve (hostSettings.ts projectNameSetting), and git evidence is not scanned there.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, InputError, StateError } from '../core/errors.js';
import { withFileLock } from '../core/lock.js';
import type { HomePaths } from '../core/paths.js';
import { APPROVAL_CODE_LENGTH, approvalCode, hostSettings, hostSettingsFingerprint, projectNameSetting, type HostSetting, type NameOwner } from '../definition/hostSettings.js';
import { loadProfiles, loadTasks, type Project } from '../definition/load.js';
import type { Context } from './context.js';

/** One project's approval as stored. */
interface Approval {
  fingerprint: string;
  settings: HostSetting[];
  by: string;
  at: string;
}

/** The approvals file. */
export function settingsApprovalsFile(paths: HomePaths): string {
  return join(paths.home, 'approvals', 'settings.json');
}

/**
 * The object under `key` in one of the approvals folder's JSON files (`{"projects": {…}}`).
 * @param check throws an Error describing what is wrong with an entry
 * @returns it; empty when the file is missing
 * @throws ConfigError when the file is unreadable, or malformed (naming it, with `hint`)
 */
function readRecords<T>(file: string, key: string, hint: string, check: (name: string, value: unknown) => void = () => {}): Record<string, T> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const records = (JSON.parse(text) as Record<string, unknown>)[key];
    if (typeof records !== 'object' || records === null || Array.isArray(records)) throw new Error(`"${key}" is not an object`);
    for (const [name, value] of Object.entries(records)) check(name, value);
    return records as Record<string, T>;
  } catch (error) {
    throw new ConfigError(`${file} is malformed: ${(error as Error).message}`, { hint });
  }
}

/** Every project's approval; none when the file is missing. @throws ConfigError when it is unreadable or malformed */
function readApprovals(paths: HomePaths): Record<string, Approval> {
  return readRecords(settingsApprovalsFile(paths), 'projects', 'Remove it and approve each repository again with: agentctl approve');
}

/**
 * A project's settings that reach outside the sandbox: its name when another clone on this machine used
 * it first ({@link nameOwnerOf}), then {@link hostSettings} (its profiles and tasks loaded, invalid ones left out).
 * @throws ConfigError when the project names file is unreadable or malformed
 */
export function hostSettingsOf(project: Project, paths: HomePaths): HostSetting[] {
  const name = projectNameSetting(project.config.project, project.key, nameOwnerOf(paths, project.config.project));
  return [...(name ? [name] : []), ...hostSettings(project.config, loadProfiles(project).profiles.values(), loadTasks(project).items)];
}

/** The file recording each project name's first clone on this machine. */
export function projectNamesFile(paths: HomePaths): string {
  return join(paths.home, 'approvals', 'projects.json');
}

/** A project name's first clone as recorded. */
interface NameRecord extends NameOwner {
  at: string;
}

/** Every recorded name; none when the file is missing. @throws ConfigError when it is unreadable or malformed */
function readProjectNames(paths: HomePaths): Record<string, NameRecord> {
  return readRecords(projectNamesFile(paths), 'names', 'Remove it: each project name then belongs to the next clone that uses it', (name, r) => {
    const ok = typeof r === 'object' && r !== null && typeof (r as NameRecord).key === 'string' && typeof (r as NameRecord).root === 'string';
    if (!ok) throw new Error(`the entry of ${JSON.stringify(name)} has no key and root`);
  });
}

/**
 * The clone on this machine that first used a project name, or undefined when none is recorded.
 * @throws ConfigError when the file is unreadable or malformed
 */
export function nameOwnerOf(paths: HomePaths, name: string): NameOwner | undefined {
  const names = readProjectNames(paths);
  const r = Object.hasOwn(names, name) ? names[name] : undefined;
  return r && { key: r.key, root: r.root };
}

/**
 * Record this clone as the first user of its project name on this machine, unless a clone is recorded
 * already (under a lock; the file replaced atomically, 0600 in a 0700 folder). Reads without the lock first:
 * only a name's first command writes.
 * @throws ConfigError when the file is unreadable, malformed or cannot be written; proper-lockfile's ELOCKED error
 */
export async function claimProjectName(paths: HomePaths, project: Project): Promise<void> {
  const name = project.config.project;
  if (nameOwnerOf(paths, name)) return;
  const file = projectNamesFile(paths);
  const dir = join(paths.home, 'approvals');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new ConfigError(`cannot write ${file}: ${(error as Error).message}`, { cause: error });
  }
  await withFileLock(join(dir, 'projects.lock'), async () => {
    const names = readProjectNames(paths);
    if (Object.hasOwn(names, name)) return;
    names[name] = { key: project.key, root: project.root, at: new Date().toISOString() };
    writeAtomically(file, `${JSON.stringify({ names }, null, 2)}\n`);
  });
}

/**
 * Whether this clone uses a project name another clone on this machine used first, and the person has
 * not approved that (git evidence found here is then not recorded for the name's runs: a fork could hold
 * reverts of them).
 * @throws ConfigError when a file of approvals is unreadable or malformed
 */
export function borrowsProjectName(ctx: Context): boolean {
  const owner = nameOwnerOf(ctx.paths, ctx.project.config.project);
  if (!owner || owner.key === ctx.project.key) return false;
  return unapprovedSettings(ctx).some((s) => s.setting === 'project');
}

/** Replace `file` with `text` atomically (temp file + rename), 0600. @throws ConfigError when it cannot be written */
function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, file);
  } catch (error) {
    throw new ConfigError(`cannot write ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * The repository's settings that reach outside the sandbox and this machine has not approved as they
 * are: empty when it has none, or when the user approved exactly these.
 * @throws ConfigError when the approvals file is unreadable or malformed
 */
export function unapprovedSettings(ctx: Context): HostSetting[] {
  return unapprovedOf(ctx.paths, ctx.project.key, hostSettingsOf(ctx.project, ctx.paths));
}

/**
 * {@link unapprovedSettings} for given settings of a project (doctor has no Context).
 * @param projectKey the project's key (Project.key)
 * @throws ConfigError when the approvals file is unreadable or malformed
 */
export function unapprovedOf(paths: HomePaths, projectKey: string, settings: HostSetting[]): HostSetting[] {
  if (!settings.length) return [];
  return readApprovals(paths)[projectKey]?.fingerprint === hostSettingsFingerprint(settings) ? [] : settings;
}

/**
 * Refuse to go on with settings this machine has not approved.
 * @param what what would use them, for the message (`run of task "t"`)
 * @throws ConfigError (exit 3) listing them, with the command that approves them; nothing was started
 */
export function requireApprovedSettings(ctx: Context, what: string): void {
  const unapproved = unapprovedSettings(ctx);
  if (!unapproved.length) return;
  let hint: string;
  try {
    hint = approveHint(ctx.paths, ctx.project.key, unapproved);
  } catch (error) {
    // No code without this machine's key: the refusal still names the settings, and why there is no code.
    hint = `${(error as Error).message}; then run: agentctl approve (on a terminal)`;
  }
  throw new ConfigError(`refusing the ${what}: ${unapprovedText(unapproved)}`, { hint });
}

/**
 * This machine's secret for approval codes (hostSettings.ts approvalCode): 32 random bytes (hex) in
 * `$AGENTCTL_HOME/approvals/code.key` (0600, in a folder the sandbox hides), made on first use.
 * @throws ConfigError when it cannot be read or made
 */
export function approvalKey(paths: HomePaths): string {
  const dir = join(paths.home, 'approvals');
  const file = join(dir, 'code.key');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const key = readFileSync(file, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(key)) throw new Error('not 64 hex digits');
    return key;
  } catch (error) {
    throw new ConfigError(`cannot use ${file}: ${(error as Error).message}`, { cause: error, hint: 'Remove it; the next command makes a new one (codes printed before then stop working).' });
  }
}

/** The code that approves these settings of this clone on this machine (hostSettings.ts approvalCode). @throws ConfigError from {@link approvalKey} */
export function approvalCodeOf(paths: HomePaths, projectKey: string, settings: readonly HostSetting[]): string {
  return approvalCode(settings, approvalKey(paths), projectKey);
}

/**
 * What to do about unapproved settings: the command approving exactly these (its code is theirs, so a
 * pull between reading them and approving is refused, not approved unseen).
 * @throws ConfigError from {@link approvalKey}
 */
export function approveHint(paths: HomePaths, projectKey: string, unapproved: readonly HostSetting[]): string {
  return `Read them in .agentrc.yaml, the profiles and the task files; if you trust them: agentctl approve ${approvalCodeOf(paths, projectKey, unapproved)}`;
}

/** Unapproved settings as a message: one line each, values JSON-quoted (they come from the repository). */
export function unapprovedText(unapproved: readonly HostSetting[]): string {
  // The setting names a repository file (a profile's path): quoted too, so no character in it forges a line.
  const lines = unapproved.map((s) => `  ${JSON.stringify(s.setting)}: ${s.value} (${s.reach})`);
  return `this repository's settings reach outside the OS sandbox, and this machine has not approved them as they are:\n${lines.join('\n')}`;
}

/**
 * Check an approval code a person typed.
 * @returns it, lower case
 * @throws InputError (exit 2) unless it is {@link APPROVAL_CODE_LENGTH} hex digits
 */
export function parseApprovalCode(code: string): string {
  const c = code.trim().toLowerCase();
  if (!new RegExp(`^[0-9a-f]{${APPROVAL_CODE_LENGTH}}$`).test(c)) {
    throw new InputError(`the approval code must be ${APPROVAL_CODE_LENGTH} hex digits (the one a refusal or \`agentctl approve\` prints), not ${JSON.stringify(code)}`, { field: 'code' });
  }
  return c;
}

/**
 * Approve the repository's settings as they are now, if they are the ones the person read (replacing
 * the project's earlier approval). Under a lock; the file is replaced atomically, 0600 in a 0700 folder.
 * @param by who approved (git user.email)
 * @param code the approval code of the settings the person read ({@link parseApprovalCode}'s output;
 *   {@link approvalCodeOf} made it on this machine for this clone)
 * @returns the settings approved (empty: nothing needed approval, nothing was written)
 * @throws StateError (exit 5) when the settings now are not the ones the code names (changed since they
 *   were read: nothing is approved); ConfigError when the file cannot be written or is malformed;
 *   proper-lockfile's ELOCKED error
 */
export async function approveSettings(ctx: Context, by: string, code: string): Promise<HostSetting[]> {
  const settings = hostSettingsOf(ctx.project, ctx.paths);
  if (!settings.length) return [];
  if (approvalCodeOf(ctx.paths, ctx.project.key, settings) !== code) {
    throw new StateError(`nothing approved: the repository's settings are not the ones approval code ${code} names (they changed since you read them, or the code was made on another machine or for another clone). They are now:\n${unapprovedText(settings).split('\n').slice(1).join('\n')}`, { hint: approveHint(ctx.paths, ctx.project.key, settings) });
  }
  const file = settingsApprovalsFile(ctx.paths);
  const dir = join(ctx.paths.home, 'approvals');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new ConfigError(`cannot write ${file}: ${(error as Error).message}`, { cause: error });
  }
  await withFileLock(join(dir, 'settings.lock'), async () => {
    const projects = readApprovals(ctx.paths);
    projects[ctx.project.key] = { fingerprint: hostSettingsFingerprint(settings), settings, by, at: new Date().toISOString() };
    writeAtomically(file, `${JSON.stringify({ projects }, null, 2)}\n`);
  });
  return settings;
}
