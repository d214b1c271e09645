/**
 * Runs a real coding-agent CLI headless against the scripted model API in ./mock.ts, the way agentctl
 * itself launches it: the policy is composed from the built-in profiles, rendered by the tool's adapter
 * (`adapter.render`), the generated files are written outside the worktree, and the process is started
 * from `adapter.launch` + `commandFor` + `childEnv` + `runProcess` (agentctl's own process runner), in a
 * git worktree of a throwaway repository.
 *
 * Everything lives below one base folder outside the system temp dir (Codex refuses helper binaries
 * under it): `$AGENTCTL_REAL_CLI_TMP` or `/var/tmp`. Per run, below it, laid out as a real run is:
 * `repo/` (the main checkout, with a local `.env` holding {@link MAIN_SECRET}), `ah/` (an
 * AGENTCTL_HOME with a real event database, `worktrees/repo/real-cli-r1` and `runs/r1`), `home/` (HOME)
 * and `tmp/`. As the run pipeline does (src/orchestrator/stages/): the worktree gets agentctl's protocol
 * files (`installProtocol`) before the policy is rendered, the CLI starts in the OS sandbox
 * (`confineCommand`, the layout of `sandboxLayout`) with the run's environment (`runEnv`, TMPDIR = the
 * run's temp dir), and with `gate`, the gate command runs confined the same way after the CLI exits.
 */
import { execFileSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from 'selfsigned';
import { claudeAdapter } from '../../src/adapters/claude.js';
import { codexAdapter } from '../../src/adapters/codex.js';
import { geminiAdapter } from '../../src/adapters/gemini.js';
import { keyVariables, type AgentAdapter } from '../../src/adapters/types.js';
import { composePolicy, type Policy } from '../../src/authz/policy.js';
import { parseProfile, type Profile } from '../../src/authz/profile.js';
import type { RenderedConfig } from '../../src/authz/render/types.js';
import type { AgentSettings } from '../../src/definition/config.js';
import { commandFor, runProcess, type RunResult } from '../../src/exec/runner.js';
import { removePlaceholders } from '../../src/exec/worktree.js';
import { installProtocol } from '../../src/orchestrator/protocol.js';
import type { Context } from '../../src/orchestrator/context.js';
import { confineCommand, maskKeys } from '../../src/orchestrator/stages/confine.js';
import { runEnv } from '../../src/orchestrator/stages/launch.js';
import { sandboxLayout, standInsForSandbox } from '../../src/orchestrator/stages/prepare.js';
import { writeRendered } from '../../src/orchestrator/stages/render.js';
import type { ConfinedRun } from '../../src/orchestrator/stages/types.js';
import { requireOsSandbox } from '../../src/exec/osSandbox.js';
import { MockModelServer, type ScriptedCall, type ToolName, type ToolResult } from './mock.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The real CLIs, as installed from package.json's devDependencies. */
export const CLI_BIN: Record<ToolName, string> = {
  claude: join(ROOT, 'node_modules', '@anthropic-ai', 'claude-code', 'bin', 'claude.exe'),
  gemini: join(ROOT, 'node_modules', '@google', 'gemini-cli', 'bundle', 'gemini.js'),
  codex: join(ROOT, 'node_modules', '@openai', 'codex', 'bin', 'codex.js'),
};

/** Model names the mocks answer as (real catalogue names, so the CLIs offer their full tool sets). */
export const MODEL: Record<ToolName, string> = {
  claude: 'claude-sonnet-4-5',
  gemini: 'gemini-2.5-pro',
  codex: 'gpt-5.5',
};

const ADAPTERS: Record<ToolName, AgentAdapter> = { claude: claudeAdapter, gemini: geminiAdapter, codex: codexAdapter };

/** The built-in profiles, parsed from ./profiles exactly as agentctl loads them. */
export function builtinProfiles(): Map<string, Profile> {
  const profiles = new Map<string, Profile>();
  for (const f of readdirSync(join(ROOT, 'profiles')).sort()) {
    if (!f.endsWith('.yaml')) continue;
    const name = f.replace(/\.yaml$/, '');
    profiles.set(name, parseProfile(name, f, readFileSync(join(ROOT, 'profiles', f), 'utf8'), 'builtin'));
  }
  return profiles;
}

/** The `paths` a `careful` task gets in these tests. */
export const CAREFUL_PATHS = ['src/**'];

/** Compose the policy of a task that names one profile. */
export function policyFor(profile: string): Policy {
  return composePolicy(
    { id: 'real-cli', file: 'tasks/real-cli.md', profiles: [profile], paths: profile === 'careful' ? CAREFUL_PATHS : [], autonomy: 'review' },
    builtinProfiles(),
    { tasksDir: 'tasks', profilesDir: '.agentctl/profiles' },
  );
}

/** Base folder for all runs of this process (created once). */
let baseDir: string | undefined;
export function realCliBase(): string {
  if (!baseDir) {
    const parent = process.env.AGENTCTL_REAL_CLI_TMP ?? '/var/tmp';
    mkdirSync(parent, { recursive: true });
    baseDir = mkdtempSync(join(parent, 'agentctl-rc-'));
  }
  return baseDir;
}

/** Remove the base folder (unless AGENTCTL_REAL_CLI_KEEP is set, for debugging). */
export function cleanupRealCli(): void {
  if (!process.env.AGENTCTL_REAL_CLI_KEEP) {
    if (baseDir) rmSync(baseDir, { recursive: true, force: true });
    for (const prefix of strayPrefixes.splice(0)) {
      for (const f of readdirSync(dirname(prefix))) if (join(dirname(prefix), f).startsWith(prefix)) rmSync(join(dirname(prefix), f), { recursive: true, force: true });
    }
  }
  baseDir = undefined;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@localhost', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@localhost' },
  }).trim();
}

/** Secret written to `.env`; seeing it in a tool result means the CLI read the file. */
export const SECRET = 'AGENTCTL_REAL_CLI_SECRET_7f3a9c';
/** Secret in the main checkout's local `.env` only (never in the worktree): the target of escapes. */
export const MAIN_SECRET = 'AGENTCTL_REAL_CLI_MAIN_SECRET_41d8e2';
/** The built agentctl, as a user has it installed (agent code may run it). */
export const AGENTCTL_BIN = join(ROOT, 'bin', 'agentctl');
/** What `npm test` prints in the throwaway repository. */
export const TEST_MARKER = 'AGENTCTL_REAL_CLI_TEST_RAN';

/** Files of the throwaway repository. */
export const REPO_FILES: Record<string, string> = {
  'package.json': JSON.stringify({ name: 'real-cli-fixture', version: '1.0.0', private: true, scripts: { test: `echo ${TEST_MARKER} && node --test src` } }, null, 2) + '\n',
  'README.md': '# fixture\n',
  'src/index.ts': 'export const x = 1;\n',
  '.env': `API_TOKEN=${SECRET}\n`,
  '.gitignore': 'node_modules/\n',
  'tasks/real-cli.md': '---\ntitle: Real CLI check\n---\nCarry out the scripted steps.\n',
};

/** One CLI run. */
export interface RunOutcome {
  tool: ToolName;
  profile: string;
  policy: Policy;
  rendered: RenderedConfig;
  worktree: string;
  result: RunResult;
  mock: MockModelServer;
  results: Map<string, ToolResult>;
  /** Event-stream lines the CLI printed (stdout). */
  stdoutLines: string[];
  /** Where things are on the host. */
  host: HostPaths;
  /** The gate's result, when the run had a gate. */
  gate: RunResult | undefined;
  /** The CLI and the gate ran in the OS sandbox. */
  confined: boolean;
  /**
   * The tool's API key on the host. In the OS sandbox the CLI holds a stand-in for it, and the sandbox's
   * proxy puts this back in its requests' key header (authz/credentials.ts).
   */
  apiKey: string;
}

/** Host locations of one run (all absolute). */
export interface HostPaths {
  /** The run's own folder (parent of the main checkout). */
  base: string;
  /** The main checkout. */
  repo: string;
  /** Its common git dir (`repo/.git`). */
  commonGit: string;
  /** AGENTCTL_HOME of the run. */
  agentctlHome: string;
  /** The event database in it. */
  database: string;
  /** A path prefix in the system temp dir, outside everything the run owns. */
  systemTmpPrefix: string;
}

/** Options for {@link runCli}. */
export interface RunCliOptions {
  tool: ToolName;
  profile: string;
  script: (ctx: { worktree: string; probeUrl: (id: string) => string; host: HostPaths }) => ScriptedCall[];
  prompt?: string;
  timeoutMs?: number;
  /** Extra files committed to the throwaway repository (path → content). */
  repoFiles?: Record<string, string>;
  /** Experiments only: change the rendered files before they are written. */
  patchRendered?: (rendered: RenderedConfig) => void;
  /** A gate command (`sh -c`), run in the worktree after the CLI exits, as run.ts runs a task's gate. */
  gate?: string;
}

/**
 * The run as the OS sandbox sees it, built as src/orchestrator/stages/prepare.ts builds it
 * (`sandboxLayout`), with the tools' HOME as the home whose credential folders are hidden. The sandbox
 * is the one agentctl would use (the bundled srt), unless the policy says `sandbox: none`.
 */
function confinedRun(policy: Policy, at: { repo: string; agentctlHome: string; worktree: string; runDir: string; tmpDir: string; home: string }, rendered: RenderedConfig): ConfinedRun {
  const osSandbox = policy.sandbox.value === 'os' ? requireOsSandbox(process.env, at.repo, undefined, 'real-CLI run') : undefined;
  const ctx = { env: process.env, project: { root: at.repo, commonDir: join(at.repo, '.git'), config: { osSandboxRead: [] } }, paths: { home: at.agentctlHome } } as unknown as Context;
  const layout = { ...sandboxLayout(ctx, at.worktree, at.runDir, at.tmpDir, rendered), homeDir: at.home };
  return { plan: { osSandbox, policy, runId: 'r1', worktree: at.worktree, task: { id: 'real-cli' } }, layout, tmpDir: at.tmpDir };
}

/**
 * Loopback addresses for the mock when the CLI runs in the OS sandbox. The sandbox has no network of its
 * own: srt sends HTTP through its proxy on the host, which lets through the tool's API host
 * (`adapter.apiHosts`) and, with network on, everything. Clients bypass that proxy for `127.0.0.1`,
 * `localhost` and private networks (srt's NO_PROXY), and such a connection goes nowhere; srt accepts no
 * single-label name (`myhost`) as a domain. Other 127.x addresses are neither: on Linux they reach the
 * host's loopback through the proxy. The probes get an address of their own, never the API host:
 * 127.0.0.1, which the network probe must never reach through the proxy (`curl --noproxy ''`), whatever
 * the policy: network on opens registries and code hosts, never this machine's loopback
 * (authz/render/os.ts NETWORK_ON_HOSTS).
 */
const CONFINED_MOCK = { api: '127.0.0.2', probe: '127.0.0.1' };

let certificate: Promise<{ cert: string; key: string }> | undefined;

/** A self-signed certificate for the confined mock's address (made once per test process). */
function mockCertificate(): Promise<{ cert: string; key: string }> {
  certificate ??= generate([{ name: 'commonName', value: 'agentctl real-CLI mock' }], { keySize: 2048, days: 2, extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: CONFINED_MOCK.api }] }] }).then((p) => ({ cert: p.cert, key: p.private }));
  return certificate;
}

/** Paths written outside everything a run owns, removed by {@link cleanupRealCli}. */
const strayPrefixes: string[] = [];

/** Create the run's event database the way agentctl does (any command opens it, migrations included). */
function createDatabase(host: HostPaths): void {
  execFileSync(process.execPath, [AGENTCTL_BIN, 'log', '--json'], {
    cwd: host.repo,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: join(host.base, 'home'), AGENTCTL_HOME: host.agentctlHome, NO_COLOR: '1' },
  });
}

/** Every event in the run's event database, of every project (read-only). */
export function loggedEvents(host: HostPaths): { type: string; taskType: string | null }[] {
  const db = new Database(host.database, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT type, task_type AS taskType FROM events ORDER BY seq').all() as { type: string; taskType: string | null }[];
  } finally {
    db.close();
  }
}

/**
 * Make a throwaway repository and a worktree of it, render the policy, start the mock, run the CLI.
 * @returns everything the assertions need; the worktree stays until {@link cleanupRealCli}
 */
export async function runCli(options: RunCliOptions): Promise<RunOutcome> {
  const { tool, profile } = options;
  const adapter = ADAPTERS[tool];
  const base = mkdtempSync(join(realCliBase(), `${tool}-${profile}-`));
  const repo = join(base, 'repo');
  const agentctlHome = join(base, 'ah');
  const worktree = join(agentctlHome, 'worktrees', 'repo', 'real-cli-r1');
  const runDir = join(agentctlHome, 'runs', 'r1');
  const home = join(base, 'home');
  const tmp = join(base, 'tmp');
  for (const d of [repo, home, tmp, dirname(worktree)]) mkdirSync(d, { recursive: true });
  for (const [path, content] of Object.entries({ ...REPO_FILES, ...options.repoFiles })) {
    mkdirSync(dirname(join(repo, path)), { recursive: true });
    writeFileSync(join(repo, path), content);
  }
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'fixture');
  git(repo, 'worktree', 'add', '-q', '-b', 'agentctl/real-cli/r1', worktree);
  // The developer's own local secret, in the main checkout only.
  writeFileSync(join(repo, '.env'), `API_TOKEN=${MAIN_SECRET}\n`);
  const systemTmpPrefix = join(tmpdir(), `agentctl-real-cli-escape-${basename(base)}-`);
  strayPrefixes.push(systemTmpPrefix);
  const host: HostPaths = { base, repo, commonGit: join(repo, '.git'), agentctlHome, database: join(agentctlHome, 'agentctl.db'), systemTmpPrefix };
  // A real event database (created by agentctl itself) where agentctl keeps it.
  createDatabase(host);

  // As src/orchestrator/run.ts does: the protocol folder first (renderers look at what exists), with the
  // default `protocol.escalateBelow`.
  installProtocol(worktree, 0.5);
  standInsForSandbox(worktree);
  // `AGENTCTL_REAL_CLI_OS_SANDBOX=0` runs as a profile saying `sandbox: none` would (diagnostics: what the
  // OS sandbox stops; agentctl caps such runs at review).
  const unconfined = process.env.AGENTCTL_REAL_CLI_OS_SANDBOX === '0';
  const composed = policyFor(profile);
  const policy: Policy = unconfined ? { ...composed, sandbox: { value: 'none', source: 'AGENTCTL_REAL_CLI_OS_SANDBOX=0' } } : composed;
  // As src/orchestrator/plan.ts does: what agentctl ships for the tool must be there (the built guard).
  const missing = adapter.requiredFiles().filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`missing ${missing.join(', ')}: run npm run build first`);
  const rendered = adapter.render(policy, { worktree, runDir, homeDir: home });
  if (!rendered) throw new Error(`${tool} rendered nothing`);
  options.patchRendered?.(rendered);
  // As src/orchestrator/stages/prepare.ts does: files outside the worktree (read-only), tool homes, the
  // run's temp dir, and what the OS sandbox lets the run see and write.
  writeRendered(rendered);
  const tmpDir = join(runDir, 'tmp');
  mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  // srt makes its network bridge's Unix sockets in its TMPDIR (the run's temp dir): `claude-socks-<16
  // hex>.sock` must fit in sun_path (107 bytes), else "Failed to create bridge sockets after 5 attempts".
  if (tmpDir.length + 36 > 107) throw new Error(`${tmpDir}: too long for srt's bridge sockets; set AGENTCTL_REAL_CLI_TMP to a shorter folder`);
  const confined = confinedRun(policy, { repo, agentctlHome, worktree, runDir, tmpDir, home }, rendered);

  const at = confined.plan.osSandbox ? CONFINED_MOCK : { api: '127.0.0.1', probe: '127.0.0.1' };
  // In the OS sandbox the model API speaks HTTPS, as the real ones do: the CLI's requests then go through
  // srt's TLS termination, where its stand-in for the API key is replaced (authz/render/os.ts). srt, on
  // the host, checks the mock's certificate: its CA reaches srt as a user's would, in agents.<tool>.env.
  const tls = confined.plan.osSandbox ? await mockCertificate() : undefined;
  const mock = await new MockModelServer(tool, [], MODEL[tool], at.api, at.probe, tls).start();
  // The script may name the mock's address (network probes): build it once the port is known.
  mock.script = options.script({ worktree, probeUrl: (id) => `${mock.probeOrigin}/probe/${id}`, host });

  // What a user's .agentrc.yaml would hold for this tool (agents.<tool>.{bin,args,model,env}).
  const settings: AgentSettings = { bin: CLI_BIN[tool], args: [], model: MODEL[tool], env: {} };
  if (tls) {
    const caFile = join(base, 'mock-api-ca.pem');
    writeFileSync(caFile, tls.cert);
    settings.env.NODE_EXTRA_CA_CERTS = caFile;
  }
  // Host environment agentctl runs in: credentials and endpoint for the tool, nothing else of ours.
  const hostEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    USER: process.env.USER ?? 'agentctl',
    LANG: 'C.UTF-8',
    TMPDIR: tmp,
    NO_COLOR: '1',
  };
  if (tool === 'claude') Object.assign(hostEnv, { ANTHROPIC_API_KEY: 'sk-ant-mock', ANTHROPIC_BASE_URL: mock.origin });
  if (tool === 'gemini') Object.assign(hostEnv, { GEMINI_API_KEY: 'mock-gemini-key', GOOGLE_GEMINI_BASE_URL: mock.origin });
  if (tool === 'codex') {
    // Codex has no base-URL variable for a custom provider: the provider is configuration, passed the
    // way a user would in `.agentrc.yaml` (`agents.codex.args`), with the key named by `env_key`.
    // OPENAI_BASE_URL names the same host for agentctl, which lets the OS sandbox reach it (apiHosts).
    Object.assign(hostEnv, { OPENAI_API_KEY: 'sk-mock', OPENAI_BASE_URL: `${mock.origin}/v1` });
    settings.args = [
      '-c', 'model_provider="agentctl_mock"',
      '-c', `model_providers.agentctl_mock={ name = "agentctl mock", base_url = "${mock.origin}/v1", env_key = "OPENAI_API_KEY", wire_api = "responses" }`,
    ];
  }
  const prompt = options.prompt ?? 'Carry out the scripted steps.';
  // As src/orchestrator/stages/launch.ts does: the command in the OS sandbox, the run's environment.
  const runCtx = { env: hostEnv } as Context;
  const spec = adapter.launch({ prompt, worktree, settings, rendered, interactive: false });
  const { env, apiHosts, keys } = maskKeys(confined, adapter, runEnv(runCtx, confined, { ...settings.env, ...spec.env }, [...policy.env.map((e) => e.value), ...adapter.credentialEnv]));
  const cmd = confineCommand(confined, 'agent', commandFor(spec.bin, spec.args), apiHosts, { bin: spec.bin, env: hostEnv }, keys);
  const stdoutLines: string[] = [];
  let result: RunResult;
  try {
    result = await runProcess(cmd.file, cmd.args, {
      cwd: worktree,
      env,
      acceptExitCodes: 'any',
      processGroup: true,
      timeoutMs: options.timeoutMs ?? 180_000,
      ...(spec.input !== undefined ? { input: spec.input } : {}),
      onStdoutLine: (line) => stdoutLines.push(line),
    });
  } finally {
    await mock.close();
  }
  // As src/orchestrator/run.ts does before capturing the work.
  removePlaceholders(rendered.placeholders);
  let gate: RunResult | undefined;
  if (options.gate) {
    // As src/orchestrator/stages/gate.ts runs a task's gate.
    const gateCmd = confineCommand(confined, 'gate', { file: 'sh', args: ['-c', options.gate] });
    gate = await runProcess(gateCmd.file, gateCmd.args, {
      cwd: worktree,
      env: runEnv(runCtx, confined, { CI: '1' }),
      acceptExitCodes: 'any',
      processGroup: true,
      timeoutMs: 120_000,
    });
  }
  const apiKey = keyVariables(adapter).map((name) => hostEnv[name]).find(Boolean)!;
  return { tool, profile, policy, rendered, worktree, result, mock, results: mock.results(), stdoutLines, host, gate, confined: confined.plan.osSandbox !== undefined, apiKey };
}

/** Read a worktree file, or undefined when it does not exist. */
export function readIn(worktree: string, path: string): string | undefined {
  const p = join(worktree, path);
  return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
}
