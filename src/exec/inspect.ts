/**
 * Change inspection: gathers what each file a run changed really is (mode, link target, size, inode)
 * and what the policy's denied files are (blob ids, inodes), then applies the pure rules of
 * authz/inspect-rules.ts. The one entry point is {@link inspectChanges}.
 *
 * Git objects are the truth: link targets read from the worktree are used only when their git blob id
 * matches the committed one (a process the agent left behind may have changed the worktree since capture).
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import picomatch from 'picomatch';
import { globMatcher, type ScopeViolation } from '../authz/check.js';
import { changedBytes, inspectViolations, MODE, type ChangedEntry, type DeniedFile } from '../authz/inspect-rules.js';
import type { Policy } from '../authz/policy.js';
import type { Git, GitWhere } from './git.js';

/** One changed file as the run records it (the `files` of `sandbox.committed`). */
export interface InspectedFile {
  path: string;
  /** Lines added / removed (numstat); -1 for binary files. */
  insertions: number;
  deletions: number;
  /** Bytes added + removed, estimated from blob sizes (see changedBytes in authz/inspect-rules.ts). */
  bytes: number;
  /** Mode after the change (`100644`, `100755`, `120000` link, `160000` gitlink, `000000` deleted). */
  mode: string;
}

/** What {@link inspectChanges} found. */
export interface Inspection {
  files: InspectedFile[];
  /** One per offending path, reasons of several rules joined with `; `. */
  violations: ScopeViolation[];
  /** Sum of `files[].bytes`. */
  totalBytes: number;
}

/** One entry of `git diff --raw -z`. */
export interface RawEntry {
  oldMode: string;
  newMode: string;
  oldId: string;
  newId: string;
  status: string;
  path: string;
}

/**
 * Parse `git diff --raw -z --no-abbrev` output (`:old new oldId newId status\0path\0`, a second path
 * for copies and renames; the destination is kept).
 */
export function parseRawDiff(text: string): RawEntry[] {
  const parts = text.split('\0');
  const out: RawEntry[] = [];
  for (let i = 0; i < parts.length; i++) {
    const meta = parts[i]!;
    if (!meta.startsWith(':')) continue;
    const [oldMode, newMode, oldId, newId, status] = meta.slice(1).split(' ') as [string, string, string, string, string];
    const twoPaths = /^[RC]/.test(status);
    const path = parts[i + (twoPaths ? 2 : 1)] ?? '';
    i += twoPaths ? 2 : 1;
    out.push({ oldMode, newMode, oldId, newId, status, path });
  }
  return out;
}

/** Parse `git diff --numstat -z --no-renames` output (`added\tdeleted\tpath\0`; `-` for binary files becomes -1). */
export function parseNumstat(text: string): { path: string; insertions: number; deletions: number }[] {
  return text
    .split('\0')
    .filter((entry) => entry.includes('\t'))
    .map((entry) => {
      const [ins, del, ...rest] = entry.split('\t');
      return { path: rest.join('\t'), insertions: ins === '-' ? -1 : Number(ins), deletions: del === '-' ? -1 : Number(del) };
    });
}

/** One entry of `git ls-tree -r -z -l`: size is -1 for non-blobs. */
export interface TreeEntry {
  mode: string;
  type: string;
  id: string;
  size: number;
  path: string;
}

/** Parse `git ls-tree -r -z -l` output (`mode type id <padded size>\tpath\0`). */
export function parseLsTree(text: string): TreeEntry[] {
  const out: TreeEntry[] = [];
  for (const entry of text.split('\0')) {
    const tab = entry.indexOf('\t');
    if (tab < 0) continue;
    const [mode, type, id, size] = entry.slice(0, tab).trim().split(/ +/) as [string, string, string, string];
    out.push({ mode, type, id, size: size === '-' ? -1 : Number(size), path: entry.slice(tab + 1) });
  }
  return out;
}


/**
 * Blob sizes by object id, from `ls-tree -l` listings (every blob id of those trees). Pure.
 * @returns id → size in bytes
 */
export function blobSizes(trees: readonly (readonly TreeEntry[])[]): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const tree of trees) for (const e of tree) if (e.type === 'blob' && e.size >= 0) sizes.set(e.id, e.size);
  return sizes;
}

/**
 * Every file changed from `base` to `head` with the sizes of its two blobs, read from the commits alone
 * (`diff --raw` and `ls-tree -l` of both trees: git never opens a blob for this, whatever its size).
 * @returns in git's order, `oldBytes`/`newBytes` 0 for a side that does not exist or is not a blob
 *   (a gitlink); paths exactly as stored
 * @throws GitCommandError when git fails
 */
export async function changedFileSizes(git: Git, where: GitWhere, base: string, head: string): Promise<{ path: string; oldBytes: number; newBytes: number }[]> {
  const ro = { readOnly: true, drivers: false, attributes: false } as const;
  const raw = parseRawDiff(await git.out(where, ['diff', '--raw', '-z', '--no-renames', '--no-abbrev', '--no-ext-diff', '--ignore-submodules=none', base, head], ro));
  if (raw.length === 0) return [];
  const trees = [];
  for (const rev of [base, head]) trees.push(parseLsTree(await git.out(where, ['ls-tree', '-r', '-z', '-l', '--full-tree', rev], ro)));
  const sizes = blobSizes(trees);
  return raw.map((r) => ({ path: r.path, oldBytes: sizes.get(r.oldId) ?? 0, newBytes: sizes.get(r.newId) ?? 0 }));
}

/** Git blob id of some bytes (`sha1` or `sha256` repositories). */
export function blobId(bytes: Buffer, format: string): string {
  return createHash(format === 'sha256' ? 'sha256' : 'sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/** Directory entries looked at per `~/` deny glob at most. */
const HOME_ENTRIES_MAX = 20_000;

/**
 * Inspect a run's change: every changed file with its line counts, changed bytes and mode, and every
 * violation of the policy (path scope, gitlink, executable bit, symbolic link target, hard link to or
 * byte copy of a denied file).
 * @param git the git module (read-only calls only)
 * @param args.worktree the run's worktree (absolute), holding `head` checked out: only its files are
 *   looked at (inodes, link targets checked against git), git never runs there
 * @param args.repoRoot the user's main checkout (absolute): git reads the commits there, and its denied
 *   files, tracked or not, are compared
 * @param args.base the run's base commit; args.head the captured head commit
 * @param args.home home directory for `~/` deny globs (default: the user's)
 * @returns files (in git's order), violations, totalBytes; empty when base equals head
 * @throws ProcessFailedError when a git call fails
 */
export async function inspectChanges(git: Git, args: { worktree: string; repoRoot: string; base: string; head: string; policy: Policy; home?: string }): Promise<Inspection> {
  const { worktree, repoRoot, base, head, policy } = args;
  if (base === head) return { files: [], violations: [], totalBytes: 0 };
  const ro = { readOnly: true } as const;
  // Objects are read through the main checkout: base and head are commit ids in the shared object store,
  // and nothing in the worktree (its `.git` pointer, its attributes) gets a say in what is read.
  const format = await git.out(repoRoot, ['rev-parse', '--show-object-format'], ro);
  const commits = { readOnly: true, drivers: false, attributes: false } as const;
  const raw = parseRawDiff(await git.out(repoRoot, ['diff', '--raw', '-z', '--no-renames', '--no-abbrev', '--no-ext-diff', base, head], commits));
  // Line counts straight from git, with no textconv, external diff or attribute the repository could configure.
  const lines = new Map(parseNumstat(await git.out(repoRoot, ['diff', '--numstat', '-z', '--no-renames', '--no-textconv', '--no-ext-diff', base, head], commits)).map((f) => [f.path, f]));
  const baseTree = parseLsTree(await git.out(repoRoot, ['ls-tree', '-r', '-z', '-l', '--full-tree', base], ro));

  // Blob sizes from both trees (`ls-tree -l`): every old id is in the base tree, every new one in the head's.
  const headTree = parseLsTree(await git.out(repoRoot, ['ls-tree', '-r', '-z', '-l', '--full-tree', head], ro));
  const sizes = blobSizes([baseTree, headTree]);

  // Every link in the head tree: the base's links, minus the changed paths, plus the changed links.
  const changed = new Set(raw.map((r) => r.path));
  const linkIds = new Map(baseTree.filter((e) => e.mode === MODE.symlink && !changed.has(e.path)).map((e) => [e.path, e.id]));
  for (const r of raw) if (r.newMode === MODE.symlink) linkIds.set(r.path, r.newId);
  const links = new Map<string, string>();
  for (const [path, id] of linkIds) links.set(path, await linkTarget(git, repoRoot, worktree, path, id, format));

  // Sizes of new file content: only denied files of one of these sizes can be byte copies.
  const newSizes = new Set(raw.filter((r) => r.newId !== r.oldId && (r.newMode === MODE.file || r.newMode === MODE.executable)).map((r) => sizes.get(r.newId) ?? -1));
  const denied = [
    ...baseTree.filter((e) => e.type === 'blob' && e.mode !== MODE.symlink && policy.deny.some((d) => globMatcher(d.value)(e.path))).map((e): DeniedFile => ({ label: e.path, repoPath: e.path, blobId: e.size > 0 ? e.id : undefined, inode: undefined })),
    ...(await mainCheckoutDenied(git, repoRoot, policy)).flatMap((p) => deniedOnDisk(join(repoRoot, p), p, p, newSizes, format)),
    ...homeDenied(args.home ?? homedir(), policy).flatMap((f) => deniedOnDisk(f.abs, `~/${f.rel}`, undefined, newSizes, format)),
  ];

  const entries: ChangedEntry[] = raw.map((r) => {
    const counted = lines.get(r.path);
    const isFile = r.newMode === MODE.file || r.newMode === MODE.executable;
    return {
      path: r.path,
      oldMode: r.oldMode,
      newMode: r.newMode,
      oldId: r.oldId,
      newId: r.newId,
      insertions: counted?.insertions ?? 0,
      deletions: counted?.deletions ?? 0,
      oldSize: sizes.get(r.oldId) ?? 0,
      newSize: sizes.get(r.newId) ?? 0,
      linkTarget: r.newMode === MODE.symlink ? links.get(r.path) : undefined,
      inode: isFile ? inodeOf(join(worktree, r.path)) : undefined,
    };
  });
  // Both listings come from the same two commits; a path only numstat names means the raw listing was
  // cut or misread, and what was not inspected must not pass.
  const unlisted = [...lines.keys()].filter((p) => !changed.has(p)).map((path) => ({ path, reason: 'changed but missing from the raw change listing: not inspected', protected: false }));
  const files = entries.map((e) => ({ path: e.path, insertions: e.insertions, deletions: e.deletions, bytes: changedBytes(e), mode: e.newMode }));
  return { files, violations: [...inspectViolations(policy, entries, links, denied), ...unlisted], totalBytes: files.reduce((n, f) => n + f.bytes, 0) };
}

/** A link's target: from the worktree when it matches the committed blob byte for byte, else from git. */
async function linkTarget(git: Git, repoRoot: string, worktree: string, path: string, id: string, format: string): Promise<string> {
  try {
    const bytes = readlinkSync(join(worktree, path), { encoding: 'buffer' });
    if (blobId(bytes, format) === id) return bytes.toString('utf8');
  } catch {
    /* gone or not a link any more: ask git */
  }
  return git.out(repoRoot, ['cat-file', 'blob', id], { readOnly: true });
}

/** Repository-relative paths in the main checkout, tracked or not (ignored files included), that a deny glob matches. */
async function mainCheckoutDenied(git: Git, repoRoot: string, policy: Policy): Promise<string[]> {
  const globs = policy.deny.filter((d) => !d.value.startsWith('~/')).map((d) => globMatcher(d.value));
  if (!globs.length) return [];
  // No --exclude-standard: gitignored files (a local .env) are exactly the ones to find.
  const text = await git.out(repoRoot, ['-c', 'core.fsmonitor=false', 'ls-files', '-z', '--cached', '--others'], { readOnly: true });
  return [...new Set(text.split('\0').filter((p) => p && globs.some((m) => m(p))))];
}

/**
 * Files under the home directory that a `~/` deny glob matches. Walks only each glob's fixed base
 * folder (`~/.ssh/**` → `~/.ssh`), never into linked folders, and looks at {@link HOME_ENTRIES_MAX}
 * entries per glob at most (a glob like `~/*.pem` must not walk a whole home directory).
 */
function homeDenied(home: string, policy: Policy): { abs: string; rel: string }[] {
  const out: { abs: string; rel: string }[] = [];
  for (const d of policy.deny) {
    if (!d.value.startsWith('~/')) continue;
    const glob = d.value.slice(2);
    const scan = picomatch.scan(glob);
    if (!scan.isGlob) {
      out.push({ abs: join(home, glob), rel: glob }); // `~/.netrc`: one file, nothing to walk
      continue;
    }
    const isMatch = picomatch(glob, { dot: true });
    const stack = [scan.base];
    let budget = HOME_ENTRIES_MAX;
    while (stack.length && budget > 0) {
      const rel = stack.pop()!;
      let dirents;
      try {
        dirents = readdirSync(join(home, rel), { withFileTypes: true });
      } catch {
        continue;
      }
      for (const de of dirents.slice(0, budget)) {
        budget--;
        const child = rel ? `${rel}/${de.name}` : de.name;
        if (de.isDirectory()) stack.push(child);
        else if ((de.isFile() || de.isSymbolicLink()) && isMatch(child)) out.push({ abs: join(home, child), rel: child });
      }
    }
  }
  return out;
}

/**
 * A denied file on disk as the rules need it: its inode, and its blob id when a changed file has its
 * size (an empty file is never compared: every empty file would "copy" it).
 */
function deniedOnDisk(abs: string, label: string, repoPath: string | undefined, newSizes: ReadonlySet<number>, format: string): DeniedFile[] {
  let st: Stats;
  try {
    st = statSync(abs); // follows a link: the bytes and inode that matter are the target's
  } catch {
    return [];
  }
  if (!st.isFile()) return [];
  let id: string | undefined;
  if (st.size > 0 && newSizes.has(st.size)) {
    try {
      id = blobId(readFileSync(abs), format);
    } catch {
      id = undefined;
    }
  }
  return [{ label, repoPath, blobId: id, inode: { dev: st.dev, ino: st.ino } }];
}

/** Device and inode of a regular file in the worktree, or undefined. */
function inodeOf(abs: string): { dev: number; ino: number } | undefined {
  try {
    const st = lstatSync(abs);
    return st.isFile() ? { dev: st.dev, ino: st.ino } : undefined;
  } catch {
    return undefined;
  }
}
