/**
 * What a changed file really is, judged against a policy. Pure: the facts (git's view of each change,
 * the link targets, the denied files' blob ids and inodes) are gathered by src/exec/inspect.ts.
 *
 * A path inside the write scope can still be an attack: a symbolic link onto `.env`, `.git` or the
 * repository root (the main checkout then exposes the secret, or a later write through the link lands
 * on a protected file), a hard link to or a byte copy of a denied file, an embedded repository
 * (gitlink), an executable bit on a file the agent may not write. Each rule below names one of them.
 */
import picomatch from 'picomatch';
import { decidePath, scopeViolations, type ScopeViolation } from './check.js';
import type { Policy } from './policy.js';

/** Git tree entry modes (octal strings as git prints them). */
export const MODE = { none: '000000', file: '100644', executable: '100755', symlink: '120000', gitlink: '160000' } as const;

/** One changed path between the run's base and head, as git and the worktree show it. */
export interface ChangedEntry {
  path: string;
  /** Mode before and after (`000000` when absent). */
  oldMode: string;
  newMode: string;
  /** Object ids before and after (all zeros when absent). */
  oldId: string;
  newId: string;
  /** Line counts from numstat; -1 for binary files. */
  insertions: number;
  deletions: number;
  /** Blob sizes in bytes (0 when absent or not a blob, e.g. a gitlink). */
  oldSize: number;
  newSize: number;
  /** The link's target as stored in git (only for `newMode` 120000). */
  linkTarget?: string | undefined;
  /** Device and inode of the file in the worktree (only for regular files that exist there). */
  inode?: { dev: number; ino: number } | undefined;
}

/** A file the policy denies (in the main checkout, in the base commit, or under `~`), as the rules need it. */
export interface DeniedFile {
  /** Shown in the reason: repository-relative, or `~/…` for a file in the home directory. */
  label: string;
  /** Repository-relative path (undefined for a file outside the repository). */
  repoPath: string | undefined;
  /** Git blob id of its content (undefined when not computed: empty, or no changed file has its size). */
  blobId: string | undefined;
  /** Device and inode (undefined for a file known only from the base commit). */
  inode: { dev: number; ino: number } | undefined;
}

/** Where a symbolic link leads once every link on the way (in the head tree) is followed. */
export type LinkResolution = { kind: 'inside'; path: string } | { kind: 'outside'; why: string } | { kind: 'loop' };

/** Most links followed while resolving one target (Linux's own limit is 40). */
const MAX_HOPS = 40;

const isGitDir = (path: string): boolean => /^\.git(\/|$)/i.test(path);

/**
 * Resolve a link the way the kernel would, inside the repository tree: `..` and links are taken in
 * order (`a/../b` through a link `a` is not `b`). Absolute targets and any step above the root leave
 * the repository, wherever they would land: after the merge the link lives in the main checkout, so
 * "the worktree's own path" means nothing there.
 * @param linkPath repository-relative path of the link
 * @param target the link's target as stored
 * @param links every symbolic link in the head tree: repository-relative path → target
 * @returns the repository-relative path it leads to (`''` = the root), `outside` with why, or `loop`
 */
export function resolveLink(linkPath: string, target: string, links: ReadonlyMap<string, string>): LinkResolution {
  const cur = linkPath.split('/').slice(0, -1).filter(Boolean);
  if (target.startsWith('/')) return { kind: 'outside', why: 'absolute target' };
  let pending = target.split('/');
  let hops = 0;
  while (pending.length) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (cur.length === 0) return { kind: 'outside', why: 'climbs above the repository root' };
      cur.pop();
      continue;
    }
    cur.push(part);
    const next = links.get(cur.join('/'));
    if (next === undefined) continue;
    if (++hops > MAX_HOPS) return { kind: 'loop' };
    if (next.startsWith('/')) return { kind: 'outside', why: `through the link ${cur.join('/')} to the absolute target ${next}` };
    cur.pop();
    pending = [...next.split('/'), ...pending];
  }
  return { kind: 'inside', path: cur.join('/') };
}

/** The fixed directory part of each deny/protected glob that has one (`secrets/**` → `secrets`), with its kind. */
function globBases(policy: Policy): { base: string; kind: 'deny' | 'protected' }[] {
  const out: { base: string; kind: 'deny' | 'protected' }[] = [];
  for (const [kind, rules] of [['deny', policy.deny], ['protected', policy.protected]] as const) {
    for (const r of rules) {
      if (r.value.startsWith('~/') || !r.value.includes('/')) continue;
      const base = picomatch.scan(r.value).base.replace(/\/+$/, '');
      if (base) out.push({ base, kind });
    }
  }
  return out;
}

/**
 * Why a link that resolves to `path` inside the repository is a violation, or undefined when it is not.
 * @param deniedPaths repository-relative paths of denied files that exist (main checkout, base commit)
 */
export function linkTargetProblem(policy: Policy, path: string, deniedPaths: readonly string[]): { reason: string; protected: boolean } | undefined {
  if (path === '') return { reason: 'the repository root', protected: true };
  if (isGitDir(path)) return { reason: `git metadata (${path})`, protected: true };
  const d = decidePath(policy, 'write', path);
  if (d.rule?.kind === 'deny' || d.rule?.kind === 'protected') {
    return { reason: `${d.rule.kind === 'deny' ? 'denied' : 'protected'} path ${path} (${d.rule.kind} rule "${d.rule.value}")`, protected: d.rule.kind === 'protected' };
  }
  const prefix = `${path}/`;
  const file = deniedPaths.find((p) => p.startsWith(prefix));
  if (file) return { reason: `directory ${path}, which holds the denied file ${file}`, protected: false };
  const base = globBases(policy).find((b) => b.base === path || b.base.startsWith(prefix));
  if (base) return { reason: `directory ${path}, which holds ${base.kind} paths (${base.base})`, protected: base.kind === 'protected' };
  return undefined;
}

/**
 * Bytes a change adds plus bytes it removes, estimated from blob sizes: an added file counts its size,
 * a deleted one its old size, a binary change replaces the whole blob (old + new), a text change counts
 * the size difference (its lines count in the line totals). Gitlinks and mode-only changes count 0.
 */
export function changedBytes(e: ChangedEntry): number {
  if (e.oldId === e.newId) return 0;
  const oldSize = e.oldMode === MODE.gitlink ? 0 : e.oldSize;
  const newSize = e.newMode === MODE.gitlink ? 0 : e.newSize;
  if (e.oldMode === MODE.none) return newSize;
  if (e.newMode === MODE.none) return oldSize;
  const binary = e.insertions < 0 || e.deletions < 0;
  const typeChanged = e.oldMode !== e.newMode && (e.oldMode === MODE.symlink || e.newMode === MODE.symlink || e.oldMode === MODE.gitlink || e.newMode === MODE.gitlink);
  return binary || typeChanged ? oldSize + newSize : Math.abs(newSize - oldSize);
}

/**
 * Every violation in a change, one per path (reasons of several rules joined with `; `), in change order:
 * the path's own scope, a gitlink, an executable bit outside the write scope, a link leading out of the
 * repository / into `.git` / onto the root / onto or above a denied or protected path, a hard link to
 * or a byte copy of a denied file.
 * @param changes the changed entries (deleted paths included)
 * @param links every symbolic link in the head tree: repository-relative path → target
 * @param denied the denied files known to exist (see {@link DeniedFile})
 */
export function inspectViolations(policy: Policy, changes: readonly ChangedEntry[], links: ReadonlyMap<string, string>, denied: readonly DeniedFile[]): ScopeViolation[] {
  const found = new Map<string, { reasons: string[]; protected: boolean }>();
  const add = (path: string, reason: string, prot: boolean): void => {
    const v = found.get(path) ?? { reasons: [], protected: false };
    if (!v.reasons.includes(reason)) v.reasons.push(reason);
    v.protected ||= prot;
    found.set(path, v);
  };
  for (const v of scopeViolations(policy, changes.map((c) => c.path))) add(v.path, v.reason, v.protected);

  const deniedPaths = denied.flatMap((d) => (d.repoPath ? [d.repoPath] : []));
  const byBlob = new Map(denied.filter((d) => d.blobId).map((d) => [d.blobId!, d.label]));
  const byInode = new Map(denied.filter((d) => d.inode).map((d) => [`${d.inode!.dev}:${d.inode!.ino}`, d.label]));
  for (const c of changes) {
    if (c.newMode === MODE.gitlink) add(c.path, 'embedded repository (gitlink, mode 160000): its content is outside review', false);
    if (c.newMode === MODE.executable && c.oldMode !== MODE.executable && !decidePath(policy, 'write', c.path).allowed) {
      add(c.path, 'made executable (mode 100755) outside the write scope', false);
    }
    if (c.newMode === MODE.symlink && c.linkTarget !== undefined) {
      const r = resolveLink(c.path, c.linkTarget, links);
      if (r.kind === 'loop') add(c.path, `symbolic link loop (${c.linkTarget})`, false);
      else if (r.kind === 'outside') add(c.path, `symbolic link pointing outside the repository (${c.linkTarget}: ${r.why})`, /(^|\/)\.git(\/|$)/i.test(c.linkTarget));
      else {
        const problem = linkTargetProblem(policy, r.path, deniedPaths);
        if (problem) add(c.path, `symbolic link onto ${problem.reason} (${c.linkTarget})`, problem.protected);
      }
    }
    const isFile = c.newMode === MODE.file || c.newMode === MODE.executable;
    if (isFile && c.newId !== c.oldId && byBlob.has(c.newId)) add(c.path, `copy of the bytes of the denied file ${byBlob.get(c.newId)!}`, false);
    if (isFile && c.inode && byInode.has(`${c.inode.dev}:${c.inode.ino}`)) add(c.path, `hard link to the denied file ${byInode.get(`${c.inode.dev}:${c.inode.ino}`)!}`, false);
  }
  return [...found].map(([path, v]) => ({ path, reason: v.reasons.join('; '), protected: v.protected }));
}
