/**
 * Rows 6–7: a run of a no-op `command` agent and its discard, on a 5,000-file repository, ÷ the bare git
 * operations it stands on (worktree add, commit, worktree remove, branch -D); the OS sandbox's own cost
 * (the same run with it ÷ without); and N runs at once ÷ N single runs (CPU of the whole process tree).
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BIN, baseEnv, bigRepo, cliEnv } from './fixtures.js';
import { median, progress, sumSamples, timed, type Sample } from './measure.js';
import { secs, times, type Row } from './report.js';

/** The bare git work of a run: a worktree on a new branch, a one-file commit, then both removed. */
const GIT_ANCHOR = `set -e
git worktree add -q -b "$2" "$1" HEAD
mkdir -p "$1/docs"
echo x > "$1/docs/noop.md"
git -C "$1" add -A
git -C "$1" commit -qm noop
git worktree remove --force "$1"
git branch -q -D "$2"`;

interface RunResult {
  sample: Sample;
  /** The run alone (without its discard). */
  run: Sample;
  problem: string | undefined;
}

/** `agentctl run <task> --json` then `agentctl review discard <run>`: both processes measured. */
async function runAndDiscard(repo: string, home: string, task: string): Promise<RunResult> {
  const env = cliEnv(home);
  const run = await timed(process.execPath, [BIN, 'run', task, '--json'], { cwd: repo, env });
  let runId: string | undefined;
  let state: string | undefined;
  try {
    const parsed = JSON.parse(run.stdout) as { run?: { runId?: string; state?: string } };
    runId = parsed.run?.runId;
    state = parsed.run?.state;
  } catch {
    // reported below
  }
  if (!runId) return { sample: run, run, problem: `run ${task} printed no run (exit ${run.code}): ${run.stderr.trim().split('\n').slice(-2).join(' / ').slice(0, 240)}` };
  const discard = await timed(process.execPath, [BIN, 'review', 'discard', runId, '--json'], { cwd: repo, env });
  const problem = state !== 'awaiting_review' ? `run ${task} ended ${state} (exit ${run.code}): ${run.stderr.trim().split('\n').slice(-2).join(' / ')}` : discard.code !== 0 ? `discard exit ${discard.code}: ${discard.stderr.trim()}` : undefined;
  return { sample: sumSamples(run, discard), run, problem };
}

/** Run a command to completion, unmeasured (clean-up). Resolves with its stdout. */
function plain(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
}

/** Rows 6 and 7. */
export async function runRows(work: string, reps: number, files: number, concurrent: number): Promise<Row[]> {
  progress(`rows 6-7: making a ${files}-file repository`);
  const repo = bigRepo(join(work, 'big-repo'), files, concurrent);
  const home = join(work, 'home-runs');
  // The `open` profile (no OS sandbox) needs this machine's approval, as a user would give it.
  const listed = spawnSync(process.execPath, [BIN, 'approve'], { cwd: repo, env: cliEnv(home), encoding: 'utf8' });
  const code = /agentctl approve ([0-9a-f]{16})/.exec(listed.stderr)?.[1] ?? 'none';
  const approved = spawnSync(process.execPath, [BIN, 'approve', code], { cwd: repo, env: cliEnv(home), encoding: 'utf8' });
  if (approved.status !== 0) throw new Error(`agentctl approve ${code}: ${approved.stderr}`);
  const problems = new Set<string>();
  let n = 0;
  const anchor = () => timed('bash', ['-c', GIT_ANCHOR, 'anchor', join(work, `anchor-wt-${n}`), `bench/anchor-${n++}`], { cwd: repo, env: baseEnv() });
  const note = (r: RunResult) => (r.problem ? problems.add(r.problem) : undefined, r);

  progress('row 6: warm-up');
  await anchor();
  note(await runAndDiscard(repo, home, 'noop'));
  note(await runAndDiscard(repo, home, 'noop-os'));
  const git: Sample[] = [];
  const bare: RunResult[] = [];
  const boxed: RunResult[] = [];
  for (let i = 0; i < reps; i++) {
    progress(`row 6: round ${i + 1}/${reps}`);
    git.push(await anchor());
    bare.push(note(await runAndDiscard(repo, home, 'noop')));
    boxed.push(note(await runAndDiscard(repo, home, 'noop-os')));
  }
  const cpu = (xs: Sample[]) => median(xs.map((s) => s.cpuMs));
  const wall = (xs: Sample[]) => median(xs.map((s) => s.wallMs));
  const gitCpu = cpu(git);
  const bareCpu = cpu(bare.map((r) => r.sample));
  const boxCpu = cpu(boxed.map((r) => r.sample));
  const bareWall = wall(bare.map((r) => r.sample));
  const boxWall = wall(boxed.map((r) => r.sample));
  const rowProblems = [...problems];
  const rows: Row[] = [
    {
      group: 6,
      figure: `run (no-op \`command\` agent, no OS sandbox) + \`review discard\`, ${files}-file repo: CPU`,
      measured: `${secs(bareCpu)} (wall ${secs(bareWall)}, median of ${reps})`,
      anchor: `bare git: ${secs(gitCpu)} (wall ${secs(wall(git))})`,
      ratio: times(bareCpu / gitCpu),
      target: '≤ 2×',
      pass: rowProblems.length === 0 && bareCpu / gitCpu <= 2,
      note: `No-op agent: writes one line to one file (the anchor commits the same). Tasks have no gate. Bare git: \`git worktree add -b\` + one-file commit + \`git worktree remove\` + \`git branch -D\`.${rowProblems.length ? ` Problems: ${rowProblems.join('; ')}` : ''}`,
    },
    {
      group: 6,
      figure: 'the OS sandbox\'s own cost: the same run + discard with the OS sandbox (default) ÷ without: CPU',
      measured: secs(boxCpu),
      anchor: `without: ${secs(bareCpu)}`,
      ratio: times(boxCpu / bareCpu),
      target: 'report',
      pass: undefined,
    },
    {
      group: 6,
      figure: 'the OS sandbox\'s own cost: the same run + discard with the OS sandbox (default) ÷ without: wall',
      measured: secs(boxWall),
      anchor: `without: ${secs(bareWall)}`,
      ratio: times(boxWall / bareWall),
      target: 'report',
      pass: undefined,
    },
  ];

  // Row 7: the batch, against single runs of the same kind of task (OS sandbox) measured above.
  const singleCpu = cpu(boxed.map((r) => r.run));
  const env = cliEnv(home);
  const batchCpu: number[] = [];
  const batchWall: number[] = [];
  let failures = 0;
  let batches = 0;
  const batchProblems = new Set<string>();
  for (let i = 0; i < reps; i++) {
    progress(`row 7: ${concurrent} runs at once, round ${i + 1}/${reps}`);
    const s = await timed(process.execPath, [BIN, 'run', '--tag', 'conc', '--concurrency', String(concurrent), '--json'], { cwd: repo, env, keepStdout: 16 * 1024 * 1024 });
    batches++;
    batchCpu.push(s.cpuMs);
    batchWall.push(s.wallMs);
    let items: { task: string; run: { runId: string; state: string } | null; skipped: string | null }[] = [];
    try {
      items = (JSON.parse(s.stdout) as { runs: typeof items }).runs;
    } catch {
      batchProblems.add(`the batch printed no JSON (exit ${s.code}): ${s.stderr.trim().split('\n').slice(-2).join(' / ')}`);
    }
    const ok = items.filter((item) => item.run?.state === 'awaiting_review');
    failures += concurrent - ok.length;
    for (const item of items) if (item.run?.state !== 'awaiting_review') batchProblems.add(`${item.task}: ${(item.run?.state ?? `not run: ${item.skipped}`).slice(0, 160)}`);
    // Discard them (unmeasured), four at a time, so every round starts from the same repository.
    const ids = ok.map((item) => item.run!.runId);
    for (let j = 0; j < ids.length; j += 4) await Promise.all(ids.slice(j, j + 4).map((id) => plain(['review', 'discard', id, '--json'], repo, env)));
  }
  const bc = median(batchCpu);
  rows.push(
    {
      group: 7,
      figure: `${concurrent} runs at once on one repository (\`run --tag conc --concurrency ${concurrent}\`): failures`,
      measured: `${failures} of ${batches * concurrent} runs`,
      anchor: '—',
      ratio: '—',
      target: '0',
      pass: failures === 0,
      ...(batchProblems.size ? { note: `Failed or skipped: ${[...batchProblems].slice(0, 5).join('; ')}` } : {}),
    },
    {
      group: 7,
      figure: `${concurrent} runs at once: total CPU`,
      measured: `${secs(bc)} (wall ${secs(median(batchWall))}, median of ${batches})`,
      anchor: `${concurrent} × single run: ${secs(concurrent * singleCpu)} (1 run ${secs(singleCpu)})`,
      ratio: times(bc / (concurrent * singleCpu)),
      target: '≤ 1.2×',
      pass: bc / (concurrent * singleCpu) <= 1.2,
      note: 'Single run: `agentctl run noop-os` (same agent, profile and OS sandbox as the batch\'s tasks), the run process alone, from row 6.',
    },
  );
  return rows;
}
