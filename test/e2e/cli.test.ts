/**
 * End to end: the built bin/agentctl on real temp git repositories with an isolated AGENTCTL_HOME,
 * the scripted Claude Code stand-in and shell-script `command` agents.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, chmodSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { agentctl, approveRepo, BIN, cleanup, git, makeRepo, script, tagged, taggedSleep, taskFile, tempDir, waitFor, writeFiles } from '../helpers.js';

afterEach(cleanup);

const docsTask = (extra: Record<string, unknown> = {}) =>
  taskFile({ title: 'Add flags page', type: 'docs', gate: 'test -f docs/flags.md', ...extra }, script({ say: 'Writing.' }, { write: 'docs/flags.md', content: '# Flags\n' }, { say: 'Added docs/flags.md' }));

async function runJson(repo: string, home: string, task: string) {
  const r = await agentctl(repo, home, ['run', task, '--json']);
  return { ...r, json: r.stdout ? JSON.parse(r.stdout) : undefined };
}

describe('run → review → merge → promote', () => {
  it('runs a review task in a worktree, records events, merges on review and counts it as evidence', async () => {
    const { repo, home } = makeRepo({ 'tasks/add-flags.md': docsTask() });
    const tasks = JSON.parse((await agentctl(repo, home, ['tasks', '--json'])).stdout);
    expect(tasks.tasks[0]).toMatchObject({ id: 'add-flags', requested: 'review', effective: 'review', agent: 'claude', type: 'docs' });

    const run = await runJson(repo, home, 'add-flags');
    expect(run.code, run.stderr).toBe(0);
    const r = run.json.run;
    expect(r).toMatchObject({ state: 'awaiting_review', sandboxLive: true, branch: `agentctl/add-flags/${r.runId}`, gate: { passed: true } });
    expect(r.worktree.startsWith(home)).toBe(true);
    expect(readFileSync(join(r.worktree, 'docs/flags.md'), 'utf8')).toBe('# Flags\n');
    expect(existsSync(join(repo, 'docs/flags.md'))).toBe(false); // the user's checkout is untouched
    expect(run.stderr).toContain('gate passed');

    const review = JSON.parse((await agentctl(repo, home, ['review', '--json'])).stdout);
    expect(review.runs.map((x: { runId: string }) => x.runId)).toEqual([r.runId]);
    const show = JSON.parse((await agentctl(repo, home, ['review', 'show', r.runId.slice(0, 24), '--json'])).stdout);
    expect(show.diff).toContain('+# Flags');
    expect(show.run.summary).toBe('Added docs/flags.md');
    const shown = (await agentctl(repo, home, ['review', 'show', r.runId])).stdout;
    expect(shown).toContain('Changes (1 file, +1 -0 lines)');
    expect(shown).toMatch(/docs\/flags\.md {2}\+1 -0/);

    const merge = await agentctl(repo, home, ['review', 'merge', r.runId, '--note', 'ship it']);
    expect(merge.code, merge.stderr).toBe(0);
    expect(readFileSync(join(repo, 'docs/flags.md'), 'utf8')).toBe('# Flags\n');
    expect(git(repo, 'log', '-1', '--format=%s')).toBe(`agentctl: merge add-flags (run ${r.runId})`);
    expect(existsSync(r.worktree)).toBe(false);
    expect(git(repo, 'branch', '--list', 'agentctl/*')).toBe('');

    const promote = JSON.parse((await agentctl(repo, home, ['promote', '--json'])).stdout);
    expect(promote.profiles).toEqual([expect.objectContaining({ agent: 'claude', taskType: 'docs', level: 'review', evidence: expect.objectContaining({ runs: 1, merged: 1, mergeRate: 1 }) })]);

    const log = JSON.parse((await agentctl(repo, home, ['log', '--run', r.runId, '--json'])).stdout);
    const types = log.events.map((e: { type: string }) => e.type);
    for (const t of ['run.planned', 'sandbox.created', 'policy.rendered', 'agent.launched', 'tool.called', 'file.changed', 'agent.usage', 'agent.exited', 'sandbox.committed', 'gate.passed', 'run.decided', 'review.approved', 'run.merged', 'sandbox.removed']) {
      expect(types, t).toContain(t);
    }
    expect(log.events.find((e: { type: string }) => e.type === 'review.approved').payload).toMatchObject({ by: 'dev@example.com', note: 'ship it' });
  });

  it('discard removes the worktree and branch but keeps the work in an archive ref', async () => {
    const { repo, home } = makeRepo({ 'tasks/add-flags.md': docsTask() });
    const { json, stderr } = await runJson(repo, home, 'add-flags');
    const id = json.run.runId;
    // The short id the progress lines print names the run; fewer than 4 characters name none.
    const short = /\[add-flags ([0-9a-z]+)\]/.exec(stderr)![1]!;
    expect(id.endsWith(short) && short.length).toBe(6);
    const tooShort = await agentctl(repo, home, ['review', 'show', short.slice(-3)]);
    expect([tooShort.code, tooShort.stderr]).toEqual([2, expect.stringMatching(/too short to name a run: give at least 4 characters/)]);
    const d = await agentctl(repo, home, ['review', 'discard', short, '--reason', 'not needed', '--json']);
    expect(d.code, d.stderr).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ discarded: true, archiveRef: `refs/agentctl/archive/${id}` });
    expect(existsSync(json.run.worktree)).toBe(false);
    expect(git(repo, 'show', `refs/agentctl/archive/${id}:docs/flags.md`)).toBe('# Flags');
    const runs = JSON.parse((await agentctl(repo, home, ['runs', '--json'])).stdout);
    expect(runs.runs[0]).toMatchObject({ state: 'discarded', sandboxLive: false });
    expect((await agentctl(repo, home, ['review', 'merge', id])).code).toBe(5);
  });

  it('auto merges only after a human promotion to auto, and only when the gate passes', async () => {
    const { repo, home } = makeRepo({ 'tasks/auto-docs.md': docsTask({ autonomy: 'auto' }) });
    const first = await runJson(repo, home, 'auto-docs');
    expect(first.json.run).toMatchObject({ state: 'awaiting_review', requested: 'auto', effective: 'review' });
    expect(first.json.decision.reasons.join(' ')).toMatch(/earned level is review/);
    await agentctl(repo, home, ['review', 'discard', first.json.run.runId]);

    expect((await agentctl(repo, home, ['promote', 'claude', '--type', 'docs', '--to', 'auto', '--force', '--note', 'enough evidence'])).code).toBe(0);
    const second = await runJson(repo, home, 'auto-docs');
    expect(second.code, second.stderr).toBe(0);
    expect(second.json.run).toMatchObject({ state: 'merged', effective: 'auto' });
    expect(readFileSync(join(repo, 'docs/flags.md'), 'utf8')).toBe('# Flags\n');
    const history = JSON.parse((await agentctl(repo, home, ['promote', '--json'])).stdout).profiles[0];
    expect(history).toMatchObject({ level: 'auto', history: [expect.objectContaining({ from: 'review', to: 'auto', kind: 'promotion', by: 'dev@example.com', reason: 'enough evidence', evidence: expect.objectContaining({ runs: 1, discarded: 1 }) })] });
  });

  it('a failing gate leaves the run awaiting review with exit code 6', async () => {
    const { repo, home } = makeRepo({ 'tasks/t.md': docsTask({ gate: 'echo broken >&2; exit 3' }) });
    const r = await runJson(repo, home, 't');
    expect(r.code).toBe(6);
    expect(r.json.run).toMatchObject({ state: 'awaiting_review', gate: { passed: false, exitCode: 3 } });
    expect(r.json.run.gate.output).toContain('broken');
  });
});

describe('review show of a run whose agent failed', () => {
  it('says no gate ran, not that none is configured (the task has one; the run ended before it)', async () => {
    const { repo, home } = makeRepo({ 'tasks/t.md': taskFile({ agent: 'claude', type: 'docs', gate: 'true' }, script({ fail: 'could not finish' })) });
    const run = await runJson(repo, home, 't');
    expect(run.json.run.state, run.stderr).toBe('failed');
    const shown = (await agentctl(repo, home, ['review', 'show', run.json.run.runId])).stdout;
    expect(shown).toContain('Gate\n  no gate ran (none configured, or the run ended before its gate)');
    expect(shown).not.toContain('no gate configured');
  });
});

describe('refusals change nothing', () => {
  const worktreesOf = (home: string) => (existsSync(join(home, 'worktrees')) ? readdirSync(join(home, 'worktrees')).flatMap((d) => readdirSync(join(home, 'worktrees', d))) : []);

  it('hold tasks never start unattended; --claim needs a terminal', async () => {
    const { repo, home } = makeRepo({ 'tasks/held.md': docsTask({ autonomy: 'hold' }) });
    const r = await agentctl(repo, home, ['run', 'held']);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/on hold/);
    expect(r.stderr).toContain('agentctl run held --claim');
    const c = await agentctl(repo, home, ['run', 'held', '--claim']);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/needs a terminal/);
    expect(worktreesOf(home)).toEqual([]);
    expect(JSON.parse((await agentctl(repo, home, ['runs', '--json'])).stdout).runs).toEqual([]);
  });

  it('a bad task file names file and field, and does not hide the others', async () => {
    const { repo, home } = makeRepo({
      'tasks/good.md': docsTask(),
      'tasks/bad-level.md': '---\ntitle: x\nautonomy: sometimes\n---\nbody\n',
      'tasks/bad-yaml.md': '---\ntitle: [x\n---\nbody\n',
      'tasks/Bad Id.md': '---\ntitle: x\n---\nbody\n',
    });
    const list = await agentctl(repo, home, ['tasks', '--json']);
    expect(list.code).toBe(2);
    const out = JSON.parse(list.stdout);
    expect(out.tasks.map((t: { id: string }) => t.id)).toEqual(['good']);
    expect(out.errors.map((e: { file: string }) => e.file).sort()).toEqual(['tasks/Bad Id.md', 'tasks/bad-level.md', 'tasks/bad-yaml.md']);
    expect(out.errors.find((e: { file: string }) => e.file === 'tasks/bad-level.md')).toMatchObject({ field: 'autonomy' });
    const run = await agentctl(repo, home, ['run', 'bad-level']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('tasks/bad-level.md:3');
    expect(run.stderr).toContain('"autonomy"');
    expect(worktreesOf(home)).toEqual([]);
  });

  it('a missing agent binary is refused before any worktree exists', async () => {
    const { repo, home } = makeRepo({ 'tasks/t.md': docsTask(), '.agentrc.yaml': 'agents:\n  claude:\n    bin: /nonexistent/claude\n' });
    const r = await agentctl(repo, home, ['run', 't']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('/nonexistent/claude');
    expect(worktreesOf(home)).toEqual([]);
    expect(git(repo, 'worktree', 'list').split('\n')).toHaveLength(1);
  });

  it('what agentctl reads from a cloned repository stays in it: a linked tasks or profiles folder and a linked, special or huge .agentrc.yaml are refused, nothing outside read', async () => {
    const outside = tempDir('agentctl-outside-');
    writeFiles(outside, { 'notes/leak.md': '---\ntitle: SECRET-TITLE\n---\nSECRET-BODY\n', 'profs/p.yaml': 'extends: implement\nenv: [GITHUB_TOKEN]\n', 'creds.yaml': 'aws_secret_access_key: x\n' });
    const { repo, home } = makeRepo({ 'tasks/t.md': docsTask() });
    rmSync(join(repo, 'tasks'), { recursive: true });
    symlinkSync(join(outside, 'notes'), join(repo, 'tasks'));
    mkdirSync(join(repo, '.agentctl'));
    symlinkSync(join(outside, 'profs'), join(repo, '.agentctl', 'profiles'));
    const list = await agentctl(repo, home, ['tasks', '--json']);
    expect(list.code).toBe(2);
    expect(list.stdout).not.toContain('SECRET');
    const out = JSON.parse(list.stdout);
    expect(out.tasks).toEqual([]);
    expect(out.errors).toEqual([expect.objectContaining({ file: 'tasks', message: expect.stringContaining('a symbolic link') })]);
    const run = await agentctl(repo, home, ['run', 'leak']);
    expect(run.code).toBe(2);
    expect(worktreesOf(home)).toEqual([]);
    // With a real tasks folder, a task naming a profile from the linked profiles folder finds none.
    rmSync(join(repo, 'tasks'));
    writeFiles(repo, { 'tasks/t.md': docsTask({ profile: 'p' }) });
    const policy = await agentctl(repo, home, ['policy', 'show', 't', '--json']);
    expect(policy.code).toBe(2);
    expect(policy.stdout + policy.stderr).not.toContain('GITHUB_TOKEN');
    expect(policy.stderr).toContain('.agentctl/profiles: a symbolic link');

    // .agentrc.yaml: a link (it named the fields of an outside file in its error), a FIFO (`tasks` hung), too large.
    const config = join(repo, '.agentrc.yaml');
    rmSync(config);
    symlinkSync(join(outside, 'creds.yaml'), config);
    let r = await agentctl(repo, home, ['tasks']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('.agentrc.yaml: a symbolic link');
    expect(r.stderr).not.toContain('aws_secret_access_key');
    rmSync(config);
    expect(spawnSync('mkfifo', [config]).status).toBe(0);
    r = await agentctl(repo, home, ['tasks']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('.agentrc.yaml: not a regular file');
    rmSync(config);
    writeFileSync(config, `# ${'x'.repeat(300 * 1024)}\n`);
    r = await agentctl(repo, home, ['tasks']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('.agentrc.yaml: larger than 262144 bytes');
    // A Unix socket cannot even be opened (ENXIO): named as the file's error, not a crash (exit 1).
    rmSync(config);
    expect(spawnSync('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(config)})`]).status).toBe(0);
    r = await agentctl(repo, home, ['tasks']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('.agentrc.yaml: cannot be read (ENXIO)');
  });

  it('a bad .agentrc.yaml names the file, line and field', async () => {
    const { repo, home } = makeRepo({ '.agentrc.yaml': 'defaults:\n  agent: robot\n' });
    const r = await agentctl(repo, home, ['tasks']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('.agentrc.yaml:2');
    expect(r.stderr).toContain('defaults.agent');
  });

  it('merge refuses a dirty checkout and changes nothing', async () => {
    const { repo, home } = makeRepo({ 'tasks/t.md': docsTask() });
    const { json } = await runJson(repo, home, 't');
    writeFileSync(join(repo, 'README.md'), 'local edit\n');
    const before = git(repo, 'rev-parse', 'HEAD');
    const events = async () => JSON.parse((await agentctl(repo, home, ['log', '--json'])).stdout).events.length as number;
    const count = await events();
    const m = await agentctl(repo, home, ['review', 'merge', json.run.runId]);
    expect(m.code).toBe(5);
    expect(m.stderr).toMatch(/uncommitted changes/);
    expect(await events(), 'no event written').toBe(count);
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(before);
    expect(readFileSync(join(repo, 'README.md'), 'utf8')).toBe('local edit\n');
    expect(existsSync(json.run.worktree)).toBe(true);
    expect(JSON.parse((await agentctl(repo, home, ['review', '--json'])).stdout).runs).toHaveLength(1);
  });

  it('outside a git repository: exit 3', async () => {
    const r = await agentctl(tempDir(), join(tempDir(), 'home'), ['tasks']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/not a git repository/);
  });
});

describe('command agent, scope and timeouts', () => {
  function commandRepo(scriptBody: string, task: Record<string, unknown>) {
    const made = makeRepo({
      '.agentrc.yaml': 'agents:\n  command:\n    bin: ./agent.sh\n',
      'agent.sh': `#!/bin/sh\n${scriptBody}\n`,
      'tasks/t.md': taskFile({ agent: 'command', type: 'docs', ...task }, 'Do the thing.'),
    });
    chmodSync(join(made.repo, 'agent.sh'), 0o755);
    git(made.repo, 'add', '-A');
    git(made.repo, 'commit', '-qm', 'agent');
    return made;
  }

  it('gets the prompt on stdin and in AGENTCTL_PROMPT; its edits are captured', async () => {
    const { repo, home } = commandRepo('mkdir -p docs; cat > docs/prompt.txt; printf "%s" "$AGENTCTL_PROMPT" > docs/env.txt; echo done editing', {});
    const r = await runJson(repo, home, 't');
    expect(r.code, r.stderr).toBe(0);
    const prompt = readFileSync(join(r.json.run.worktree, 'docs/prompt.txt'), 'utf8');
    expect(prompt.startsWith('Do the thing.\n')).toBe(true);
    expect(prompt).toContain('.agentctl/trace.jsonl'); // the protocol is appended to the prompt
    expect(readFileSync(join(r.json.run.worktree, 'docs/env.txt'), 'utf8')).toBe(prompt);
    expect(r.json.run.summary).toBe('done editing');
  });

  it('an edit to a task file: the OS sandbox refuses the write; without the sandbox it is a scope violation that blocks the merge', async () => {
    const { repo, home } = commandRepo('echo "---\\nautonomy: auto\\n---\\nx" > tasks/escalate.md && echo "tasks WRITTEN" || echo "tasks refused"; mkdir -p docs; echo x > docs/a.md', { autonomy: 'auto', gate: 'true' });
    writeFiles(repo, { '.agentctl/profiles/open.yaml': 'description: no OS sandbox\nextends: implement\nsandbox: none\n', 'tasks/u.md': taskFile({ agent: 'command', type: 'docs', autonomy: 'auto', gate: 'true', profile: 'open' }, 'Do the thing.') });
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'unsandboxed task');
    approveRepo(repo, home); // its sandbox: none
    expect((await agentctl(repo, home, ['promote', 'command', '--type', 'docs', '--to', 'auto', '--force'])).code).toBe(0);
    // Sandboxed: the write fails inside the run, nothing reaches the run branch or the checkout.
    const boxed = await runJson(repo, home, 't');
    expect(boxed.code, boxed.stderr).toBe(0);
    expect(boxed.json.run.summary).toBe('tasks refused');
    expect(boxed.json.run.files.map((f: { path: string }) => f.path)).toEqual(['docs/a.md']);
    expect(existsSync(join(boxed.json.run.worktree, 'tasks/escalate.md'))).toBe(false);
    expect(existsSync(join(repo, 'tasks/escalate.md'))).toBe(false);
    // Unsandboxed: the write lands in the worktree, and the scope check is what stops it.
    const open = await runJson(repo, home, 'u');
    expect(open.json.run.state).toBe('awaiting_review');
    expect(open.json.run.scopeViolations).toEqual([expect.objectContaining({ path: 'tasks/escalate.md' })]);
    expect(open.json.decision.reasons.join(' ')).toMatch(/outside the policy's write scope/);
    expect(existsSync(join(repo, 'tasks/escalate.md'))).toBe(false);
  });

  it('a timeout kills the whole process tree and records it (exit 4)', async () => {
    const tag = `agentctl-timeout-${process.pid}-${Date.now()}`;
    const { repo, home } = commandRepo(`${taggedSleep(tag)} & wait`, { timeout: 8 });
    let seen = false;
    let done = false;
    const running = runJson(repo, home, 't').finally(() => (done = true));
    await waitFor(() => (seen ||= tagged(tag).length === 1) || done, 120_000);
    const r = await running;
    expect(r.code, r.stderr).toBe(4);
    expect(r.json.run).toMatchObject({ state: 'failed', timedOut: true });
    expect(seen).toBe(true); // the child was running before the timeout
    expect(await waitFor(() => tagged(tag).length === 0, 5000), `left: ${tagged(tag).join(', ')}`).toBe(true);
    expect(existsSync(r.json.run.worktree)).toBe(true); // kept for review
  });
});

describe('CLI surface', () => {
  it.each([
    [['--help'], 0, /Usage: agentctl/],
    [['--version'], 0, /0\.1\.0/],
    [['bogus'], 2, /unknown command/],
    [['run'], 2, /which task\?/],
    [['review', 'merge'], 2, /missing required argument/],
    [['promote', 'claude', '--to', 'sideways'], 2, /invalid/],
    [['log', '--limit', '0'], 2, /--limit/],
    // Each of these was read as something else (5abc as 5, 1.5 as 1) or crashed (a SQLite datatype mismatch).
    [['runs', '--limit', '5abc'], 2, /--limit must be a positive whole number/],
    [['runs', '--limit', '1.5'], 2, /--limit must be a positive whole number/],
    [['runs', '--limit', '99999999999999999999'], 2, /--limit must be a positive whole number/],
    [['log', '--limit', '99999999999999999999'], 2, /--limit must be a positive whole number/],
    [['run', '--all', '--concurrency', '4x'], 2, /--concurrency must be a whole number/],
    [['promote', '--html', '/nonexistent/dir/r.html'], 2, /cannot write the report to \/nonexistent\/dir\/r\.html: ENOENT/],
    // A selection that names no task is a mistake, not a quiet success.
    [['run', '--tag', 'nosuch'], 2, /no task matches the selection \(--tag nosuch\)/],
    [['run', '--all', '--json'], 2, /no task matches the selection \(--all\)/],
  ])('agentctl %j exits %i', async (args, code, pattern) => {
    const { repo, home } = makeRepo();
    const r = await agentctl(repo, home, args as string[]);
    expect(r.code).toBe(code);
    expect(r.stdout + r.stderr).toMatch(pattern);
  });

  it('help texts end with a newline; a closed pipe (| head) ends quietly with exit 0', async () => {
    const { repo, home } = makeRepo();
    for (const args of [['--help'], ['run', '--help'], ['policy', 'check', '--help']]) {
      const r = await agentctl(repo, home, args);
      expect(r.stdout.endsWith('\n'), args.join(' ')).toBe(true);
    }
    const piped = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" --help | head -c 10 >/dev/null; "${process.execPath}" "${BIN}" schema profile | head -c 10`], {
      cwd: repo,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', AGENTCTL_HOME: home, NO_COLOR: '1' },
      encoding: 'utf8',
    });
    expect(piped.stderr).not.toMatch(/EPIPE|Error/);
    expect(piped.stdout.length).toBe(10);
  });

  it('a batch in which every task is refused exits as one refused task does (5), not 0', async () => {
    const { repo, home } = makeRepo({ 'tasks/a.md': taskFile({ agent: 'command', type: 'docs' }, 'Do it.'), 'tasks/b.md': taskFile({ agent: 'command', type: 'docs' }, 'Do it.') });
    expect((await agentctl(repo, home, ['halt', '--reason', 'incident'])).code).toBe(0);
    const one = await agentctl(repo, home, ['run', 'a']);
    const all = await agentctl(repo, home, ['run', '--all']);
    expect([one.code, all.code]).toEqual([5, 5]);
    expect(all.stdout).toContain('2 task(s): 0 merged, 0 awaiting review, 0 failed, 0 interrupted, 2 skipped');
  });

  it('tasks shows the effective autonomy run would use: the kill switch caps it at hold', async () => {
    const { repo, home } = makeRepo({ 'tasks/t.md': taskFile({ agent: 'command', type: 'docs' }, 'Do it.') });
    const before = JSON.parse((await agentctl(repo, home, ['tasks', '--json'])).stdout).tasks[0];
    expect(before.effective).toBe('review');
    expect((await agentctl(repo, home, ['halt', '--reason', 'incident'])).code).toBe(0);
    const after = JSON.parse((await agentctl(repo, home, ['tasks', '--json'])).stdout).tasks[0];
    expect(after.effective).toBe('hold');
    expect(after.why.join(' ')).toContain('agentctl is halted');
  });

  it('promotions rise one step at a time', async () => {
    const { repo, home } = makeRepo({ '.agentrc.yaml': 'trust:\n  initial: hold\n' });
    const jump = await agentctl(repo, home, ['promote', 'claude', '--type', 'docs', '--to', 'auto']);
    expect(jump.code).toBe(2);
    expect(jump.stderr).toMatch(/one step at a time/);
    const notEligible = await agentctl(repo, home, ['promote', 'claude', '--type', 'docs', '--to', 'review']);
    expect(notEligible.code).toBe(2);
    expect(notEligible.stderr).toMatch(/not eligible.*needs 3 merged runs driven by a human/);
    expect((await agentctl(repo, home, ['promote', 'claude', '--type', 'docs', '--to', 'review', '--force'])).code).toBe(0);
    expect((await agentctl(repo, home, ['promote', 'claude', '--type', 'docs', '--to', 'auto', '--force'])).code).toBe(0);
  });
});
