/**
 * Git operations agentctl needs, through simple-git with everything a repository or an agent controls
 * switched off (see gitHarden.ts): hooks, fsmonitor, filters, merge drivers, textconv, external diff,
 * pager, editor, signing, replace refs. Each call gets a fresh simple-git instance carrying the hardened
 * `-c` config, the safe environment (`.env()`: an allowlist, never the caller's `GIT_*`), the caller's
 * AbortSignal, a block timeout, and overrides for every filter and merge driver the repository's config
 * defines at that moment (listed by one `git config` call first, so a driver added during a run is
 * covered). Output is read in full; above `maxOutputBytes` the call fails ({@link OutputTooLargeError}).
 *
 * Where git runs: a {@link GitTarget} (`{workTree, gitDir}`, for a run's worktree: the admin dir
 * agentctl recorded, passed as GIT_DIR/GIT_WORK_TREE, the worktree's `.git` file never read), or a
 * directory, located like git's discovery but without honouring `core.worktree` and refusing a `.git`
 * that leads into another checkout ({@link locateRepo}).
 */
import { existsSync, statSync } from 'node:fs';
import { simpleGit, GitPluginError, type SimpleGit, type SimpleGitOptions } from 'simple-git';
import { ConfigError, InternalError, InterruptedError, OutputTooLargeError } from '../core/errors.js';
import { childEnv } from './runner.js';
import { configEnv, driverOverrides, DRIVER_LIST_ARGS, mayRunDrivers, HARDENED_CONFIG, nestedRepoExclusions, SAFE_GIT_ENV, SIMPLE_GIT_UNSAFE, withDiffFlags } from './gitHarden.js';
import { locateRepo, type GitTarget } from './gitPointer.js';

export type { GitTarget } from './gitPointer.js';

/** Where a git call runs: a directory (the user's checkout) or an explicit work tree + git dir (a run's worktree). */
export type GitWhere = string | GitTarget;

/** Identity used for commits agentctl makes itself (agent work commits, merge commits without a user identity). */
export const AGENTCTL_IDENTITY = { name: 'agentctl', email: 'agentctl@localhost' } as const;

/** Identity of the commit that captures an agent's work: `<agent> via agentctl`, agentctl's email. */
export function agentIdentity(agent: string): { name: string; email: string } {
  return { name: `${agent} via agentctl`, email: AGENTCTL_IDENTITY.email };
}

/** One changed file between two commits: path and line counts (`-1` for binary files). */
export interface FileChange {
  path: string;
  insertions: number;
  deletions: number;
}

/** One `git status` entry: path and the two status letters (`?` `?` for untracked). */
export interface StatusEntry {
  path: string;
  index: string;
  workingDir: string;
}

/** Options for one git call. */
export interface GitCallOptions {
  /**
   * Whether the call can run filter or merge drivers (then they are listed and switched off first).
   * Default: decided from the subcommand (unknown ones: yes). Set false only for commit-to-commit reads.
   */
  drivers?: boolean;
  /** Read-only calls set GIT_OPTIONAL_LOCKS=0 so they never take index.lock. */
  readOnly?: boolean;
  /**
   * false: no `.gitattributes` of any checkout or worktree applies ({@link ATTRIBUTE_FREE_CWD}), nor the
   * user's `core.attributesFile`. For reads of commits alone (diffs between two commits), whose binary
   * guess and line counts must not be steered by attributes a repository or an agent wrote (`*.js -diff`
   * in a checkout made every later run's JavaScript show as `Binary files differ`). Default: git's own.
   */
  attributes?: false;
  /** Extra env (e.g. author identity). */
  env?: Record<string, string>;
  /** Exit codes that are not failures. Default: only 0. */
  accept?: readonly number[];
  /** Largest stdout + stderr of this call, in bytes (more is an {@link OutputTooLargeError}); default: the module's (GitOptions.maxOutputBytes). */
  maxOutputBytes?: number;
}

/** What a finished git call printed and how it exited. */
export interface GitResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** git exited with a code outside the accepted ones (or was killed by its timeout). */
export class GitCommandError extends InternalError {
  constructor(
    readonly args: readonly string[],
    /** git's exit code, or null when it was killed. */
    readonly gitExitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
    why?: string,
  ) {
    const detail = (stderr || stdout).trim().split('\n').slice(-5).join('\n');
    super(`git ${args.join(' ').slice(0, 200)} failed (${why ?? `exit ${gitExitCode}`})${detail ? `:\n${detail}` : ''}`);
  }
}

/**
 * Files above this size (bytes) are not diffed as text (see Git.diff): 8 MiB, above the lockfiles and
 * generated sources a reviewer still reads, far below what would strain memory. Passed as git's
 * `core.bigFileThreshold` (git-config(1): files above it are treated as binary; diff does not compute
 * their textual diff).
 */
export const DIFF_BIG_FILE_BYTES = 8 * 1024 * 1024;

/**
 * Largest diff {@link Git.diff} reads, in bytes: 16 MiB. A reader holds about ten times the diff while it
 * shows it (simple-git's buffers, the string, the display copy), and many files each below
 * {@link DIFF_BIG_FILE_BYTES} add up: an agent's 40 files of 7 MB would otherwise cost `review show`
 * gigabytes, or fail it at the 256 MiB output limit.
 */
export const DIFF_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Working directory of a git call that must read no in-tree attributes: the filesystem root. git reads
 * `.gitattributes` relative to its working directory, which is the work tree's top when the call starts
 * inside it (git changes there) and otherwise stays where it started; a commit-to-commit read never needs
 * the work tree. The root is not writable by the user's processes nor by a sandboxed agent (read-only
 * inside the OS sandbox), and holds no `.gitattributes`. (git 2.40 adds `--attr-source`, which git 2.39
 * lacks.) Measured: `*.js -diff` in the checkout and `*.md binary` in the run's worktree made diffs
 * started there print `Binary files … differ`; started here, the text. (`$GIT_DIR/info/attributes` still
 * applies: the common `.git` is compared after every agent and gate, gitState.ts.)
 */
export const ATTRIBUTE_FREE_CWD = '/';

/** Git operations. `where` is a {@link GitWhere}; paths are absolute. */
export interface Git {
  /** Run `git <args>` and return the whole result. @throws GitCommandError on an unaccepted exit code */
  raw(where: GitWhere, args: readonly string[], options?: GitCallOptions): Promise<GitResult>;
  /** Run `git <args>` and return stdout without the trailing newline. */
  out(where: GitWhere, args: readonly string[], options?: GitCallOptions): Promise<string>;
  /** Top-level directory of the working tree containing `cwd`, or null when not in a repository. */
  topLevel(cwd: string): Promise<string | null>;
  /** Absolute path of the common `.git` directory (shared by all worktrees). */
  commonDir(where: GitWhere): Promise<string>;
  /** Absolute git dir (for a linked worktree: its admin dir). */
  gitDir(where: GitWhere): Promise<string>;
  /** Current branch name, or null when HEAD is detached. */
  currentBranch(where: GitWhere): Promise<string | null>;
  /** Full sha of a revision, or null when it does not resolve. */
  resolve(where: GitWhere, rev: string): Promise<string | null>;
  /** Changed and untracked files (simple-git's status parser over `--porcelain --null`); empty when clean. */
  status(where: GitWhere): Promise<StatusEntry[]>;
  /** Files changed between two commits with line counts (`diff --numstat -z`, gitlinks included). */
  numstat(where: GitWhere, from: string, to: string): Promise<FileChange[]>;
  /** The repository's worktrees (`worktree list --porcelain -z`): path and checked-out branch (undefined when detached or bare). */
  worktrees(where: GitWhere): Promise<{ path: string; branch: string | undefined }[]>;
  /**
   * Unified diff between two commits (text). A file larger than {@link DIFF_BIG_FILE_BYTES} on either
   * side shows as `Binary files … differ` (git's `core.bigFileThreshold`), so an agent's giant file
   * cannot make every reader of the diff hold it (a 60 MB file took `review show` to 623 MB).
   * No attribute applies (see {@link GitCallOptions.attributes}).
   * @param pathspecs limit the diff (git pathspecs, e.g. `:(exclude,literal)<path>`); default: every file
   * @param options.text diff every file as text (`--text`), even one git would guess is binary from a
   *   NUL byte; a file above the big-file size is still read whole then, so leave those out by pathspec
   * @throws OutputTooLargeError when the whole diff is longer than {@link DIFF_MAX_BYTES}
   */
  diff(where: GitWhere, from: string, to: string, pathspecs?: readonly string[], options?: { text?: boolean }): Promise<string>;
  /**
   * Stage everything in a worktree and commit it. Returns the new HEAD sha, or null when there was nothing to commit.
   * @param author name/email recorded as author and committer
   * @param exclude repository-relative paths left out of the commit
   * @param base commit whose version of the excluded paths the commit keeps (absent if it lacks them); default HEAD
   * @param leaveOut what worktree.ts prepareForGit found: `nestedRepos`, folders holding a `.git` of
   *   their own, never staged and never stepped into ({@link nestedRepoExclusions}); `oversized`, files
   *   too large to hash, left out and named in the commit message
   */
  commitAll(where: GitWhere, message: string, author: { name: string; email: string }, exclude?: readonly string[], base?: string, leaveOut?: { nestedRepos?: readonly string[]; oversized?: readonly string[] }): Promise<string | null>;
  /** True when `ancestor` is an ancestor of (or equal to) `descendant`. */
  isAncestor(where: GitWhere, ancestor: string, descendant: string): Promise<boolean>;
  /**
   * Compute the merge of two commits without touching any working tree (`git merge-tree --write-tree`).
   * @returns `{tree}` on a clean merge, `{conflicts}` (file paths) otherwise
   */
  mergeTree(where: GitWhere, ours: string, theirs: string): Promise<{ tree: string } | { conflicts: string[] }>;
  /** Create a commit object from a tree and parents; returns its sha. */
  commitTree(where: GitWhere, tree: string, parents: readonly string[], message: string): Promise<string>;
}

/** Options for {@link createGit}. */
export interface GitOptions {
  /** Environment to take the allowlisted basics (PATH, HOME, …) from. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Abort kills the running git call. */
  signal?: AbortSignal;
  /** A call printing nothing for this many milliseconds is killed (simple-git block timeout). Default 120 s. */
  timeoutMs?: number;
  /** Largest stdout + stderr kept per call, in bytes; more is an {@link OutputTooLargeError}. Default 256 MiB. */
  maxOutputBytes?: number;
}

const DEFAULT_MAX_OUTPUT = 256 * 1024 * 1024;

/** Create the git module. */
export function createGit(options: GitOptions = {}): Git {
  const parentEnv = options.env ?? process.env;
  const maxOutput = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;

  /** Run one simple-git task with the hardened setup; `task` picks the simple-git method. */
  async function call<T>(where: GitWhere, args: readonly string[], o: GitCallOptions, task: (g: SimpleGit) => Promise<T>): Promise<GitResult & { value: T }> {
    const { cwd: placed, targetEnv } = place(where);
    // Without GIT_DIR, git would look for a repository from the root instead.
    if (o.attributes === false && !targetEnv.GIT_DIR) throw new InternalError(`git ${args.join(' ').slice(0, 100)}: no repository at ${typeof where === 'string' ? where : where.workTree} to read commits from`);
    const cwd = o.attributes === false ? ATTRIBUTE_FREE_CWD : placed;
    const overrides = !(o.drivers ?? mayRunDrivers(args)) ? [] : driverOverrides((await call(where, DRIVER_LIST_ARGS, { readOnly: true, accept: [0, 1], drivers: false }, (g) => g.raw([...DRIVER_LIST_ARGS]))).stdout);
    const env = childEnv(parentEnv, { ...SAFE_GIT_ENV, ...targetEnv, ...(o.readOnly ? { GIT_OPTIONAL_LOCKS: '0' } : {}), ...configEnv(overrides), ...o.env });
    const accept = o.accept ?? [0];
    const limit = Math.min(o.maxOutputBytes ?? maxOutput, maxOutput);
    const tooLarge = new AbortController();
    let seen: { exitCode: number | null; stdout: string; stderr: string } | undefined;
    const sgOptions: Partial<SimpleGitOptions> = {
      baseDir: cwd,
      config: o.attributes === false ? [...HARDENED_CONFIG, 'core.attributesFile=/dev/null'] : [...HARDENED_CONFIG],
      unsafe: SIMPLE_GIT_UNSAFE,
      maxConcurrentProcesses: 1,
      trimmed: false,
      // Only the `close` event ends a call: simple-git's default also ends it 50 ms after `exit`, which can
      // drop output still in the pipe.
      completion: { onClose: true, onExit: false },
      timeout: { block: options.timeoutMs ?? 120_000 },
      abort: options.signal ? AbortSignal.any([options.signal, tooLarge.signal]) : tooLarge.signal,
      errors: (error, result) => {
        seen = { exitCode: result.exitCode, stdout: Buffer.concat(result.stdOut).toString('utf8'), stderr: Buffer.concat(result.stdErr).toString('utf8') };
        // simple-git's own detection already turned "non-zero exit with stderr" into a GitError; only its
        // plugins' rejections (timeout, abort, refused arguments) stand regardless of the exit code.
        if (error instanceof GitPluginError) return error;
        return accept.includes(result.exitCode) ? undefined : (error ?? Buffer.from(`exit ${result.exitCode}`));
      },
    };
    let sg: SimpleGit;
    try {
      sg = simpleGit(sgOptions).env(env);
    } catch (error) {
      throw new ConfigError(`cannot run git in ${cwd}: ${(error as Error).message}`, { cause: error });
    }
    let bytes = 0;
    sg.outputHandler((_command, stdout, stderr) => {
      const count = (chunk: Buffer): void => {
        bytes += chunk.length;
        if (bytes > limit && !tooLarge.signal.aborted) tooLarge.abort();
      };
      stdout.on('data', count);
      stderr.on('data', count);
      // simple-git waits 50 ms more after `close` for a process that printed nothing (a guard for its
      // exit-based completion, which is off here: `close` comes after every byte). An empty chunk, once
      // its listeners are attached, tells it output was seen; it adds nothing to the output.
      process.nextTick(() => stdout.emit('data', Buffer.alloc(0)));
    });
    try {
      const value = await task(sg);
      if (!seen) throw new InternalError(`git ${args.join(' ')}: simple-git reported no result`);
      return { value, exitCode: seen.exitCode ?? -1, stdout: seen.stdout, stderr: seen.stderr };
    } catch (error) {
      if (tooLarge.signal.aborted) {
        throw new OutputTooLargeError(`git ${args.slice(0, 3).join(' ')} printed more than ${limit} bytes; refusing rather than reading part of it`);
      }
      if (error instanceof GitPluginError && error.plugin === 'abort') throw new InterruptedError(`git ${args[0] ?? ''} was interrupted`);
      if (error instanceof InternalError || error instanceof ConfigError) throw error;
      const why = error instanceof GitPluginError ? `${error.plugin}: ${error.message}` : undefined;
      throw new GitCommandError(args, seen?.exitCode ?? null, seen?.stdout ?? '', seen?.stderr ?? String((error as Error).message ?? error), why);
    }
  }

  const raw: Git['raw'] = async (where, args, o = {}) => {
    const full = withDiffFlags(args);
    const { value: _ignored, ...result } = await call(where, full, o, (g) => g.raw(full));
    return result;
  };
  const out: Git['out'] = async (where, args, o) => (await raw(where, args, o)).stdout.replace(/\n$/, '');
  const ro = { readOnly: true } as const;
  /** Commit-to-commit comparisons: the work tree is never read, so no filter can run and no attribute applies. */
  const treesOnly = { readOnly: true, drivers: false, attributes: false } as const;

  return {
    raw,
    out,
    async topLevel(cwd) {
      if (!existsSync(cwd) || !statSync(cwd).isDirectory()) return null;
      const r = await raw(cwd, ['rev-parse', '--show-toplevel'], { ...ro, accept: [0, 128] });
      return r.exitCode === 0 ? r.stdout.trim() : null;
    },
    commonDir: (where) => out(where, ['rev-parse', '--path-format=absolute', '--git-common-dir'], ro),
    gitDir: (where) => out(where, ['rev-parse', '--absolute-git-dir'], ro),
    async currentBranch(where) {
      const r = await raw(where, ['symbolic-ref', '--quiet', '--short', 'HEAD'], { ...ro, accept: [0, 1, 128] });
      return r.exitCode === 0 ? r.stdout.trim() : null;
    },
    async resolve(where, rev) {
      const r = await raw(where, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { ...ro, accept: [0, 1, 128] });
      return r.exitCode === 0 ? r.stdout.trim() : null;
    },
    async status(where) {
      // `dirty`: a submodule's own work tree is not inspected (that would run git with its config).
      const { value } = await call(where, ['status'], ro, (g) => g.status(['--ignore-submodules=dirty']));
      return value.files.map((f) => ({ path: f.path, index: f.index, workingDir: f.working_dir }));
    },
    async numstat(where, from, to) {
      // -z: paths exactly as stored (simple-git's diffSummary refuses -z, and without it git C-quotes
      // unusual names, which would then slip past path rules). Gitlinks shown whatever the config says.
      return parseNumstat(await out(where, ['diff', '--numstat', '-z', '--no-renames', '--ignore-submodules=none', from, to], treesOnly));
    },
    async worktrees(where) {
      return parseWorktrees(await out(where, ['worktree', 'list', '--porcelain', '-z'], ro));
    },
    diff: (where, from, to, pathspecs = [], options = {}) =>
      out(where, ['-c', `core.bigFileThreshold=${DIFF_BIG_FILE_BYTES}`, 'diff', '--no-color', '--ignore-submodules=none', ...(options.text ? ['--text'] : []), from, to, ...(pathspecs.length ? ['--', ...pathspecs] : [])], { ...treesOnly, maxOutputBytes: DIFF_MAX_BYTES }),
    async commitAll(where, message, author, exclude = [], base, leaveOut = {}) {
      const { nestedRepos = [], oversized = [] } = leaveOut;
      // --ignore-errors: a path git refuses to store (`docs/.Git/x`, which it guards as `.git` on other
      // systems) is left out, and the rest is added (exit 1), instead of failing the whole capture, and
      // then every discard of the run. What is left out stays in the worktree, never committed or merged.
      // A file git cannot convert as its `working-tree-encoding` attribute says (UTF-16 without a BOM)
      // stops `git add` whole, even with --ignore-errors: that file is left out and the add tried again,
      // so one such file no longer fails the capture, and every discard of the run. Left out like the
      // files above, and named in the commit message.
      const unstorable: string[] = [];
      // The index is read only when something is left out (rare): a nested repository inside a gitlink's
      // folder is left out as that gitlink, and an oversized file there needs nothing (git never adds
      // below a gitlink): a pathspec inside a submodule fails the whole `git add`.
      const index = nestedRepos.length || oversized.length ? indexEntries((await raw(where, ['ls-files', '--stage', '-z'], { ...ro, drivers: false })).stdout) : { gitlinks: new Set<string>(), tracked: new Set<string>() };
      const nested = nestedRepoExclusions(nestedRepos, index.gitlinks);
      const below = (p: string, dirs: Iterable<string>) => [...dirs].some((d) => p.startsWith(`${d}/`));
      const tooLarge = oversized.filter((p) => !below(p, index.gitlinks) && !below(p, nested));
      // An exclude pathspec naming an ignored path makes `git add` fail ("paths are ignored", exit 1),
      // e.g. a shared `node_modules` link under a `.gitignore` line `node_modules`: such a path is left
      // out by the ignore rules anyway, so only the paths git would otherwise add are excluded. (A name git
      // would print quoted stays excluded: the worst case is the old refusal, never an added path.)
      const mayIgnore = [...exclude, ...tooLarge.filter((p) => !index.tracked.has(p))];
      const ignored = mayIgnore.length ? new Set((await raw(where, ['check-ignore', '--', ...mayIgnore], { ...ro, accept: [0, 1] })).stdout.split('\n')) : new Set<string>();
      const leftOut = tooLarge.filter((p) => !ignored.has(p));
      for (;;) {
        const added = await raw(where, ['add', '--all', '--ignore-errors', '--', '.', ...[...exclude.filter((p) => !ignored.has(p)), ...nested, ...leftOut, ...unstorable].map((p) => `:(exclude,literal)${p}`)], { accept: [0, 1, 128] });
        if (added.exitCode !== 128) break;
        const path = unencodablePath(added.stderr);
        if (path === undefined || unstorable.includes(path) || unstorable.length >= MAX_UNENCODABLE) throw new GitCommandError(['add', '--all'], 128, added.stdout, added.stderr);
        unstorable.push(path);
      }
      const mib = `above ${MAX_CAPTURE_FILE_BYTES / 1024 / 1024} MiB`;
      const untrackedBig = leftOut.filter((p) => !index.tracked.has(p));
      const trackedBig = leftOut.filter((p) => index.tracked.has(p));
      const notes = [
        ...(unstorable.length ? [`Not committed: git cannot encode ${unstorable.map((p) => JSON.stringify(p)).join(', ')} as the working-tree-encoding attribute says`] : []),
        ...(untrackedBig.length ? [`Not committed, too large to capture (${mib}): ${namedList(untrackedBig)}`] : []),
        ...(trackedBig.length ? [`Kept as the base has them, whatever was changed (too large to capture, ${mib}): ${namedList(trackedBig)}`] : []),
        ...(nested.length ? [`Not committed, a repository of its own (git is never run inside one): ${namedList(nested)}`] : []),
      ];
      const body = notes.length ? `${message}\n\n${notes.join('\n')}` : message;
      // Excluded paths go back to what the base commit has, even if the agent staged or committed them
      // itself: gone when the base lacks them, the base's version when it tracks them.
      if (exclude.length) await raw(where, ['reset', '-q', base ?? 'HEAD', '--', ...exclude.map((p) => `:(literal)${p}`)], { accept: [0, 1] });
      const staged = await raw(where, ['diff', '--cached', '--quiet', '--ignore-submodules=none'], { accept: [0, 1] });
      if (staged.exitCode === 0) return null;
      await raw(where, ['commit', '--no-verify', '--no-gpg-sign', '-q', '-m', body], { env: identityEnv(author) });
      return out(where, ['rev-parse', 'HEAD'], ro);
    },
    async isAncestor(where, ancestor, descendant) {
      const r = await raw(where, ['merge-base', '--is-ancestor', ancestor, descendant], { ...ro, accept: [0, 1] });
      return r.exitCode === 0;
    },
    async mergeTree(where, ours, theirs) {
      const r = await raw(where, ['merge-tree', '--write-tree', '--name-only', '--no-messages', '-z', ours, theirs], { accept: [0, 1] });
      const [tree = '', ...rest] = r.stdout.split('\0');
      if (r.exitCode === 0) return { tree: tree.trim() };
      return { conflicts: [...new Set(rest.filter(Boolean))] };
    },
    async commitTree(where, tree, parents, message) {
      const args = ['commit-tree', '--no-gpg-sign', tree];
      for (const p of parents) args.push('-p', p);
      args.push('-m', message);
      const configured = await raw(where, ['config', 'user.email'], { ...ro, accept: [0, 1] });
      return out(where, args, { env: configured.exitCode === 0 ? {} : identityEnv(AGENTCTL_IDENTITY) });
    },
  };
}

/** Largest file a capture commits, in bytes (100 MiB, the largest file GitHub takes); see worktree.ts prepareForGit. */
export const MAX_CAPTURE_FILE_BYTES = 100 * 1024 * 1024;

/** Paths for a commit message: quoted, the first 20, then how many more. */
function namedList(paths: readonly string[]): string {
  return `${paths.slice(0, 20).map((p) => JSON.stringify(p)).join(', ')}${paths.length > 20 ? ` and ${paths.length - 20} more` : ''}`;
}

/** The paths of `git ls-files --stage -z` output (`<mode> <sha> <stage>\t<path>\0`…): every tracked one, and the gitlinks (mode 160000). */
function indexEntries(listing: string): { gitlinks: Set<string>; tracked: Set<string> } {
  const gitlinks = new Set<string>();
  const tracked = new Set<string>();
  for (const entry of listing.split('\0')) {
    const tab = entry.indexOf('\t');
    if (tab <= 0) continue;
    tracked.add(entry.slice(tab + 1));
    if (entry.startsWith('160000 ')) gitlinks.add(entry.slice(tab + 1));
  }
  return { gitlinks, tracked };
}

/** Most files {@link Git.commitAll} leaves out for their `working-tree-encoding` before it gives up (each costs one more `git add`). */
const MAX_UNENCODABLE = 20;

/**
 * The file named by `git add`'s fatal error for a file it cannot convert as its `working-tree-encoding`
 * attribute says (git 2.39, LC_ALL=C: `BOM is required in '<path>' if encoded as UTF-16`, `failed to
 * encode '<path>' from <encoding> to UTF-8`), or undefined for any other failure. Pure.
 * @param stderr git's error output
 */
export function unencodablePath(stderr: string): string | undefined {
  const line = stderr.split('\n').reverse().find((l) => l.startsWith('fatal: '));
  return line ? (/^fatal: BOM is required in '(.+)' if encoded as /.exec(line) ?? /^fatal: failed to encode '(.+)' from \S+ to UTF-8$/.exec(line))?.[1] : undefined;
}

/** cwd and GIT_DIR/GIT_WORK_TREE for a call. */
function place(where: GitWhere): { cwd: string; targetEnv: Record<string, string> } {
  if (typeof where !== 'string') return { cwd: where.workTree, targetEnv: { GIT_DIR: where.gitDir, GIT_WORK_TREE: where.workTree } };
  const found = locateRepo(where);
  return { cwd: where, targetEnv: found ? { GIT_DIR: found.gitDir, GIT_WORK_TREE: found.workTree } : {} };
}

/**
 * Parse `git diff --numstat -z --no-renames`: `<ins>\t<del>\t<path>\0` per file, `-` counts for binary.
 * @throws InternalError on an entry that is not in that shape (never a silent NaN)
 */
export function parseNumstat(text: string): FileChange[] {
  const changes: FileChange[] = [];
  for (const entry of text.split('\0')) {
    if (!entry) continue;
    const match = /^(\d+|-)\t(\d+|-)\t([\s\S]+)$/.exec(entry);
    if (!match) throw new InternalError(`unexpected git numstat entry: ${JSON.stringify(entry.slice(0, 100))}`);
    changes.push({ path: match[3]!, insertions: match[1] === '-' ? -1 : Number(match[1]), deletions: match[2] === '-' ? -1 : Number(match[2]) });
  }
  return changes;
}

/** Parse `git worktree list --porcelain -z`: NUL-terminated lines, an empty one between worktrees. */
export function parseWorktrees(text: string): { path: string; branch: string | undefined }[] {
  const list: { path: string; branch: string | undefined }[] = [];
  let current: { path: string; branch: string | undefined } | undefined;
  for (const line of text.split('\0')) {
    if (line.startsWith('worktree ')) list.push((current = { path: line.slice('worktree '.length), branch: undefined }));
    else if (line.startsWith('branch refs/heads/') && current) current.branch = line.slice('branch refs/heads/'.length);
    else if (line === '') current = undefined;
  }
  return list;
}

/** Author and committer variables for a commit made on someone's behalf. */
export function identityEnv(who: { name: string; email: string }): Record<string, string> {
  return {
    GIT_AUTHOR_NAME: who.name,
    GIT_AUTHOR_EMAIL: who.email,
    GIT_COMMITTER_NAME: who.name,
    GIT_COMMITTER_EMAIL: who.email,
  };
}

/**
 * Find the repository containing `cwd`.
 * @throws ConfigError when `cwd` is not inside a git working tree
 */
export async function requireRepo(git: Git, cwd: string): Promise<{ root: string; commonDir: string }> {
  // Every command starts here: one git process for both answers instead of two (each costs a process
  // and simple-git's set-up). Output that is not exactly two lines (a path holding a newline) or a
  // failure takes the two separate calls below, which give the answer or the error as before.
  if (existsSync(cwd) && statSync(cwd).isDirectory()) {
    const r = await git.raw(cwd, ['rev-parse', '--show-toplevel', '--path-format=absolute', '--git-common-dir'], { readOnly: true, accept: [0, 128] });
    const lines = r.stdout.replace(/\n$/, '').split('\n');
    const [root, commonDir] = lines.map((l) => l.trim());
    if (r.exitCode === 0 && lines.length === 2 && root && commonDir) return { root, commonDir };
  }
  const root = await git.topLevel(cwd);
  if (!root) {
    throw new ConfigError(`not a git repository: ${cwd}`, { hint: 'Run agentctl inside the repository whose tasks you want to run.' });
  }
  return { root, commonDir: await git.commonDir(root) };
}
