/**
 * Project configuration: `.agentrc.yaml` at the repository root, over built-in defaults. Pure.
 * See `.agentrc.example.yaml` for every field with comments.
 */
import { isAbsolute, posix, resolve, sep } from 'node:path';
import * as z from 'zod';
import { InputError } from '../core/errors.js';
import { hasSrtGlob } from '../authz/render/os.js';
import { AGENT_NAMES, durationSchema, TASK_ID_PATTERN, type AgentName, type TaskDefaults } from './task.js';
import type { BreakerConfig } from '../evidence/projections/breakers.js';
import type { TrustRules } from '../evidence/projections/trust-rules.js';
import { parseYaml, toData, validate } from './yamlSource.js';
import { worktreeSchema, type WorktreeBlock } from './worktree.js';
import { PARSE_OPTIONS } from '../core/zodParse.js';
import { urlHasSecret } from '../core/urlSecrets.js';

/** The agent's timeout when neither the task nor `defaults.timeout` sets one: 30 minutes, in milliseconds. */
const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;

/** Default sensitive paths: auth, billing, payments, infra, CI config, migrations, lock files. */
const DEFAULT_SENSITIVE_PATHS = [
  '**/auth/**',
  '**/billing/**',
  '**/payments/**',
  'infra/**',
  '.github/**',
  '**/migrations/**',
  'package-lock.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'Cargo.lock',
  'go.sum',
  'poetry.lock',
  'Gemfile.lock',
  // How git converts files when it writes them (working-tree-encoding, eol, filter): a change here makes
  // later diffs differ from the bytes that land on disk.
  '.gitattributes',
  '**/.gitattributes',
] as const;

/** Default volume breaker limit on changed bytes per hour: 5 MiB (a source change rarely comes near it; a vendored binary does). */
const DEFAULT_BYTES_PER_HOUR = 5 * 1024 * 1024;

/** Name of the project config file, at the repository root. */
export const CONFIG_FILE = '.agentrc.yaml';

const agentSchema = z.strictObject({
  /**
   * Executable name or path; a relative path with a `/` is resolved from the repository root. No glob
   * character: the OS sandbox would read the path as a pattern (`./**` made the whole checkout readable).
   */
  bin: z
    .string()
    .min(1)
    .refine((v) => !hasSrtGlob(v), 'must be a name or path without * ? [ ] (the OS sandbox would read it as a pattern)')
    .optional(),
  /** Extra arguments placed before agentctl's own (for `command`: the whole argument list). */
  args: z.array(z.string()).default([]),
  /** Model name passed to the tool (`--model`/`-m`), when set. */
  model: z.string().min(1).optional(),
  /** Extra environment for the agent (names and values; host secrets are not passed otherwise). */
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}),
});

/**
 * A branch name as git allows it (git-check-ref-format): no control character, space or `~^:?*[\`, no
 * leading `-`, no `..` (a newline in `baseBranch` forged a line of agentctl's output).
 */
export const branchName = z.string().regex(/^(?!-)(?!.*\.\.)[^\x00-\x20\x7f~^:?*[\\]+$/, 'not a branch name git accepts');

/**
 * A program agentctl runs on this machine outside the sandbox (`sandbox.bin`, `notify.command`): a name
 * on PATH or an absolute path. Not a path inside the repository: agents change what is in it (an auto
 * merge could change the notifier, which then runs on the host), and an approval of the path would not
 * cover the file's later content nor the code it sources.
 */
const hostProgram = z
  .string()
  .min(1)
  .refine((v) => !v.includes('/') || (isAbsolute(v) && !v.startsWith('/proc/')), 'a program outside the repository: a name on PATH or an absolute path (agents can change what is inside the repository)');

/**
 * A folder of this machine that confined processes may also read (`sandbox.read`): absolute or `~/…`
 * (the home folder), never `/` or the home folder itself (that would undo the sandbox's read allow list).
 */
const readableFolder = z
  .string()
  .min(1)
  .refine((v) => !/[\x00-\x1f\x7f]/.test(v), 'must not contain control characters')
  .refine((v) => !hasSrtGlob(v), 'must be a folder, not a pattern: no * ? [ ]')
  .refine((v) => (isAbsolute(v) || v.startsWith('~/')) && !v.split('/').includes('..'), 'an absolute folder or one below the home folder (~/...)')
  // Normalised first: `/.`, `//` and `~/.` are `/` and the home folder too.
  .refine((v) => posix.normalize(v.startsWith('~') ? v.slice(1) || '/' : v) !== '/', 'name the folders to read: / or ~ would make everything readable');

const relativeDir = z
  .string()
  .min(1)
  .refine((p) => !isAbsolute(p) && !p.split('/').includes('..'), 'must be a folder inside the repository')
  // It is printed in messages: no control character could forge a line of them.
  .refine((p) => !/[\x00-\x1f\x7f]/.test(p), 'must not contain control characters');

/** Schema of `.agentrc.yaml`. Unknown keys are errors. */
export const configSchema = z.strictObject({
  /** The project's identity in the log, the same on every machine; default: derived from the repository's root commit. */
  project: z.string().regex(TASK_ID_PATTERN, 'must match ^[a-z0-9][a-z0-9-]{0,63}$').optional(),
  /**
   * The event log: `sqlite` (the local one under AGENTCTL_HOME, the default) or a team's PostgreSQL log
   * (`postgres://role@host/database`). Committed, so never with a password (PGPASSWORD or ~/.pgpass).
   */
  store: z
    .string()
    .refine((v) => v === 'sqlite' || /^postgres(ql)?:\/\//.test(v), 'must be "sqlite" or a postgres:// URL')
    .refine((v) => !urlHasSecret(v), 'must not contain a password or key (it is committed): use PGPASSWORD or ~/.pgpass')
    .optional(),
  baseBranch: branchName.optional(),
  tasks: z.strictObject({ dir: relativeDir.default('tasks') }).default({ dir: 'tasks' }),
  profiles: z.strictObject({ dir: relativeDir.default('.agentctl/profiles') }).default({ dir: '.agentctl/profiles' }),
  defaults: z
    .strictObject({
      agent: z.enum(AGENT_NAMES).default('claude'),
      profile: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).default('implement'),
      gate: z.string().min(1).optional(),
      timeout: durationSchema.prefault('30m'),
    })
    .default({ agent: 'claude', profile: 'implement', timeout: DEFAULT_TIMEOUT_MS }),
  agents: z
    .strictObject({
      claude: agentSchema.default({ args: [], env: {} }),
      gemini: agentSchema.default({ args: [], env: {} }),
      codex: agentSchema.default({ args: [], env: {} }),
      command: agentSchema.default({ args: [], env: {} }),
    })
    .default({
      claude: { args: [], env: {} },
      gemini: { args: [], env: {} },
      codex: { args: [], env: {} },
      command: { args: [], env: {} },
    }),
  trust: z
    .strictObject({
      initial: z.enum(['hold', 'review']).default('review'),
      window: z
        .strictObject({ runs: z.number().int().min(1).max(1000).default(20), days: z.number().positive().optional() })
        .default({ runs: 20 }),
      promotion: z
        .strictObject({
          holdToReview: z.strictObject({ claimedMerged: z.number().int().min(0).default(3) }).default({ claimedMerged: 3 }),
          reviewToAuto: z
            .strictObject({
              consecutiveMerged: z.number().int().min(0).default(10),
              approvedUnmodifiedRate: z.number().min(0).max(1).default(0.9),
              maxScopeViolations: z.number().int().min(0).default(0),
              maxRegressions: z.number().int().min(0).default(0),
            })
            .default({ consecutiveMerged: 10, approvedUnmodifiedRate: 0.9, maxScopeViolations: 0, maxRegressions: 0 }),
        })
        .default({
          holdToReview: { claimedMerged: 3 },
          reviewToAuto: { consecutiveMerged: 10, approvedUnmodifiedRate: 0.9, maxScopeViolations: 0, maxRegressions: 0 },
        }),
      demotion: z
        .strictObject({
          minRuns: z.number().int().min(1).default(5),
          rejectionRate: z.number().min(0).max(1).default(0.5),
          gateFailureRate: z.number().min(0).max(1).default(0.5),
        })
        .default({ minRuns: 5, rejectionRate: 0.5, gateFailureRate: 0.5 }),
      /** How many human commits (not agentctl's own) after a merge are searched for follow-ups to the run's files. */
      followUpCommits: z.number().int().min(0).max(100).default(5),
    })
    .default({
      initial: 'review',
      window: { runs: 20 },
      promotion: {
        holdToReview: { claimedMerged: 3 },
        reviewToAuto: { consecutiveMerged: 10, approvedUnmodifiedRate: 0.9, maxScopeViolations: 0, maxRegressions: 0 },
      },
      demotion: { minRuns: 5, rejectionRate: 0.5, gateFailureRate: 0.5 },
      followUpCommits: 5,
    }),
  /** How a run lands on a base branch that moved since the run started: a merge commit, or a rebase then fast-forward. */
  merge: z.strictObject({ strategy: z.enum(['merge', 'rebase']).default('merge') }).default({ strategy: 'merge' }),
  /** Circuit breakers: hard limits that override trust. A tripped breaker stops the agent's runs until a human resets it. */
  breakers: z
    .strictObject({
      volume: z
        .strictObject({
          /** Runs per hour above which the agent's volume is anomalous, whatever its norm. */
          runsPerHour: z.number().int().min(1).default(30),
          /** Changed lines per hour (all of the agent's runs in the project). */
          linesPerHour: z.number().int().min(1).default(5000),
          /** Changed bytes per hour (added + removed, binary files included): a large binary is 0 lines. */
          bytesPerHour: z.number().int().min(1).default(DEFAULT_BYTES_PER_HOUR),
          /** Also trip only when above this multiple of the agent's norm (mean per active hour over the previous 7 days). */
          normFactor: z.number().min(1).default(5),
        })
        .default({ runsPerHour: 30, linesPerHour: 5000, bytesPerHour: DEFAULT_BYTES_PER_HOUR, normFactor: 5 }),
      cost: z
        .strictObject({ usdPerDay: z.number().positive().default(25), tokensPerDay: z.number().int().positive().default(5_000_000) })
        .default({ usdPerDay: 25, tokensPerDay: 5_000_000 }),
      errors: z
        .strictObject({ windowMinutes: z.number().positive().default(60), maxFailures: z.number().int().min(1).default(5) })
        .default({ windowMinutes: 60, maxFailures: 5 }),
      scope: z.strictObject({ enabled: z.boolean().default(true) }).default({ enabled: true }),
    })
    .default({ volume: { runsPerHour: 30, linesPerHour: 5000, bytesPerHour: DEFAULT_BYTES_PER_HOUR, normFactor: 5 }, cost: { usdPerDay: 25, tokensPerDay: 5_000_000 }, errors: { windowMinutes: 60, maxFailures: 5 }, scope: { enabled: true } }),
  /** Who hears about auto merges, runs awaiting review, escalations and breaker trips. */
  notify: z
    .strictObject({
      /** A program that receives each notification as JSON on stdin: a name on PATH or an absolute path outside the repository. */
      command: hostProgram.optional(),
      /** A URL that receives each notification as a JSON POST. */
      webhook: z.string().url().optional(),
    })
    .default({}),
  /** Post-hoc audits of auto merges. */
  audit: z
    .strictObject({ sampleRate: z.number().min(0).max(1).default(0.1) })
    .default({ sampleRate: 0.1 }),
  /** The agent protocol (.agentctl/ in each sandbox): self-reported confidence thresholds. */
  protocol: z
    .strictObject({
      /** Below this confidence an auto run stops at review. */
      escalateBelow: z.number().min(0).max(1).default(0.5),
      /** Below this confidence the run is stopped and asks for guidance. */
      stopBelow: z.number().min(0).max(1).default(0.2),
    })
    .default({ escalateBelow: 0.5, stopBelow: 0.2 }),
  /**
   * The OS sandbox used by profiles with `sandbox: os`: the `srt` binary (default: the one installed with
   * agentctl), and folders every confined process may also read (besides the system's, the run's own and
   * the toolchains on PATH: authz/render/os.ts).
   */
  sandbox: z.strictObject({ bin: hostProgram.optional(), read: z.array(readableFolder).default([]) }).default({ read: [] }),
  /** Paths whose change caps a run at `review` (task `paths` or the run's diff). */
  sensitivePaths: z.array(z.string().min(1)).default([...DEFAULT_SENSITIVE_PATHS]),
  /** Worktree bootstrap: setup/teardown commands, shared and copied checkout paths, ports (definition/worktree.ts). */
  worktree: worktreeSchema.default({}),
  /** The team run queue (`run --queue`, `agentctl worker`; PostgreSQL store only). */
  queue: z
    .strictObject({
      /** The shared remote workers fetch the base from and push run branches to. */
      remote: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be a git remote name').default('origin'),
      /** Seconds a worker's lease on a run lasts without a heartbeat (renewed every quarter of it, lost after three quarters: queue/lease.ts). */
      // 16 s at least: the heartbeat limit is three quarters of it (queue/lease.ts), and pg-boss's minimum is 10 s.
      leaseSeconds: z.number().int().min(16).max(3600).default(60),
      /** A run whose worker lost its lease (killed, cut off): offered again (`retry`), or left for review (`review`). */
      onLost: z.enum(['retry', 'review']).default('retry'),
      /** How many times a lost run is offered again (onLost: retry). */
      retries: z.number().int().min(0).max(10).default(2),
    })
    .default({ remote: 'origin', leaseSeconds: 60, onLost: 'retry', retries: 2 }),
});

/** One agent tool's settings after defaults. */
export interface AgentSettings {
  /** Executable to start: absolute path, or a name looked up on PATH. */
  bin: string;
  /**
   * `bin` was written as a path relative to the repository (`./steal.sh`, `../x/claude`) or an absolute
   * one below its root: a program the repository chose by its place. For Claude Code, Gemini CLI and
   * Codex that program gets the tool's credentials, so it is a setting to approve (hostSettings.ts).
   */
  binFromRepository?: boolean;
  args: string[];
  model: string | undefined;
  env: Record<string, string>;
}

/** The `queue:` block after defaults. */
export interface QueueConfig {
  remote: string;
  leaseSeconds: number;
  onLost: 'retry' | 'review';
  retries: number;
}

/** The effective project configuration. */
export interface ProjectConfig {
  /** Project identity used in events and trust keys (config `project`, else derived from the repository: see identity.ts). */
  project: string;
  /** Where `project` came from: the config, the repository's root commit, or (no commit yet, or an older log's history) the folder name. */
  projectSource: 'config' | 'repository' | 'folder';
  /** The event log named by `store:` (undefined: not set; AGENTCTL_STORE and the default decide). */
  store: string | undefined;
  /** Branch runs start from and merge into; undefined = the branch checked out when `run` starts. */
  baseBranch: string | undefined;
  tasksDir: string;
  profilesDir: string;
  taskDefaults: TaskDefaults;
  agents: Record<AgentName, AgentSettings>;
  /** Trust rules: initial level, window, promotion and demotion thresholds. */
  trust: TrustRules;
  /** Human commits (not agentctl's own) after a merge searched for follow-ups to its files. */
  followUpCommits: number;
  sensitivePaths: string[];
  mergeStrategy: 'merge' | 'rebase';
  breakers: BreakerConfig;
  notify: { command: string | undefined; webhook: string | undefined };
  auditSampleRate: number;
  protocol: { escalateBelow: number; stopBelow: number };
  /** `srt` binary for `sandbox: os` profiles (undefined: the one installed with agentctl, else PATH). */
  osSandboxBin: string | undefined;
  /** `sandbox.read`: folders confined processes may also read, as written (absolute or `~/…`). */
  osSandboxRead: string[];
  /** The project's `worktree:` block (a task's own block overrides it field by field). */
  worktree: WorktreeBlock;
  /** The team run queue: remote, lease (seconds), what happens to a run whose worker lost its lease. */
  queue: QueueConfig;
  /** Config file the values came from, or undefined when only defaults apply. */
  file: string | undefined;
}

/**
 * Build the project configuration from `.agentrc.yaml` text (or none).
 * @param repoRoot absolute repository root (relative `bin` paths resolve from it)
 * @param text file contents, or undefined when the file does not exist
 * @param fallbackProject identity when the config sets none: derived from the repository (identity.ts),
 *   or the folder name when `fallbackSource` says so
 * @throws InputError naming `.agentrc.yaml`, the line and the field
 */
export function parseConfig(repoRoot: string, text: string | undefined, fallbackProject: string, fallbackSource: 'repository' | 'folder' = 'folder'): ProjectConfig {
  const file = CONFIG_FILE;
  let data: unknown = {};
  let parsed: z.output<typeof configSchema>;
  if (text !== undefined) {
    const source = parseYaml(file, text);
    data = toData(source) ?? {};
    if (typeof data !== 'object' || Array.isArray(data)) throw new InputError(`${file}: must be a YAML mapping`, { file });
    parsed = validate(source, data, configSchema, 'config');
  } else {
    parsed = configSchema.parse({}, PARSE_OPTIONS);
  }
  const timeout = parsed.defaults.timeout;
  const agents = {} as Record<AgentName, AgentSettings>;
  for (const name of AGENT_NAMES) {
    const a = parsed.agents[name];
    const bin = a.bin === undefined ? (name === 'command' ? '' : name) : a.bin.includes('/') ? resolve(repoRoot, a.bin) : a.bin;
    const binFromRepository = a.bin !== undefined && a.bin.includes('/') && (!isAbsolute(a.bin) || bin.startsWith(`${resolve(repoRoot)}${sep}`));
    agents[name] = { bin, binFromRepository, args: a.args, model: a.model, env: a.env };
  }
  const profile = parsed.defaults.profile;
  return {
    project: parsed.project ?? sanitizeProject(fallbackProject),
    projectSource: parsed.project !== undefined ? 'config' : fallbackSource,
    store: parsed.store,
    baseBranch: parsed.baseBranch,
    tasksDir: parsed.tasks.dir,
    profilesDir: parsed.profiles.dir,
    taskDefaults: {
      agent: parsed.defaults.agent,
      profiles: Array.isArray(profile) ? profile : [profile],
      gate: parsed.defaults.gate,
      timeoutMs: timeout,
    },
    agents,
    trust: {
      initial: parsed.trust.initial,
      window: { runs: parsed.trust.window.runs, days: parsed.trust.window.days },
      promotion: parsed.trust.promotion,
      demotion: parsed.trust.demotion,
    },
    followUpCommits: parsed.trust.followUpCommits,
    sensitivePaths: parsed.sensitivePaths,
    mergeStrategy: parsed.merge.strategy,
    breakers: parsed.breakers,
    notify: { command: parsed.notify.command, webhook: parsed.notify.webhook },
    auditSampleRate: parsed.audit.sampleRate,
    protocol: parsed.protocol,
    osSandboxBin: parsed.sandbox.bin,
    osSandboxRead: parsed.sandbox.read,
    worktree: parsed.worktree,
    queue: parsed.queue,
    file: text === undefined ? undefined : file,
  };
}

/** A folder name made into a project name (lower case, `[a-z0-9-]`, at most 64 characters). */
export function sanitizeProject(name: string): string {
  const cleaned = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64);
  return cleaned || 'project';
}
