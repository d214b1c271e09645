/**
 * OS sandbox renderer: policy + the run's layout on disk → settings for `srt`
 * (@anthropic-ai/sandbox-runtime), which confines a command in bubblewrap on Linux (Seatbelt on macOS)
 * with filesystem and network restrictions, in its own PID namespace. Pure.
 *
 * Source: @anthropic-ai/sandbox-runtime 0.0.83, `dist/sandbox/sandbox-config.js` (FilesystemConfigSchema,
 * NetworkConfigSchema) and README: `srt --settings <file> -- <command…>`; settings
 * `{filesystem: {denyRead, allowRead, allowWrite, denyWrite}, network: {allowedDomains, deniedDomains}}`.
 * Reads are allowed everywhere unless denied; `allowRead` re-allows a folder inside a denied one, and a
 * more specific `denyRead` inside it stays denied (checked by test/e2e/containment.test.ts). A `denyRead`
 * of `/` is expanded into the root's children except the kernel's (`/proc`, `/dev`, `/sys`), and
 * agentctl denies `/` so that reads are an allow list: the system's folders, the run's own, the
 * toolchains on PATH (`linux-sandbox-utils.js`, "Root deny expansion"). A path holding `*`, `?`, `[` or
 * `]` is a pattern to srt (`sandbox-utils.js` containsGlobChars), so none reaches an allow list. Writes are
 * denied everywhere unless allowed, and `denyWrite` beats `allowWrite`; srt itself also refuses writes to
 * `.git/hooks`, `.git/config`, shell rc files and tool config folders inside writable paths. Network is
 * denied unless a domain is allowed, through proxies on the host.
 */
import { basename, dirname, join, normalize } from 'node:path';
import { isGitMetadataGlob, type Policy } from '../policy.js';
import type { GeneratedFile } from './types.js';

/**
 * A filesystem entry of srt settings: a spelling (a pattern when it holds a glob character), or a path
 * marked literal, which srt takes as that one name whatever it holds. Source: @anthropic-ai/sandbox-runtime
 * 0.0.83 `dist/sandbox/sandbox-config.js` (filesystemPathEntrySchema).
 */
export type SrtPath = string | { path: string; literal: true };

/** The path an {@link SrtPath} names or spells. */
export const srtPathText = (p: SrtPath): string => (typeof p === 'string' ? p : p.path);

/** srt settings. */
export interface SrtSettings {
  filesystem: { denyRead: SrtPath[]; allowRead: SrtPath[]; allowWrite: SrtPath[]; denyWrite: SrtPath[] };
  /** Linux: the bubblewrap srt starts (srt 0.0.83 `bwrapPath`, an absolute path): agentctl's `bin/agentctl-bwrap`. */
  bwrapPath?: string;
  network: {
    allowedDomains: string[];
    deniedDomains: string[];
    tlsTerminate?: { excludeDomains: string[] };
    requireHostMatch?: true;
    allowPlaintextHeaderSet?: true;
  };
}

/** The confined process holds stand-ins for the agent tool's API keys (authz/credentials.ts). */
export interface KeyInjectionSettings {
  /**
   * The tool's base URL is `http:`: the key goes in on the plain-HTTP path too, where the tool itself
   * would have sent it in cleartext.
   */
  plaintext: boolean;
}

/** Where a run lives on disk, as the OS sandbox must see it. All paths absolute. */
export interface SandboxLayout {
  /** The run's worktree: readable and writable (but its `.git` pointer file is not). */
  worktree: string;
  /** The user's checkout: hidden (its `.env`, its other files), except what git needs of the common git dir. */
  repoRoot: string;
  /**
   * The repository's common `.git`: what git in the worktree needs of it ({@link COMMON_GIT_READ}) is
   * readable, never writable; the rest (a credential store file, an included config) stays hidden.
   */
  commonGitDir: string;
  /** AGENTCTL_HOME: hidden (event log, checkpoint, key, other runs' worktrees and configs). */
  agentctlHome: string;
  /** The run's own folder under AGENTCTL_HOME: readable (generated configs), not writable. */
  runDir: string;
  /** Folders the process may write besides the worktree (the tool's per-run home, the run's temp dir). */
  writable: string[];
  /**
   * Files and folders inside writable folders that stay read-only (generated configs, the command guard's
   * rules, a tool's configuration folders: RenderedConfig.readOnlyDirs).
   */
  readOnlyFiles: string[];
  /** The folder holding every run's temp dir: hidden, except this run's own (in `writable`). */
  tempRoot?: string;
  /** The user's home directory (credential folders below it are hidden). */
  homeDir: string;
  /** Further paths readable inside hidden folders: the agent's own executable when it lives in the checkout. */
  readable?: string[];
  /** Paths of the checkout the run may read without copying (read-only; never a denied path). */
  shared?: string[];
  /**
   * Folders outside the system's that every confined process may read (read-only): the toolchains on
   * PATH (see {@link toolchainFolders}), agentctl's own code (the command guard runs from it) and the
   * folders `sandbox.read` adds. Everything else outside {@link SYSTEM_READ} and the run's own folders is
   * hidden.
   */
  toolchains?: string[];
  /** The machine's platform (`process.platform`): macOS adds {@link MACOS_SYSTEM_READ}. Default: Linux's folders only. */
  platform?: NodeJS.Platform;
  /** Linux: the bubblewrap srt starts instead of PATH's (SrtSettings.bwrapPath). */
  bwrap?: string;
}

/**
 * Whether a git config file's text holds credentials: an http(s) URL with anything before an `@` (a
 * password, or a token as the user name: `https://ghp_…@github.com/`, as CI checkouts write
 * `remote.origin.url`, also in `[url "…"]` headers), an `extraheader` (actions/checkout's
 * `AUTHORIZATION: basic …`), a `password`, `pass`, `token`, `smtpPass` or `cookieFile` key, or an
 * inline credential helper (`helper = !echo password=…`). Pure.
 * @param text the config file's content
 */
export function gitConfigHoldsCredentials(text: string): boolean {
  return (
    /https?:\/\/[^/\s@"]+@/i.test(text) ||
    /^\s*(extraheader|password|pass|token|accesstoken|smtppass|cookiefile)\s*=/im.test(text) ||
    /^\s*helper\s*=\s*"?!/im.test(text)
  );
}

/**
 * What git in a linked worktree reads of the common `.git`: objects, refs, the config (checked for
 * credentials before any run: exec/osSandbox.ts requireCredentialFreeGitConfig), `info/` (exclude,
 * attributes), `shallow` and the worktrees' admin folders. Nothing else there is readable: a
 * `credential.helper store --file=.git/creds` file, an `include.path` file.
 */
export const COMMON_GIT_READ = ['objects', 'refs', 'packed-refs', 'HEAD', 'config', 'info', 'shallow', 'worktrees', 'commondir'] as const;

/** srt expands `*`, `?`, `[` and `]` in a path (sandbox-utils.js containsGlobChars): such a path is a pattern, not a name. */
export function hasSrtGlob(path: string): boolean {
  return /[*?[\]]/.test(path);
}

/**
 * The system's folders every confined process may read: programs, libraries, their configuration.
 * Everything else below `/` (other users' homes, `/root`, `/srv`, `/mnt`, `/var`, `/tmp`, other
 * checkouts) is hidden unless the run's layout names it. `/proc`, `/dev` and `/sys` are the kernel's and
 * srt mounts them itself.
 */
export const SYSTEM_READ = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt', '/nix', '/snap'] as const;

/**
 * On macOS also: the system and its libraries (dyld's shared cache is below `/System`), Xcode and its
 * command line tools (`/Applications`, `/Library/Developer`), and `/private/etc`, `/private/var/db`
 * (`xcode_select_link`), `/private/var/select` (`sh`) that `/etc` and `/var` link into. Untested here:
 * no Mac in CI (srt's Seatbelt profile supports a `/` read deny with these carve-outs:
 * `macos-sandbox-utils.js`).
 */
export const MACOS_SYSTEM_READ = ['/System', '/Library', '/Applications', '/private/etc', '/private/var/db', '/private/var/select'] as const;

/**
 * Secrets inside {@link SYSTEM_READ} that no confined process may read, whatever the policy says: an agent
 * running as root could otherwise read password hashes, the host's SSH keys, TLS keys, service
 * passwords. A list cannot be complete: doctor warns when agentctl (and so every confined process) runs
 * as root.
 */
export const SYSTEM_SECRETS = [
  '/etc/shadow',
  '/etc/shadow-',
  '/etc/gshadow',
  '/etc/gshadow-',
  '/etc/security/opasswd',
  '/etc/ssh',
  '/etc/ssl/private',
  '/etc/letsencrypt',
  '/etc/NetworkManager/system-connections',
  '/etc/wireguard',
  '/etc/krb5.keytab',
  '/etc/ipsec.secrets',
  '/etc/sudoers',
  '/etc/sudoers.d',
  // Service and tool credentials an attack session listed (a stand-in of each was read as root):
  '/etc/mysql/debian.cnf',
  '/etc/apt/auth.conf',
  '/etc/apt/auth.conf.d',
  '/etc/rancher',
  '/etc/kubernetes',
  '/etc/docker',
  '/etc/containerd',
  '/etc/gitlab-runner',
  '/etc/ppp/chap-secrets',
  '/etc/ppp/pap-secrets',
  '/etc/openvpn',
  '/etc/postfix/sasl_passwd',
  '/etc/postfix/sasl_passwd.db',
  '/etc/msmtprc',
  '/etc/ssmtp',
  '/etc/davfs2/secrets',
  '/etc/ceph',
  // Private keys only: /etc/pki/tls/certs holds the CA bundle TLS needs on Fedora and RHEL.
  '/etc/pki/tls/private',
  '/etc/pki/CA/private',
  '/etc/npmrc',
  '/usr/etc/npmrc',
  '/usr/local/etc/npmrc',
  '/etc/pip.conf',
  '/etc/xdg/pip/pip.conf',
  '/etc/netplan',
  '/etc/wpa_supplicant',
  '/etc/exim4/passwd.client',
  '/etc/fstab',
] as const;

/** Names of the folder of a toolchain's programs, inside its prefix (`~/.pyenv/shims`, `~/x/bin`). */
const PROGRAM_FOLDERS = new Set(['bin', 'sbin', 'shims']);

/** Home folders that hold many unrelated programs' data: never a toolchain's prefix (`~/.local/bin` grants itself). */
const SHARED_HOME_FOLDERS = ['.local', '.config', '.cache'];

/**
 * Folders a toolchain's programs read besides their prefix, home-relative (rustup's proxies in
 * `~/.cargo/bin` run the toolchains in `~/.rustup`).
 */
const COMPANION_FOLDERS: Record<string, string[]> = { '.cargo': ['.rustup'] };

/**
 * The folders to make readable so that programs found in `folders` (PATH's entries, the folder an agent
 * tool's executable really lives in) run in the sandbox. Each entry is normalised (`//`, `.`); one named
 * `bin`, `sbin` or `shims` grants its prefix, the folder holding it (`~/.pyenv/shims` → `~/.pyenv`,
 * `~/.nvm/versions/node/v20/bin` → `~/.nvm/versions/node/v20`: a toolchain reads its own `lib` next to
 * its `bin`), unless that prefix is the home folder, `~/.local`, `~/.config`, `~/.cache` or a folder
 * directly below `/`; any other entry grants itself (`~/.local/bin` → `~/.local/bin`). `~/.cargo` also grants `~/.rustup`. The home folder and
 * anything above it, relative entries, entries with `..`, entries in {@link SYSTEM_READ} and entries
 * inside (or around) `hidden` grant nothing; secrets inside a granted folder stay hidden
 * ({@link HOME_SECRETS}). Pure.
 * @param folders absolute folders (PATH's entries, split on `:`)
 * @param homeDir the user's home folder (absolute)
 * @param hidden folders that stay hidden whatever the list says (the checkout, AGENTCTL_HOME, the temp root)
 * @returns absolute folders, without duplicates, in the list's order
 */
export function toolchainFolders(folders: readonly string[], homeDir: string, hidden: readonly string[]): string[] {
  const out = new Set<string>();
  const home = normalize(homeDir).replace(/\/+$/, '') || '/';
  const inside = (p: string, dir: string) => dir === '/' || p === dir || p.startsWith(`${dir.replace(/\/+$/, '')}/`);
  for (const raw of folders) {
    if (!raw.startsWith('/') || raw.split('/').includes('..')) continue;
    const entry = normalize(raw).replace(/\/+$/, '') || '/';
    const prefix = dirname(entry);
    const sharedPrefix = prefix === home || dirname(prefix) === '/' || SHARED_HOME_FOLDERS.some((f) => prefix === join(home, f));
    const grant = PROGRAM_FOLDERS.has(basename(entry)) && !sharedPrefix ? prefix : entry;
    if (inside(home, grant) || SYSTEM_READ.some((s) => inside(grant, s)) || hidden.some((h) => inside(grant, h) || inside(h, grant))) continue;
    out.add(grant);
    const below = grant.startsWith(`${home}/`) ? grant.slice(home.length + 1) : undefined;
    for (const companion of (below !== undefined ? COMPANION_FOLDERS[below] : undefined) ?? []) out.add(join(home, companion));
  }
  return [...out];
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
 * registries and code hosts development needs. Never loopback: srt's proxy runs on this machine, so
 * `localhost` through it is this machine's loopback, where unauthenticated services listen (a Node
 * inspector, Docker's TCP socket, a trust-auth database); an attack session tunnelled raw TCP to one.
 * The sandbox's own loopback is inside its network namespace and needs no grant.
 */
export const NETWORK_ON_HOSTS = [
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

/**
 * A policy glob as an absolute srt path pattern: `~/x` below the home dir, else inside the worktree (`**\/`
 * for a bare name). A folder above it whose name holds a glob character (`[team]`) needs no escape: srt
 * also reads a pattern's existing leading folders as names (path-entries.js `literalReadings`).
 */
function abs(glob: string, layout: SandboxLayout): string {
  if (glob.startsWith('~/')) return join(layout.homeDir, glob.slice(2));
  return join(layout.worktree, glob.includes('/') ? glob : `**/${glob}`);
}

/**
 * Paths srt must take as names: one holding a glob character (a checkout under `[team]/`) is marked
 * literal, so srt neither expands it into other paths (a file named `**` in the checkout once made the
 * whole checkout readable) nor drops it. Pure.
 */
function srtNames(paths: readonly string[]): SrtPath[] {
  return paths.map((p) => (hasSrtGlob(p) ? { path: p, literal: true as const } : p));
}

/**
 * Where the OS sandbox denies writes for one policy glob: the glob as srt takes it ({@link abs}) and, for a
 * glob at any depth (`**\/<name>`: `.env`, `AGENTS.md`), the worktree root's `<name>` itself. srt skips a
 * write deny that is a glob on Linux (it takes only a trailing `/**`, as the folder: sandbox-manager.js
 * `stripWriteGlobs`), so such a deny never reached the sandbox; the root's file is now read-only where it
 * exists and cannot be created where it does not. The same names deeper down are left to the tool's rules
 * and the scope check. Pure.
 * @returns absolute paths or patterns for srt's `denyWrite`
 */
function writeDenies(glob: string, layout: SandboxLayout): SrtPath[] {
  const path = abs(glob, layout);
  const anyDepth = `${join(layout.worktree, '**')}/`;
  const name = path.startsWith(anyDepth) ? path.slice(anyDepth.length) : undefined;
  return name !== undefined && name !== '' && !hasSrtGlob(name) ? [path, ...srtNames([join(layout.worktree, name)])] : [path];
}

/** Whether the srt domain pattern `pattern` (`host` or `*.suffix`) covers the host of `endpoint` (`host` or `host:port`). Pure. */
function coversHost(pattern: string, endpoint: string): boolean {
  const host = endpoint.replace(/:\d+$/, '');
  return pattern === host || (pattern.startsWith('*.') && host.endsWith(pattern.slice(1)));
}

/**
 * Build srt settings for one confined process (an agent, a gate, a setup command).
 *
 * With `keys`, the process holds stand-ins for the agent tool's API keys, and srt's proxy on the host
 * puts the real key in the authentication header of requests to the API's `host:port` only
 * (authz/credentials.ts, through the filter exec/srtMain.ts adds). For that it terminates TLS to the API
 * host (`network.tlsTerminate`: a CA srt makes for the session and points the confined process at
 * through `NODE_EXTRA_CA_CERTS`, `SSL_CERT_FILE` and the like); every other allowed host stays an opaque
 * tunnel (`excludeDomains`). `requireHostMatch` refuses a request whose Host or TLS server name is not
 * where it goes. Source: @anthropic-ai/sandbox-runtime 0.0.83 `dist/sandbox/sandbox-config.js`
 * (NetworkConfigSchema: allowedDomains with `:port`, tlsTerminate, requireHostMatch, allowPlaintextHeaderSet).
 * @param policy the run's policy: its denied paths are unreadable, its network rule applies
 * @param layout the run's folders
 * @param apiHosts `host:port` of the agent tool's model API, reachable even when the policy turns the
 *   network off (that port only); empty for gates and setup commands
 * @param keys set when the process holds stand-ins for the tool's API keys (agents and reviewers)
 * @returns the settings; pure
 */
export function osSandboxSettings(policy: Policy, layout: SandboxLayout, apiHosts: readonly string[], keys?: KeyInjectionSettings): SrtSettings {
  // Every path of the run's layout is a name (marked literal where it holds a glob character); only the
  // policy's globs are patterns.
  const toolchains = layout.toolchains ?? [];
  const system = layout.platform === 'darwin' ? [...SYSTEM_READ, ...MACOS_SYSTEM_READ] : SYSTEM_READ;
  const filesystem: SrtSettings['filesystem'] = {
    denyRead: [
      '/',
      ...SYSTEM_SECRETS,
      ...srtNames([...toolchains.map((t) => join(t, 'etc', 'npmrc')), layout.agentctlHome, layout.repoRoot, ...(layout.tempRoot ? [layout.tempRoot] : []), ...HOME_SECRETS.map((s) => join(layout.homeDir, s))]),
      ...policy.deny.map((d) => abs(d.value, layout)),
    ],
    // The run's generated files one by one, not its folder: a read-only mount of the folder would cover
    // the writable tool homes below it.
    allowRead: srtNames([...system, ...toolchains, layout.worktree, ...COMMON_GIT_READ.map((p) => join(layout.commonGitDir, p)), ...layout.readOnlyFiles, ...layout.writable, ...(layout.readable ?? []), ...(layout.shared ?? [])]),
    allowWrite: srtNames([layout.worktree, ...layout.writable]),
    // The worktree's `.git` pointer is masked as a whole; metadata globs (`.git`, `.git/**`) are covered by it.
    denyWrite: [...srtNames([join(layout.worktree, '.git'), ...layout.readOnlyFiles]), ...[...policy.deny, ...policy.protected].filter((d) => !isGitMetadataGlob(d.value)).flatMap((d) => writeDenies(d.value, layout))],
  };
  const networkOn = policy.network.value ? NETWORK_ON_HOSTS : [];
  const allowedDomains = [...new Set([...apiHosts, ...networkOn])];
  const bwrap = layout.bwrap ? { bwrapPath: layout.bwrap } : {};
  if (!keys) return { filesystem, network: { allowedDomains, deniedDomains: [] }, ...bwrap };
  const excludeDomains = networkOn.filter((d) => !apiHosts.some((h) => coversHost(d, h)));
  return {
    ...bwrap,
    filesystem,
    network: { allowedDomains, deniedDomains: [], tlsTerminate: { excludeDomains }, requireHostMatch: true, ...(keys.plaintext ? { allowPlaintextHeaderSet: true as const } : {}) },
  };
}

/**
 * Render the srt settings file for one confined process.
 * @param name file name below `runDir` (e.g. `os-sandbox.agent.json`)
 */
export function renderOsSandbox(policy: Policy, layout: SandboxLayout, apiHosts: readonly string[], name: string, keys?: KeyInjectionSettings): GeneratedFile {
  return { path: join(layout.runDir, name), content: JSON.stringify(osSandboxSettings(policy, layout, apiHosts, keys), null, 2) + '\n' };
}
