/**
 * What makes agentctl's own git calls ignore everything a repository or an agent controls (pure data).
 *
 * A repository's config (shared by every worktree, so writable by an unconfined agent), an in-tree
 * `.gitattributes` and the user's global config can name programs git runs on its own: hooks, an
 * fsmonitor, filter drivers (`clean`/`smudge`/`process`), merge drivers, textconv and external diff
 * commands, a pager, an editor, a signing program. Every git call agentctl makes carries
 * {@link HARDENED_CONFIG} (`-c`, highest precedence), {@link SAFE_GIT_ENV}, and overrides for each
 * filter and merge driver the repository's config defines ({@link driverOverrides}). Diff-family commands
 * also get `--no-ext-diff --no-textconv` ({@link DIFF_FAMILY}): an empty `diff.<x>.textconv` or
 * `diff.<x>.command` is not neutral on git 2.39 (git tries to run the empty command and dies), so those
 * are switched off by flag instead.
 */
import { InternalError } from '../core/errors.js';

/**
 * `-c` settings on every call. Values are neutral, not merely empty where empty would mean "run nothing
 * and fail": `core.hooksPath=/dev/null` (no hook can exist under it), `core.fsmonitor=false`, `false` for
 * programs that must never be needed (ssh, gpg), an empty `credential.helper` (resets the helper list).
 */
export const HARDENED_CONFIG: readonly string[] = [
  'core.hooksPath=/dev/null',
  'core.fsmonitor=false',
  'core.pager=cat',
  'core.editor=true',
  'core.askPass=',
  'core.sshCommand=false',
  // Replace refs would make every read (diff, merge-tree) see substituted objects the agent planted.
  'core.useReplaceRefs=false',
  'credential.helper=',
  'gpg.program=false',
  'gpg.ssh.program=false',
  'gpg.x509.program=false',
  'commit.gpgSign=false',
  'tag.gpgSign=false',
  'log.showSignature=false',
  // No background gc/maintenance processes started by a commit.
  'gc.auto=0',
  'maintenance.auto=false',
  // No checkout, reset or merge steps into nested repositories, whose own config would apply there.
  // (`git add` and a work-tree diff still ask a populated one for its status, running git there with
  // its config: {@link nestedRepoExclusions} keeps them out of a capture.)
  'submodule.recurse=false',
  'color.ui=false',
  'diff.relative=false',
  'merge.stat=false',
  'rebase.stat=false',
  'rebase.updateRefs=false',
  'rebase.autoStash=false',
  'rebase.autoSquash=false',
  'rebase.backend=merge',
];

/**
 * Environment for every git call (on top of the runner's allowlisted basics, which never carry
 * `GIT_DIR`, `GIT_CONFIG_*` or other `GIT_*` variables from the caller).
 */
export const SAFE_GIT_ENV: Readonly<Record<string, string>> = {
  GIT_TERMINAL_PROMPT: '0',
  GIT_ASKPASS: '',
  SSH_ASKPASS: '',
  GIT_EDITOR: 'true',
  GIT_PAGER: 'cat',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_ATTR_NOSYSTEM: '1',
  GIT_NO_REPLACE_OBJECTS: '1',
  // No grafts file can exist below /dev/null (and git stays quiet about a path that is not there).
  GIT_GRAFT_FILE: '/dev/null/no-grafts',
  LC_ALL: 'C',
};

/**
 * simple-git refuses `-c`/env settings of these kinds unless allowed; agentctl sets them only to the
 * neutral values above and in {@link driverOverrides}, never to anything taken from a repository.
 */
export const SIMPLE_GIT_UNSAFE = {
  allowUnsafeHooksPath: true,
  allowUnsafeFsMonitor: true,
  allowUnsafePager: true,
  allowUnsafeEditor: true,
  allowUnsafeAskPass: true,
  allowUnsafeSshCommand: true,
  allowUnsafeCredentialHelper: true,
  allowUnsafeGpgProgram: true,
  allowUnsafeFilter: true,
  allowUnsafeMergeDriver: true,
  allowUnsafeConfigEnvCount: true,
  // gitRemote.ts sets `protocol.ext.allow=never` (it only narrows the transports) and passes
  // `--upload-pack`/`--receive-pack` naming git's own programs (over the repository's config).
  allowUnsafeProtocolOverride: true,
  allowUnsafePack: true,
} as const;

/** Subcommands whose output can run a textconv filter or an external diff; they get {@link DIFF_FLAGS}. */
export const DIFF_FAMILY: ReadonlySet<string> = new Set(['diff', 'log', 'show']);

/** Flags added right after a {@link DIFF_FAMILY} subcommand. */
export const DIFF_FLAGS: readonly string[] = ['--no-ext-diff', '--no-textconv'];

/**
 * The `git config` arguments that list every key in effect, includes followed (NUL-terminated names).
 * The whole list rather than a filtered one: a git call that prints nothing costs simple-git an extra
 * 50 ms wait, and every repository config has some key.
 */
export const DRIVER_LIST_ARGS: readonly string[] = ['config', '--null', '--name-only', '--list'];

/** Subcommands that never convert between the work tree and blobs nor merge file contents. */
const NO_DRIVER_COMMANDS: ReadonlySet<string> = new Set(['rev-parse', 'symbolic-ref', 'config', 'for-each-ref', 'update-ref', 'commit-tree', 'merge-base', 'ls-tree', 'diff-tree', 'rev-list', 'show-ref', 'branch', 'log']);
/** `git worktree` subcommands that never check out files. */
const NO_DRIVER_WORKTREE: ReadonlySet<string> = new Set(['list', 'prune', 'unlock', 'lock']);

/**
 * Where the subcommand is in git arguments: after any leading `-c <key>=<value>` pairs (a caller's own
 * settings for one call), which must not hide the subcommand from the rules below. Any other option
 * before the subcommand (`-C <dir>`, `--git-dir=…`, `--no-pager` …) is refused rather than skipped: the
 * rules would read its value as the subcommand (callers choose the repository with the call's `where`).
 * @returns the index of the subcommand (args.length when there is none)
 * @throws InternalError for a leading option other than `-c`
 */
function subcommandIndex(args: readonly string[]): number {
  let i = 0;
  while (args[i] === '-c' && i + 1 < args.length) i += 2;
  const at = args[i];
  if (at !== undefined && at.startsWith('-') && at !== '-c') throw new InternalError(`git option ${at} before the subcommand: only -c pairs may come first (choose the repository with the call's where)`);
  return i;
}

/**
 * Whether a git call can run a filter or merge driver, so it needs {@link driverOverrides} (listing the
 * drivers costs one more git process). Unknown subcommands count as able to (fail safe).
 * @param args git arguments: the subcommand, after any leading `-c` pairs
 */
export function mayRunDrivers(args: readonly string[]): boolean {
  const at = subcommandIndex(args);
  const sub = args[at] ?? '';
  const first = args[at + 1] ?? '';
  if (sub === 'worktree') return !NO_DRIVER_WORKTREE.has(first);
  if (sub === 'cat-file') return args.some((a) => a === '--filters' || a === '--textconv' || a.startsWith('--path'));
  return !NO_DRIVER_COMMANDS.has(sub);
}

/**
 * Overrides that switch off each filter and merge driver named in the config.
 * @param listed the NUL-separated key names printed by `git config` with {@link DRIVER_LIST_ARGS}
 *   (e.g. `core.bare\0filter.lfs.clean\0merge.ours.driver\0`); keys of other sections and keys without a
 *   driver name (`merge.ff`) are skipped
 * @returns `[key, value]` pairs: a filter's `clean`, `smudge` and `process` emptied (git skips an empty
 *   filter command) and `required=false` (else git refuses to stage the file); a merge driver set to
 *   `false`, so the file conflicts and agentctl refuses the merge instead of running the driver (an empty
 *   driver makes git 2.39 die)
 */
export function driverOverrides(listed: string): [string, string][] {
  const filters = new Set<string>();
  const merges = new Set<string>();
  for (const key of listed.split('\0')) {
    const first = key.indexOf('.');
    const last = key.lastIndexOf('.');
    if (first < 0 || last <= first) continue; // no driver (subsection) name
    const section = key.slice(0, first).toLowerCase();
    const name = key.slice(first + 1, last);
    if (section === 'filter') filters.add(name);
    else if (section === 'merge') merges.add(name);
  }
  const out: [string, string][] = [];
  for (const name of filters) {
    out.push([`filter.${name}.clean`, ''], [`filter.${name}.smudge`, ''], [`filter.${name}.process`, ''], [`filter.${name}.required`, 'false']);
  }
  for (const name of merges) out.push([`merge.${name}.driver`, 'false']);
  return out;
}

/**
 * Environment variables carrying config overrides (`GIT_CONFIG_COUNT`/`KEY_n`/`VALUE_n`). Used instead of
 * `-c` because a driver name may contain `=`, which `-c key=value` would split at.
 */
export function configEnv(pairs: readonly [string, string][]): Record<string, string> {
  if (pairs.length === 0) return {};
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(pairs.length) };
  pairs.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

/**
 * Insert {@link DIFF_FLAGS} after a diff-family subcommand (`diff`, `log`, `show`); other args unchanged.
 * @param args git arguments: the subcommand, after any leading `-c` pairs
 */
export function withDiffFlags(args: readonly string[]): string[] {
  const at = subcommandIndex(args);
  const sub = args[at];
  return sub !== undefined && DIFF_FAMILY.has(sub) ? [...args.slice(0, at + 1), ...DIFF_FLAGS, ...args.slice(at + 1)] : [...args];
}

/**
 * The pathspecs a capture's `git add --all` leaves out so that git never steps into a nested repository.
 * For a gitlink in the index whose folder holds a `.git` (a repository's submodule the agent populated,
 * or a nested repository an earlier capture staged), `git add` runs `git status` inside it, with that
 * repository's own config and attributes: a clean filter an agent wrote there ran on the host, outside
 * the OS sandbox (an attack session read the log key with it). An untracked nested repository would be
 * staged as a gitlink, and so met the same way at the next capture. Pure.
 * @param nested worktree-relative folders (no trailing `/`) that hold a `.git` entry of any kind
 * @param gitlinks worktree-relative paths of the index's gitlinks (mode 160000)
 * @returns the folders to exclude, each once, none inside another: a nested repository inside a gitlink's
 *   folder is left out as that gitlink (git refuses a pathspec inside a submodule), sorted
 */
export function nestedRepoExclusions(nested: readonly string[], gitlinks: ReadonlySet<string>): string[] {
  const within = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);
  const mapped = nested.map((dir) => {
    const parts = dir.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const ancestor = parts.slice(0, i).join('/');
      if (gitlinks.has(ancestor)) return ancestor;
    }
    return dir;
  });
  const sorted = [...new Set(mapped)].sort();
  return sorted.filter((p) => !sorted.some((q) => q !== p && within(p, q)));
}
