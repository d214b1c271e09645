/**
 * The sandbox lifecycle: one module owns creating, capturing, restoring and removing run worktrees.
 *
 * - Worktree operations on one repository are serialized with a lock file (parallel `git worktree add`
 *   fails on `.git/config` locks).
 * - Worktrees are added with `--lock` so `git worktree prune` elsewhere never drops them.
 * - agentctl never `rm -rf`s a worktree and only deletes branches it created (`agentctl/…`); a run's
 *   work is committed (and, before removal, archived under `refs/agentctl/archive/<run>`) first.
 * - If the agent renamed the run branch, detached HEAD or checked out another branch, capture puts the
 *   run branch back on whatever the agent left, so nothing is lost.
 * - The worktree's `.git` file is the agent's to rewrite: {@link createSandbox} records the admin dir
 *   (`<commonDir>/worktrees/<name>`) from the common dir's own records, and later git calls on the
 *   worktree take it explicitly ({@link sandboxTarget}).
 */
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, type Dirent } from 'node:fs';
import { dirname, join } from 'node:path';
import { InternalError, StateError } from '../core/errors.js';
import { MAX_CAPTURE_FILE_BYTES, type Git, type GitTarget, type GitWhere } from './git.js';
import { adminDirOf, checkGitPointer, restoreGitPointer } from './gitPointer.js';
import { withFileLock } from '../core/lock.js';

/** A created sandbox. */
export interface Sandbox {
  path: string;
  branch: string;
  baseSha: string;
  /** The worktree's admin dir (`<commonDir>/worktrees/<name>`), recorded at creation. */
  gitDir: string;
}

/** Where git runs for a sandbox: its work tree and the admin dir agentctl recorded (never its `.git` file). */
export function sandboxTarget(sandbox: { path: string; gitDir: string }): GitTarget {
  return { workTree: sandbox.path, gitDir: sandbox.gitDir };
}

/** Branch name for a run: `agentctl/<task>/<run>`. */
export function runBranch(taskId: string, runId: string): string {
  return `agentctl/${taskId}/${runId}`;
}

/** Ref under which a discarded run's work is kept. */
export function archiveRef(runId: string): string {
  return `refs/agentctl/archive/${runId}`;
}

/**
 * Create a locked worktree on a new branch at `baseSha`.
 * @param repoRoot the user's checkout (git commands run there)
 * @returns the sandbox, with the admin dir git just made for it
 * @throws GitCommandError when git refuses; InternalError when the new worktree's records do not agree
 */
export async function createSandbox(git: Git, repoRoot: string, lockPath: string, path: string, branch: string, baseSha: string, reason: string): Promise<Sandbox> {
  if (existsSync(path)) throw new InternalError(`worktree path already exists: ${path}`);
  mkdirSync(dirname(path), { recursive: true });
  await withFileLock(lockPath, () => git.raw(repoRoot, ['worktree', 'add', '--quiet', '--lock', '--reason', reason, '-b', branch, path, baseSha]));
  return { path, branch, baseSha, gitDir: await recordedAdminDir(git, repoRoot, path) };
}

/** The admin dir of a worktree git just made, from the common dir's records, checked against its `.git` file. */
async function recordedAdminDir(git: Git, repoRoot: string, path: string): Promise<string> {
  const gitDir = adminDirOf(await git.commonDir(repoRoot), path);
  if (!gitDir || !checkGitPointer(path, gitDir).ok) throw new InternalError(`git made the worktree ${path} but its admin dir could not be confirmed`);
  return gitDir;
}

/** Age in milliseconds after which a sandbox's leftover index.lock is removed by {@link captureWork}. */
const STALE_INDEX_LOCK_MS = 5000;

/** What {@link captureWork} found and did. */
export interface Capture {
  headSha: string;
  /** Set when the agent moved HEAD off the run branch (renamed it, detached, switched); the branch was put back. */
  repaired: { from: string | null } | undefined;
}

/**
 * Most nested repositories (and, apart, oversized files) a capture leaves out by pathspec, and most bytes
 * of their paths: past either, their `.git` entries (the untracked files) are removed instead
 * ({@link prepareForGit}). The bytes keep git's command line far below the kernel's 2 MiB (E2BIG).
 */
export const MAX_LEFT_OUT = { count: 1000, bytes: 256 * 1024 } as const;

/** Longest path the system can name, in bytes (Linux's PATH_MAX, 4,096, holds the terminating NUL). */
const PATH_LIMIT = 4095;

/** What {@link prepareForGit} found and did (worktree-relative paths). */
export interface PreparedWorktree {
  /**
   * Folders below the root holding a `.git` entry of their own (a nested repository, a submodule the
   * agent populated, a `.git` file leading elsewhere; on macOS and Windows `.GIT` too), each listed once. Those whose path is not UTF-8 (no command line can name them),
   * and all of them past {@link MAX_LEFT_OUT}, lose their `.git` entry instead and are not listed.
   */
  nestedRepos: string[];
  /**
   * Files a capture leaves out for their size, above {@link MAX_CAPTURE_FILE_BYTES} (a 24 GiB sparse
   * file costs no disk, and git hashed it for minutes, while holding the repository lock at every
   * discard). Nothing inside a nested repository is listed (it is left out whole). Untracked ones whose
   * path is not UTF-8, or past {@link MAX_LEFT_OUT}, are removed instead.
   */
  oversized: string[];
}

/**
 * Whether an entry's name is one git opens as `.git`: exactly that, and on macOS and Windows, whose file
 * systems ignore case by default, `.GIT` or `.Git` too. (On Linux `docs/.Git` is a plain folder, which
 * git refuses to store; taking it for a repository would leave all of `docs/` out.)
 */
function isDotGit(name: Buffer): boolean {
  const text = name.toString('latin1');
  return process.platform === 'darwin' || process.platform === 'win32' ? text.toLowerCase() === '.git' : text === '.git';
}

/** A worktree-relative path as git names it, or undefined when its bytes are not UTF-8 (a command line cannot carry it). */
function utf8Name(path: Buffer): string | undefined {
  return isUtf8(path) ? path.toString('utf8') : undefined;
}

/**
 * Make a worktree safe for agentctl's own git to read, before every git call on its files:
 * - Remove the FIFOs, sockets and device files anywhere in it (nested `.git` folders included; only the
 *   worktree's own `.git` pointer is skipped): git opens a FIFO and waits for a writer that never comes,
 *   whether it is a file to hash, a `.gitignore`, or the `HEAD` of what looks like a nested repository
 *   (an agent's `mkfifo` made the capture, and then every discard, hang for the git timeout of 120 s
 *   while holding the repository lock, so other runs failed). They hold no data; git cannot store them.
 * - Remove folders holding an entry deeper than any path can name (an agent's 30 nested 200-character
 *   folders): git skips those, but neither it nor this walk could remove the worktree afterwards, so the
 *   run could never be discarded. Each is moved up to the worktree's root first, as often as needed,
 *   then removed.
 * - List the nested repositories, which a capture must keep git out of (Git.commitAll `nestedRepos`):
 *   git would run `git status` inside them with their own config (an agent's clean filter ran on the
 *   host).
 * - List the files too large to capture ({@link PreparedWorktree.oversized}).
 *
 * Names are read as bytes (a name that is not UTF-8 came back altered as text, and the walk lost what
 * was below it: an agent's `sub\xff/.git` was never seen), by reading directories (entry types, no link
 * followed; regular files are `lstat`ed for their size), so no git command meets them first. A folder
 * the walk cannot read (an agent's `chmod 111`), or whose entry it must move, is made its owner's first.
 * @throws InternalError when a folder stays unreadable: git could meet a FIFO there
 */
export async function prepareForGit(git: Git, worktree: GitWhere): Promise<PreparedWorktree> {
  const dir = typeof worktree === 'string' ? ((await git.topLevel(worktree)) ?? worktree) : worktree.workTree;
  const root = Buffer.from(dir);
  const rel = (full: Buffer): Buffer => full.subarray(root.length + 1);
  const nested: Buffer[] = [];
  const oversized: Buffer[] = [];
  const tooDeep: Buffer[] = [];
  const readFolder = (folder: Buffer): Dirent<Buffer>[] => {
    try {
      return readdirSync(folder, { withFileTypes: true, encoding: 'buffer' });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return [];
      try {
        chmodSync(folder, 0o700);
        return readdirSync(folder, { withFileTypes: true, encoding: 'buffer' });
      } catch {
        throw new InternalError(`cannot read the folder ${folder.toString('utf8')} of the worktree (${code ?? 'error'}); nothing was captured`);
      }
    }
  };
  const walk = (folder: Buffer, inRepo: boolean): void => {
    const entries = readFolder(folder);
    const atRoot = folder.equals(root);
    if (!atRoot && entries.some((e) => folder.length + 1 + e.name.length > PATH_LIMIT)) {
      // An entry no path can name: git skips it, and nothing could remove the worktree afterwards. The
      // folder moves up to the root, where its names are short, and is read again there (what is deeper
      // still moves up in turn); it is removed at the end.
      const up = Buffer.from(join(dir, `.agentctl-too-deep-${randomBytes(6).toString('hex')}`));
      chmodSync(folder.subarray(0, folder.lastIndexOf('/')), 0o700);
      renameSync(folder, up);
      tooDeep.push(up);
      walk(up, true);
      return;
    }
    // A folder with a `.git` of its own is a repository: left out whole, so nothing in it is sized.
    const isRepo = !atRoot && entries.some((e) => isDotGit(e.name));
    if (isRepo) nested.push(rel(folder));
    for (const e of entries) {
      const full = Buffer.concat([folder, Buffer.from('/'), e.name]);
      if (atRoot && e.name.toString('latin1') === '.git') continue;
      if (e.isDirectory()) walk(full, inRepo || isRepo);
      else if (e.isFile()) {
        if (!inRepo && !isRepo && lstatSync(full).size > MAX_CAPTURE_FILE_BYTES) oversized.push(rel(full));
      } else if (e.isFIFO() || e.isSocket() || e.isCharacterDevice() || e.isBlockDevice()) {
        try {
          unlinkSync(full);
        } catch {
          /* gone meanwhile */
        }
      }
    }
  };
  walk(root, false);
  // Each moved folder now holds nothing deeper than a path can name (its deep part was moved out in turn).
  for (const up of tooDeep) removeTree(up);
  const moved = (p: Buffer) => tooDeep.some((up) => p.equals(rel(up)) || (p.length > rel(up).length && p.subarray(0, rel(up).length + 1).equals(Buffer.concat([rel(up), Buffer.from('/')]))));
  const repos = nested.filter((p) => !moved(p));
  const repoNames = repos.map(utf8Name);
  // Each pathspec is its path and `:(exclude,literal)`.
  const tooMany = (paths: Buffer[]) => paths.length > MAX_LEFT_OUT.count || paths.reduce((n, p) => n + p.length + 20, 0) > MAX_LEFT_OUT.bytes;
  // A repository no pathspec can name (or one of too many) loses its `.git`: then it is plain folders.
  const keepRepos = !tooMany(repos);
  repos.forEach((p, i) => {
    if (keepRepos && repoNames[i] !== undefined) return;
    for (const e of readFolder(Buffer.concat([root, Buffer.from('/'), p]))) {
      if (!isDotGit(e.name)) continue;
      const entry = Buffer.concat([root, Buffer.from('/'), p, Buffer.from('/'), e.name]);
      rmSync(entry, { recursive: true, force: true });
    }
  });
  const big = oversized.filter((p) => !moved(p));
  const bigNames = big.map(utf8Name);
  let leftOut = bigNames;
  if (tooMany(big) || bigNames.includes(undefined)) {
    // Untracked ones go (the agent's, in a disposable worktree); a tracked one stays, left out by name
    // (one whose name is not UTF-8 cannot be looked up, nor left out: it goes too).
    const tracked = new Set((await git.raw(worktree, ['ls-files', '-z', '--cached'], { readOnly: true, drivers: false })).stdout.split('\0'));
    leftOut = [];
    big.forEach((p, i) => {
      const name = bigNames[i];
      if (name !== undefined && tracked.has(name)) leftOut.push(name);
      else {
        rmSync(Buffer.concat([root, Buffer.from('/'), p]), { force: true });
      }
    });
  }
  return { nestedRepos: keepRepos ? repoNames.filter((n): n is string => n !== undefined) : [], oversized: leftOut.filter((n): n is string => n !== undefined) };
}

/** Remove a folder tree whose folders may have been made read-only or unreadable (by an agent): each is made its owner's first. */
function removeTree(path: Buffer): void {
  const open = (folder: Buffer): void => {
    try {
      chmodSync(folder, 0o700);
      for (const e of readdirSync(folder, { withFileTypes: true, encoding: 'buffer' })) if (e.isDirectory()) open(Buffer.concat([folder, Buffer.from('/'), e.name]));
    } catch {
      /* rmSync reports what stays */
    }
  };
  open(path);
  rmSync(path, { recursive: true, force: true });
}

/**
 * Commit everything left in a worktree and make sure the run branch points at it.
 * @param worktree the sandbox's {@link sandboxTarget} (a plain path is located like git does, and refused
 *   when its `.git` leads into another checkout)
 * @param author name/email for the commit
 * @param exclude repository-relative paths never committed (the agent protocol's files)
 * @param base the run's base commit: excluded paths end up as the base has them (absent, or the base's
 *   version), even when the agent committed them itself
 * @returns the head commit and whether the branch had to be repaired
 */
export async function captureWork(git: Git, worktree: GitWhere, branch: string, message: string, author: { name: string; email: string }, exclude: readonly string[] = [], base?: string): Promise<Capture> {
  // An agent (or agentctl) killed mid-commit leaves index.lock behind in the sandbox; nothing else
  // uses this worktree's index, so a lock older than a few seconds is stale.
  const indexLock = join(await git.gitDir(worktree), 'index.lock');
  if (existsSync(indexLock) && Date.now() - statSync(indexLock).mtimeMs > STALE_INDEX_LOCK_MS) rmSync(indexLock);
  const { nestedRepos, oversized } = await prepareForGit(git, worktree);
  await git.commitAll(worktree, message, author, exclude, base, { nestedRepos, oversized });
  const headSha = await git.resolve(worktree, 'HEAD');
  if (!headSha) throw new InternalError(`worktree ${worktree} has no HEAD`);
  const current = await git.currentBranch(worktree);
  if (current === branch) return { headSha, repaired: undefined };
  await git.raw(worktree, ['branch', '-f', branch, headSha]);
  await git.raw(worktree, ['checkout', '-q', branch]);
  return { headSha, repaired: { from: current } };
}


/**
 * Put a worktree back to `headSha`: tracked files reset, FIFOs and the like removed
 * ({@link prepareForGit}), every untracked file and folder removed except the paths in `keep`.
 * Ignored files stay (`git add` never takes them; a later capture would inspect any it did). For after
 * something ran code in the worktree that is not the agent's captured work (a gate, a reviewer): what it
 * wrote, under `.agentctl/` as anywhere else, must not reach a discard's archive or a restored run.
 * @param keep worktree-relative paths of files to leave (the protocol files)
 */
export async function resetToCommit(git: Git, worktree: GitWhere, headSha: string, keep: readonly string[]): Promise<void> {
  await putFilesAt(git, worktree, ['reset', '--hard', '--quiet', headSha], keep);
}

/**
 * Special files removed, `move` run (a reset or checkout), untracked files but `keep` removed. Neither
 * steps into a nested repository (`submodule.recurse=false`; `clean` without a second `-f` leaves them).
 */
async function putFilesAt(git: Git, worktree: GitWhere, move: readonly string[], keep: readonly string[]): Promise<void> {
  await prepareForGit(git, worktree);
  await git.raw(worktree, move);
  await git.raw(worktree, ['clean', '-fdq', ...keep.flatMap((p) => ['-e', `/${p}`])]);
}

/**
 * Put a worktree's files at `sha` without moving its branch (HEAD detached there): tracked files checked
 * out, FIFOs and the like removed, every untracked file and folder removed except the paths in `keep`;
 * ignored files stay, as in {@link resetToCommit}. For teardown, which runs the commands recorded at the
 * start of the run on the files they were written for (the base), not on files the agent rewrote.
 * @param keep worktree-relative paths of files to leave (the protocol files)
 */
export async function checkoutDetached(git: Git, worktree: GitWhere, sha: string, keep: readonly string[]): Promise<void> {
  await putFilesAt(git, worktree, ['checkout', '--quiet', '--force', '--detach', sha], keep);
}

/**
 * Remove a run's worktree and its branch. The caller archives unmerged work first ({@link archiveRef}).
 * @param branch deleted only when it starts with `agentctl/`
 * @param gitDir the recorded admin dir: a rewritten `.git` pointer is put back first (git refuses to
 *   remove a worktree whose pointer does not lead back); the caller records the change
 */
export async function removeSandbox(git: Git, repoRoot: string, lockPath: string, path: string, branch: string | undefined, gitDir?: string): Promise<void> {
  if (gitDir && existsSync(path) && !checkGitPointer(path, gitDir).ok) restoreGitPointer(path, gitDir);
  await withFileLock(lockPath, async () => {
    await git.raw(repoRoot, ['worktree', 'unlock', path], { accept: [0, 128] });
    if (existsSync(path)) await git.raw(repoRoot, ['worktree', 'remove', '--force', path]);
    await git.raw(repoRoot, ['worktree', 'prune']);
    if (branch?.startsWith('agentctl/')) {
      await git.raw(repoRoot, ['branch', '-D', '--', branch], { accept: [0, 1] });
    }
  });
}

/**
 * Recreate a run's worktree from its branch or archive ref.
 * @returns the sandbox (branch recreated from the archive when it was deleted)
 * @throws StateError when neither the branch nor the archive ref exists, or the path is taken
 */
export async function restoreSandbox(git: Git, repoRoot: string, lockPath: string, path: string, branch: string, runId: string, reason: string): Promise<Sandbox & { headSha: string }> {
  if (existsSync(path)) throw new StateError(`cannot restore: ${path} already exists`);
  const fromBranch = await git.resolve(repoRoot, `refs/heads/${branch}`);
  const fromArchive = await git.resolve(repoRoot, archiveRef(runId));
  const headSha = fromBranch ?? fromArchive;
  if (!headSha) throw new StateError(`run ${runId} has neither a branch (${branch}) nor an archive (${archiveRef(runId)}) to restore from`);
  mkdirSync(dirname(path), { recursive: true });
  await withFileLock(lockPath, () =>
    git.raw(repoRoot, fromBranch ? ['worktree', 'add', '--quiet', '--lock', '--reason', reason, path, branch] : ['worktree', 'add', '--quiet', '--lock', '--reason', reason, '-b', branch, path, headSha]),
  );
  return { path, branch, baseSha: headSha, headSha, gitDir: await recordedAdminDir(git, repoRoot, path) };
}

/**
 * Remove the empty stand-in files a tool's sandbox left for protected paths that were missing when the
 * run started (see RenderedConfig.placeholders), so they are never committed.
 * @param paths absolute paths inside the worktree
 * @returns the paths removed; a path that is missing, not a regular file, or not empty is left alone
 *   (what the agent wrote there is the scope check's business)
 */
export function removePlaceholders(paths: readonly string[]): string[] {
  const removed: string[] = [];
  for (const path of paths) {
    let stat;
    try {
      stat = lstatSync(path);
    } catch {
      continue;
    }
    if (!stat.isFile() || stat.size !== 0) continue;
    unlinkSync(path);
    removed.push(path);
  }
  return removed;
}
