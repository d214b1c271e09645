/**
 * Git operations agentctl needs, all through the one process runner with a safe environment:
 * no inherited `GIT_*` variables (so `GIT_DIR`/`GIT_CONFIG_*` from the caller cannot redirect us),
 * no terminal prompts, `GIT_OPTIONAL_LOCKS=0` for read-only calls.
 */
import { ConfigError } from '../core/errors.js';
import { childEnv, runProcess, type RunResult } from './runner.js';

/** A function with the shape of {@link runProcess}; tests may pass a wrapper. */
export type ProcessRunner = typeof runProcess;

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

/** Options for one git call. */
interface GitCallOptions {
  /** Read-only calls set GIT_OPTIONAL_LOCKS=0 so they never take index.lock. */
  readOnly?: boolean;
  /** Extra env (e.g. author identity). */
  env?: Record<string, string>;
  /** Exit codes that are not failures. */
  accept?: readonly number[];
  /** Text for stdin. */
  input?: string;
}

/** Git operations bound to a process runner. Every method takes an absolute `cwd` inside a repository. */
export interface Git {
  /** Run `git <args>` and return the whole result. Throws ProcessFailedError on an unaccepted exit code. */
  raw(cwd: string, args: readonly string[], options?: GitCallOptions): Promise<RunResult>;
  /** Run `git <args>` and return stdout without the trailing newline. */
  out(cwd: string, args: readonly string[], options?: GitCallOptions): Promise<string>;
  /** Top-level directory of the working tree containing `cwd`, or null when not in a repository. */
  topLevel(cwd: string): Promise<string | null>;
  /** Absolute path of the common `.git` directory (shared by all worktrees). */
  commonDir(cwd: string): Promise<string>;
  /** Current branch name, or null when HEAD is detached. */
  currentBranch(cwd: string): Promise<string | null>;
  /** Full sha of a revision, or null when it does not resolve. */
  resolve(cwd: string, rev: string): Promise<string | null>;
  /** `git status --porcelain` lines (untracked included); empty array when clean. */
  status(cwd: string): Promise<string[]>;
  /** Files changed between two commits with line counts. */
  numstat(cwd: string, from: string, to: string): Promise<FileChange[]>;
  /** The repository's worktrees (`git worktree list --porcelain`): absolute path and checked-out branch (undefined when detached or bare). */
  worktrees(cwd: string): Promise<{ path: string; branch: string | undefined }[]>;
  /** Unified diff between two commits (text). */
  diff(cwd: string, from: string, to: string): Promise<string>;
  /**
   * Stage everything in a worktree and commit it. Returns the new HEAD sha, or null when there was nothing to commit.
   * @param author name/email recorded as author and committer
   * @param exclude repository-relative paths left out of the commit
   * @param base commit whose version of the excluded paths the commit keeps (absent if it lacks them); default HEAD
   */
  commitAll(cwd: string, message: string, author: { name: string; email: string }, exclude?: readonly string[], base?: string): Promise<string | null>;
  /** True when `ancestor` is an ancestor of (or equal to) `descendant`. */
  isAncestor(cwd: string, ancestor: string, descendant: string): Promise<boolean>;
  /**
   * Compute the merge of two commits without touching any working tree (`git merge-tree --write-tree`).
   * @returns `{tree}` on a clean merge, `{conflicts}` (file paths) otherwise
   */
  mergeTree(cwd: string, ours: string, theirs: string): Promise<{ tree: string } | { conflicts: string[] }>;
  /** Create a commit object from a tree and parents; returns its sha. */
  commitTree(cwd: string, tree: string, parents: readonly string[], message: string): Promise<string>;
}

const SAFE_GIT_ENV = {
  GIT_TERMINAL_PROMPT: '0',
  GIT_ASKPASS: '',
  SSH_ASKPASS: '',
  GIT_EDITOR: 'true',
  GIT_PAGER: 'cat',
  GIT_CONFIG_NOSYSTEM: '1',
  LC_ALL: 'C',
};

/**
 * Create the git module bound to a runner.
 * @param run process runner (default: the real one)
 * @param parentEnv environment to take the allowlisted basics (PATH, HOME, …) from
 */
export function createGit(run: ProcessRunner = runProcess, parentEnv: NodeJS.ProcessEnv = process.env): Git {
  const raw: Git['raw'] = (cwd, args, options = {}) =>
    run('git', args, {
      cwd,
      env: childEnv(parentEnv, {
        ...SAFE_GIT_ENV,
        ...(options.readOnly ? { GIT_OPTIONAL_LOCKS: '0' } : {}),
        ...options.env,
      }),
      acceptExitCodes: options.accept ?? [0],
      ...(options.input !== undefined ? { input: options.input } : {}),
      timeoutMs: 120_000,
    });
  const out: Git['out'] = async (cwd, args, options) => (await raw(cwd, args, options)).stdout.replace(/\n$/, '');

  const git: Git = {
    raw,
    out,
    async topLevel(cwd) {
      const r = await raw(cwd, ['rev-parse', '--show-toplevel'], { readOnly: true, accept: [0, 128] });
      return r.exitCode === 0 ? r.stdout.trim() : null;
    },
    async commonDir(cwd) {
      return out(cwd, ['rev-parse', '--path-format=absolute', '--git-common-dir'], { readOnly: true });
    },
    async currentBranch(cwd) {
      const r = await raw(cwd, ['symbolic-ref', '--quiet', '--short', 'HEAD'], { readOnly: true, accept: [0, 1, 128] });
      return r.exitCode === 0 ? r.stdout.trim() : null;
    },
    async resolve(cwd, rev) {
      const r = await raw(cwd, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], {
        readOnly: true,
        accept: [0, 1, 128],
      });
      return r.exitCode === 0 ? r.stdout.trim() : null;
    },
    async status(cwd) {
      const text = await out(cwd, ['status', '--porcelain=v1', '--untracked-files=all'], { readOnly: true });
      return text === '' ? [] : text.split('\n');
    },
    async numstat(cwd, from, to) {
      const text = await out(cwd, ['diff', '--numstat', '-z', '--no-renames', from, to], { readOnly: true });
      const changes: FileChange[] = [];
      for (const entry of text.split('\0')) {
        if (!entry) continue;
        const [ins, del, ...rest] = entry.split('\t');
        changes.push({
          path: rest.join('\t'),
          insertions: ins === '-' ? -1 : Number(ins),
          deletions: del === '-' ? -1 : Number(del),
        });
      }
      return changes;
    },
    async worktrees(cwd) {
      const text = await out(cwd, ['worktree', 'list', '--porcelain'], { readOnly: true });
      const list: { path: string; branch: string | undefined }[] = [];
      for (const block of text.split('\n\n')) {
        const path = block.match(/^worktree (.*)$/m)?.[1];
        if (path) list.push({ path, branch: block.match(/^branch refs\/heads\/(.*)$/m)?.[1] });
      }
      return list;
    },
    async diff(cwd, from, to) {
      return out(cwd, ['diff', '--no-color', '--no-ext-diff', from, to], { readOnly: true });
    },
    async commitAll(cwd, message, author, exclude = [], base) {
      await raw(cwd, ['add', '--all', '--', '.', ...exclude.map((p) => `:(exclude,literal)${p}`)]);
      // Excluded paths go back to what the base commit has, even if the agent staged or committed them
      // itself: gone when the base lacks them, the base's version when it tracks them.
      if (exclude.length) await raw(cwd, ['reset', '-q', base ?? 'HEAD', '--', ...exclude.map((p) => `:(literal)${p}`)], { accept: [0, 1] });
      const staged = await raw(cwd, ['diff', '--cached', '--quiet'], { accept: [0, 1] });
      if (staged.exitCode === 0) return null;
      const env = identityEnv(author);
      await raw(cwd, ['commit', '--no-verify', '--no-gpg-sign', '-q', '-m', message], { env });
      return out(cwd, ['rev-parse', 'HEAD'], { readOnly: true });
    },
    async isAncestor(cwd, ancestor, descendant) {
      const r = await raw(cwd, ['merge-base', '--is-ancestor', ancestor, descendant], { readOnly: true, accept: [0, 1] });
      return r.exitCode === 0;
    },
    async mergeTree(cwd, ours, theirs) {
      const r = await raw(cwd, ['merge-tree', '--write-tree', '--name-only', '--no-messages', ours, theirs], {
        accept: [0, 1],
      });
      const lines = r.stdout.trim().split('\n');
      const tree = lines[0] ?? '';
      if (r.exitCode === 0) return { tree };
      return { conflicts: lines.slice(1).filter(Boolean) };
    },
    async commitTree(cwd, tree, parents, message) {
      const args = ['commit-tree', '--no-gpg-sign', tree];
      for (const p of parents) args.push('-p', p);
      args.push('-m', message);
      const configured = await raw(cwd, ['config', 'user.email'], { readOnly: true, accept: [0, 1] });
      const env = configured.exitCode === 0 ? {} : identityEnv(AGENTCTL_IDENTITY);
      return out(cwd, args, { env });
    },
  };
  return git;
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
  const root = await git.topLevel(cwd);
  if (!root) {
    throw new ConfigError(`not a git repository: ${cwd}`, { hint: 'Run agentctl inside the repository whose tasks you want to run.' });
  }
  return { root, commonDir: await git.commonDir(root) };
}
