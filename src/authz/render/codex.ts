/**
 * Codex CLI renderer: policy → `config.toml` in a per-run `CODEX_HOME`, using a permission profile.
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
 * - `[permissions.<name>.network] enabled = false` turns network off;
 * - `approval_policy = "never"` (headless; `untrusted` is rejected by current versions);
 * - `sandbox_mode` and `-s/--sandbox` are never set: either switches Codex back to its legacy sandbox
 *   and the permission profile is ignored;
 * - `check_for_update_on_startup = false`, `[analytics] enabled = false`, `[feedback] enabled = false`,
 *   `[otel] exporter = "none"`, `[history] persistence = "none"` keep the run quiet and local;
 * - `CODEX_HOME` must exist and must not be under the system temp dir (Codex then refuses to create its
 *   helper binaries, PR #8766), which holds for AGENTCTL_HOME's `runs/` in normal use.
 */
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import type { Policy } from '../policy.js';
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
  if (dirOnly && !/[*?[\]{}]/.test(dirOnly[1]!)) return dirOnly[1]!;
  if (!glob.includes('/')) return `**/${glob}`;
  return glob;
}

/**
 * True when a read/write grant can be expressed for Codex: a workspace glob whose key is an exact path
 * (`src/**` → `src`). Codex rejects any other glob with `read`/`write` access.
 */
export function codexGrantable(glob: string): boolean {
  return !glob.startsWith('~/') && !hasGlob(codexWorkspaceKey(glob));
}

/** Home key for a `~/` glob: `~/.ssh/**` → `~/.ssh`. */
function codexHomeKey(glob: string): string {
  return glob.replace(/\/\*\*$/, '');
}

/**
 * Build the `[permissions.agentctl]` table.
 * @param exists tells whether a worktree-relative path exists (used only when the workspace root is
 *   writable; without it every entry is kept)
 * @returns `{filesystem, network}` ready for TOML
 */
export function codexPermissions(policy: Policy, exists?: (relPath: string) => boolean): Record<string, unknown> {
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
  for (const r of policy.write) if (codexGrantable(r.value)) set(codexWorkspaceKey(r.value), 'write', workspace);
  for (const r of [...policy.deny, ...policy.protected]) {
    if (r.value.startsWith('~/')) set(codexHomeKey(r.value), 'deny', filesystem);
    // `.git` in a worktree is a pointer file git must read; agentctl commits on the agent's behalf. The
    // key is the exact root entry: `**/.git` with `read` is a glob grant, which Codex rejects.
    else if (r.value === '.git' || r.value === '.git/**') set('.git', 'read', workspace);
    else set(codexWorkspaceKey(r.value), 'deny', workspace);
  }
  if (workspace['.'] === undefined && readsEverything) workspace['.'] = 'read';
  for (const key of Object.keys(workspace)) {
    // An entry below a denied folder is redundant, and bwrap fails to mount it when the folder is missing.
    if (hasGlob(key)) continue;
    const parts = key.split('/');
    if (parts.slice(1).some((_, i) => workspace[parts.slice(0, i + 1).join('/')] === 'deny')) delete workspace[key];
  }
  if (workspace['.'] === 'write') {
    // A writable workspace root (`**`): Codex's sandbox mounts every exact entry below it, creating an
    // empty read-only placeholder file on the host for a path that does not exist (it would be left in
    // the worktree and committed), and fails outright on `.codex`, which it protects itself
    // ("bwrap: Can't create file at …/.codex: Is a directory"; observed with 0.169.0). So `.codex` is left
    // to Codex, and exact entries are kept only for paths that exist when `exists` can tell.
    delete workspace['.codex'];
    if (exists) for (const key of Object.keys(workspace)) if (key !== '.' && !hasGlob(key) && !exists(key)) delete workspace[key];
  }
  filesystem[':workspace_roots'] = workspace;
  return { filesystem, network: { enabled: policy.network.value } };
}

function hasGlob(key: string): boolean {
  return /[*?[\]]/.test(key);
}

/**
 * Render the Codex configuration for one run.
 * @param exists see {@link codexPermissions}; the adapter passes a check against the worktree
 * @returns `<runDir>/codex/home/config.toml`, no extra args (the profile is selected in config), and
 *   `CODEX_HOME`
 */
export function renderCodex(policy: Policy, ctx: RenderContext, exists?: (relPath: string) => boolean): RenderedConfig {
  const home = join(ctx.runDir, 'codex', 'home');
  const config = {
    approval_policy: 'never',
    check_for_update_on_startup: false,
    default_permissions: CODEX_PROFILE,
    analytics: { enabled: false },
    feedback: { enabled: false },
    history: { persistence: 'none' },
    otel: { exporter: 'none' },
    shell_environment_policy: { inherit: 'core', exclude: ['*TOKEN*', '*KEY*', '*SECRET*', '*PASSWORD*', 'AWS_*'] },
    permissions: { [CODEX_PROFILE]: codexPermissions(policy, exists) },
    projects: { [ctx.worktree]: { trust_level: 'trusted' } },
  };
  const header = '# Generated by agentctl for one run. Edits here have no effect on later runs.\n';
  return {
    tool: 'codex',
    files: [{ path: join(home, 'config.toml'), content: header + stringify(config) + '\n' }],
    args: [],
    env: { CODEX_HOME: home },
  };
}
