/**
 * Snapshot, compare and restore the parts of a repository's common `.git` that decide what git runs or
 * where it looks later: an unconfined agent writing `core.hooksPath`, `core.fsmonitor`, a filter or
 * textconv driver, a `hooks/post-merge`, `info/attributes`, or another worktree's `gitdir` changes what
 * runs in the user's checkout long after the run. The run's own admin dir is covered too, except the
 * files git itself rewrites during ordinary work (index, HEAD, logs, rebase/merge state). Submodule git
 * dirs under `modules/` are covered for their config, hooks and info.
 *
 * Snapshots are plain JSON-serializable data (file bytes base64). Nothing is followed through a link:
 * a link is recorded as a link, a FIFO or device as `other`, and restore removes what is there before
 * recreating (so a file hard-linked from elsewhere is replaced, not written through).
 */
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { InternalError, OutputTooLargeError } from '../core/errors.js';

/** One recorded path. Modes are permission bits (e.g. 0o755). */
export type ControlEntry =
  | { type: 'dir'; mode: number }
  | { type: 'file'; mode: number; nlink: number; sha256: string; content: string }
  | { type: 'symlink'; target: string }
  | { type: 'other' };

/** A snapshot: paths relative to `commonDir` (`/`-separated) → entry. */
export interface GitControlSnapshot {
  version: 1;
  commonDir: string;
  /** The run's own admin dir (`<commonDir>/worktrees/<name>`), or undefined. */
  ownAdminDir: string | undefined;
  entries: Record<string, ControlEntry>;
}

/** One difference between two snapshots. */
export interface GitControlChange {
  /** Path relative to the common dir; a directory added or removed as a whole is one change. */
  path: string;
  change: 'added' | 'removed' | 'modified';
  /** What differs, in words (`content`, `mode 644 → 755`, `file → symlink`, `links 1 → 2`, …). */
  detail: string;
  /** For paths under `worktrees/<name>/`: that name, so changes in another live run's admin dir can be told apart. */
  worktree: string | undefined;
}

/** Largest total of file bytes one snapshot holds; more is refused (never a partial snapshot). */
export const MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024;

/** Top-level files of the common dir that are recorded. */
const TOP_FILES = ['config', 'config.worktree', 'commondir', 'objects/info/alternates', 'objects/info/http-alternates'];
/**
 * Directories recorded in full. `refs/replace`: replacement objects the user's own git would read
 * later (agentctl's git ignores them); replace refs already packed into `packed-refs` are not covered.
 */
const TOP_DIRS = ['hooks', 'info', 'refs/replace'];
/** In another worktree's admin dir: the files that redirect it or change what it runs. */
const OTHER_WORKTREE_FILES = ['gitdir', 'commondir', 'config.worktree', 'HEAD', 'locked'];
/** In the run's own admin dir: what git rewrites during ordinary work (not recorded). */
const OWN_CHURN = /^(index|HEAD|ORIG_HEAD|FETCH_HEAD|MERGE_HEAD|MERGE_MSG|MERGE_MODE|MERGE_RR|AUTO_MERGE|CHERRY_PICK_HEAD|REVERT_HEAD|REBASE_HEAD|BISECT_[A-Z_]+|COMMIT_EDITMSG|SQUASH_MSG|TAG_EDITMSG|[^/]*\.lock)$|^(logs|refs|rebase-merge|rebase-apply|sequencer)(\/|$)/;
/** Inside `modules/` (submodule git dirs): directories never entered. */
const MODULE_SKIP = new Set(['objects', 'refs', 'logs', 'worktrees']);

/**
 * Record the control files of a repository.
 * @param commonDir absolute common git dir (`git rev-parse --git-common-dir`)
 * @param ownAdminDir the run's admin dir, recorded except {@link OWN_CHURN}; undefined when there is none
 * @throws OutputTooLargeError when the files hold more than {@link MAX_SNAPSHOT_BYTES}
 */
export function snapshotGitControl(commonDir: string, ownAdminDir?: string): GitControlSnapshot {
  const entries: Record<string, ControlEntry> = {};
  let budget = MAX_SNAPSHOT_BYTES;
  const rel = (abs: string): string => relative(commonDir, abs).split(sep).join('/');
  const record = (abs: string): ControlEntry | undefined => {
    let st;
    try {
      st = lstatSync(abs);
    } catch {
      return undefined;
    }
    let entry: ControlEntry;
    if (st.isSymbolicLink()) entry = { type: 'symlink', target: readlinkSync(abs) };
    else if (st.isDirectory()) entry = { type: 'dir', mode: st.mode & 0o7777 };
    else if (st.isFile()) {
      budget -= st.size;
      if (budget < 0) throw new OutputTooLargeError(`the git control files under ${commonDir} hold more than ${MAX_SNAPSHOT_BYTES} bytes (at ${abs}); refusing to snapshot part of them`);
      const bytes = readFileSync(abs);
      entry = { type: 'file', mode: st.mode & 0o7777, nlink: st.nlink, sha256: createHash('sha256').update(bytes).digest('hex'), content: bytes.toString('base64') };
    } else entry = { type: 'other' };
    entries[rel(abs)] = entry;
    return entry;
  };
  const walk = (abs: string, keep: (relToStart: string) => boolean, skip: (name: string) => boolean = () => false, start = abs): void => {
    const entry = record(abs);
    if (entry?.type !== 'dir') return;
    for (const name of readdirSync(abs).sort()) {
      if (skip(name)) continue;
      const child = join(abs, name);
      const r = relative(start, child).split(sep).join('/');
      if (!keep(r)) continue;
      walk(child, keep, skip, start);
    }
  };

  for (const f of TOP_FILES) record(join(commonDir, f));
  for (const d of TOP_DIRS) walk(join(commonDir, d), () => true);
  const modules = join(commonDir, 'modules');
  walk(modules, (r) => {
    const parts = r.split('/');
    const name = parts[parts.length - 1]!;
    // Directories are entered (to find nested module git dirs); files only when they can run code.
    return parts.includes('hooks') || parts.includes('info') || ['config', 'config.worktree'].includes(name) || isDir(join(modules, r));
  }, (name) => MODULE_SKIP.has(name));
  const worktrees = join(commonDir, 'worktrees');
  if (record(worktrees)?.type === 'dir') {
    for (const name of readdirSync(worktrees).sort()) {
      const admin = join(worktrees, name);
      if (ownAdminDir !== undefined && rel(admin) === rel(ownAdminDir)) walk(admin, (r) => !OWN_CHURN.test(r));
      else if (record(admin)?.type === 'dir') for (const f of OTHER_WORKTREE_FILES) record(join(admin, f));
    }
  }
  return { version: 1, commonDir, ownAdminDir, entries };
}

function isDir(abs: string): boolean {
  try {
    return lstatSync(abs).isDirectory();
  } catch {
    return false;
  }
}

function describe(e: ControlEntry): string {
  return e.type === 'file' || e.type === 'dir' ? `${e.type} (mode ${e.mode.toString(8)})` : e.type === 'symlink' ? `symlink to ${e.target}` : 'not a file, directory or link';
}

/**
 * Compare two snapshots of the same repository (pure).
 * @returns the changes, sorted by path; a directory added, removed or replaced is one change (its
 *   contents are not listed again)
 */
export function diffGitControl(before: GitControlSnapshot, after: GitControlSnapshot): GitControlChange[] {
  const changes: GitControlChange[] = [];
  const paths = [...new Set([...Object.keys(before.entries), ...Object.keys(after.entries)])].sort();
  const whole: string[] = [];
  for (const path of paths) {
    if (whole.some((w) => path.startsWith(`${w}/`))) continue;
    const a = before.entries[path];
    const b = after.entries[path];
    const add = (change: GitControlChange['change'], detail: string): void => {
      changes.push({ path, change, detail, worktree: /^worktrees\/([^/]+)/.exec(path)?.[1] });
    };
    if (a && !b) {
      add('removed', describe(a));
      whole.push(path);
    } else if (!a && b) {
      add('added', describe(b));
      whole.push(path);
    } else if (a && b) {
      if (a.type !== b.type) {
        add('modified', `${a.type} → ${b.type}`);
        whole.push(path);
        continue;
      }
      const what: string[] = [];
      if (a.type === 'file' && b.type === 'file') {
        if (a.sha256 !== b.sha256) what.push('content');
        if (a.nlink !== b.nlink) what.push(`links ${a.nlink} → ${b.nlink}`);
      }
      if ((a.type === 'file' || a.type === 'dir') && (b.type === 'file' || b.type === 'dir') && a.mode !== b.mode) what.push(`mode ${a.mode.toString(8)} → ${b.mode.toString(8)}`);
      if (a.type === 'symlink' && b.type === 'symlink' && a.target !== b.target) what.push(`target ${a.target} → ${b.target}`);
      if (what.length) add('modified', what.join(', '));
    }
  }
  return changes;
}

/**
 * Put the control files back as `before` recorded them.
 * @param only the changes to revert (e.g. a filtered {@link diffGitControl} result); default: every
 *   difference between `before` and the files now
 * @returns the changes reverted
 */
export function restoreGitControl(before: GitControlSnapshot, only?: readonly GitControlChange[]): GitControlChange[] {
  const changes = only ?? diffGitControl(before, snapshotGitControl(before.commonDir, before.ownAdminDir));
  const abs = (path: string): string => join(before.commonDir, ...path.split('/'));
  for (const c of [...changes].sort((x, y) => x.path.localeCompare(y.path))) {
    assertNoLinkAbove(before.commonDir, c.path);
    const was = before.entries[c.path];
    const target = abs(c.path);
    if (c.change === 'modified' && was?.type === 'dir' && isDir(target)) {
      chmodSync(target, was.mode); // a directory's mode only: its contents are other changes
      continue;
    }
    rmSync(target, { recursive: true, force: true });
    if (c.change === 'added') continue;
    // Recreate the path and everything recorded below it.
    for (const path of Object.keys(before.entries).filter((p) => p === c.path || p.startsWith(`${c.path}/`)).sort()) {
      const e = before.entries[path]!;
      const to = abs(path);
      if (e.type === 'dir') {
        mkdirSync(to, { recursive: true });
        chmodSync(to, e.mode);
      } else if (e.type === 'file') {
        writeFileSync(to, Buffer.from(e.content, 'base64'), { flag: 'wx', mode: e.mode });
        chmodSync(to, e.mode);
      } else if (e.type === 'symlink') symlinkSync(e.target, to);
      // `other` (a FIFO, a device) is not recreated: git never needs one there.
    }
  }
  return [...changes];
}

/** Refuse to write below a path component that is a link (it would write outside the common dir). */
function assertNoLinkAbove(commonDir: string, path: string): void {
  const parts = path.split('/');
  for (let i = 1; i < parts.length; i++) {
    const dir = join(commonDir, ...parts.slice(0, i));
    try {
      if (lstatSync(dir).isSymbolicLink()) throw new InternalError(`cannot restore ${path}: ${dir} is a symbolic link`);
    } catch (error) {
      if (error instanceof InternalError) throw error;
      return; // missing: recreated as part of an earlier change
    }
  }
}
