/** Parallel runs on one repository, SIGINT handling, --claim through a pseudo-terminal, policy show. */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import lockfile from 'proper-lockfile';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, ROOT, agentctl, cleanup, git, makeRepo, script, taggedSleep, tagged, taskFile, waitFor } from '../helpers.js';

afterEach(cleanup);

describe('several runs at once on one repository', () => {
  it('4 parallel runs all get their own worktree (worktree operations are serialized)', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 4; i++) files[`tasks/t${i}.md`] = taskFile({ type: 'docs' }, script({ write: `docs/f${i}.md`, content: `${i}\n` }));
    const { repo, home } = makeRepo(files);
    const results = await Promise.all([0, 1, 2, 3].map((i) => agentctl(repo, home, ['run', `t${i}`, '--json'])));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const runs = results.map((r) => JSON.parse(r.stdout).run);
    expect(new Set(runs.map((r) => r.worktree)).size).toBe(4);
    expect(runs.every((r) => r.state === 'awaiting_review')).toBe(true);
    expect(git(repo, 'worktree', 'list').split('\n')).toHaveLength(5);
  });
});

describe('Ctrl-C', () => {
  it('SIGINT stops the agent process tree, records the run as interrupted and keeps the worktree (exit 130)', async () => {
    // The agent's child lives in the OS sandbox's PID namespace: the test finds it by its name.
    const tag = `agentctl-sigint-${process.pid}-${Date.now()}`;
    const { repo, home } = makeRepo({
      '.agentrc.yaml': 'agents:\n  command:\n    bin: ./agent.sh\n',
      'agent.sh': `#!/bin/sh\nmkdir -p docs; echo partial > docs/wip.md\n${taggedSleep(tag)} & wait\n`,
      'tasks/t.md': taskFile({ agent: 'command' }, 'work'),
    });
    chmodSync(join(repo, 'agent.sh'), 0o755);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'agent');
    const child = spawn(process.execPath, [BIN, 'run', 't', '--json'], { cwd: repo, env: { PATH: process.env.PATH, HOME: process.env.HOME, AGENTCTL_HOME: home, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    expect(await waitFor(() => tagged(tag).length === 1)).toBe(true);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code).toBe(130);
    const run = JSON.parse(stdout).run;
    expect(run.state).toBe('interrupted');
    expect(existsSync(run.worktree)).toBe(true);
    expect(run.files.map((f: { path: string }) => f.path)).toEqual(['docs/wip.md']);
    expect(tagged(tag)).toEqual([]);
    const review = JSON.parse((await agentctl(repo, home, ['review', '--json'])).stdout);
    expect(review.runs).toHaveLength(1);
  });
});

describe('other signals, and an interrupt during the gate', () => {
  /** A repository whose `command` agent writes a file, then runs `agentLine`; task t with `front`. */
  function signalRepo(agentLine: string, front: Record<string, unknown>) {
    const made = makeRepo({
      '.agentrc.yaml': 'agents:\n  command:\n    bin: ./agent.sh\n',
      'agent.sh': `#!/bin/sh\nmkdir -p docs; echo partial > docs/wip.md\n${agentLine}\n`,
      'tasks/t.md': taskFile({ agent: 'command', type: 'docs', ...front }, 'work'),
    });
    chmodSync(join(made.repo, 'agent.sh'), 0o755);
    git(made.repo, 'add', '-A');
    git(made.repo, 'commit', '-qm', 'agent');
    return made;
  }
  /** Agent lines that write the run's gate: slow tests that would fail. */
  const gateScript = (tag: string) => `cat > docs/gate.sh <<'G'\necho slow failing tests\n${taggedSleep(tag)}\nexit 1\nG`;
  const start = (repo: string, home: string) => {
    const child = spawn(process.execPath, [BIN, 'run', 't', '--json'], { cwd: repo, env: { PATH: process.env.PATH, HOME: process.env.HOME, AGENTCTL_HOME: home, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    return { child, closed: new Promise<number | null>((r) => child.on('close', r)), stdout: () => stdout };
  };

  it.each(['SIGTERM', 'SIGHUP'] as const)('%s (a closed terminal, `timeout`, a cancelled CI job) stops the agent the way Ctrl-C does: recorded interrupted, nothing left running', async (signal) => {
    const tag = `agentctl-${signal}-${process.pid}-${Date.now()}`;
    const { repo, home } = signalRepo(`${taggedSleep(tag)} & wait`, {});
    const run = start(repo, home);
    expect(await waitFor(() => tagged(tag).length === 1)).toBe(true);
    // Twice, as a closing terminal may send SIGHUP: only a second Ctrl-C forces exit.
    run.child.kill(signal);
    setTimeout(() => run.child.kill(signal), 100);
    expect(await run.closed).toBe(130);
    const r = JSON.parse(run.stdout()).run;
    expect(r.state).toBe('interrupted');
    expect(tagged(tag)).toEqual([]);
    const events = JSON.parse((await agentctl(repo, home, ['log', '--run', r.runId, '--json'])).stdout).events as { type: string; payload: { reason?: string } }[];
    expect(events.find((e) => e.type === 'run.interrupted')?.payload.reason).toBe(`interrupted by ${signal}`);
  });

  it.runIf(spawnSync('script', ['--version']).status === 0)('a terminal that closes (SIGHUP, then every write to it fails with EIO) still gets its run stopped and recorded, not a crash', async () => {
    const tag = `agentctl-hup-${process.pid}-${Date.now()}`;
    const { repo, home } = signalRepo(`${taggedSleep(tag)} & wait`, {});
    // script gives agentctl a terminal; killing script closes it, as a closed window would.
    const term = spawn('script', ['-qfec', `exec ${process.execPath} ${BIN} run t`, '/dev/null'], { cwd: repo, env: { PATH: process.env.PATH, HOME: process.env.HOME, AGENTCTL_HOME: home, TERM: 'dumb' }, stdio: ['pipe', 'ignore', 'ignore'] });
    expect(await waitFor(() => tagged(tag).length === 1)).toBe(true);
    term.kill('SIGKILL');
    expect(await waitFor(() => spawnSync('pgrep', ['-f', `${BIN} run t`]).status !== 0)).toBe(true);
    const events = JSON.parse((await agentctl(repo, home, ['log', '--json'])).stdout).events as { type: string; payload: { reason?: string } }[];
    // Before: the first progress line after the hang-up threw EIO, agentctl died, and the next command recovered the run.
    expect(events.filter((e) => e.type === 'run.interrupted').map((e) => e.payload.reason)).toEqual(['interrupted by SIGHUP']);
    expect(tagged(tag)).toEqual([]);
  });

  it('an interrupt while the gate of an auto task runs is recorded as an interrupted run: the gate did not pass, nothing merges', async () => {
    // The OS sandbox's runner exits 0 when the gate it runs is stopped: that read as a passed gate.
    const tag = `agentctl-gate-${process.pid}-${Date.now()}`;
    const { repo, home } = signalRepo(gateScript(tag), { autonomy: 'auto', gate: 'sh docs/gate.sh' });
    expect((await agentctl(repo, home, ['promote', 'command', '--type', 'docs', '--to', 'auto', '--force'])).code).toBe(0);
    const base = git(repo, 'rev-parse', 'main');
    const run = start(repo, home);
    expect(await waitFor(() => tagged(tag).length === 1)).toBe(true);
    run.child.kill('SIGINT');
    expect(await run.closed).toBe(130);
    const r = JSON.parse(run.stdout()).run;
    expect(r.state).toBe('interrupted');
    expect(git(repo, 'rev-parse', 'main')).toBe(base);
    const events = JSON.parse((await agentctl(repo, home, ['log', '--run', r.runId, '--json'])).stdout).events as { type: string }[];
    // No verdict either way: a failure would count against the agent's trust for a stop it did not make.
    expect(events.map((e) => e.type)).not.toContain('gate.passed');
    expect(events.map((e) => e.type)).not.toContain('gate.failed');
    expect(events.map((e) => e.type)).not.toContain('run.merged');
  });

  it('a gate left running by a killed agentctl is stopped by the next command\'s recovery', async () => {
    const tag = `agentctl-orphan-gate-${process.pid}-${Date.now()}`;
    const { repo, home } = signalRepo(gateScript(tag), { gate: 'sh docs/gate.sh' });
    const run = start(repo, home);
    expect(await waitFor(() => tagged(tag).length === 1)).toBe(true);
    run.child.kill('SIGKILL');
    await run.closed;
    expect(tagged(tag)).toHaveLength(1);
    const runs = JSON.parse((await agentctl(repo, home, ['runs', '--json'])).stdout).runs;
    expect(runs[0].state).toBe('interrupted');
    expect(await waitFor(() => tagged(tag).length === 0, 5000)).toBe(true);
  });

  it('an agentctl killed while its auto merge waits for the repository lock leaves a run the next command recovers, for a human to merge', async () => {
    // The gate sleeps a second (and passes): time for the test to take the repository lock first.
    const tag = `agentctl-auto-merge-${process.pid}-${Date.now()}`;
    const { repo, home } = signalRepo(`cat > docs/gate.sh <<'G'\n${taggedSleep(tag, 1)}\nG`, { autonomy: 'auto', gate: 'sh docs/gate.sh' });
    expect((await agentctl(repo, home, ['promote', 'command', '--type', 'docs', '--to', 'auto', '--force'])).code).toBe(0);
    const base = git(repo, 'rev-parse', 'main');
    const run = start(repo, home);
    expect(await waitFor(() => tagged(tag).length === 1)).toBe(true);
    const lockFile = join(home, 'locks', readdirSync(join(home, 'locks')).find((n) => n.endsWith('.lock'))!);
    const release = await lockfile.lock(lockFile, { retries: { retries: 100, minTimeout: 20, maxTimeout: 50 } });
    try {
      const db = new Database(join(home, 'agentctl.db'), { readonly: true, fileMustExist: true });
      const decided = () => db.prepare("SELECT count(*) AS n FROM events WHERE type = 'run.decided'").get() as { n: number };
      expect(await waitFor(() => decided().n === 1)).toBe(true);
      db.close();
      run.child.kill('SIGKILL');
      await run.closed;
    } finally {
      await release();
    }
    const runs = JSON.parse((await agentctl(repo, home, ['runs', '--json'])).stdout).runs;
    expect(runs[0].state).toBe('interrupted');
    expect(git(repo, 'rev-parse', 'main')).toBe(base);
    const merged = await agentctl(repo, home, ['review', 'merge', runs[0].runId, '--json']);
    expect(merged.code, merged.stderr).toBe(0);
    expect(git(repo, 'show', 'main:docs/wip.md')).toBe('partial');
  });

  it('a gate stopped by the kill switch gives no verdict: the sandbox runner\'s exit 0 after a stop is not a pass', async () => {
    const tag = `agentctl-halt-gate-${process.pid}-${Date.now()}`;
    const { repo, home } = signalRepo(gateScript(tag), { autonomy: 'auto', gate: 'sh docs/gate.sh' });
    expect((await agentctl(repo, home, ['promote', 'command', '--type', 'docs', '--to', 'auto', '--force'])).code).toBe(0);
    const run = start(repo, home);
    expect(await waitFor(() => tagged(tag).length === 1)).toBe(true);
    expect((await agentctl(repo, home, ['halt', '--reason', 'stop everything'])).code).toBe(0);
    await run.closed;
    const r = JSON.parse(run.stdout()).run;
    expect(r.gate).toBeUndefined();
    expect(r.state).not.toBe('merged');
    expect(tagged(tag)).toEqual([]);
  });
});

const hasScript = spawnSync('script', ['--version']).status === 0;

describe('hold tasks with --claim', () => {
  it.runIf(hasScript)('a human drives the agent in the sandbox through a terminal; the run then awaits review', async () => {
    const { repo, home } = makeRepo({
      '.agentrc.yaml': 'agents:\n  command:\n    bin: ./human.sh\n',
      'human.sh': '#!/bin/sh\nmkdir -p migrations; echo "-- by hand" > migrations/001.sql\n',
      // The prompt is printed for the human: what the repository wrote in it must not drive the terminal.
      'tasks/migrate.md': taskFile({ agent: 'command', autonomy: 'hold', profile: 'careful', paths: ['migrations/**'] }, 'Write the migration.\u001b]0;pwned\u0007'),
    });
    chmodSync(join(repo, 'human.sh'), 0o755);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'helper');
    const r = spawnSync('script', ['-qec', `${process.execPath} ${BIN} run migrate --claim`, '/dev/null'], {
      cwd: repo,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, AGENTCTL_HOME: home, NO_COLOR: '1', TERM: 'dumb' },
      encoding: 'utf8',
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('you are driving command in the sandbox');
    expect(r.stdout).toContain('Write the migration.\\x1b]0;pwned\\x07');
    expect(r.stdout).not.toContain('\u001b]0;pwned');
    const runs = JSON.parse((await agentctl(repo, home, ['runs', '--json'])).stdout).runs;
    expect(runs[0]).toMatchObject({ state: 'awaiting_review', effective: 'hold', files: [expect.objectContaining({ path: 'migrations/001.sql' })], scopeViolations: [] });
  });
});

describe('policy show', () => {
  it('prints the composed policy with provenance and the rendered configs', async () => {
    const { repo, home } = makeRepo({ 'tasks/t.md': taskFile({ profile: ['careful'], paths: ['docs/**'] }, 'x') });
    const r = await agentctl(repo, home, ['policy', 'show', 't', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.policy.write.filter((w: { source: string }) => w.source !== 'agentctl protocol')).toEqual([{ value: 'docs/**', source: 'task paths (careful)' }]);
    expect(out.policy.profiles).toEqual(['implement', 'careful']);
    expect(Object.keys(out.rendered)).toEqual(['claude', 'gemini', 'codex']);
    const text = await agentctl(repo, home, ['policy', 'show', 't', '--tool', 'claude']);
    expect(text.stdout).toContain('Edit(./docs/**)');
    expect(text.stdout).toContain('← implement');
  });
});

describe('policy check and schema', () => {
  it.each([
    ['Edit src/a.ts', true, 'write'],
    ['Edit .env', false, 'deny'],
    ['Write tasks/t.md', false, 'protected'],
    ['Read .env', false, 'deny'],
    ['Bash npm test', true, 'command-allow'],
    ['Bash git push origin main', false, 'command-deny'],
    ['Fetch https://example.com', false, 'network'],
  ])('policy check --action %j → allowed %s by a %s rule', async (action, allowed, kind) => {
    const { repo, home } = makeRepo({ 'tasks/t.md': taskFile({ profile: 'implement' }, 'x') });
    const r = await agentctl(repo, home, ['policy', 'check', 't', '--tool', 'claude', '--action', action, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ allowed, rule: { kind } });
  });

  it('a malformed action is a clear input error', async () => {
    const { repo, home } = makeRepo({ 'tasks/t.md': taskFile({}, 'x') });
    const r = await agentctl(repo, home, ['policy', 'check', 't', '--action', 'Teleport somewhere']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--action "Teleport somewhere"/);
  });

  it('agentctl schema profile covers every key the built-in profiles use and refuses others', async () => {
    const { repo, home } = makeRepo();
    const schema = JSON.parse((await agentctl(repo, home, ['schema', 'profile'])).stdout);
    expect(schema.additionalProperties).toBe(false);
    const { parse } = await import('yaml');
    const { readdirSync, readFileSync } = await import('node:fs');
    for (const f of readdirSync(join(ROOT, 'profiles'))) {
      for (const key of Object.keys(parse(readFileSync(join(ROOT, 'profiles', f), 'utf8')))) expect(Object.keys(schema.properties), `${f}: ${key}`).toContain(key);
    }
    expect((await agentctl(repo, home, ['schema', 'nope'])).code).toBe(2);
  });
});
