/**
 * `agentctl init` end to end (the built bin in real temp repositories) and its rendering: the files it
 * writes load with the project's own config and task loaders, it guesses the worktree setup from the
 * lockfile and lists the agent CLIs found on PATH, it never overwrites, and it refuses outside a repository.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYamlText } from 'yaml';
import { configSchema, parseConfig } from '../../src/definition/config.js';
import { parseTaskFile } from '../../src/definition/task.js';
import { LOCKFILE_SETUP, renderExampleTask, renderInitConfig, type InitFacts } from '../../src/orchestrator/init.js';
import { agentctl, cleanup, git, tempDir, writeFiles } from '../helpers.js';

afterEach(cleanup);

/** A repository without any agentctl file, on `main`, with one commit. */
function bareRepo(files: Record<string, string> = {}): { repo: string; home: string } {
  const base = tempDir();
  const repo = join(base, 'repo');
  mkdirSync(repo);
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'config', 'user.email', 'dev@example.com');
  git(repo, 'config', 'user.name', 'Dev');
  writeFiles(repo, { 'README.md': '# app\n', ...files });
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'initial');
  return { repo, home: join(base, 'home') };
}

/** A folder of fake agent CLIs (each prints a version), to put first on PATH. */
function fakeAgents(...names: string[]): string {
  const bin = join(tempDir(), 'bin');
  mkdirSync(bin, { recursive: true });
  for (const n of names) {
    writeFileSync(join(bin, n), '#!/bin/sh\necho 9.9.9\n');
    chmodSync(join(bin, n), 0o755);
  }
  return bin;
}

/** The test's PATH without node_modules/.bin folders (vitest adds them; they hold agentctl's own agent CLIs). */
const SYSTEM_PATH = (process.env.PATH ?? '').split(':').filter((d) => !d.includes('node_modules')).join(':');

const NODE_PROJECT = {
  'package.json': JSON.stringify({ name: 'app', version: '1.0.0', scripts: { test: 'node --test' }, dependencies: { leftpad: '1.0.0' } }),
  'package-lock.json': '{}\n',
};

describe('agentctl init', () => {
  it('writes a commented .agentrc.yaml and tasks/example.md that the project loads, with detected agents and the lockfile setup', async () => {
    const { repo, home } = bareRepo(NODE_PROJECT);
    const bin = fakeAgents('claude', 'codex');
    const r = await agentctl(join(repo), home, ['init'], { PATH: `${bin}:${SYSTEM_PATH}` });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Wrote .agentrc.yaml and tasks/example.md');
    expect(existsSync(home)).toBe(false); // init needs no event log
    const config = readFileSync(join(repo, '.agentrc.yaml'), 'utf8');
    expect(config).toMatch(/^# agentctl project configuration/);
    expect(config).toMatch(/^ {2}agent: claude +# found on PATH: claude, codex;/m);
    expect(config).toMatch(/^ {2}claude:\n {4}bin: claude/m);
    expect(config).toMatch(/^ {2}codex:\n {4}bin: codex/m);
    expect(config).toMatch(/^ {2}# gemini:\n {2}# {3}bin: gemini .*npm install -g @google\/gemini-cli@/m);
    expect(config).toContain('npm ci --prefer-offline');
    // With the project's own loader: the file is valid and says what it claims.
    const parsed = parseConfig(repo, config, 'repo');
    expect(parsed.taskDefaults.agent).toBe('claude');
    expect(parsed.agents.codex.bin).toBe('codex');
    const task = parseTaskFile('tasks/example.md', readFileSync(join(repo, 'tasks/example.md'), 'utf8'), parsed.taskDefaults);
    expect(task).toMatchObject({ id: 'example', autonomy: 'review', type: 'docs', profiles: ['implement'] });
    // And through the built CLI: the example task is listed, and its policy composes.
    const tasks = await agentctl(repo, home, ['tasks', '--json']);
    expect(tasks.code, tasks.stderr).toBe(0);
    expect(JSON.parse(tasks.stdout).tasks.map((t: { id: string }) => t.id)).toEqual(['example']);
    const policy = await agentctl(repo, home, ['policy', 'show', 'example', '--json']);
    expect(policy.code, policy.stderr).toBe(0);
  });

  it('refuses to overwrite either file (exit 5), names it, and writes nothing', async () => {
    const { repo, home } = bareRepo({ '.agentrc.yaml': 'project: mine\n' });
    const r = await agentctl(repo, home, ['init']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('.agentrc.yaml already exists');
    expect(readFileSync(join(repo, '.agentrc.yaml'), 'utf8')).toBe('project: mine\n');
    expect(existsSync(join(repo, 'tasks'))).toBe(false);

    const other = bareRepo({ 'tasks/example.md': 'mine\n' });
    const r2 = await agentctl(other.repo, other.home, ['init']);
    expect(r2.code).toBe(5);
    expect(r2.stderr).toContain('tasks/example.md already exists');
    expect(existsSync(join(other.repo, '.agentrc.yaml'))).toBe(false);
    expect(readFileSync(join(other.repo, 'tasks/example.md'), 'utf8')).toBe('mine\n');
  });

  it('works from a subfolder (writes at the repository root) and refuses outside a repository (exit 3)', async () => {
    const { repo, home } = bareRepo({ 'src/a.ts': 'x\n' });
    const r = await agentctl(join(repo, 'src'), home, ['init', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ written: ['.agentrc.yaml', 'tasks/example.md'], setup: null });
    expect(existsSync(join(repo, '.agentrc.yaml'))).toBe(true);
    expect(existsSync(join(repo, 'src', '.agentrc.yaml'))).toBe(false);

    const outside = tempDir();
    const r2 = await agentctl(outside, home, ['init']);
    expect(r2.code).toBe(3);
    expect(r2.stderr).toContain('not a git repository');
    expect(existsSync(join(outside, '.agentrc.yaml'))).toBe(false);
  });
});

describe('init rendering', () => {
  const facts = (over: Partial<InitFacts>): InitFacts => ({
    agents: [],
    lockfile: undefined,
    gate: undefined,
    hasDependencies: false,
    worktreeBlock: 'worktree' in configSchema.shape,
    tested: { claude: '2.1.330', gemini: '0.61.0', codex: '0.169.0' },
    ...over,
  });

  it.each([
    ['package-lock.json', 'npm ci --prefer-offline', 'npm test', 'registry.npmjs.org'],
    ['pnpm-lock.yaml', 'pnpm install --frozen-lockfile --prefer-offline', 'pnpm test', 'registry.npmjs.org'],
    ['yarn.lock', 'yarn install --frozen-lockfile --prefer-offline', 'yarn test', 'registry.yarnpkg.com'],
    ['bun.lockb', 'bun install --frozen-lockfile', 'bun run test', 'registry.npmjs.org'],
  ])('with %s: setup "%s"; the file parses with the config loader, and its worktree block is well formed', (file, setup, gate, registry) => {
    const lockfile = LOCKFILE_SETUP.find((l) => l.file === file)!;
    const text = renderInitConfig(facts({ agents: ['gemini'], lockfile, gate, hasDependencies: true }));
    const parsed = parseConfig('/repo', text, 'repo');
    expect(parsed.taskDefaults.agent).toBe('gemini');
    expect(text).toContain(`- ${setup}`);
    expect(text).toContain(`guessed from ${file}`);
    // Active or commented out (as this agentctl's schema has the block or not), uncommenting it gives
    // `worktree: {setup: [<setup>]}`.
    const block = text.slice(text.indexOf('worktree:') - (text.includes('# worktree:') ? 2 : 0));
    const uncommented = block.split('\n').map((l) => l.replace(/^# ?/, '')).join('\n');
    // Setup may reach the lockfile's registry for what npm's cache lacks (only setup: never the agent or gate).
    expect(parseYamlText(uncommented)).toMatchObject({ worktree: { setup: [setup], network: [registry] } });
    // The gate is only active when the worktree gets its dependencies installed first.
    if ('worktree' in configSchema.shape) expect(parsed.taskDefaults.gate).toBe(gate);
    else {
      expect(parsed.taskDefaults.gate).toBeUndefined();
      expect(text).toContain(`# gate: ${gate}`);
    }
  });

  it('without a lockfile: no setup; a gate of a project without dependencies is active; no agent found defaults to claude with a hint', () => {
    const text = renderInitConfig(facts({ gate: 'npm test', hasDependencies: false }));
    const parsed = parseConfig('/repo', text, 'repo');
    expect(parsed.taskDefaults.gate).toBe('npm test');
    expect(parsed.taskDefaults.agent).toBe('claude');
    expect(text).toContain('no agent CLI found on PATH');
    expect(text).not.toMatch(/^worktree:/m);
    expect(text).toContain('no lockfile found');
  });

  it('the example task parses under default settings', () => {
    const task = parseTaskFile('tasks/example.md', renderExampleTask(), { agent: 'command', profiles: ['implement'], gate: undefined, timeoutMs: undefined });
    expect(task.prompt).toContain('docs/overview.md');
  });
});
