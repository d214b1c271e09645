/**
 * Codex CLI renderer: policy → `config.toml` in a per-run `CODEX_HOME`, using a permission profile.
 *
 * Inside agentctl's OS sandbox (the default, `sandbox: os`) Codex runs its commands without a sandbox
 * of its own (`default_permissions = ":danger-full-access"`): its bubblewrap needs a nested user
 * namespace, which the OS sandbox forbids (see renderCodex). The permission profile below is what a run
 * with `sandbox: none` gets.
 *
 * Source: openai/codex `docs/config.md`, developers.openai.com/codex/permissions, and
 * `codex-rs/config/src/permissions_toml.rs` (checked against 0.169 with `--strict-config`):
 * - `default_permissions = "<name>"` selects `[permissions.<name>]`;
 * - `[permissions.<name>.filesystem]` maps absolute, `~/` or `:special` paths to `read`|`write`|`deny`
 *   (deny > write > read); `":workspace_roots"` is a nested map of workspace-relative subpaths; glob keys
 *   work for `deny` only, with `glob_scan_max_depth` bounding the scan on Linux; a `read`/`write` key
 *   must be an exact path or end in `/**` (`compile_read_write_glob_path`: "filesystem glob path `**\/*.md`
 *   only supports `deny` access", a config error at startup, observed with 0.169.0), so other grant
 *   globs are left out (Codex then refuses those writes; fails closed);
 * - every `write` entry becomes a bubblewrap writable root with Codex's own read-only guards mounted
 *   inside it (`.git`, `.codex`, `.agents`, `.aws`: `protocol/src/sandbox_paths.rs`, linux-sandbox), so
 *   write is granted on folders only (a writable file stops Codex from starting at all: issue 9,
 *   finding 12); the protocol report files are granted as the `.agentctl` folder;
 * - `:root = read` would show commands the whole disk: the main checkout (but its `.git`) and agentctl's
 *   home (but this run's worktree and run directory) are denied entry by entry ({@link codexHiddenPaths});
 * - `[permissions.<name>.network] enabled = false` turns network off;
 * - `approval_policy = "never"` (headless; `untrusted` is rejected by current versions);
 * - `sandbox_mode` and `-s/--sandbox` are never set: either switches Codex back to its legacy sandbox
 *   and the permission profile is ignored;
 * - the worktree is never marked trusted (`projects.<path>.trust_level`): an untrusted project's own
 *   `.codex/` layer (config, hooks, MCP servers) is ignored ("project configuration disabled", 0.169.0),
 *   so a repository cannot loosen the profile or run a hook of its own on the host;
 * - `check_for_update_on_startup = false`, `[analytics] enabled = false`, `[feedback] enabled = false`,
 *   `[otel] exporter = "none"`, `[history] persistence = "none"` keep the run quiet and local;
 * - `CODEX_HOME` must exist and must not be under the system temp dir (Codex then refuses to create its
 *   helper binaries, PR #8766), which holds for AGENTCTL_HOME's `runs/` in normal use;
 * - permission profiles restrict the filesystem and network, not which commands run, so the policy's
 *   command rules are enforced by agentctl's command guard (src/authz/guard.ts) as a `PreToolUse` hook in
 *   `CODEX_HOME/hooks.json` (developers.openai.com/codex/hooks: hooks are discovered next to each config
 *   layer; non-managed hooks run only once trusted, or with `--dangerously-bypass-hook-trust`, which
 *   `codex exec --help` describes as "for automation that already vets hook sources": agentctl wrote them).
 */
import { dirname, join } from 'node:path';
import { stringify } from 'smol-toml';
import { hasGlob } from '../check.js';
import { guardFiles, type CommandGuard } from '../guard.js';
import { isGitMetadataGlob, PROTOCOL_FILES, type Policy } from '../policy.js';
import type { RenderContext, RenderedConfig } from './types.js';

/** Name of the permission profile agentctl writes into config.toml. */
export const CODEX_PROFILE = 'agentctl';
/** Bound for glob expansion in Codex's Linux sandbox (directories deep). */
export const CODEX_GLOB_DEPTH = 8;

type Access = 'read' | 'write' | 'deny';

/** Workspace-relative key for a policy glob: `src/**` → `src`, `*.md` → `**\/*.md`. */
export function codexWorkspaceKey(glob: string): string {
  if (glob === '**') return '.';
  const dirOnly = glob.match(/^(.*)\/\*\*$/);
  if (dirOnly && !hasGlob(dirOnly[1]!)) return dirOnly[1]!;
  if (!glob.includes('/')) return `**/${glob}`;
  return glob;
}

/**
 * True when a read/write grant can be expressed for Codex: a workspace glob whose key is an exact path
 * (`src/**` → `src`). Codex rejects any other glob with `read`/`write` access.
 */
function codexGrantable(glob: string): boolean {
  return !glob.startsWith('~/') && !hasGlob(codexWorkspaceKey(glob));
}

/** Home key for a `~/` glob: `~/.ssh/**` → `~/.ssh`. */
function codexHomeKey(glob: string): string {
  return glob.replace(/\/\*\*$/, '');
}

/** What the renderer may know about the disk at render time (the adapter looks; tests pass fakes). */
export interface CodexDiskFacts {
  /**
   * What a worktree-relative path is: `'dir'`, `'file'` (anything else that exists), or undefined when
   * missing. Without it nothing is assumed to exist and no placeholder is listed.
   */
  kind?: (relPath: string) => 'dir' | 'file' | undefined;
  /** Names in an absolute folder, or undefined when it cannot be listed (needed by `hide`). */
  list?: (absDir: string) => readonly string[] | undefined;
  /**
   * Absolute folders whose contents commands must not see, each with the absolute paths inside it the
   * run needs (e.g. the main checkout, except its `.git`; agentctl's home, except this run's worktree and
   * run directory). See {@link codexHiddenPaths}.
   */
  hide?: readonly { root: string; except: readonly string[] }[];
  /** Absolute paths that stay reachable in every hidden folder (the worktree, run directory, guard). */
  keep?: readonly string[];
}

/**
 * Absolute paths to `deny` so that nothing below `root` is visible but the `except` paths. `:root =
 * read` would otherwise let any command read the user's main checkout (`cat <main>/.env`, found through
 * `git rev-parse --git-common-dir`) and agentctl's own home (the event database, other runs). Walks down
 * only along the excepted paths: an entry that holds one is opened and its other entries denied, an
 * excepted entry is left alone, every other entry is denied. Pure apart from calling `list`.
 * @param root absolute folder
 * @param except absolute paths inside `root` that stay (paths outside it are ignored)
 * @param list names in an absolute folder (undefined: it cannot be listed, nothing below it is denied)
 * @returns absolute paths, sorted
 */
export function codexHiddenPaths(root: string, except: readonly string[], list: (absDir: string) => readonly string[] | undefined): string[] {
  const clean = (p: string) => p.replace(/\/+$/, '');
  const keep = except.map(clean);
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of list(dir) ?? []) {
      if (name === '' || name === '.' || name === '..' || name.includes('/')) continue;
      const path = `${dir}/${name}`;
      if (keep.includes(path)) continue;
      if (keep.some((k) => k.startsWith(`${path}/`))) walk(path);
      else out.push(path);
    }
  };
  const top = clean(root);
  if (top !== '' && !keep.some((k) => k === top || top.startsWith(`${k}/`))) walk(top);
  return out.sort();
}

/**
 * Build the `[permissions.agentctl]` table.
 *
 * Codex (0.169, Linux) turns every `write` entry into a bubblewrap writable root and mounts its own
 * read-only guards inside each one (`<root>/.git`, `.codex`, `.agents`, `.aws`: openai/codex
 * `protocol/src/sandbox_paths.rs`, `linux-sandbox`). A writable *file* therefore cannot work ("bwrap:
 * Can't mkdir parents for …/.agentctl/escalate.json/.git: Not a directory", the session never starts),
 * so write access is only ever granted to folders: the protocol report files become the `.agentctl`
 * folder (with `PROTOCOL.md` and the project profiles inside it denied; anything else the agent puts
 * there is out of the write scope and flagged by agentctl's scope check), and a write grant on a path
 * that is a file at render time is left out (Codex then refuses that write; fails closed).
 * @param disk what exists (see {@link CodexDiskFacts})
 * @returns `permissions`: `{filesystem, network}` ready for TOML; `placeholders`: worktree-relative
 *   paths of exact `deny` entries below a writable folder that are missing at render time (see
 *   {@link RenderedConfig.placeholders})
 */
export function codexPermissions(policy: Policy, disk: CodexDiskFacts = {}): { permissions: Record<string, unknown>; placeholders: string[] } {
  const kind = disk.kind;
  const workspace: Record<string, Access> = {};
  const filesystem: Record<string, unknown> = { glob_scan_max_depth: CODEX_GLOB_DEPTH };
  const set = (key: string, access: Access, target: Record<string, unknown>): void => {
    const rank = { read: 0, write: 1, deny: 2 } as const;
    const current = target[key] as Access | undefined;
    if (current === undefined || rank[access] > rank[current]) target[key] = access;
  };
  const readsEverything = policy.read.some((r) => r.value === '**');
  // System files (toolchains, the codex binary itself) must stay readable for commands to run at all.
  filesystem[readsEverything ? ':root' : ':minimal'] = 'read';
  // Codex accepts glob keys only for `deny` (a `read`/`write` glob other than `dir/**` makes it refuse
  // the whole config), so such grants are left out: Codex then refuses those writes (fails closed).
  for (const r of policy.read) if (codexGrantable(r.value)) set(codexWorkspaceKey(r.value), 'read', workspace);
  for (const r of policy.write) {
    if (PROTOCOL_FILES.includes(r.value)) {
      // The folder, not the files (see above); a missing folder cannot be mounted, so it is left out.
      const dir = dirname(r.value);
      if (!kind || kind(dir) === 'dir') set(dir, 'write', workspace);
    } else if (codexGrantable(r.value)) {
      const key = codexWorkspaceKey(r.value);
      if (!kind || kind(key) !== 'file') set(key, 'write', workspace);
    }
  }
  for (const r of [...policy.deny, ...policy.protected]) {
    if (r.value.startsWith('~/')) set(codexHomeKey(r.value), 'deny', filesystem);
    // `.git` in a worktree is a pointer file git must read; agentctl commits on the agent's behalf. The
    // key is the exact root entry: `**/.git` with `read` is a glob grant, which Codex rejects.
    else if (isGitMetadataGlob(r.value)) set('.git', 'read', workspace);
    else {
      set(codexWorkspaceKey(r.value), 'deny', workspace);
      // A bare name (`.mcp.json`) is a glob at any depth, which Codex expands only over files that exist
      // at start; the exact root entry also covers the file when it is missing (see placeholders below).
      if (!r.value.includes('/') && !hasGlob(r.value)) set(r.value, 'deny', workspace);
    }
  }
  if (disk.list) {
    for (const h of disk.hide ?? []) for (const abs of codexHiddenPaths(h.root, [...h.except, ...(disk.keep ?? [])], disk.list)) set(abs, 'deny', filesystem);
  }
  if (workspace['.'] === undefined && readsEverything) workspace['.'] = 'read';
  const exact = (key: string) => key !== '.' && !hasGlob(key);
  for (const key of Object.keys(workspace)) {
    // An entry below a denied folder is redundant, and bwrap fails to mount it when the folder is missing.
    if (!exact(key)) continue;
    const parts = key.split('/');
    if (parts.slice(1).some((_, i) => workspace[parts.slice(0, i + 1).join('/')] === 'deny')) delete workspace[key];
  }
  // The writable folder an exact entry lies in, if any (`.` for a writable workspace root).
  const writableAbove = (key: string): string | undefined => {
    if (workspace['.'] === 'write') return '.';
    const parts = key.split('/');
    for (let i = parts.length - 1; i > 0; i--) {
      const dir = parts.slice(0, i).join('/');
      if (workspace[dir] === 'write') return dir;
    }
    return undefined;
  };
  if (workspace['.'] === 'write') {
    // `.codex` is left to Codex, which protects it itself below a writable root and fails outright on an
    // entry for it ("bwrap: Can't create file at …/.codex: Is a directory").
    delete workspace['.codex'];
  }
  const placeholders: string[] = [];
  for (const [key, access] of Object.entries(workspace)) {
    if (!exact(key) || writableAbove(key) === undefined) continue;
    // A `write` entry below a writable folder adds nothing.
    if (access === 'write') delete workspace[key];
    else if (access === 'deny' && kind && kind(key) === undefined) {
      // Below a writable folder, Codex's sandbox mounts every exact `deny` entry read-only, creating an
      // empty placeholder file on the host for a path that does not exist (observed with 0.169.0: `echo
      // x > .mcp.json` → "Read-only file system", and an empty mode-000 `.mcp.json` left behind). That is
      // what protects a missing path, so the entries stay, and the paths are reported for removal after
      // the run. bwrap can place a stand-in only in a folder that exists ("Can't bind mount … No such
      // file or directory" otherwise, and Codex then fails to start): a protected path whose folder is
      // missing is left to agentctl's post-run scope check.
      if (key.includes('/') && kind(dirname(key)) !== 'dir') delete workspace[key];
      else placeholders.push(key);
    }
  }
  filesystem[':workspace_roots'] = workspace;
  return { permissions: { filesystem, network: { enabled: policy.network.value } }, placeholders };
}

/**
 * Render the Codex configuration for one run. Pure apart from calling `disk.kind`.
 * @param guard how to start the command guard (required: permission profiles do not restrict commands,
 *   so a run without it would lose the command rules)
 * @param disk see {@link CodexDiskFacts}; the adapter looks at the worktree and its main checkout (the
 *   worktree, run directory and guard are always kept reachable)
 * @returns `<runDir>/codex/home/config.toml` (the profile is selected there), `hooks.json` running the
 *   guard (`{hooks: <guardHooks block>}`), the guard's `agentctl-command-rules.json` ({@link guardFiles});
 *   the `--dangerously-bypass-hook-trust` arg; `CODEX_HOME`; and the placeholders Codex may create (absolute)
 */
export function renderCodex(policy: Policy, ctx: RenderContext, guard: CommandGuard, disk: CodexDiskFacts = {}): RenderedConfig {
  const home = join(ctx.runDir, 'codex', 'home');
  const keep = [ctx.worktree, ctx.runDir, guard.node, guard.script, ...(disk.keep ?? [])];
  // Inside agentctl's OS sandbox Codex cannot start a sandbox of its own: srt forbids nested user
  // namespaces (one would let a process detach the sandbox's read-only mounts), which Codex 0.169's
  // bubblewrap needs ("bwrap: No permissions to create new namespace"), and its legacy Landlock mode
  // refuses a restricted filesystem ("filesystem-restricted execution requires bubblewrap"). Only
  // `:danger-full-access` starts there. The OS sandbox, rendered from the same policy, is then the
  // boundary for reads, writes and network; the command guard still decides which commands run, and
  // agentctl's scope check judges what was written. With `sandbox: none` Codex's own sandbox is all
  // there is, so it gets the full permission profile.
  const confined = policy.sandbox.value === 'os';
  const { permissions, placeholders } = confined ? { permissions: undefined, placeholders: [] } : codexPermissions(policy, { ...disk, keep });
  const config = {
    approval_policy: 'never',
    check_for_update_on_startup: false,
    default_permissions: confined ? ':danger-full-access' : CODEX_PROFILE,
    analytics: { enabled: false },
    feedback: { enabled: false },
    history: { persistence: 'none' },
    otel: { exporter: 'none' },
    // Commands inside the OS sandbox reach the network only through its proxy, named by the variables srt
    // sets (HTTP_PROXY, NO_PROXY, …), which `core` drops: they inherit the whole (already minimal)
    // environment agentctl gave Codex, secrets still excluded.
    shell_environment_policy: { inherit: confined ? 'all' : 'core', exclude: ['*TOKEN*', '*KEY*', '*SECRET*', '*PASSWORD*', 'AWS_*'] },
    ...(permissions ? { permissions: { [CODEX_PROFILE]: permissions } } : {}),
  };
  const header = '# Generated by agentctl for one run. Edits here have no effect on later runs.\n';
  // Codex reports its file tool to hooks as `apply_patch` (its raw patch in tool_input.command): the guard
  // holds each file it touches to the write scope, which nothing else narrows inside the OS sandbox.
  const guarded = guardFiles(policy, guard, home, { root: ctx.worktree, matcher: 'Bash|apply_patch' });
  return {
    tool: 'codex',
    files: [
      { path: join(home, 'config.toml'), content: header + stringify(config) + '\n' },
      ...guarded.files,
      { path: join(home, 'hooks.json'), content: JSON.stringify({ hooks: guarded.hooks }, null, 2) + '\n' },
    ],
    // Our hooks live in a CODEX_HOME agentctl just wrote for this run; Codex would otherwise skip them
    // until a human trusts them in its TUI (`/hooks`).
    args: ['--dangerously-bypass-hook-trust'],
    env: { CODEX_HOME: home },
    // Codex reads command rules (`$CODEX_HOME/rules/*.rules`, its execpolicy) from its home: none planted.
    readOnlyDirs: [join(home, 'rules')],
    placeholders: placeholders.map((p) => join(ctx.worktree, p)),
  };
}
