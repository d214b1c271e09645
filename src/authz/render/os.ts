/**
 * OS sandbox renderer: policy + the run's layout on disk → settings for `srt`
 * (@anthropic-ai/sandbox-runtime), which confines a command in bubblewrap on Linux (Seatbelt on macOS)
 * with filesystem and network restrictions, in its own PID namespace. Pure.
 *
 * Source: @anthropic-ai/sandbox-runtime 0.0.83, `dist/sandbox/sandbox-config.js` (FilesystemConfigSchema,
 * NetworkConfigSchema) and README: `srt --settings <file> -- <command…>`; settings
 * `{filesystem: {denyRead, allowRead, allowWrite, denyWrite}, network: {allowedDomains, deniedDomains}}`.
 * Reads are allowed everywhere unless denied; `allowRead` re-allows a folder inside a denied one, and a
 * more specific `denyRead` inside it stays denied (checked by test/e2e/containment.test.ts). Writes are
 * denied everywhere unless allowed, and `denyWrite` beats `allowWrite`; srt itself also refuses writes to
 * `.git/hooks`, `.git/config`, shell rc files and tool config folders inside writable paths. Network is
 * denied unless a domain is allowed, through proxies on the host.
 */
import { join } from 'node:path';
import { isGitMetadataGlob, type Policy } from '../policy.js';
import type { GeneratedFile } from './types.js';

/** srt settings. */
export interface SrtSettings {
  filesystem: { denyRead: string[]; allowRead: string[]; allowWrite: string[]; denyWrite: string[] };
  network: { allowedDomains: string[]; deniedDomains: string[] };
}

/** Where a run lives on disk, as the OS sandbox must see it. All paths absolute. */
export interface SandboxLayout {
  /** The run's worktree: readable and writable (but its `.git` pointer file is not). */
  worktree: string;
  /** The user's checkout: hidden (its `.env`, its other files), except the common git dir. */
  repoRoot: string;
  /** The repository's common `.git`: readable (git in the worktree needs objects and refs), never writable. */
  commonGitDir: string;
  /** AGENTCTL_HOME: hidden (event log, checkpoint, key, other runs' worktrees and configs). */
  agentctlHome: string;
  /** The run's own folder under AGENTCTL_HOME: readable (generated configs), not writable. */
  runDir: string;
  /** Folders the process may write besides the worktree (the tool's per-run home, the run's temp dir). */
  writable: string[];
  /** Files inside writable folders that stay read-only (generated configs, the command guard's rules). */
  readOnlyFiles: string[];
  /** The folder holding every run's temp dir: hidden, except this run's own (in `writable`). */
  tempRoot?: string;
  /** The user's home directory (credential folders below it are hidden). */
  homeDir: string;
  /** Further paths readable inside hidden folders: the agent's own executable when it lives in the checkout. */
  readable?: string[];
  /** Paths of the checkout the run may read without copying (read-only; never a denied path). */
  shared?: string[];
}

/**
 * Credential stores and agent state below the home directory that no sandboxed process may read,
 * whatever the policy says (home-relative).
 */
export const HOME_SECRETS = [
  '.ssh',
  '.aws',
  '.gnupg',
  '.azure',
  '.kube',
  '.docker',
  '.netrc',
  '.npmrc',
  '.pypirc',
  '.git-credentials',
  // A team store's writer password (libpq and node-postgres read it): an agent must not reach the shared log.
  '.pgpass',
  '.pg_service.conf',
  '.password-store',
  '.config/gcloud',
  '.config/gh',
  '.config/hub',
  // Package registries' and cloud tools' tokens (an attack session read ~/.cargo/credentials.toml).
  '.cargo/credentials',
  '.cargo/credentials.toml',
  '.gem/credentials',
  '.yarnrc',
  '.yarnrc.yml',
  '.m2/settings.xml',
  '.gradle/gradle.properties',
  '.composer/auth.json',
  '.config/composer/auth.json',
  '.terraform.d/credentials.tfrc.json',
  '.vault-token',
  '.config/op',
  '.config/doctl',
  '.config/agentctl',
  '.local/share/keyrings',
  '.local/share/agentctl',
  '.claude',
  '.claude.json',
  '.codex',
  '.gemini',
] as const;

/**
 * Hosts a policy with `network: true` reaches inside the OS sandbox, besides the tool's model API: srt
 * refuses a bare `*` (every connection goes through its filtering proxy), so "on" means the package
 * registries and code hosts development needs, and the loopback of the sandbox's own network.
 */
export const NETWORK_ON_HOSTS = [
  'localhost',
  '127.0.0.1',
  'registry.npmjs.org',
  '*.npmjs.org',
  'registry.yarnpkg.com',
  '*.yarnpkg.com',
  'pypi.org',
  'files.pythonhosted.org',
  'crates.io',
  '*.crates.io',
  'proxy.golang.org',
  'sum.golang.org',
  'rubygems.org',
  'repo.maven.apache.org',
  'repo1.maven.org',
  'github.com',
  '*.github.com',
  '*.githubusercontent.com',
  'gitlab.com',
  'bitbucket.org',
  'deb.debian.org',
  'security.debian.org',
] as const;

/** A policy glob as an absolute srt path pattern: `~/x` below the home dir, else inside the worktree (`**\/` for a bare name). */
function abs(glob: string, layout: SandboxLayout): string {
  if (glob.startsWith('~/')) return join(layout.homeDir, glob.slice(2));
  return join(layout.worktree, glob.includes('/') ? glob : `**/${glob}`);
}

/**
 * Build srt settings for one confined process (an agent, a gate, a setup command).
 * @param policy the run's policy: its denied paths are unreadable, its network rule applies
 * @param layout the run's folders
 * @param apiHosts hosts reachable even when the policy turns the network off (the agent tool's model API;
 *   empty for gates and setup commands)
 * @returns the settings; pure
 */
export function osSandboxSettings(policy: Policy, layout: SandboxLayout, apiHosts: readonly string[]): SrtSettings {
  return {
    filesystem: {
      denyRead: [layout.agentctlHome, layout.repoRoot, ...(layout.tempRoot ? [layout.tempRoot] : []), ...HOME_SECRETS.map((s) => join(layout.homeDir, s)), ...policy.deny.map((d) => abs(d.value, layout))],
      // The run's generated files one by one, not its folder: a read-only mount of the folder would cover
      // the writable tool homes below it.
      allowRead: [layout.worktree, layout.commonGitDir, ...layout.readOnlyFiles, ...layout.writable, ...(layout.readable ?? []), ...(layout.shared ?? [])],
      allowWrite: [layout.worktree, ...layout.writable],
      // The worktree's `.git` pointer is masked as a whole; metadata globs (`.git`, `.git/**`) are covered by it.
      denyWrite: [join(layout.worktree, '.git'), ...layout.readOnlyFiles, ...[...policy.deny, ...policy.protected].filter((d) => !isGitMetadataGlob(d.value)).map((d) => abs(d.value, layout))],
    },
    network: { allowedDomains: [...new Set([...apiHosts, ...(policy.network.value ? NETWORK_ON_HOSTS : [])])], deniedDomains: [] },
  };
}

/**
 * Render the srt settings file for one confined process.
 * @param name file name below `runDir` (e.g. `os-sandbox.agent.json`)
 */
export function renderOsSandbox(policy: Policy, layout: SandboxLayout, apiHosts: readonly string[], name: string): GeneratedFile {
  return { path: join(layout.runDir, name), content: JSON.stringify(osSandboxSettings(policy, layout, apiHosts), null, 2) + '\n' };
}
