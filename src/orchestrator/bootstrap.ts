/**
 * Worktree bootstrap on the host side (the `worktree:` block, definition/worktree.ts): checking the
 * shared and copied paths before anything exists, copying and linking them into a fresh worktree, and
 * unlinking the shared links when the run ends. The commands (setup, teardown) run in the OS sandbox:
 * stages/setup.ts and teardown.ts.
 *
 * A shared path is a symlink `<worktree>/<path> -> <checkout>/<path>` (the real path); the OS sandbox
 * makes that real path readable and nothing in it writable (SandboxLayout.shared), so the checkout's
 * copy stays byte-identical whatever the run does. The link is never committed (capture excludes the
 * shared paths) and is removed when the run ends, before any later git step could pick it up.
 */
import { cpSync, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { Policy } from '../authz/policy.js';
import { InputError } from '../core/errors.js';
import { CONFIG_FILE } from '../definition/config.js';
import type { Task } from '../definition/task.js';
import { deniedEntry, deniedReason, resolveWorktree, type WorktreeSettings } from '../definition/worktree.js';
import type { Context } from './context.js';
import { pathExists } from '../exec/pathExists.js';

/** Most files a `worktree.copy` entry may hold (copy is for a few files; share big folders instead). */
export const MAX_COPY_FILES = 10_000;

/** A run's bootstrap, decided before it starts. */
export interface Bootstrap {
  settings: WorktreeSettings;
  /** Shared paths present in the checkout: repository-relative path and the absolute real path it reads. */
  shared: { path: string; real: string }[];
  /** Copied paths present in the checkout (repository-relative). */
  copy: string[];
  /** Shared or copied paths the checkout does not have (skipped, recorded). */
  missing: string[];
}

/**
 * Check the run's `worktree:` block against the checkout and the policy, changing nothing.
 * @param baseSha the commit the worktree will be made from (a tracked path cannot be shared or copied)
 * @returns the bootstrap to apply
 * @throws InputError naming the field (`worktree.shared` / `worktree.copy`) and the file that set it, when
 *   a path is denied by the policy (or holds a denied path), tracked by git, resolves outside the
 *   checkout, is shared while the policy turns the OS sandbox off, or is copied without being gitignored
 */
export async function planBootstrap(ctx: Context, task: Task, policy: Policy, baseSha: string): Promise<Bootstrap> {
  const settings = resolveWorktree(ctx.project.config.worktree, task.worktree);
  const root = ctx.project.root;
  const realRoot = realpathSync(root);
  const boot: Bootstrap = { settings, shared: [], copy: [], missing: [] };
  for (const kind of ['shared', 'copy'] as const) {
    const file = task.worktree?.[kind] !== undefined ? task.file : CONFIG_FILE;
    const refuse = (path: string, why: string): never => {
      throw new InputError(`${file}: field "worktree.${kind}": "${path}" ${why}; nothing was started`, { file, field: `worktree.${kind}` });
    };
    for (const path of settings[kind]) {
      const denied = deniedReason(policy, path);
      if (denied) refuse(path, `is ${denied}: a denied path is never ${kind === 'shared' ? 'shared' : 'copied'}`);
      if (kind === 'shared' && policy.sandbox.value !== 'os') refuse(path, 'cannot be shared: the policy turns the OS sandbox off (sandbox: none), and only the OS sandbox keeps the checkout\'s copy read-only');
      const tracked = await ctx.git.out(root, ['ls-tree', '--name-only', baseSha, '--', path], { readOnly: true });
      if (tracked !== '') refuse(path, 'is tracked by git: the worktree has it already (only untracked, gitignored paths are shared or copied)');
      let real: string;
      try {
        lstatSync(join(root, path));
        real = realpathSync(join(root, path));
      } catch {
        boot.missing.push(path);
        continue;
      }
      const rel = relative(realRoot, real).split(sep).join('/');
      if (rel === '' || rel.startsWith('..') || rel.startsWith('/')) refuse(path, `resolves to ${real}, outside the checkout`);
      if (rel !== path) {
        if (['.git', '.agentctl'].includes(rel.split('/')[0]!)) refuse(path, `resolves to ${rel}, inside .git or .agentctl`);
        const deniedReal = deniedReason(policy, rel);
        if (deniedReal) refuse(path, `resolves to ${rel}, which is ${deniedReal}`);
      }
      if (kind === 'shared') {
        boot.shared.push({ path, real });
        continue;
      }
      const ignored = await ctx.git.raw(root, ['check-ignore', '-q', '--', path], { readOnly: true, accept: [0, 1] });
      if (ignored.exitCode !== 0) refuse(path, 'is not gitignored: a copy would be committed as the run\'s work');
      const files = filesBelow(root, path);
      if (files.length > MAX_COPY_FILES) refuse(path, `holds more than ${MAX_COPY_FILES} files: share it instead (worktree.shared)`);
      const hit = deniedEntry(policy, files);
      if (hit) refuse(path, `holds ${hit.path}, denied by "${hit.rule}": a denied path is never copied`);
      boot.copy.push(path);
    }
  }
  return boot;
}

/** Repository-relative paths of everything below `path` (itself when it is not a folder); symlinks are not followed. */
function filesBelow(root: string, path: string): string[] {
  const out: string[] = [path];
  if (!lstatSync(join(root, path)).isDirectory()) return out;
  const stack = [path];
  while (stack.length) {
    const dir = stack.pop()!;
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      out.push(rel);
      if (entry.isDirectory()) stack.push(rel);
      if (out.length > MAX_COPY_FILES) return out;
    }
  }
  return out;
}

/**
 * Make the parent folders of `rel` inside `worktree`, refusing to pass through a symlink (a tracked link
 * could otherwise lead agentctl to write outside the worktree).
 * @returns false when a parent is a symlink or not a folder
 */
function safeParents(worktree: string, rel: string): boolean {
  let dir = worktree;
  for (const part of rel.split('/').slice(0, -1)) {
    dir = join(dir, part);
    try {
      if (!lstatSync(dir).isDirectory()) return false;
    } catch {
      mkdirSync(dir, { mode: 0o755 });
    }
  }
  return true;
}

/** What {@link applyBootstrap} did. */
export interface Applied {
  linked: string[];
  copied: string[];
  /** Entries left out: `<path>: <why>` (a symlink or special file in a copied folder, a path already present). */
  skipped: string[];
}

/**
 * Copy and link the bootstrap's paths into a fresh worktree (before the agent or any setup command runs).
 * Copies keep regular files and folders only (symlinks and special files are skipped and reported).
 * @throws the filesystem's error when a copy or link cannot be made
 */
export function applyBootstrap(ctx: Context, worktree: string, boot: Bootstrap, policy: Policy): Applied {
  const root = ctx.project.root;
  const applied: Applied = { linked: [], copied: [], skipped: [] };
  for (const path of boot.copy) {
    if (!safeParents(worktree, path)) {
      applied.skipped.push(`${path}: a parent folder in the worktree is a symlink`);
      continue;
    }
    cpSync(join(root, path), join(worktree, path), {
      recursive: true,
      errorOnExist: false,
      force: false,
      filter: (src) => {
        const rel = relative(root, src).split(sep).join('/');
        const stat = lstatSync(src);
        if (!stat.isDirectory() && !stat.isFile()) applied.skipped.push(`${rel}: not a regular file or folder`);
        else if (deniedEntry(policy, [rel])) applied.skipped.push(`${rel}: denied by the policy`);
        else return true;
        return false;
      },
    });
    applied.copied.push(path);
  }
  for (const { path, real } of boot.shared) {
    const dest = join(worktree, path);
    if (!safeParents(worktree, path)) {
      applied.skipped.push(`${path}: a parent folder in the worktree is a symlink`);
      continue;
    }
    if (pathExists(dest)) {
      applied.skipped.push(`${path}: already in the worktree`);
      continue;
    }
    symlinkSync(real, dest);
    applied.linked.push(path);
  }
  return applied;
}

/**
 * Make each shared link again where it is not the link to its shared real path (before the gate: the agent
 * may have removed it, or put a folder of its own there, which capture leaves out). What is there instead
 * is removed; a path below a parent folder that is a symlink is left alone.
 * @returns the paths linked again
 */
export function relinkShared(worktree: string, boot: Pick<Bootstrap, 'shared'>): string[] {
  const relinked: string[] = [];
  for (const { path, real } of boot.shared) {
    const dest = join(worktree, path);
    try {
      if (lstatSync(dest).isSymbolicLink() && readlinkSync(dest) === real) continue;
    } catch {
      // Gone: made again below.
    }
    if (!safeParents(worktree, path)) continue;
    rmSync(dest, { recursive: true, force: true });
    symlinkSync(real, dest);
    relinked.push(path);
  }
  return relinked;
}

/**
 * Remove the shared links from a worktree (at the end of a run): only a symlink still pointing at the
 * shared real path is removed; whatever else the agent left there is its business (capture excluded it).
 * @returns the paths unlinked
 */
export function unlinkShared(worktree: string, boot: Pick<Bootstrap, 'shared'>): string[] {
  const removed: string[] = [];
  for (const { path, real } of boot.shared) {
    const dest = join(worktree, path);
    try {
      if (realpathSync(dirname(dest)) !== join(realpathSync(worktree), dirname(path))) continue;
      if (!lstatSync(dest).isSymbolicLink() || readlinkSync(dest) !== real) continue;
      unlinkSync(dest);
      removed.push(path);
    } catch {
      // Gone already (the gate's clean, the agent): nothing to do.
    }
  }
  return removed;
}

