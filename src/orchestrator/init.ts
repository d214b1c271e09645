/**
 * `agentctl init`: a first `.agentrc.yaml` and `tasks/example.md` for a repository. What is found on the
 * machine and in the checkout ({@link InitFacts}) is gathered by {@link detectInitFacts}; the files are
 * rendered from those facts by pure functions; {@link initProject} refuses to overwrite anything and
 * writes both files or neither.
 */
import { existsSync, lstatSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TOOL_AGENTS, installCommand, testedAgentVersions, type ToolAgent } from '../core/agentTools.js';
import { StateError } from '../core/errors.js';
import { CONFIG_FILE, configSchema } from '../definition/config.js';
import { MAX_DEFINITION_FILE_BYTES, readRepositoryFile } from '../definition/load.js';
import { requireRepo, type Git } from '../exec/git.js';
import { resolveExecutable } from '../exec/runner.js';
import { pathExists } from '../exec/pathExists.js';

/**
 * Lockfiles, the cache-first install each one implies, and the registry that install may reach for what
 * the cache lacks (setup gets only these hosts; the agent and the gate never do), in lookup order.
 */
export const LOCKFILE_SETUP: readonly { file: string; manager: 'npm' | 'pnpm' | 'yarn' | 'bun'; setup: string; registry: string }[] = [
  { file: 'package-lock.json', manager: 'npm', setup: 'npm ci --prefer-offline', registry: 'registry.npmjs.org' },
  { file: 'pnpm-lock.yaml', manager: 'pnpm', setup: 'pnpm install --frozen-lockfile --prefer-offline', registry: 'registry.npmjs.org' },
  { file: 'yarn.lock', manager: 'yarn', setup: 'yarn install --frozen-lockfile --prefer-offline', registry: 'registry.yarnpkg.com' },
  { file: 'bun.lockb', manager: 'bun', setup: 'bun install --frozen-lockfile', registry: 'registry.npmjs.org' },
  { file: 'bun.lock', manager: 'bun', setup: 'bun install --frozen-lockfile', registry: 'registry.npmjs.org' },
];

/** How each package manager runs the `test` script. */
const TEST_COMMAND = { npm: 'npm test', pnpm: 'pnpm test', yarn: 'yarn test', bun: 'bun run test' } as const;

/** What `init` found: everything the generated files depend on. */
export interface InitFacts {
  /** Agent CLIs found on PATH, in the order claude, gemini, codex. */
  agents: ToolAgent[];
  /** The lockfile found at the repository root, if any. */
  lockfile: (typeof LOCKFILE_SETUP)[number] | undefined;
  /** The gate guessed from package.json's `test` script (`npm test`…), if it has a real one. */
  gate: string | undefined;
  /** Whether package.json declares dependencies (a fresh worktree then needs a setup step for the gate). */
  hasDependencies: boolean;
  /** Whether this agentctl's config schema has the `worktree:` block (else it is written commented out). */
  worktreeBlock: boolean;
  /** The tested version of each agent CLI (for the install hints of the ones not found). */
  tested: Record<ToolAgent, string | undefined>;
}

/**
 * Look at the machine and the checkout. Reads package.json and the lockfile names only (never runs
 * anything from the repository).
 * @param root the repository root (absolute)
 * @param env the environment whose PATH is searched for agent CLIs
 */
export function detectInitFacts(root: string, env: NodeJS.ProcessEnv): InitFacts {
  const lockfile = LOCKFILE_SETUP.find((l) => existsSync(join(root, l.file)));
  let pkg: { scripts?: Record<string, unknown>; dependencies?: object; devDependencies?: object } = {};
  try {
    pkg = JSON.parse(readRepositoryFile(root, 'package.json', MAX_DEFINITION_FILE_BYTES * 4) ?? '{}') as typeof pkg;
  } catch {
    /* no package.json, not JSON, or not a regular file of the repository (a link to /dev/zero): no gate guessed */
  }
  const test = pkg.scripts?.test;
  // `npm init` writes a placeholder test script that always fails.
  const realTest = typeof test === 'string' && test.trim() !== '' && !/no test specified/.test(test);
  return {
    agents: TOOL_AGENTS.filter((a) => resolveExecutable(a, env.PATH, root) !== null),
    lockfile,
    gate: realTest ? TEST_COMMAND[lockfile?.manager ?? 'npm'] : undefined,
    hasDependencies: Object.keys(pkg.dependencies ?? {}).length + Object.keys(pkg.devDependencies ?? {}).length > 0,
    worktreeBlock: 'worktree' in configSchema.shape,
    tested: testedAgentVersions(),
  };
}

/** Prefix every line with `# ` (a commented-out block keeps its indentation). */
const commented = (lines: string[]) => lines.map((l) => (l === '' ? '#' : `# ${l}`));

/** Column the trailing comments start at. */
const COMMENT_COLUMN = 29;
/** A YAML line with a trailing comment aligned at {@link COMMENT_COLUMN}. */
const withComment = (code: string, comment: string) => `${code.padEnd(COMMENT_COLUMN - 1)} # ${comment}`;

/**
 * The `.agentrc.yaml` text for these facts: commented, parseable by the project's config loader. Pure.
 */
export function renderInitConfig(facts: InitFacts): string {
  const { agents, lockfile, worktreeBlock } = facts;
  const setup = lockfile?.setup;
  // A gate on a project with dependencies fails in a fresh worktree unless a setup step installs them.
  const gateWorks = !facts.hasDependencies || (worktreeBlock && setup !== undefined);
  const out: string[] = [
    '# agentctl project configuration, written by `agentctl init`. Every field is optional; unknown fields are',
    '# errors. All fields: .agentrc.example.yaml in the agentctl package; JSON Schema: agentctl schema config.',
    '# Check that runs can start here: agentctl doctor',
    '',
    'defaults:',
    withComment(`  agent: ${agents[0] ?? 'claude'}`, `${agents.length ? `found on PATH: ${agents.join(', ')}` : 'no agent CLI found on PATH (see agents: below)'}; claude | gemini | codex | command`),
    withComment('  profile: implement', 'research | implement | careful | yolo, or a profile in .agentctl/profiles/'),
    '  timeout: 30m',
    facts.gate && gateWorks
      ? withComment(`  gate: ${facts.gate}`, 'runs in the worktree after the agent; auto merges need it to pass')
      : facts.gate
        ? withComment(`  # gate: ${facts.gate}`, 'enable with a worktree setup: a fresh worktree has no dependencies')
        : withComment('  # gate: make test', 'runs in the worktree after the agent; auto merges need it to pass'),
    '',
    // With no CLI found every entry is commented out, and so is the key (an empty `agents:` is null).
    agents.length ? 'agents:' : '# agents:',
  ];
  for (const agent of TOOL_AGENTS) {
    if (agents.includes(agent)) out.push(`  ${agent}:`, withComment(`    bin: ${agent}`, 'found on PATH'));
    else out.push(`  # ${agent}:`, withComment(`  #   bin: ${agent}`, `not found on PATH: ${installCommand(agent, facts.tested[agent])}`));
  }
  out.push(withComment('  # command:', 'any program: runs in the worktree, prompt on stdin and in $AGENTCTL_PROMPT'), '  #   bin: ./scripts/agent.sh', '  #   args: []');

  const block = [
    'worktree:',
    withComment('  setup:', 'commands run in the sandboxed worktree before the agent'),
    withComment(`    - ${setup ?? 'npm ci --prefer-offline'}`, lockfile ? `guessed from ${lockfile.file}` : 'no lockfile found: an example'),
    withComment(`  network: [${lockfile?.registry ?? 'registry.npmjs.org'}]`, "what setup may reach when the cache lacks a package; the agent and gate never"),
    withComment('  # shared: [node_modules]', "instead of installing: the checkout's copy, read-only"),
    withComment('  # copy: [.env.test]', 'gitignored files copied into the worktree (never a denied path)'),
    withComment('  # ports: 10', 'AGENTCTL_PORT… consecutive free ports per run'),
  ];
  out.push('', '# A fresh worktree has only the committed files: install dependencies before the agent and the gate run.');
  if (worktreeBlock && setup) out.push(...block);
  else if (worktreeBlock) out.push(...commented(block));
  else out.push('# (this agentctl does not read the worktree: block yet; it is here to enable once it does)', ...commented(block));
  return `${out.join('\n')}\n`;
}

/** The `tasks/example.md` text: a docs task any agent can run under `implement`. Pure. */
export function renderExampleTask(): string {
  return `---
title: Describe the project in docs/overview.md
autonomy: review          # hold | review | auto: every run of this task waits for your review
type: docs                # the kind of task trust is earned for
profile: implement        # what the agent may read, write and run
---
Read the repository and write docs/overview.md: what the project does, how to build and test it, and
where the main code lives. Change no other file.

(An example written by \`agentctl init\`: try it with \`agentctl run example\`, then
\`agentctl review show <run>\`. The body of a task file is the agent's prompt.)
`;
}

/** What {@link initProject} did. */
export interface InitResult {
  root: string;
  /** Files written, repository-relative. */
  written: string[];
  facts: InitFacts;
}

/** The example task, repository-relative. */
export const EXAMPLE_TASK = 'tasks/example.md';

/**
 * Write `.agentrc.yaml` and `tasks/example.md` at the root of the repository containing `cwd`.
 * @throws ConfigError (exit 3) when `cwd` is not in a git repository
 * @throws StateError (exit 5) when either file (or anything in its place) exists; nothing is written
 */
export async function initProject(git: Git, cwd: string, env: NodeJS.ProcessEnv): Promise<InitResult> {
  const { root } = await requireRepo(git, cwd);
  const targets = [CONFIG_FILE, EXAMPLE_TASK];
  const taken = targets.filter((rel) => pathExists(join(root, rel)));
  const tasksDir = join(root, 'tasks');
  if (pathExists(tasksDir) && !lstatSync(tasksDir).isDirectory()) taken.push('tasks (not a folder)');
  if (taken.length) {
    throw new StateError(`${taken.join(' and ')} already exist${taken.length === 1 ? 's' : ''} in ${root}; agentctl init never overwrites, nothing was written`, {
      hint: `Move ${taken.length === 1 ? 'it' : 'them'} aside to start over, or edit ${taken.length === 1 ? 'it' : 'them'} (all fields: agentctl schema config).`,
    });
  }
  const facts = detectInitFacts(root, env);
  mkdirSync(tasksDir, { recursive: true });
  // `wx`: fail rather than overwrite if something appeared since the check; both files or neither.
  writeFileSync(join(root, CONFIG_FILE), renderInitConfig(facts), { flag: 'wx' });
  try {
    writeFileSync(join(root, EXAMPLE_TASK), renderExampleTask(), { flag: 'wx' });
  } catch (error) {
    rmSync(join(root, CONFIG_FILE), { force: true });
    throw error;
  }
  return { root, written: targets, facts };
}

