/**
 * The team run queue end to end with the built CLI, a real PostgreSQL server (its own pg-boss schema,
 * installed as `agentctl store init` does) and a bare repository as the shared remote, cloned into two
 * folders with separate AGENTCTL_HOMEs sharing the team key ("two machines"):
 * - runs queued on one clone are run exactly once by workers on both, their branches pushed to the remote;
 * - a worker killed with -9 mid-run: the run is recorded interrupted within the lease, the job offered again;
 * - 4 workers × 25 runs: no failure, no duplicate;
 * - `run --queue` without the PostgreSQL store is refused and changes nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agentctl, BIN, cleanup, git, processesOfRun, taskFile, tempDir, waitFor, type CliResult } from '../helpers.js';
import { docsTask, homeSharingTeamKey, sharedRemote } from '../support/team.js';
import { pgStoreFixture, startPg, type PgServer } from '../pg.js';

interface Team {
  base: string;
  remote: string;
  clones: string[];
}

/** A bare remote with `tasks` (id → prompt) committed, cloned `n` times (identities dev0@example.com, …). */
function team(tasks: string[], n: number, queueConfig = ''): Team {
  return sharedRemote(Object.fromEntries(tasks.map((t) => [t, docsTask(t)])), Array.from({ length: n }, (_, i) => `dev${i}`), queueConfig);
}

/** A home per machine, each with the team key (the first is `first`). */
function homes(first: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => (i === 0 ? first : homeSharingTeamKey(first, `home${i}`)));
}

/** Background processes a test started: killed after it, whatever happened. */
const children: ChildProcess[] = [];

/** Start the built CLI in the background. */
function start(cwd: string, home: string, args: string[], env: Record<string, string>): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', AGENTCTL_HOME: home, NO_COLOR: '1', CI: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
  children.push(child);
  return { child, done };
}

describe('the run queue (built CLI, PostgreSQL, two clones of one remote)', () => {
  let server: PgServer;
  beforeAll(async () => {
    server = await startPg();
  });
  afterAll(async () => server?.stop());
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    cleanup();
  });

  const sql = (database: string, text: string) => server.psql(text, database).trim();

  it('12 runs queued on one clone, two workers (one per clone) drain them: each run exactly once, branches on the remote; all 12 merged from the other clone through the remote; the same evidence on both, audit verify passes', async () => {
    const tasks = Array.from({ length: 12 }, (_, i) => `d${String(i + 1).padStart(2, '0')}`);
    const { remote, clones } = team(tasks, 2);
    const f = await pgStoreFixture(server, join(tempDir(), 'home0'), 'agentctl_writer', { queue: true });
    const [homeA, homeB] = homes(f.home, 2) as [string, string];
    const env = { AGENTCTL_STORE: f.url };
    const [a, b] = clones as [string, string];

    const queued = await agentctl(a, homeA, ['run', '--all', '--queue', '--json'], env);
    expect(queued.code, queued.stderr).toBe(0);
    const jobs = JSON.parse(queued.stdout).queued as { jobId: string; task: string }[];
    expect(jobs.map((j) => j.task).sort()).toEqual(tasks);
    expect(Number(sql(f.database, `SELECT count(*) FROM agentctl.events WHERE type = 'queue.enqueued' AND payload::jsonb->>'by' = 'dev0@example.com'`))).toBe(12);

    const shown = JSON.parse((await agentctl(b, homeB, ['queue', '--json'], env)).stdout);
    expect(shown.waiting).toHaveLength(12);
    expect(shown.waiting[0]).toMatchObject({ queuedBy: 'dev0@example.com', attempt: 1 });
    const plain = (await agentctl(b, homeB, ['queue'], env)).stdout;
    expect(plain).toMatch(/^Waiting \(12\):\n {2}d\d\d {2}queued by dev0@example\.com on .+, \d+s ago {2}job [0-9a-f-]{36}\n/);
    expect(plain).toMatch(/Running \(0\):/);

    const started = Date.now();
    const [wa, wb] = await Promise.all([
      agentctl(a, homeA, ['worker', '--drain', '--concurrency', '2', '--json'], env),
      agentctl(b, homeB, ['worker', '--drain', '--concurrency', '2', '--json'], env),
    ]);
    const seconds = (Date.now() - started) / 1000;
    expect(wa.code, wa.stderr).toBe(0);
    expect(wb.code, wb.stderr).toBe(0);
    // Progress per run, as `agentctl run` prints it, and per job.
    expect(wa.stderr).toMatch(/\[d\d\d\] claimed queue job [0-9a-f-]{36} \(attempt 1, queued by dev0@example\.com on /);
    expect(wa.stderr).toMatch(/\[d\d\d [0-9a-z]{6}\] /);
    expect(wa.stderr).toMatch(/\[d\d\d\] pushed agentctl\/d\d\d\/[0-9a-z]+ to origin/);
    const worked = [...JSON.parse(wa.stdout).jobs, ...JSON.parse(wb.stdout).jobs] as { jobId: string; error?: string; pushed?: string }[];
    expect(worked.filter((j) => j.error)).toEqual([]);
    expect(worked.map((j) => j.jobId).sort()).toEqual(jobs.map((j) => j.jobId).sort());
    // Both machines worked (the queue is shared), each run once.
    expect(JSON.parse(wa.stdout).jobs.length).toBeGreaterThan(0);
    expect(JSON.parse(wb.stdout).jobs.length).toBeGreaterThan(0);
    console.log(`12 runs, 2 workers × 2: ${seconds.toFixed(1)} s`);

    const planned = sql(f.database, `SELECT count(*) || ' ' || count(DISTINCT run_id) || ' ' || count(DISTINCT task) || ' ' || count(DISTINCT payload::jsonb->'queueJob'->>'id') FROM agentctl.events WHERE type = 'run.planned'`);
    expect(planned).toBe('12 12 12 12');
    const branches = git(remote, 'for-each-ref', '--format=%(refname)', 'refs/heads/agentctl/').split('\n').filter(Boolean);
    expect(branches).toHaveLength(12);
    expect(new Set(branches.map((r) => r.split('/')[3]))).toEqual(new Set(tasks));
    // Each branch holds its agent's work, started from the remote's main.
    const one = branches[0]!.replace('refs/heads/', '');
    expect(git(remote, 'show', `${one}:docs/${one.split('/')[1]}.md`)).toBe(`# ${one.split('/')[1]}`);

    // Every review from clone B, through the remote: the runs B's own worker made as well as A's.
    const review = JSON.parse((await agentctl(b, homeB, ['review', '--json'], env)).stdout).runs as { runId: string; site: string }[];
    expect(review).toHaveLength(12);
    expect(new Set(review.map((r) => r.site))).toEqual(new Set(['remote']));
    for (const r of review) {
      const m = await agentctl(b, homeB, ['review', 'merge', r.runId, '--note', 'ok', '--json'], env);
      expect(m.code, m.stderr).toBe(0);
    }
    for (const t of tasks) expect(git(remote, 'show', `main:docs/${t}.md`)).toBe(`# ${t}`);
    expect(git(remote, 'for-each-ref', 'refs/heads/agentctl/')).toBe('');
    expect(git(b, 'rev-parse', 'main')).toBe(git(remote, 'rev-parse', 'main'));
    // B's own worktrees went with their merges (A's are A's to remove).
    expect(git(b, 'worktree', 'list', '--porcelain').match(/^worktree /gm)).toHaveLength(1);

    const evidence = async (cwd: string, home: string) => {
      const r = await agentctl(cwd, home, ['promote', '--json'], env);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout).profiles;
    };
    const onA = await evidence(a, homeA);
    expect(onA.find((p: { agent: string }) => p.agent === 'command')).toMatchObject({ taskType: 'docs', evidence: { runs: 12, merged: 12 } });
    expect(await evidence(b, homeB)).toEqual(onA);
    for (const [cwd, home] of [[a, homeA], [b, homeB]] as const) {
      const v = await agentctl(cwd, home, ['audit', 'verify', '--json'], env);
      expect(v.code, v.stdout).toBe(0);
      expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, authenticated: true });
    }
    expect(JSON.parse((await agentctl(a, homeA, ['queue', '--json'], env)).stdout)).toMatchObject({ waiting: [], running: [] });
  }, 360_000);

  it('a worker killed with -9 on another machine loses its lease: the run is recorded interrupted within the lease by the other worker, the job offered again; SIGHUP (the worker\'s terminal closed) interrupts cleanly; the chain verifies', async () => {
    const lease = 16;
    const { clones } = team(['slow-1'], 2, `queue:\n  leaseSeconds: ${lease}\n  onLost: retry\n  retries: 1\n`);
    const f = await pgStoreFixture(server, join(tempDir(), 'home0'), 'agentctl_writer', { queue: true });
    const [homeA, homeB] = homes(f.home, 2) as [string, string];
    const env = { AGENTCTL_STORE: f.url };
    const [a, b] = clones as [string, string];
    expect((await agentctl(a, homeA, ['run', 'slow-1', '--queue'], env)).code).toBe(0);

    // Worker A runs on "machine-a" (its own UTS namespace: another host name), so only its lease tells
    // the other machine that it died.
    // (A new UTS namespace needs root, or a user namespace mapping the caller to root.)
    const unshare = process.getuid?.() === 0 ? ['--uts'] : ['--map-root-user', '--uts'];
    const workerA = spawn('unshare', [...unshare, 'sh', '-c', `hostname machine-a && exec "${process.execPath}" "${BIN}" worker`], {
      cwd: a,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', AGENTCTL_HOME: homeA, NO_COLOR: '1', CI: '1', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(workerA);
    let stderrA = '';
    workerA.stderr!.on('data', (d) => (stderrA += d));
    const launched = () => sql(f.database, `SELECT run_id FROM agentctl.events WHERE type = 'agent.launched'`);
    expect(await waitFor(() => launched() !== '', 60_000), stderrA).toBe(true);
    const run1 = launched();
    const running = JSON.parse((await agentctl(b, homeB, ['queue', '--json'], env)).stdout);
    expect(running).toMatchObject({ waiting: [], running: [{ task: 'slow-1', runId: run1, host: 'machine-a', attempt: 1 }] });

    workerA.kill('SIGKILL');
    const killedAt = Date.now();
    const wb = start(b, homeB, ['worker'], env);
    const interrupted = () => sql(f.database, `SELECT payload FROM agentctl.events WHERE type = 'run.interrupted' AND run_id = '${run1}'`);
    expect(await waitFor(() => interrupted() !== '', 60_000)).toBe(true);
    const after = (Date.now() - killedAt) / 1000;
    console.log(`killed worker's run recorded interrupted ${after.toFixed(1)} s after the kill (lease ${lease} s)`);
    expect(after).toBeLessThanOrEqual(lease);
    expect(JSON.parse(interrupted())).toMatchObject({ recovered: true, reason: expect.stringMatching(/worker on machine-a .* lost its lease on queue job/) });

    // The job is offered again: worker B runs it as a second run (attempt 2).
    const planned = () => sql(f.database, `SELECT run_id FROM agentctl.events WHERE type = 'agent.launched' AND run_id <> '${run1}'`);
    expect(await waitFor(() => planned() !== '', 60_000)).toBe(true);
    const run2 = planned();
    expect(sql(f.database, `SELECT payload::jsonb->'queueJob'->>'attempt' FROM agentctl.events WHERE type = 'run.planned' AND run_id = '${run2}'`)).toBe('1');

    // SIGHUP (as SIGTERM and Ctrl-C): B stops claiming, interrupts its run (recorded by itself) and exits;
    // no retry is left. (Unhandled, SIGHUP ended the worker at once, its run left to a lease.)
    wb.child.kill('SIGHUP');
    const rb = await wb.done;
    expect(rb.code, rb.stderr).toBe(130);
    expect(JSON.parse(sql(f.database, `SELECT payload FROM agentctl.events WHERE type = 'run.interrupted' AND run_id = '${run2}'`))).toMatchObject({ reason: expect.stringContaining('worker was stopped (interrupted by SIGHUP)') });
    expect(sql(f.database, `SELECT state || ' ' || retry_count FROM agentctl_queue.job`)).toBe('failed 1');
    // Every run of the job is closed, each once; nothing waits or runs.
    expect(sql(f.database, `SELECT count(*) FROM agentctl.events WHERE type = 'run.interrupted'`)).toBe('2');
    expect(JSON.parse((await agentctl(a, homeA, ['queue', '--json'], env)).stdout)).toMatchObject({ waiting: [], running: [] });
    for (const [cwd, home] of [[a, homeA], [b, homeB]] as const) {
      const v = await agentctl(cwd, home, ['audit', 'verify', '--json'], env);
      expect(v.code, v.stdout).toBe(0);
      expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, authenticated: true });
    }
    // Whatever of the killed worker's agent outlived it (another machine cannot reach it): end it here.
    for (const pid of processesOfRun(run1)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    expect(processesOfRun(run2)).toEqual([]);
  }, 300_000);

  it('queue.onLost: review: a worker killed with -9 on this machine: the next worker closes its run (its agent killed) and leaves the job failed, not offered again', async () => {
    const { clones } = team(['slow-1'], 2, 'queue:\n  leaseSeconds: 16\n  onLost: review\n');
    const f = await pgStoreFixture(server, join(tempDir(), 'home0'), 'agentctl_writer', { queue: true });
    const [homeA, homeB] = homes(f.home, 2) as [string, string];
    const env = { AGENTCTL_STORE: f.url };
    const [a, b] = clones as [string, string];
    expect((await agentctl(a, homeA, ['run', 'slow-1', '--queue'], env)).code).toBe(0);
    const wa = start(a, homeA, ['worker'], env);
    const launched = () => sql(f.database, `SELECT run_id FROM agentctl.events WHERE type = 'agent.launched'`);
    expect(await waitFor(() => launched() !== '', 60_000)).toBe(true);
    const run = launched();
    expect(processesOfRun(run).length).toBeGreaterThan(0);
    wa.child.kill('SIGKILL');
    await wa.done;
    const wb = start(b, homeB, ['worker', '--drain', '--json'], env);
    const rb = await wb.done;
    expect(rb.code, rb.stderr).toBe(0);
    // B worked nothing: the job was not offered again.
    expect(JSON.parse(rb.stdout).jobs).toEqual([]);
    expect(JSON.parse(sql(f.database, `SELECT payload FROM agentctl.events WHERE type = 'run.interrupted' AND run_id = '${run}'`))).toMatchObject({ recovered: true, killedAgent: true });
    expect(processesOfRun(run)).toEqual([]);
    expect(sql(f.database, `SELECT state || ' ' || retry_count FROM agentctl_queue.job`)).toBe('failed 0');
    expect(sql(f.database, `SELECT count(*) FROM agentctl.events WHERE type = 'run.planned'`)).toBe('1');
    // Left for review: it shows among the runs to look at.
    const runs = JSON.parse((await agentctl(b, homeB, ['runs', '--json'], env)).stdout);
    expect(JSON.stringify(runs)).toContain(run);
    const v = await agentctl(b, homeB, ['audit', 'verify', '--json'], env);
    expect(v.code, v.stdout).toBe(0);
  }, 300_000);

  it('store init installs the queue for the writer role without DDL rights on it; the event store still refuses an over-privileged writer', async () => {
    const database = server.createDatabase();
    const r = await agentctl(tempDir(), join(tempDir(), 'home'), ['store', 'init', '--admin-url', server.url(database), '--writer', 'queue_writer', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).queue).toMatchObject({ schema: 'agentctl_queue', version: expect.any(Number) });
    const asWriter = (text: string) => {
      try {
        return server.psql(text, database, 'queue_writer');
      } catch (error) {
        return `ERROR ${String((error as { stderr?: string }).stderr)}`;
      }
    };
    expect(asWriter(`SELECT count(*) FROM agentctl_queue.job`).trim()).toBe('0');
    for (const ddl of ['CREATE TABLE agentctl_queue.x (i int)', 'DROP TABLE agentctl_queue.job', 'TRUNCATE agentctl_queue.job', 'ALTER TABLE agentctl_queue.queue ADD COLUMN y int']) {
      expect(asWriter(ddl), ddl).toMatch(/ERROR .*(permission denied|must be owner)/);
    }
    // A second init (an upgrade) is idempotent.
    expect((await agentctl(tempDir(), join(tempDir(), 'home'), ['store', 'init', '--admin-url', server.url(database), '--writer', 'queue_writer'])).code).toBe(0);
    // The queue's grants leave the event store's check alone: a writer that may UPDATE events is refused.
    const { clones } = team(['d1'], 1);
    const home = join(tempDir(), 'home');
    mkdirSync(join(home, 'keys'), { recursive: true, mode: 0o700 });
    writeFileSync(join(home, 'keys', 'team.key'), Buffer.alloc(32, 7), { mode: 0o600 });
    const env = { AGENTCTL_STORE: server.url(database, 'queue_writer') };
    expect((await agentctl(clones[0]!, home, ['queue', '--json'], env)).code).toBe(0);
    server.psql('GRANT UPDATE ON agentctl.events TO queue_writer', database);
    const refused = await agentctl(clones[0]!, home, ['run', 'd1', '--queue'], env);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/could alter the log: it may UPDATE events/);
    expect(sql(database, 'SELECT count(*) FROM agentctl_queue.job')).toBe('0');
  });

  it('4 workers × 25 runs at once: no failure, no duplicate run', async () => {
    const n = 100;
    const tasks = Array.from({ length: n }, (_, i) => `q${String(i + 1).padStart(3, '0')}`);
    // A team's volume: the per-agent breaker's default (30 runs an hour) would stop it after 30.
    const { remote, clones } = team(tasks, 4, 'breakers:\n  volume:\n    runsPerHour: 1000\n');
    const f = await pgStoreFixture(server, join(tempDir(), 'home0'), 'agentctl_writer', { queue: true });
    const hs = homes(f.home, 4);
    const env = { AGENTCTL_STORE: f.url };
    const queued = await agentctl(clones[0]!, hs[0]!, ['run', '--all', '--queue', '--json'], env);
    expect(queued.code, queued.stderr).toBe(0);
    expect(JSON.parse(queued.stdout).queued).toHaveLength(n);
    const started = Date.now();
    const results = await Promise.all(clones.map((c, i) => agentctl(c, hs[i]!, ['worker', '--drain', '--json'], env)));
    console.log(`${n} runs, 4 workers: ${((Date.now() - started) / 1000).toFixed(1)} s; per worker: ${results.map((r) => (r.code === 0 ? JSON.parse(r.stdout).jobs.length : `exit ${r.code}`)).join(', ')}`);
    for (const r of results) expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const worked = results.flatMap((r) => JSON.parse(r.stdout).jobs as { jobId: string; error?: string }[]);
    expect(worked.filter((j) => j.error)).toEqual([]);
    expect(new Set(worked.map((j) => j.jobId)).size).toBe(n);
    expect(worked).toHaveLength(n);
    expect(sql(f.database, `SELECT count(*) || ' ' || count(DISTINCT task) FROM agentctl.events WHERE type = 'run.planned'`)).toBe(`${n} ${n}`);
    expect(sql(f.database, `SELECT count(*) FROM agentctl.events WHERE type IN ('run.failed', 'run.interrupted')`)).toBe('0');
    expect(sql(f.database, `SELECT count(*) FROM agentctl.events WHERE type = 'gate.passed' OR type = 'run.decided'`)).not.toBe('0');
    expect(git(remote, 'for-each-ref', '--format=%(refname)', 'refs/heads/agentctl/').split('\n').filter(Boolean)).toHaveLength(n);
    expect(sql(f.database, `SELECT count(*) FROM agentctl_queue.job WHERE state <> 'completed'`)).toBe('0');
    const v = await agentctl(clones[1]!, hs[1]!, ['audit', 'verify', '--json'], env);
    expect(v.code, v.stdout).toBe(0);
  }, 600_000);

  it('a worker whose clone holds another definition of the task (not pulled, local edit) refuses to run it', async () => {
    const { clones } = team(['d1'], 2, 'queue:\n  retries: 1\n');
    const f = await pgStoreFixture(server, join(tempDir(), 'home0'), 'agentctl_writer', { queue: true });
    const [homeA, homeB] = homes(f.home, 2) as [string, string];
    const env = { AGENTCTL_STORE: f.url };
    const [a, b] = clones as [string, string];
    writeFileSync(join(b, 'tasks', 'd1.md'), taskFile({ agent: 'command', type: 'docs', autonomy: 'review', priority: 9 }, 'd1 edited'));
    expect((await agentctl(a, homeA, ['run', 'd1', '--queue'], env)).code).toBe(0);
    const r = await agentctl(b, homeB, ['worker', '--drain', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const jobs = JSON.parse(r.stdout).jobs as { error?: string }[];
    expect(jobs).toHaveLength(2);
    for (const j of jobs) expect(j.error).toMatch(/definition of task "d1" differs from the base [0-9a-f]{10} it would run on \(tasks\/d1\.md\)/);
    expect(sql(f.database, `SELECT count(*) FROM agentctl.events WHERE type = 'run.planned'`)).toBe('0');
    expect(sql(f.database, `SELECT state || ' ' || retry_count FROM agentctl_queue.job`)).toBe('failed 1');
  }, 120_000);

  it('a job whose base branch is not a branch name git accepts (written by whoever holds the writer role) is refused before any git call; no line of the output is forged', async () => {
    const { clones } = team(['d1'], 2, 'queue:\n  retries: 0\n');
    const f = await pgStoreFixture(server, join(tempDir(), 'home0'), 'agentctl_writer', { queue: true });
    const [homeA, homeB] = homes(f.home, 2) as [string, string];
    const env = { AGENTCTL_STORE: f.url };
    const [a, b] = clones as [string, string];
    expect((await agentctl(a, homeA, ['run', 'd1', '--queue'], env)).code).toBe(0);
    sql(f.database, `UPDATE agentctl_queue.job SET data = jsonb_set(data, '{baseBranch}', to_jsonb(E'main\\nFORGED LINE'::text))`);
    const r = await agentctl(b, homeB, ['worker', '--drain', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const jobs = JSON.parse(r.stdout).jobs as { error?: string }[];
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.error).toMatch(/base branch "main\\nFORGED LINE" is not a branch name git accepts/);
    expect((r.stdout + r.stderr).split('\n')).not.toContain('FORGED LINE');
    expect(sql(f.database, `SELECT count(*) FROM agentctl.events WHERE type = 'run.planned'`)).toBe('0');
  }, 120_000);

  /**
   * Two machines; task a1 (auto, docs) pushed to the remote from A and pulled by B; `command` promoted to
   * auto. `queueAndWork` queues a1 from A and drains it with a worker on B, returning B's job.
   */
  async function autoTaskOnRemote() {
    const { remote, clones } = team([], 2);
    const f = await pgStoreFixture(server, join(tempDir(), 'home0'), 'agentctl_writer', { queue: true });
    const [homeA, homeB] = homes(f.home, 2) as [string, string];
    const env = { AGENTCTL_STORE: f.url };
    const [a, b] = clones as [string, string];
    mkdirSync(join(a, 'tasks'), { recursive: true });
    writeFileSync(join(a, 'tasks', 'a1.md'), taskFile({ agent: 'command', type: 'docs', autonomy: 'auto', gate: 'test -f docs/a1.md' }, 'a1'));
    git(a, 'add', '-A');
    git(a, 'commit', '-qm', 'task a1');
    git(a, 'push', '-q', 'origin', 'main');
    git(b, 'pull', '-q');
    const queueAndWork = async (): Promise<{ state: string; pushError?: string }> => {
      const promoted = await agentctl(a, homeA, ['promote', 'command', '--type', 'docs', '--to', 'auto', '--force', '--note', 'test', '--json'], env);
      expect(promoted.code, promoted.stderr).toBe(0);
      expect((await agentctl(a, homeA, ['run', 'a1', '--queue'], env)).code).toBe(0);
      const r = await agentctl(b, homeB, ['worker', '--drain', '--json'], env);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout).jobs[0];
    };
    return { remote, a, b, queueAndWork };
  }

  it('an auto run a worker merges is pushed to the remote\'s base branch (a fast-forward)', async () => {
    const { remote, b, queueAndWork } = await autoTaskOnRemote();
    const job = await queueAndWork();
    expect(job).toMatchObject({ state: 'merged' });
    expect(job.pushError).toBeUndefined();
    expect(git(remote, 'show', 'main:docs/a1.md')).toBe('# a1');
    expect(git(remote, 'rev-parse', 'main')).toBe(git(b, 'rev-parse', 'main'));
  }, 120_000);

  it('an auto merge is not pushed from a worker clone whose base branch holds commits the remote does not have (they would be published)', async () => {
    const { remote, b, queueAndWork } = await autoTaskOnRemote();
    // B's own, unpushed commit on main (not part of the task's definition).
    writeFileSync(join(b, 'private.txt'), 'not for the team\n');
    git(b, 'add', '-A');
    git(b, 'commit', '-qm', 'local only');
    const remoteMain = git(remote, 'rev-parse', 'main');
    const job = await queueAndWork();
    expect(job).toMatchObject({ state: 'merged' });
    expect(job.pushError).toMatch(/auto merge stays in this clone.*has commits that are not on origin/);
    expect(git(remote, 'rev-parse', 'main')).toBe(remoteMain);
    expect(git(b, 'show', 'main:docs/a1.md')).toBe('# a1');
  }, 120_000);

  it('run --queue without the PostgreSQL store is refused and changes nothing', async () => {
    const { clones } = team(['d1'], 1);
    const [a] = clones as [string];
    const home = join(tempDir(), 'home');
    const r = await agentctl(a, home, ['run', 'd1', '--queue'], {});
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/run --queue needs the team's PostgreSQL store.*nothing was queued/);
    // No local log was created, nothing in the checkout changed.
    expect(existsSync(join(home, 'agentctl.db'))).toBe(false);
    expect(git(a, 'status', '--porcelain')).toBe('');
    const w = await agentctl(a, home, ['worker', '--drain'], {});
    expect(w.code).toBe(5);
    expect(existsSync(join(home, 'agentctl.db'))).toBe(false);
  });
});
