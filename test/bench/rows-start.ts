/**
 * Row 4: start-up. `agentctl tasks --json` (12 tasks, empty log) and `agentctl --version`, CPU ÷ `node -e 0`.
 * Needs no large log, so `BENCH_ONLY=start npm run bench` measures it in a minute.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, cliEnv, projectRepo } from './fixtures.js';
import { median, progress, timed, type Sample } from './measure.js';
import { secs, times, type Row } from './report.js';

/**
 * Row 4, measured in `work` (a fresh AGENTCTL_HOME and the 12-task project repository).
 * @param reps samples per figure (at least 10 are taken: single start-ups are short and noisy)
 */
export async function startRows(work: string, reps: number): Promise<Row[]> {
  const home = join(work, 'home-start');
  mkdirSync(home, { recursive: true });
  const repo = projectRepo(join(work, 'start-project'));
  const env = cliEnv(home);
  const figures = [
    { name: '`tasks --json` (12 tasks, empty log)', args: [BIN, 'tasks', '--json'], target: '≤ 2.5×', limit: 2.5 },
    { name: '`--version`', args: [BIN, '--version'], target: 'report', limit: undefined },
  ];
  const anchor = () => timed(process.execPath, ['-e', '0'], { cwd: repo, env });
  progress('row 4: start-up CPU (tasks --json, --version) vs node -e 0');
  // Warm-up, not counted: the first `tasks` creates the log, its key and the code cache; file caches fill.
  for (const f of figures) await timed(process.execPath, f.args, { cwd: repo, env });
  await anchor();
  const samples = new Map<string, Sample[]>(figures.map((f) => [f.name, []]));
  const anchors: Sample[] = [];
  // Figures and anchor in turn, so a change in the machine's load touches all of them alike.
  for (let i = 0; i < Math.max(reps, 10); i++) {
    for (const f of figures) samples.get(f.name)!.push(await timed(process.execPath, f.args, { cwd: repo, env }));
    anchors.push(await anchor());
  }
  const nc = median(anchors.map((s) => s.cpuMs));
  return figures.map((f, i) => {
    const s = samples.get(f.name)!;
    const bad = s.find((x) => x.code !== 0);
    const cpu = median(s.map((x) => x.cpuMs));
    const failure = bad ? `exit ${bad.code}: ${bad.stderr.trim().split('\n').slice(-3).join(' / ').slice(0, 300)}` : undefined;
    return {
      group: 4,
      figure: `${f.name}: CPU`,
      measured: `${secs(cpu)} (median of ${s.length})`,
      anchor: `\`node -e 0\`: ${secs(nc)}`,
      ratio: times(cpu / nc),
      target: f.target,
      pass: f.limit === undefined ? undefined : !bad && cpu / nc <= f.limit,
      note: [
        i === 0 ? 'bin/agentctl as shipped: the CommonJS bundle `npm run build` writes to dist/fast/, run with the V8 code cache that the untimed warm-up call left in AGENTCTL_HOME/cache (the first command of a new home compiles from source). Both with the minimal environment of every measured process (PATH, HOME, TMPDIR, AGENTCTL_HOME): inherited variables such as NODE_EXTRA_CA_CERTS add ~60 ms of CPU to each node start, which shrinks this ratio.' : undefined,
        failure,
      ]
        .filter(Boolean)
        .join(' ') || undefined,
    };
  });
}
