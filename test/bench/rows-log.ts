/**
 * Rows 1–3: commands on a large log ÷ the same on an empty log, `audit verify` and the projection
 * rebuild on the large log (anchored to a raw scan of the same rows). Row 4 (start-up) is rows-start.ts.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BIN, ROOT, baseEnv, cliEnv, copyHome, primeLog, projectClone, type LogFixture } from './fixtures.js';
import { median, progress, timed, type Sample } from './measure.js';
import { mb, secs, times, type Row } from './report.js';

/** How many samples to take and when a figure is too slow to repeat. */
export interface Policy {
  reps: number;
  /** A first call slower than this is the only sample (today's code takes minutes per command on 1M events). */
  slowMs: number;
}

/** Samples of a figure and of its anchor, taken in turn. `firstCallOnly`: the figure was too slow to repeat. */
interface Pair {
  fig: Sample[];
  anc: Sample[];
  firstCallOnly: boolean;
}

/** Warm both up (not counted), then alternate figure and anchor samples. */
async function paired(fig: () => Promise<Sample>, anc: () => Promise<Sample>, p: Policy): Promise<Pair> {
  const first = await fig();
  await anc();
  const out: Pair = { fig: [], anc: [], firstCallOnly: false };
  if (first.wallMs > p.slowMs) {
    out.fig.push(first);
    out.firstCallOnly = true;
  }
  for (let i = 0; i < p.reps; i++) {
    if (!out.firstCallOnly) out.fig.push(await fig());
    out.anc.push(await anc());
  }
  return out;
}

const med = (xs: Sample[], f: (s: Sample) => number | undefined): number | undefined => {
  const v = xs.map(f).filter((x): x is number => x !== undefined);
  return v.length ? median(v) : undefined;
};

/** "1 sample" / "median of 5" for a figure's samples. */
const nOf = (pair: Pair): string => (pair.firstCallOnly ? `1 call: first took > slow limit` : `median of ${pair.fig.length}`);

/** A failed command makes its row fail with the reason, instead of stopping the bench. */
function failure(samples: Sample[]): string | undefined {
  const bad = samples.find((s) => s.code !== 0);
  return bad ? `exit ${bad.code}: ${bad.stderr.trim().split('\n').slice(-3).join(' / ').slice(0, 300)}` : undefined;
}

/** Node code for the raw-scan anchor: read every row in order, parse its payload, SHA-256 its stored fields. */
const SCAN = `
const Database = require('better-sqlite3');
const { createHash } = require('node:crypto');
const db = new Database(process.argv[1], { readonly: true });
let n = 0;
for (const r of db.prepare('SELECT * FROM events ORDER BY seq').iterate()) {
  JSON.parse(r.payload);
  createHash('sha256').update(r.prev_hash + '\\n' + r.seq + r.key + r.ts + r.type + r.run_id + r.task + r.agent + r.project + r.task_type + r.payload).digest('hex');
  n++;
}
console.log(n);
`;

/**
 * Rows 1–3 on a copy of `log` (commands may save projections into it).
 * @param work a scratch folder for the copies and the project repository
 */
export async function logRows(log: LogFixture, work: string, p: Policy): Promise<Row[]> {
  const big = join(work, 'home-big');
  const empty = join(work, 'home-empty');
  primeLog(log, work);
  progress(`copying the ${log.events}-event log`);
  copyHome(log.home, big);
  // A clone of the log's year of history (its merged runs' commits): the git scan reads what a user's would.
  const repo = projectClone(log, join(work, 'project'));
  const run = (home: string, args: string[]) => () => timed(process.execPath, [BIN, ...args], { cwd: repo, env: cliEnv(home), keepStdout: 4096 });
  const label = `${log.events >= 1e6 ? `${Number((log.events / 1e6).toFixed(1))}M` : `${Math.round(log.events / 1000)}k`} events`;
  const rows: Row[] = [];

  const hasLimit = /--limit/.test(spawnSync(process.execPath, [BIN, 'runs', '--help'], { encoding: 'utf8' }).stdout);
  const commands: { args: string[]; name: string; note?: string }[] = [
    { name: 'tasks --json', args: ['tasks', '--json'] },
    hasLimit ? { name: 'runs --limit 20 --json', args: ['runs', '--limit', '20', '--json'] } : { name: 'runs --json', args: ['runs', '--json'], note: '`runs --limit` does not exist yet: measured `runs --json` (every run of the project).' },
    { name: 'review --json', args: ['review', '--json'] },
    { name: 'promote --json', args: ['promote', '--json'] },
    { name: 'breakers --json', args: ['breakers', '--json'] },
  ];
  for (const c of commands) {
    progress(`row 1: ${c.name} on ${label} and on an empty log`);
    const pair = await paired(run(big, c.args), run(empty, c.args), p);
    const bad = failure([...pair.fig, ...pair.anc]);
    const fw = med(pair.fig, (s) => s.wallMs)!;
    const aw = med(pair.anc, (s) => s.wallMs)!;
    const fm = med(pair.fig, (s) => s.peakRssMB);
    const am = med(pair.anc, (s) => s.peakRssMB);
    const note = [c.note, pair.firstCallOnly ? `Its first call on the large log (saved projections current) took longer than ${secs(p.slowMs)}: that call is the only sample.` : undefined, bad].filter(Boolean).join(' ') || undefined;
    rows.push({ group: 1, figure: `\`${c.name}\` on ${label}: wall`, measured: `${secs(fw)} (${nOf(pair)})`, anchor: `empty log: ${secs(aw)}`, ratio: times(fw / aw), target: '≤ 1.5×', pass: bad ? false : fw / aw <= 1.5, ...(note ? { note } : {}) });
    rows.push({ group: 1, figure: `\`${c.name}\` on ${label}: peak memory`, measured: mb(fm), anchor: `empty log: ${mb(am)}`, ratio: times(fm !== undefined && am !== undefined ? fm / am : undefined), target: '≤ 200 MB', pass: fm === undefined ? undefined : !bad && fm <= 200 });
  }

  const db = join(big, 'agentctl.db');
  const scan = () => timed(process.execPath, ['-e', SCAN, db], { cwd: ROOT, env: baseEnv() });
  progress(`row 2: audit verify on ${label}`);
  const verify = await paired(run(big, ['audit', 'verify', '--json']), scan, p);
  const vbad = failure(verify.fig);
  const vw = med(verify.fig, (s) => s.wallMs)!;
  const sw = med(verify.anc, (s) => s.wallMs)!;
  const vm = med(verify.fig, (s) => s.peakRssMB);
  const sm = med(verify.anc, (s) => s.peakRssMB);
  const scanNote = 'Anchor "raw scan": one node process reads every row in order with better-sqlite3, parses its payload and SHA-256s its fields (the least work a verification or a rebuild does).';
  rows.push({ group: 2, figure: `\`audit verify\` on ${label}: wall`, measured: `${secs(vw)} (${nOf(verify)})`, anchor: `raw scan: ${secs(sw)}`, ratio: times(vw / sw), target: '≤ 10 s', pass: !vbad && vw <= 10_000, note: [scanNote, vbad].filter(Boolean).join(' ') });
  rows.push({ group: 2, figure: `\`audit verify\` on ${label}: peak memory`, measured: mb(vm), anchor: `raw scan: ${mb(sm)}`, ratio: times(vm !== undefined && sm !== undefined ? vm / sm : undefined), target: '≤ 150 MB', pass: vm === undefined ? undefined : !vbad && vm <= 150 });

  progress(`row 3: rebuilding projections on ${label}`);
  const hasRebuildAll = spawnSync(process.execPath, [BIN, 'projections', 'rebuild', '--help'], { encoding: 'utf8' }).status === 0;
  const rebuild = await paired(run(big, hasRebuildAll ? ['projections', 'rebuild', '--json'] : ['trust', 'rebuild', '--json']), scan, p);
  const rbad = failure(rebuild.fig);
  const rw = med(rebuild.fig, (s) => s.wallMs)!;
  const rsw = med(rebuild.anc, (s) => s.wallMs)!;
  rows.push({ group: 3, figure: `rebuild every projection from zero on ${label}: wall`, measured: `${secs(rw)} (${nOf(rebuild)})`, anchor: `raw scan: ${secs(rsw)}`, ratio: times(rw / rsw), target: '≤ 20 s', pass: !rbad && rw <= 20_000, note: [hasRebuildAll ? 'Measured `agentctl projections rebuild --json`: every projection (runs, follow-ups, reviewer verdicts, hourly activity, trust and its view, breakers, project facts) folded from zero and compared row by row with the incremental one.' : 'Only the trust projection can be rebuilt today: measured `agentctl trust rebuild --json` (it also brings the saved projection up to date first).', rbad].filter(Boolean).join(' ') });

  return rows;
}
