/**
 * What the gate and teardown run on, tried as an attacker would (an attack session found both):
 * - the gate ran in the worktree as the agent left it, ignored files included. The agent broke a tracked
 *   file and replaced an ignored module setup had installed with a no-op: the gate passed on a change
 *   that fails it, and in `auto` that merged by itself.
 * - teardown ran the files the agent rewrote (a `clean.sh`), after a discard too.
 * Now untracked files are recorded as setup left them; before the gate and before teardown, whatever
 * is not as recorded is removed, and teardown runs on the base commit's files.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentctl, cleanup, git, makeRepo, script, SCRIPTED_CLAUDE, taskFile } from '../helpers.js';

afterEach(cleanup);

const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const sandboxAvailable = process.platform === 'linux' && ['bwrap', 'socat', 'rg'].every(has);

/** The strict check setup installs (ignored, as a dependency would be): it fails the test on a false argument. */
const CHECK = 'module.exports = (ok) => { if (!ok) { console.error(\\"add is broken\\"); process.exit(1); } };';
const SETUP = `mkdir -p node_modules/check && echo "${CHECK}" > node_modules/check/index.js && echo setup > node_modules/keep.txt`;

/** The agent: breaks src/add.js (tracked, in scope), rewrites teardown's script, and makes the check a no-op. */
const AGENT = [
  '#!/bin/sh',
  "echo 'module.exports = (a, b) => a - b;' > src/add.js",
  "echo 'echo AGENT-WRITTEN teardown' > src/clean.sh",
  "echo 'module.exports = () => {};' > node_modules/check/index.js",
  'echo planted > node_modules/planted.txt',
].join('\n');

describe.runIf(sandboxAvailable)('the gate and teardown see what setup left, never what the agent planted outside git', () => {
  it('a no-op module planted over setup\'s fails the gate instead of passing it; teardown runs the base\'s script', async () => {
    const { repo, home } = makeRepo({
      '.gitignore': 'node_modules/\n',
      'src/add.js': 'module.exports = (a, b) => a + b;\n',
      'src/clean.sh': 'echo base teardown; ls node_modules\n',
      'test.js': "require('check')(require('./src/add')(1, 2) === 3);\nconsole.log('add ok');\n",
      '.agentrc.yaml': `agents:\n  command:\n    bin: ./agent.sh\nworktree:\n  setup: ['${SETUP}']\n  teardown: ['sh src/clean.sh']\n`,
      'agent.sh': `${AGENT}\n`,
      'tasks/t.md': taskFile({ agent: 'command', type: 'code', gate: 'node test.js' }, 'break it'),
    });
    chmodSync(join(repo, 'agent.sh'), 0o755);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'agent');
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    expect(r.stdout, r.stderr).not.toBe('');
    const run = JSON.parse(r.stdout).run;
    const events = JSON.parse((await agentctl(repo, home, ['log', '--run', run.runId, '--json'])).stdout).events as { type: string; payload: Record<string, unknown> }[];
    expect(events.map((e) => e.type)).toContain('setup.finished');
    const gate = events.find((e) => e.type === 'gate.passed' || e.type === 'gate.failed')!;
    expect(gate.type, String(gate.payload.output)).toBe('gate.failed');
    // What setup made and the agent left alone stays; what the agent changed or added is gone.
    expect(existsSync(join(run.worktree, 'node_modules', 'keep.txt'))).toBe(true);
    expect(existsSync(join(run.worktree, 'node_modules', 'planted.txt'))).toBe(false);
    expect(existsSync(join(run.worktree, 'node_modules', 'check', 'index.js'))).toBe(false);

    const d = await agentctl(repo, home, ['review', 'discard', run.runId, '--reason', 'broken']);
    expect(d.code, d.stderr).toBe(0);
    const after = JSON.parse((await agentctl(repo, home, ['log', '--run', run.runId, '--json'])).stdout).events as { type: string; payload: Record<string, unknown> }[];
    const teardown = after.find((e) => e.type === 'teardown.finished')!;
    expect(teardown.payload).toMatchObject({ exitCode: 0 });
    expect(String(teardown.payload.output)).toContain('base teardown');
    expect(String(teardown.payload.output)).toContain('keep.txt');
    expect(String(teardown.payload.output)).not.toMatch(/AGENT-WRITTEN|planted/);
  });

  it('the record cannot be forged from inside the run: code the agent runs rewrites it with its plant\'s fingerprint, and the host\'s record is untouched', async () => {
    // Claude Code's config folder is below the run's folder, where the record is: the code knows the path.
    const forge = [
      "const fs = require('node:fs'); const path = require('node:path');",
      "fs.writeFileSync('node_modules/check/index.js', 'module.exports = () => {};');",
      "const st = fs.lstatSync('node_modules/check/index.js', { bigint: true });",
      "const config = process.env.CLAUDE_CONFIG_DIR || fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\\n').map((l) => l.split(' ')[4]).find((p) => p && p.endsWith('/claude/config'));",
      "const record = path.join(config, '..', '..', 'setup-state.json');",
      "const state = { 'node_modules/check/index.js': `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.mode}` };",
      "try { fs.writeFileSync(record, JSON.stringify(state)); console.log('forge written'); } catch (e) { console.log('forge denied ' + e.code); }",
    ].join('\n');
    const { repo, home } = makeRepo({
      '.gitignore': 'node_modules/\n',
      'package.json': JSON.stringify({ name: 'app', version: '1.0.0', scripts: { test: 'node test/x.test.js' } }),
      'src/add.js': 'module.exports = (a, b) => a + b;\n',
      'test.js': "require('check')(require('./src/add')(1, 2) === 3);\n",
      '.agentrc.yaml': `agents:\n  claude:\n    bin: ${SCRIPTED_CLAUDE}\nworktree:\n  setup: ['${SETUP}']\n`,
      'tasks/t.md': taskFile({ agent: 'claude', type: 'code', gate: 'node test.js' }, script({ write: 'src/add.js', content: 'module.exports = (a, b) => a - b;\n' }, { write: 'test/x.test.js', content: forge }, { bash: 'npm test' }, { say: 'done' })),
    });
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    expect(r.stdout, r.stderr).not.toBe('');
    const run = JSON.parse(r.stdout).run;
    const events = JSON.parse((await agentctl(repo, home, ['log', '--run', run.runId, '--json'])).stdout).events as { type: string; payload: Record<string, unknown> }[];
    expect(events.map((e) => e.type)).toContain('gate.failed');
    // The forge ran (inside the sandbox AGENTCTL_HOME is an empty throwaway folder: a write may even succeed there).
    expect(events.filter((e) => e.type === 'tool.result').map((e) => JSON.stringify(e.payload)).join('\n')).toMatch(/forge (written|denied)/);
    const record = JSON.parse(readFileSync(join(home, 'runs', run.runId, 'setup-state.json'), 'utf8')) as Record<string, string>;
    expect(Object.keys(record).sort()).toEqual(['node_modules/check/index.js', 'node_modules/keep.txt']);
    // The host's record holds setup's file, not the plant (another inode or change time).
    expect(existsSync(join(run.worktree, 'node_modules', 'check', 'index.js'))).toBe(false);
  });
});
