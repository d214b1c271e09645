/**
 * `npm run demo`: a real agentctl session on a throwaway repository, with no API key.
 *
 * It creates a small Node project with task files, points `agents.claude.bin` at the bundled scripted
 * Claude Code stand-in (which really edits files and speaks Claude Code's stream-json), and drives the
 * built `bin/agentctl` through run → review → request changes (attempt 2, the agent's session resumed) →
 * merge / discard → promote → an earned auto merge.
 * The repository and its AGENTCTL_HOME are kept so you can explore them afterwards.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import chalk from 'chalk';
import { locateOsSandbox } from '../exec/osSandbox.js';
import { childEnv, runProcess } from '../exec/runner.js';
import { configureColor } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = resolve(here, '..', '..', 'bin', 'agentctl');
const SCRIPTED = resolve(here, 'scripted-claude.js');

const step = Object.assign((...lines: object[]) => '```agent-script\n' + lines.map((l) => JSON.stringify(l)).join('\n') + '\n```', {
  // What the stand-in does when a reviewer sends it back (`review request-changes`, resuming its session).
  resume: (...lines: object[]) => '```agent-script-resume\n' + lines.map((l) => JSON.stringify(l)).join('\n') + '\n```',
});

const FILES: Record<string, string> = {
  'package.json': JSON.stringify({ name: 'shop', version: '1.0.0', type: 'module', scripts: { test: 'node --test test/' } }, null, 2) + '\n',
  'src/greet.js': "export function greet(name) {\n  return `Hello, ${name}!`;\n}\n",
  'test/greet.test.js': "import test from 'node:test';\nimport assert from 'node:assert';\nimport { greet } from '../src/greet.js';\n\ntest('greet', () => assert.equal(greet('Ada'), 'Hello, Ada!'));\n",
  'README.md': '# shop\n\nA tiny project for the agentctl demo.\n',
  '.agentrc.yaml': `# Demo config: the bundled scripted agent stands in for Claude Code.\nagents:\n  claude:\n    bin: ${SCRIPTED}\ndefaults:\n  gate: npm test\n# Demo thresholds so one clean docs merge earns auto (the defaults ask for 10 in a row).\ntrust:\n  promotion:\n    reviewToAuto:\n      consecutiveMerged: 1\n`,
  'tasks/add-farewell.md': `---\ntitle: Add a farewell function with a test\ntype: feature\n---\nAdd farewell(name) next to greet, with a test.\n\n${step(
    { say: 'I will add src/farewell.js and a test for it.' },
    { write: 'src/farewell.js', content: 'export function farewell(name) {\n  return `Goodbye, ${name}!`;\n}\n' },
    { write: 'test/farewell.test.js', content: "import test from 'node:test';\nimport assert from 'node:assert';\nimport { farewell } from '../src/farewell.js';\n\ntest('farewell', () => assert.equal(farewell('Ada'), 'Goodbye, Ada!'));\n" },
    { bash: 'npm test' },
    { say: 'Added farewell() in src/farewell.js with a passing test.' },
  )}\n\n${step.resume(
    { say: 'The reviewer wants a default name; adding it with a test.' },
    { write: 'src/farewell.js', content: "export function farewell(name = 'friend') {\n  return `Goodbye, ${name}!`;\n}\n" },
    { append: 'test/farewell.test.js', content: "\ntest('farewell without a name', () => assert.equal(farewell(), 'Goodbye, friend!'));\n" },
    { bash: 'npm test' },
    { say: 'farewell() now defaults to "friend", with a test.' },
  )}\n`,
  'tasks/risky-rewrite.md': `---\ntitle: Rewrite greet (the agent overreaches)\ntype: refactor\n---\nRewrite greet.\n\n${step(
    { say: 'Rewriting greet; I also want the API key and to relax my own task.' },
    { write: '.env', content: 'API_KEY=stolen\n' },
    { write: 'tasks/risky-rewrite.md', content: '---\nautonomy: auto\n---\nescalate\n' },
    { write: 'src/greet.js', content: 'export function greet(name) {\n  return `Hi ${name}`;\n}\n' },
    { say: 'Rewrote greet.' },
  )}\n`,
  'tasks/docs-usage.md': `---\ntitle: Document usage in the README\ntype: docs\nautonomy: auto\ngate: grep -q Usage README.md\n---\nAdd a Usage section to the README.\n\n${step(
    { say: 'Adding a Usage section.' },
    { append: 'README.md', content: '\n## Usage\n\n    import { greet } from "./src/greet.js";\n' },
    { say: 'Added a Usage section to README.md.' },
  )}\n`,
  'tasks/docs-changelog.md': `---\ntitle: Start a changelog\ntype: docs\nautonomy: auto\ngate: test -f CHANGELOG.md\n---\nCreate CHANGELOG.md.\n\n${step(
    { write: 'CHANGELOG.md', content: '# Changelog\n\n## 1.0.0\n- greet()\n' },
    { say: 'Created CHANGELOG.md.' },
  )}\n`,
  'tasks/billing-migration.md': `---\ntitle: Migrate the billing tables\ntype: migration\nautonomy: hold\nprofile: careful\npaths: [migrations/**]\n---\nA human drives this one.\n`,
};

async function main(): Promise<number> {
  configureColor();
  const base = mkdtempSync(join(tmpdir(), 'agentctl-demo-'));
  const repo = join(base, 'shop');
  const home = join(base, 'agentctl-home');
  mkdirSync(repo);
  for (const [path, content] of Object.entries(FILES)) {
    mkdirSync(dirname(join(repo, path)), { recursive: true });
    writeFileSync(join(repo, path), content);
  }
  const env = childEnv(process.env, { AGENTCTL_HOME: home, GIT_AUTHOR_NAME: 'Demo User', GIT_AUTHOR_EMAIL: 'demo@example.com', GIT_COMMITTER_NAME: 'Demo User', GIT_COMMITTER_EMAIL: 'demo@example.com' });
  const sh = async (file: string, args: string[]) => runProcess(file, args, { cwd: repo, env, acceptExitCodes: [0] });
  await sh('git', ['init', '-q', '-b', 'main']);
  await sh('git', ['config', 'user.email', 'demo@example.com']);
  await sh('git', ['config', 'user.name', 'Demo User']);
  await sh('git', ['add', '-A']);
  await sh('git', ['commit', '-qm', 'shop: initial commit']);

  const say = (text: string) => process.stdout.write(`\n${chalk.bold(`# ${text}`)}\n`);
  const agentctl = async (...args: string[]): Promise<{ code: number | null; stdout: string }> => {
    process.stdout.write(`\n$ agentctl ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}\n`);
    const r = await runProcess(process.execPath, [BIN, ...args], {
      cwd: repo,
      env,
      acceptExitCodes: 'any',
      onStdoutLine: (l) => process.stdout.write(`${l}\n`),
      onStderrLine: (l) => process.stdout.write(`${l}\n`),
    });
    return { code: r.exitCode, stdout: r.stdout };
  };
  const runId = async (task: string): Promise<string> => {
    await agentctl('run', task);
    const r = await runProcess(process.execPath, [BIN, 'runs', '--json'], { cwd: repo, env, acceptExitCodes: [0] });
    return (JSON.parse(r.stdout) as { runs: { runId: string; task: string }[] }).runs.find((x) => x.task === task)!.runId;
  };

  say(`A throwaway repository at ${repo}, with five task files`);
  await agentctl('tasks');

  // Every run's processes live in the OS sandbox; where it cannot start, every run is refused.
  const sandbox = locateOsSandbox(process.env, repo, undefined);
  if ('missing' in sandbox) {
    say('The OS sandbox cannot start on this machine, so no agent run can be shown');
    process.stdout.write(
      `Missing: ${sandbox.missing.join(', ')}. agentctl runs every agent, its children and the gate in the OS\n` +
        'sandbox (bubblewrap on Linux) and refuses a run it cannot confine. This demo can therefore not show\n' +
        'runs, reviews, merges, promotions or the earned auto merge. To see them:\n\n' +
        '    sudo apt-get install bubblewrap socat ripgrep    # Debian/Ubuntu\n' +
        '    npm run demo\n\n' +
        'Here is the refusal, and the policy a run would get:\n',
    );
    await agentctl('run', 'add-farewell');
    await agentctl('policy', 'show', 'add-farewell', '--tool', 'claude');
    process.stdout.write(`\nDemo repository: ${repo}\n`);
    return 0;
  }

  say('A review task: the agent works in its own worktree; nothing merges without you');
  const farewell = await runId('add-farewell');
  await agentctl('review');
  await agentctl('review', 'show', farewell);

  say('Close, but not right: send it back with notes; the same agent resumes its session in the same worktree');
  await agentctl('review', 'request-changes', farewell, '--note', 'farewell() without a name should say "Goodbye, friend!"; add a test for it');
  await agentctl('review', 'show', farewell);
  await agentctl('review', 'merge', farewell, '--note', 'clean and tested after one round of changes');

  say('An agent that overreaches: permission denials, a failing gate, and a discard');
  const risky = await runId('risky-rewrite');
  await agentctl('review', 'show', risky);
  await agentctl('review', 'discard', risky, '--reason', 'changed behaviour, tried to read secrets');

  say('An auto task before trust is earned: it still waits for review');
  const usage = await runId('docs-usage');
  await agentctl('review', 'merge', usage, '--note', 'good docs');

  say('The evidence, and a promotion you approve');
  await agentctl('promote');
  await agentctl('promote', 'claude', '--type', 'docs', '--to', 'auto', '--note', 'docs runs merged cleanly');

  say('The same kind of task now merges by itself: earned, gated, inside scope');
  await agentctl('run', 'docs-changelog');

  say('Trust is a projection over the log: the overreaching agent lost trust for refactors at once');
  await agentctl('trust', 'history');
  await agentctl('promote', '--html', join(base, 'trust-report.html'));

  say('A hold task never starts an agent unattended');
  await agentctl('run', 'billing-migration');

  say('The record');
  await agentctl('runs');
  await agentctl('log', '--limit', '12');
  const log = await runProcess('git', ['log', '--oneline', '--graph', '-n', '8'], { cwd: repo, env, acceptExitCodes: [0] });
  // Commit subjects carry task titles from the repository: printed like every other untrusted text.
  process.stdout.write(`\n$ git log --oneline --graph\n${terminalSafe(log.stdout, { multiline: true })}`);
  process.stdout.write(`\nDemo repository: ${repo}\nIts AGENTCTL_HOME: ${home}\nExplore it:  cd ${repo} && AGENTCTL_HOME=${home} ${BIN} runs\n`);
  return 0;
}

process.exitCode = await main();
