/**
 * A worktree's `.git` file is written by git but lives in the agent's folder: an agent can point it at
 * the user's `.git` (agentctl's capture would then commit on the user's branch) or at another
 * worktree's admin dir. agentctl records each run's admin dir (`<commonDir>/worktrees/<name>`) when it
 * creates the worktree and passes it explicitly to git afterwards; this module reads, checks and
 * restores the pointer, finds an admin dir from the common dir's own records, and locates the git dir
 * for a plain directory without letting a pointer redirect into another checkout's `.git`.
 */
import { existsSync, lstatSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { StateError } from '../core/errors.js';
import { pathExists } from './pathExists.js';

/** A worktree's `.git` does not lead to the git dir it must lead to. Nothing was run against it. */
export class GitPointerError extends StateError {}

/** Where git must run: the work tree and its git dir, both absolute. */
export interface GitTarget {
  workTree: string;
  gitDir: string;
}

/** What `<worktree>/.git` holds: the path it names, or what else is there. */
export type PointerState = { kind: 'file'; gitDir: string } | { kind: 'missing' } | { kind: 'other'; what: string };

/**
 * Read `<worktree>/.git` without following a symbolic link.
 * @returns the absolute git dir named by a `gitdir: <path>` file (relative paths resolved against the
 *   worktree), `missing`, or `other` (a directory, a link, a file without a `gitdir:` line)
 */
export function readGitPointer(worktree: string): PointerState {
  const path = join(worktree, '.git');
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return { kind: 'missing' };
  }
  if (stat.isSymbolicLink()) return { kind: 'other', what: 'a symbolic link' };
  if (stat.isDirectory()) return { kind: 'other', what: 'a directory' };
  if (!stat.isFile()) return { kind: 'other', what: 'not a regular file' };
  const match = /^gitdir: (.+?)\r?\n?$/.exec(readFileSync(path, 'utf8'));
  if (!match) return { kind: 'other', what: 'a file without a gitdir line' };
  return { kind: 'file', gitDir: resolve(worktree, match[1]!) };
}

/** Same path after resolving links, or the path itself when it does not exist. */
function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/**
 * Check that `<worktree>/.git` still names the admin dir agentctl recorded for it.
 * @param gitDir the recorded admin dir (absolute)
 * @returns `{ok: true}`, or `{ok: false, found}` with a description of what the pointer holds now
 *   (the path it names, or `missing`, `a directory`, …)
 */
export function checkGitPointer(worktree: string, gitDir: string): { ok: true } | { ok: false; found: string } {
  const state = readGitPointer(worktree);
  if (state.kind === 'file' && real(state.gitDir) === real(gitDir)) return { ok: true };
  return { ok: false, found: state.kind === 'file' ? state.gitDir : state.kind === 'missing' ? 'missing' : state.what };
}

/**
 * Put `<worktree>/.git` back to `gitdir: <gitDir>`: whatever is there (a rewritten file, a link, a
 * directory the agent made) is removed first, without following links.
 */
export function restoreGitPointer(worktree: string, gitDir: string): void {
  const path = join(worktree, '.git');
  rmSync(path, { recursive: true, force: true });
  writeFileSync(path, `gitdir: ${gitDir}\n`, { flag: 'wx' });
}

/**
 * Find a linked worktree's admin dir from the common dir's own records (`worktrees/<name>/gitdir`
 * names `<worktree>/.git`), never from the worktree's `.git` file.
 * @returns the absolute admin dir, or undefined when no record names this worktree
 */
export function adminDirOf(commonDir: string, worktree: string): string | undefined {
  const root = join(commonDir, 'worktrees');
  if (!existsSync(root)) return undefined;
  const want = real(join(worktree, '.git'));
  const wantLexical = resolve(worktree, '.git');
  for (const name of readdirSync(root)) {
    const admin = join(root, name);
    try {
      const recorded = readFileSync(join(admin, 'gitdir'), 'utf8').trim();
      const path = isAbsolute(recorded) ? recorded : resolve(admin, recorded);
      if (path === wantLexical || real(path) === want) return admin;
    } catch {
      /* not a worktree record */
    }
  }
  return undefined;
}

/**
 * Locate the work tree and git dir for a plain directory the way git's discovery does (the nearest
 * `.git` upwards), but refuse a `.git` that leads into another checkout's git dir: a pointer naming
 * `<other checkout>/.git`, or a linked worktree admin dir whose `gitdir` record names another worktree.
 * `core.worktree` is not consulted: the work tree is the directory holding `.git`.
 * @returns the target, or undefined when no `.git` is found up to the filesystem root
 * @throws GitPointerError when the `.git` found leads elsewhere
 */
export function locateRepo(cwd: string): GitTarget | undefined {
  let dir = resolve(cwd);
  for (;;) {
    const dotGit = join(dir, '.git');
    if (pathExists(dotGit)) return { workTree: dir, gitDir: validate(dir, dotGit) };
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}


function validate(workTree: string, dotGit: string): string {
  const state = readGitPointer(workTree);
  let gitDir: string;
  if (state.kind === 'file') gitDir = state.gitDir;
  else if (lstatSync(dotGit).isDirectory()) return dotGit;
  else if (lstatSync(dotGit).isSymbolicLink() && statSync(dotGit, { throwIfNoEntry: false })?.isDirectory()) gitDir = realpathSync(dotGit);
  else throw new GitPointerError(`${dotGit} is ${state.kind === 'other' ? state.what : 'missing'}, not a git dir or pointer`);
  const refuse = (why: string): never => {
    throw new GitPointerError(`${dotGit} points at ${gitDir}, ${why}; refusing to run git there`, {
      hint: 'An agent may have rewritten it. agentctl uses the admin dir it recorded for its own worktrees.',
    });
  };
  if (existsSync(join(gitDir, 'commondir'))) {
    // A linked worktree's admin dir: its `gitdir` record must name this worktree's `.git`.
    let back: string;
    try {
      back = readFileSync(join(gitDir, 'gitdir'), 'utf8').trim();
    } catch {
      return refuse('an admin dir without a gitdir record');
    }
    if (real(isAbsolute(back) ? back : resolve(gitDir, back)) !== real(dotGit)) refuse(`whose record names ${back}`);
    return gitDir;
  }
  // Another checkout's own `.git` directory (`<X>/.git` for X other than this work tree).
  if (basename(gitDir) === '.git' && real(dirname(gitDir)) !== real(workTree)) refuse(`the git dir of ${dirname(gitDir)}`);
  return gitDir;
}
