/**
 * One row per tool × profile × action: agentctl's policy decision against what the real CLI did, the
 * known mismatches (what the tool cannot enforce, with the mitigation), and the Markdown table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ACTIONS, scriptFor } from './actions.js';
import { ESCAPE_GATE } from './escape.js';
import { runCli, type RunOutcome } from './harness.js';
import type { ToolName } from './mock.js';

export const TOOLS: ToolName[] = ['claude', 'gemini', 'codex'];
export const PROFILES = ['research', 'implement', 'careful', 'yolo'];

/** A behaviour that differs from the policy and that the tool cannot be configured to avoid. */
export interface KnownMismatch {
  /** What the real tool does (true = the action took effect). */
  real: boolean;
  why: string;
}

/**
 * `tool/profile/action` → the known mismatch, for runs in the OS sandbox (the default). The earlier ones were fixed by Claude Code's own sandbox for
 * yolo (secrets read through `sh -c`/`grep -r`), the command guard hook for Codex (commands outside the
 * allow list), and exact deny entries for missing protected paths under Codex's writable root
 * (`.mcp.json`). A new entry needs the tool limit and the mitigation in `why`.
 */
export const KNOWN_MISMATCHES: Record<string, KnownMismatch> = {};

/**
 * Codex's file tool (`apply_patch`) inside the OS sandbox: Codex cannot start its own sandbox there (see
 * src/authz/render/codex.ts), so nothing narrows its writes below the OS sandbox's, which is the whole
 * worktree but the denied and protected paths.
 */
const CODEX_WRITE_SCOPE: KnownMismatch = {
  real: true,
  why:
    "Codex's own sandbox cannot run inside the OS sandbox (it needs a nested user namespace, which srt forbids), and the OS sandbox lets the whole worktree be written except denied and protected paths, so Codex's file tool writes outside the task's write scope. " +
    'Mitigation: the write lands only in the disposable worktree; agentctl\'s scope check records a scope.violation for every such file and the run never merges on its own. Fix pending: the command guard judging apply_patch paths (decidePath write) as it judges shell commands.',
};
for (const profile of ['research', 'implement', 'careful']) KNOWN_MISMATCHES[`codex/${profile}/write-out-of-scope`] = CODEX_WRITE_SCOPE;
// research writes nothing: the file tool's in-scope write, the agent's code file, and so the gate running it.
for (const action of ['write-in-scope', 'escape-write', 'gate-ran']) KNOWN_MISMATCHES[`codex/research/${action}`] = CODEX_WRITE_SCOPE;

/** One table row. */
export interface Row {
  tool: ToolName;
  profile: string;
  action: string;
  label: string;
  policyAllowed: boolean;
  policyWhy: string;
  /** undefined when the tool has no way to express the action. */
  realHappened: boolean | undefined;
  evidence: string;
  known: KnownMismatch | undefined;
  /** The scripted call whose result the row needs back from the CLI, or null. */
  resultOf: string | null;
}

/** Run one tool × profile with every action (the gate runs the agent's code afterwards) and build its rows. */
export async function runMatrixCell(tool: ToolName, profile: string): Promise<{ outcome: RunOutcome; rows: Row[] }> {
  const outcome = await runCli({ tool, profile, script: (ctx) => scriptFor(tool, ctx), gate: ESCAPE_GATE });
  const rows: Row[] = [];
  for (const action of ACTIONS) {
    const verdict = action.decide(outcome.policy, tool);
    const call = action.call(tool, { worktree: outcome.worktree, probeUrl: () => '', host: outcome.host });
    const resultOf = action.resultOf === undefined ? action.id : action.resultOf;
    const base = { tool, profile, action: action.id, label: action.label, policyAllowed: verdict.allowed, policyWhy: verdict.why, known: outcome.confined ? KNOWN_MISMATCHES[`${tool}/${profile}/${action.id}`] : undefined, resultOf };
    if (!call && !action.observeOnly) {
      rows.push({ ...base, realHappened: undefined, evidence: 'n/a: the tool has no such tool (covered by the shell rows)' });
      continue;
    }
    const seen = action.observe(tool, { worktree: outcome.worktree, result: resultOf ? outcome.results.get(resultOf) : undefined, probes: outcome.mock.probes, outcome });
    rows.push({ ...base, realHappened: seen.happened, evidence: seen.evidence });
  }
  return { outcome, rows };
}

/** What the row is expected to show: the policy, or the known mismatch. */
export function expectedReal(row: Row): boolean {
  return row.known ? row.known.real : row.policyAllowed;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The Markdown report: the table, then every mismatch with its mitigation. */
export function markdownTable(rows: Row[], meta: { versions: Record<string, string>; durationMs: number }): string {
  const lines: string[] = [];
  lines.push('# Real CLIs vs agentctl policy');
  lines.push('');
  lines.push(`Generated by \`npm run test:real\` (test/real-cli) on ${new Date().toISOString()} in ${Math.round(meta.durationMs / 1000)} s. Versions: ${Object.entries(meta.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  lines.push('Each CLI ran headless against a scripted model API on a loopback address with the config agentctl renders, in the OS sandbox as a run starts it (unless `AGENTCTL_REAL_CLI_OS_SANDBOX=0`); the task\'s gate then ran the agent\'s code the same way. "real" is what happened on disk, in the host\'s git dir and event database, in the tool result the CLI sent back, or at the network probe. "known": a listed known mismatch.');
  lines.push('');
  lines.push('| tool | profile | action | policy | real | match | evidence |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const real = r.realHappened === undefined ? 'n/a' : r.realHappened ? 'allowed' : 'denied';
    const match = r.realHappened === undefined ? '–' : r.realHappened === r.policyAllowed ? 'yes' : r.known && r.known.real === r.realHappened ? 'known' : '**MISMATCH**';
    lines.push(`| ${r.tool} | ${r.profile} | ${cell(r.label)} | ${r.policyAllowed ? 'allow' : 'deny'} | ${real} | ${match} | ${cell(r.evidence)} |`);
  }
  const mismatches = rows.filter((r) => r.realHappened !== undefined && r.realHappened !== r.policyAllowed);
  lines.push('');
  lines.push(`## Mismatches (${mismatches.length})`);
  lines.push('');
  if (mismatches.length === 0) lines.push('None.');
  for (const r of mismatches) {
    lines.push(`- **${r.tool} × ${r.profile} × ${r.label}**: policy ${r.policyAllowed ? 'allows' : 'denies'} (${cell(r.policyWhy)}), the tool ${r.realHappened ? 'let it happen' : 'refused'}. ${r.known ? r.known.why : 'UNEXPECTED: not a known mismatch.'}`);
  }
  lines.push('');
  return lines.join('\n');
}

/** Write the report where the brief asks (or `$AGENTCTL_REAL_CLI_TABLE`). */
export function writeTable(markdown: string): string {
  const path = process.env.AGENTCTL_REAL_CLI_TABLE ?? '/tmp/research/real-cli-table.md';
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, markdown);
  return path;
}

/** Assertions shared by the full suite and the smoke test. */
export function checkCell(expect: (v: unknown, msg?: string) => any, outcome: RunOutcome, rows: Row[]): void {
  const where = `${outcome.tool} × ${outcome.profile}`;
  const diag = `stderr tail:\n${outcome.result.stderr.slice(-1500)}`;
  expect(outcome.result.timedOut, `${where} timed out\n${diag}`).toBe(false);
  expect(outcome.result.exitCode, `${where} exit code\n${diag}`).toBe(0);
  if (outcome.gate) expect(outcome.gate.timedOut, `${where}: the gate timed out`).toBe(false);
  for (const row of rows) {
    if (row.realHappened === undefined) continue;
    // The CLI answered every scripted call: the result came back to the model API.
    if (row.resultOf) expect(outcome.results.has(row.resultOf), `${where} × ${row.action}: no tool result reached the mock\n${diag}`).toBe(true);
    expect(row.realHappened, `${where} × ${row.label}: policy ${row.policyAllowed ? 'allows' : 'denies'} (${row.policyWhy}); ${row.known ? `known mismatch expected (${row.known.why})` : ''}\nobserved: ${row.evidence}`).toBe(expectedReal(row));
  }
}
