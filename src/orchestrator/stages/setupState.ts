/**
 * What the worktree holds outside git before the agent starts (`worktree.copy`'s copies, what setup
 * installed: `node_modules`, `.venv`), and putting it back before anything trusts the worktree again.
 *
 * Capture commits only what git tracks and would add; ignored files are never committed, shown in the
 * diff or merged. Yet the gate runs in the worktree, and an attack session had the agent plant an ignored
 * `node_modules/check/index.js` that made the gate's assertion a no-op: the gate passed and a broken
 * change was merged by itself. Teardown ran the agent's files too (a `clean.sh` it rewrote), with the
 * setup's network. So the untracked files are fingerprinted after setup ({@link recordSetupState}: path →
 * inode, size, modification and change times, mode, from lstat; the change time is set by the kernel on
 * every write, rename or chmod, and no process can set it back), saved in the run's folder (which the OS
 * sandbox hides), and before the gate and teardown ({@link restoreSetupState}) every untracked file that
 * is not in it as it was is removed. The protocol files and the `worktree.shared` links are left to their
 * own rules (the links are made again).
 */
import { lstatSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Git, GitWhere } from '../../exec/git.js';
import { PROTOCOL_PATHS } from '../protocol.js';

/** Untracked paths (worktree-relative, as git lists them) → their fingerprint. */
export type UntrackedState = Record<string, string>;

/** The file in a run's folder that holds the state recorded after setup. */
export function setupStateFile(runDir: string): string {
  return join(runDir, 'setup-state.json');
}

/** A path's fingerprint from lstat (never follows a link): inode, size, mtime and ctime in ns, mode; '' when it is gone. */
function fingerprint(path: string): string {
  try {
    const s = lstatSync(path, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.mode}`;
  } catch {
    return '';
  }
}

/**
 * The untracked files of a worktree (ignored ones included; a nested repository as its folder) and their
 * fingerprints, leaving out the protocol files and what is at or below a shared path.
 * @param worktree the worktree's folder; @param where how git reaches it (its folder and admin dir)
 * @param shared worktree-relative paths of the `worktree.shared` links
 * @throws GitError when git cannot list them
 */
export async function untrackedState(git: Git, worktree: string, where: GitWhere, shared: readonly string[]): Promise<UntrackedState> {
  const listed = (await git.raw(where, ['ls-files', '-z', '--others'], { readOnly: true })).stdout.split('\0').filter(Boolean);
  const skip = (p: string) => PROTOCOL_PATHS.includes(p) || shared.some((s) => p === s || p.startsWith(`${s}/`));
  const state: UntrackedState = {};
  for (const p of listed) if (!skip(p)) state[p] = fingerprint(join(worktree, p));
  return state;
}

/**
 * Record the worktree's untracked files as setup left them, before the agent starts.
 * @param runDir the run's folder (written: {@link setupStateFile})
 * @throws GitError when git cannot list them; a file system error when the state cannot be written
 */
export async function recordSetupState(git: Git, worktree: string, where: GitWhere, shared: readonly string[], runDir: string): Promise<void> {
  writeFileSync(setupStateFile(runDir), JSON.stringify(await untrackedState(git, worktree, where, shared)), { mode: 0o600 });
}

/**
 * Remove every untracked file that is not in the recorded state as it was (added, replaced or changed
 * since setup, by the agent, a gate or a reviewer). Without a recorded state (a run started by an older
 * agentctl), every untracked file is removed. Run it when no process of the run is alive.
 * @returns the worktree-relative paths removed
 * @throws GitError when git cannot list them (a state file that is missing or does not parse counts as none)
 */
export async function restoreSetupState(git: Git, worktree: string, where: GitWhere, shared: readonly string[], runDir: string): Promise<string[]> {
  let recorded: UntrackedState = {};
  try {
    const parsed = JSON.parse(readFileSync(setupStateFile(runDir), 'utf8')) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) recorded = parsed as UntrackedState;
  } catch {
    // None recorded: nothing untracked is trusted.
  }
  const now = await untrackedState(git, worktree, where, shared);
  const removed: string[] = [];
  for (const [p, print] of Object.entries(now)) {
    if (Object.hasOwn(recorded, p) && recorded[p] === print && print !== '') continue;
    // git lists no path through a link (it does not descend into one), and nothing of the run is alive.
    rmSync(join(worktree, p), { recursive: true, force: true });
    removed.push(p);
  }
  return removed;
}
