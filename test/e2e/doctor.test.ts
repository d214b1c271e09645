/**
 * `agentctl doctor` end to end, through the built bin in real temp repositories: it passes where runs can
 * start, and fails with a fix when bubblewrap is missing, an agent CLI is older than tested, the OS
 * sandbox does not really confine (a stand-in `srt` that runs the probe unconfined), or the event log was
 * tampered with. It never starts an agent binary that the repository itself ships, and never creates
 * an event log.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, agentctl, approveRepo, cleanup, makeRepo, taskFile, tempDir } from '../helpers.js';

afterEach(cleanup);

const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const sandboxAvailable = process.platform === 'linux' && ['bwrap', 'socat', 'rg'].every(has);
const TESTED_CLAUDE: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).devDependencies['@anthropic-ai/claude-code'];
/** The test's PATH without node_modules/.bin folders (vitest adds them; they hold agentctl's own agent CLIs). */
const SYSTEM_PATH = (process.env.PATH ?? '').split(':').filter((d) => !d.includes('node_modules')).join(':');

/** A repository whose only configured agent is a `command` script (claude etc. keep their default bins). */
function commandRepo(config = '') {
  const made = makeRepo({
    '.agentrc.yaml': `agents:\n  command:\n    bin: ./agent.sh\n${config}`,
    'agent.sh': '#!/bin/sh\necho hi\n',
    'tasks/t.md': taskFile({ agent: 'command', type: 'docs' }, 'work'),
  });
  chmodSync(join(made.repo, 'agent.sh'), 0o755);
  return made;
}

/** A folder with executable scripts (name → body), to put first on PATH. */
function binDir(scripts: Record<string, string>): string {
  const dir = join(tempDir(), 'bin');
  mkdirSync(dir, { recursive: true });
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(dir, name), body);
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

async function doctorJson(cwd: string, home: string, env: Record<string, string> = {}) {
  const r = await agentctl(cwd, home, ['doctor', '--json'], env);
  return { ...r, json: JSON.parse(r.stdout) as { ok: boolean; usableAgents: string[]; checks: Record<string, { status: string; detail: string; fix?: string; data: Record<string, unknown> }> } };
}

describe.runIf(sandboxAvailable)('agentctl doctor where runs can start', () => {
  it('passes (exit 0): the live self-test really ran confined, git is new enough, no log is created', async () => {
    const { repo, home } = commandRepo();
    const r = await doctorJson(repo, home, { PATH: SYSTEM_PATH });
    expect(r.code, r.stdout).toBe(0);
    const c = r.json.checks;
    expect(r.json.ok).toBe(true);
    expect(r.json.usableAgents).toEqual(['command']);
    expect(c.osSandbox!.status).toBe('ok');
    // As root, confined processes read root-only files of /etc that are not hidden by name: a warning.
    expect(c.sandboxUser).toMatchObject(process.getuid!() === 0 ? { status: 'warn', fix: 'run agentctl as an ordinary user' } : { status: 'ok' });
    expect(c.sandboxSelfTest).toMatchObject({ status: 'ok', data: { passed: true, attempts: { readCanary: 'denied', readOutside: 'denied', writeOutside: 'denied', writeWorktree: 'allowed' } } });
    expect(c.git!.status).toBe('ok');
    expect(c.eventLog).toMatchObject({ status: 'ok', data: { exists: false } });
    expect(c.eventLog!.detail).toContain('no log yet');
    expect(existsSync(home)).toBe(false);
    // Claude Code is not installed on this PATH: a warning with the install command, not a failure.
    expect(c.claude).toMatchObject({ status: 'warn', data: { path: null } });
    expect(c.claude!.fix).toContain(`npm install -g @anthropic-ai/claude-code@${TESTED_CLAUDE}`);
  });

  it('prints a checklist without colors under NO_COLOR (and with them when forced)', async () => {
    const { repo, home } = commandRepo();
    const plain = await agentctl(repo, home, ['doctor'], { PATH: SYSTEM_PATH });
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/✓ sandbox self-test +a confined process could neither read a secret outside its worktree, nor read a folder outside the run, nor write outside it/);
    expect(plain.stdout).toMatch(/! claude +not found \(bin: claude\)\n +fix: npm install -g @anthropic-ai\/claude-code@/);
    expect(plain.stdout).toContain('Runs can start here (agents: command).');
    expect(plain.stdout).not.toContain('\u001b[');
    const colored = await agentctl(repo, home, ['doctor'], { PATH: SYSTEM_PATH, NO_COLOR: '', FORCE_COLOR: '1' });
    expect(colored.stdout).toContain('\u001b[');
  });

  it('fails (exit 3) when an agent CLI is older than tested, naming the upgrade; passes with the tested version', async () => {
    const { repo, home } = commandRepo();
    const old = binDir({ claude: '#!/bin/sh\necho "1.0.0 (Claude Code)"\n' });
    const r = await doctorJson(repo, home, { PATH: `${old}:${SYSTEM_PATH}`, ANTHROPIC_API_KEY: 'test-key' });
    expect(r.code).toBe(3);
    expect(r.json.ok).toBe(false);
    expect(r.json.checks.claude).toMatchObject({ status: 'fail', data: { version: '1.0.0', tested: TESTED_CLAUDE, usable: false } });
    expect(r.json.checks.claude!.detail).toContain(`older than the tested ${TESTED_CLAUDE}`);
    expect(r.json.checks.claude!.fix).toBe(`npm install -g @anthropic-ai/claude-code@${TESTED_CLAUDE}`);
    const text = await agentctl(repo, home, ['doctor'], { PATH: `${old}:${SYSTEM_PATH}`, ANTHROPIC_API_KEY: 'test-key' });
    expect(text.stdout).toMatch(/✗ claude +1\.0\.0 is older than the tested/);
    expect(text.stdout).toContain('Runs cannot start here: 1 check failed');

    const tested = binDir({ claude: `#!/bin/sh\necho "${TESTED_CLAUDE} (Claude Code)"\n` });
    const ok = await doctorJson(repo, home, { PATH: `${tested}:${SYSTEM_PATH}`, ANTHROPIC_API_KEY: 'test-key' });
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.json.checks.claude).toMatchObject({ status: 'ok', data: { version: TESTED_CLAUDE, keys: ['ANTHROPIC_API_KEY'], usable: true } });
    expect(ok.json.usableAgents).toEqual(['claude', 'command']);
    // Without its API key the tested CLI is not usable: a warning saying which variable to set.
    const nokey = await doctorJson(repo, home, { PATH: `${tested}:${SYSTEM_PATH}` });
    expect(nokey.json.checks.claude).toMatchObject({ status: 'warn', data: { usable: false } });
    expect(nokey.json.checks.claude!.fix).toMatch(/^export ANTHROPIC_API_KEY=/);
  });

  it('never starts an agent binary the repository ships (it would run unconfined on the host)', async () => {
    const marker = join(tempDir(), 'ran');
    const { repo, home } = commandRepo(`  claude:\n    bin: ./tools/claude\n`);
    mkdirSync(join(repo, 'tools'));
    writeFileSync(join(repo, 'tools', 'claude'), `#!/bin/sh\ntouch ${marker}\necho "${TESTED_CLAUDE} (Claude Code)"\n`);
    chmodSync(join(repo, 'tools', 'claude'), 0o755);
    const r = await doctorJson(repo, home, { PATH: SYSTEM_PATH, ANTHROPIC_API_KEY: 'test-key' });
    expect(existsSync(marker)).toBe(false);
    expect(r.json.checks.claude).toMatchObject({ status: 'warn', data: { version: null, usable: false } });
    expect(r.json.checks.claude!.detail).toContain('inside the repository');
  });

  it('never starts one the repository names beside it either (`../payload/claude`: another clone of its author\'s)', async () => {
    const marker = join(tempDir(), 'ran');
    const { repo, home } = commandRepo(`  claude:\n    bin: ../payload/claude\n`);
    mkdirSync(join(repo, '..', 'payload'));
    writeFileSync(join(repo, '..', 'payload', 'claude'), `#!/bin/sh\ntouch ${marker}\necho "${TESTED_CLAUDE} (Claude Code)"\n`);
    chmodSync(join(repo, '..', 'payload', 'claude'), 0o755);
    const r = await doctorJson(repo, home, { PATH: SYSTEM_PATH, ANTHROPIC_API_KEY: 'test-key' });
    expect(existsSync(marker)).toBe(false);
    expect(r.json.checks.claude).toMatchObject({ status: 'warn', data: { version: null, usable: false } });
    expect(r.json.checks.claude!.detail).toContain('chosen by the repository');
    expect(r.json.checks.settings).toMatchObject({ status: 'fail', data: { unapproved: ['agents.claude.bin'] } });
  });

  it('fails when the OS sandbox does not confine: a stand-in srt that runs the probe unconfined is caught', async () => {
    // sandbox.bin is what a project may set; this one drops `--settings <file> --` and runs the command as is.
    const fake = binDir({ 'fake-srt': '#!/bin/sh\nshift 3\nexec "$@"\n' });
    const { repo, home } = commandRepo(`sandbox:\n  bin: ${join(fake, 'fake-srt')}\n`);
    approveRepo(repo, home);
    const r = await doctorJson(repo, home, { PATH: SYSTEM_PATH });
    expect(r.code).toBe(3);
    expect(r.json.checks.sandboxSelfTest).toMatchObject({ status: 'fail', data: { passed: false, attempts: { readCanary: 'allowed', writeOutside: 'allowed' } } });
    expect(r.json.checks.sandboxSelfTest!.detail).toContain('READ a secret outside its worktree and READ a file in a folder outside the run and WROTE a file outside its worktree');

    // One that starts nothing looks safe (nothing read, nothing written) and must fail too.
    const dead = binDir({ 'dead-srt': '#!/bin/sh\necho "bwrap: setting up uid map: Permission denied" >&2\nexit 1\n' });
    const made = commandRepo(`sandbox:\n  bin: ${join(dead, 'dead-srt')}\n`);
    approveRepo(made.repo, made.home);
    const d = await doctorJson(made.repo, made.home, { PATH: SYSTEM_PATH });
    expect(d.code).toBe(3);
    expect(d.json.checks.sandboxSelfTest).toMatchObject({ status: 'fail', data: { attempts: { readCanary: 'not run' } } });
    expect(d.json.checks.sandboxSelfTest!.detail).toContain('bwrap: setting up uid map: Permission denied');
    expect(d.json.checks.sandboxSelfTest!.fix).toContain('user namespaces');
  });

  it('verifies an existing event log, and fails with a fix when its checkpoint no longer matches', async () => {
    const { repo, home } = commandRepo();
    expect((await agentctl(repo, home, ['runs'])).code).toBe(0); // opens (creates) the log
    const good = await doctorJson(repo, home, { PATH: SYSTEM_PATH });
    expect(good.json.checks.eventLog).toMatchObject({ status: 'ok', data: { exists: true, ok: true } });
    // The checkpoint says the log once went further: events were cut off.
    writeFileSync(join(home, 'agentctl.db.checkpoint'), JSON.stringify({ seq: 99, hash: 'f'.repeat(64) }));
    const bad = await doctorJson(repo, home, { PATH: SYSTEM_PATH });
    expect(bad.code).toBe(3);
    expect(bad.json.checks.eventLog).toMatchObject({ status: 'fail', data: { exists: true, ok: false } });
    expect(bad.json.checks.eventLog!.detail).toMatch(/fails verification: .*checkpoint/);
    expect(bad.json.checks.eventLog!.fix).toContain('agentctl audit verify');
  });
});

describe('agentctl doctor where runs cannot start', () => {
  it('fails (exit 3) with the install command when bubblewrap is missing, and does not run the self-test', async () => {
    const { repo, home } = commandRepo();
    // A PATH with git, node and sh and nothing else.
    const bin = join(tempDir(), 'bin');
    mkdirSync(bin, { recursive: true });
    for (const p of ['git', 'node', 'sh']) symlinkSync(spawnSync('sh', ['-c', `command -v ${p}`], { encoding: 'utf8' }).stdout.trim(), join(bin, p));
    const r = await doctorJson(repo, home, { PATH: bin });
    expect(r.code).toBe(3);
    const c = r.json.checks;
    expect(c.osSandbox).toMatchObject({ status: 'fail', data: { missing: process.platform === 'linux' ? ['bwrap', 'socat', 'rg'] : expect.any(Array) } });
    if (process.platform === 'linux') expect(c.osSandbox!.fix).toContain('sudo apt-get install bubblewrap socat ripgrep');
    expect(c.sandboxSelfTest).toMatchObject({ status: 'fail', detail: 'not run: the OS sandbox cannot start' });
    expect(c.git!.status).toBe('ok');
    const text = await agentctl(repo, home, ['doctor'], { PATH: bin });
    expect(text.stdout).toMatch(/✗ OS sandbox +cannot start: missing bwrap, socat, rg\n +fix: Install them/);
  });

  it('outside a repository it still checks the machine; an invalid .agentrc.yaml fails naming the field', async () => {
    const outside = tempDir();
    const home = join(tempDir(), 'home');
    const r = await doctorJson(outside, home, { PATH: SYSTEM_PATH });
    expect(r.json.checks.project).toMatchObject({ status: 'warn' });
    expect(r.json.checks.project!.detail).toContain('not a git repository');
    expect(r.json.checks.agents!.status).toBe('fail'); // no agent CLI on this PATH, no command agent
    expect(r.code).toBe(3);

    const { repo } = makeRepo({ '.agentrc.yaml': 'defaults:\n  agent: nobody\n' });
    const bad = await doctorJson(repo, home, { PATH: SYSTEM_PATH });
    expect(bad.code).toBe(3);
    expect(bad.json.checks.project).toMatchObject({ status: 'fail' });
    expect(bad.json.checks.project!.detail).toMatch(/\.agentrc\.yaml:2: .*"defaults\.agent"/);
  });
});
