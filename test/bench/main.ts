/**
 * `npm run bench`: agentctl's figures and their physical anchors, measured in the same run, printed as
 * a markdown table of ratios (stdout) with the machine's details. Progress goes to stderr.
 *
 * Settings (environment):
 *   BENCH_EVENTS       events in the large log (default 1000000); the log is cached under the temp dir
 *   BENCH_REPS         samples per figure, medians reported (default 5)
 *   BENCH_SLOW_S       a first call slower than this is a command's only sample (default 20)
 *   BENCH_FILES        files in the run repository (default 5000)
 *   BENCH_CONCURRENCY  runs at once in row 7 (default 16)
 *   BENCH_PG_EVENTS    events in the PostgreSQL team log of row 8 (default 100000)
 *   BENCH_ONLY         comma list of row groups to run: log (1-3), start (4), append (5), run (6-7),
 *                      pg (8: the PostgreSQL store, on a server the bench starts); default all
 *   BENCH_FRESH=1      refill the cached log;  BENCH_KEEP=1 keep the scratch folder
 *
 * Exits 0 when every row was measured, whether or not it met its target; non-zero only when the bench
 * itself breaks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDist, logFixture } from './fixtures.js';
import { cleanupMeasure, progress } from './measure.js';
import { appendRows } from './rows-append.js';
import { logRows } from './rows-log.js';
import { runRows } from './rows-run.js';
import { pgRows } from './rows-pg.js';
import { startRows } from './rows-start.js';
import { agentctlRevision, machineDetails, renderTable, secs, type Row } from './report.js';

function intSetting(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return n;
}

async function main(): Promise<void> {
  const settings = {
    BENCH_EVENTS: intSetting('BENCH_EVENTS', 1_000_000, 10),
    BENCH_REPS: intSetting('BENCH_REPS', 5, 1),
    BENCH_SLOW_S: intSetting('BENCH_SLOW_S', 20, 1),
    BENCH_FILES: intSetting('BENCH_FILES', 5000, 1),
    BENCH_CONCURRENCY: intSetting('BENCH_CONCURRENCY', 16, 1),
    BENCH_PG_EVENTS: intSetting('BENCH_PG_EVENTS', 100_000, 10),
  };
  const groups = ['log', 'start', 'append', 'run', 'pg'];
  const only = new Set((process.env.BENCH_ONLY ?? groups.join(',')).split(',').map((s) => s.trim()));
  for (const g of only) if (!groups.includes(g)) throw new Error(`BENCH_ONLY: unknown group "${g}" (${groups.join(', ')})`);
  const load = loadavg();
  const revision = agentctlRevision();
  const started = performance.now();
  const work = mkdtempSync(join(tmpdir(), 'agentctl-bench-'));
  progress(`scratch folder ${work}`);
  const rows: Row[] = [];
  let fixtureNote = '';
  try {
    const dist = await loadDist();
    if (only.has('log')) {
      const log = await logFixture(dist, settings.BENCH_EVENTS);
      fixtureNote = `Large log: ${log.events.toLocaleString('en-US')} events (${log.runs.toLocaleString('en-US')} runs × 10 + 12 promotions; 1 project, 3 agents × 4 task types), filled through the store${log.fillMs === undefined ? ' (cached from an earlier bench run)' : ` in ${secs(log.fillMs)}`}, with the git history of its merged runs (a work commit and a merge each) in the project's clone; its saved projections are brought up to date by one untimed \`tasks --json\` before timing, and each command's first call (untimed) reads that history once, so the figures are steady state, not a first call after an upgrade.`;
      rows.push(...(await logRows(log, work, { reps: settings.BENCH_REPS, slowMs: settings.BENCH_SLOW_S * 1000 })));
    }
    if (only.has('start')) rows.push(...(await startRows(work, settings.BENCH_REPS)));
    if (only.has('append')) rows.push(...appendRows(dist, settings.BENCH_REPS));
    if (only.has('run')) rows.push(...(await runRows(work, settings.BENCH_REPS, settings.BENCH_FILES, settings.BENCH_CONCURRENCY)));
    if (only.has('pg')) rows.push(...(await pgRows(dist, work, settings.BENCH_REPS, settings.BENCH_PG_EVENTS)));
  } finally {
    cleanupMeasure();
    if (process.env.BENCH_KEEP === '1') progress(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
  rows.sort((a, b) => a.group - b.group);
  const elapsed = performance.now() - started;
  process.stdout.write(
    [
      renderTable(rows),
      '',
      [fixtureNote, `Ratios compare medians taken in the same bench run, figure and anchor in turn. Whole bench: ${secs(elapsed)}.`].filter(Boolean).join(' '),
      '',
      machineDetails(settings, load, revision),
      '',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
