/**
 * The bench's output: one markdown table of figures, anchors and ratios, and the machine it ran on.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus, loadavg, release, totalmem, type, arch } from 'node:os';
import { ROOT } from './fixtures.js';
import { cgroupCpu, hasGnuTime } from './measure.js';

/** One row of the table. `pass` undefined: reported, no target (or the row could not be measured). */
export interface Row {
  /** Row number of the targets table in issue 11. */
  group: number;
  figure: string;
  measured: string;
  anchor: string;
  ratio: string;
  target: string;
  pass: boolean | undefined;
  note?: string;
}

/** Format milliseconds as seconds (3 significant digits below 10 s). */
export const secs = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 1000).toFixed(ms >= 1000 ? 2 : 3)} s`);
/** Format MB. */
export const mb = (v: number | undefined): string => (v === undefined ? 'n/a' : `${Math.round(v)} MB`);
/** Format a ratio. */
export const times = (r: number | undefined): string => (r === undefined || !Number.isFinite(r) ? '—' : `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`);

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The table as markdown, with the notes of its rows below it. */
export function renderTable(rows: readonly Row[]): string {
  const out = ['| # | figure | measured | anchor | ratio | target | result |', '| --- | --- | --- | --- | --- | --- | --- |'];
  const notes: string[] = [];
  for (const r of rows) {
    let mark = '';
    if (r.note) {
      notes.push(r.note);
      mark = ` [${notes.length}]`;
    }
    const result = r.pass === undefined ? (r.target === 'report' ? 'reported' : 'n/a') : r.pass ? 'pass' : '**FAIL**';
    out.push(`| ${r.group} | ${cell(r.figure)}${mark} | ${cell(r.measured)} | ${cell(r.anchor)} | ${cell(r.ratio)} | ${cell(r.target)} | ${result} |`);
  }
  if (notes.length) out.push('', ...notes.map((n, i) => `[${i + 1}] ${n}`));
  return out.join('\n');
}

function cpuSource(): string {
  const cg = cgroupCpu();
  return cg ? `a ${cg.kind} per measurement (every process, waited for or not)` : 'getrusage of waited-for children (bash times; no writable cgroup here)';
}

/** The agentctl under test: its commit, and whether tracked files differ from it (read when the bench starts). */
export function agentctlRevision(): string {
  const commit = firstLine('git', ['rev-parse', '--short', 'HEAD']);
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim() ? ' (uncommitted changes)' : '';
  return `${commit}${dirty}`;
}

function firstLine(cmd: string, args: string[], cwd = ROOT): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  return r.status === 0 ? `${r.stdout}${r.stderr}`.trim().split('\n')[0]! : 'not available';
}

/** The machine and software the figures were measured on (markdown list). */
export function machineDetails(settings: Record<string, string | number>, loadAtStart: number[], agentctl: string): string {
  const require = createRequire(`${ROOT}/package.json`);
  const Database = require('better-sqlite3') as typeof import('better-sqlite3');
  const mem = new Database(':memory:');
  const sqlite = (mem.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  mem.close();
  const bsq = (require('better-sqlite3/package.json') as { version: string }).version;
  const cpu = cpus();
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  return [
    `- cpu: ${cpu[0]?.model ?? 'unknown'}, ${cpu.length} cores`,
    `- memory: ${(totalmem() / 1024 ** 3).toFixed(1)} GB`,
    `- os: ${type()} ${release()} ${arch()}`,
    `- node ${process.version}, ${firstLine('git', ['--version'])}, SQLite ${sqlite} (better-sqlite3 ${bsq}), ${firstLine('bwrap', ['--version'])}`,
    `- agentctl ${agentctl}, measured ${new Date().toISOString()}`,
    `- load average (1/5/15 min) at start ${load(loadAtStart)}, at end ${load(loadavg())}`,
    `- settings: ${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(', ')}; peak memory from ${hasGnuTime() ? 'GNU time %M (largest process of the tree)' : 'n/a (GNU time not found)'}; CPU of the whole process tree from ${cpuSource()}`,
  ].join('\n');
}
