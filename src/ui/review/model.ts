/**
 * The interactive review's data: plain values the components render, the actions they call, and the
 * pure shaping of runs into groups and of a unified diff into per-file chunks. No IO here: loading and
 * the actions live in src/orchestrator/reviewSession.ts.
 *
 * Every string in a {@link ReviewRun} is untrusted (it came from an agent or a repository): the
 * components pass each one through `terminalSafe` before it reaches ink.
 */
import type { RunView } from '../../evidence/projections/runs.js';

/** Why a run sits in the queue; the list shows the groups in this order. */
export type ReviewGroup = 'gate-failed' | 'scope' | 'failed' | 'ready';

/** Group titles, in display order. */
export const GROUP_TITLES: Readonly<Record<ReviewGroup, string>> = {
  'gate-failed': 'Gate failed',
  scope: 'Scope violation',
  failed: 'Agent failed or interrupted',
  ready: 'Ready',
};

const GROUP_ORDER: readonly ReviewGroup[] = ['gate-failed', 'scope', 'failed', 'ready'];

/** One run awaiting a decision, as the review screens show it. */
export interface ReviewRun {
  runId: string;
  task: string;
  title: string;
  agent: string;
  /** Run state: `awaiting_review`, `failed` or `interrupted`. */
  state: string;
  baseBranch: string;
  /** The changed files as recorded (at most MAX_RECORDED_FILES of them, see `fileCount`). */
  files: { path: string; insertions: number; deletions: number; bytes?: number | undefined }[];
  /** How many files the run changed. */
  fileCount: number;
  /** Lines added / removed over all files (binary files count 0). */
  insertions: number;
  deletions: number;
  gate: { command: string; passed: boolean; exitCode: number | null; output: string } | undefined;
  scopeViolations: { path: string; reason: string }[];
  /** Violations past the ones the log lists (counted, not listed). */
  scopeViolationsMore: number;
  /** Lowest confidence the agent reported in its reasoning trace (0–1), or undefined when it reported none. */
  confidence: number | undefined;
  summary: string | undefined;
  agentError: string | undefined;
  reasoning: { observed: unknown; considered: unknown; decided: unknown; confidence: number | null }[];
  escalations: { reason: unknown; question: unknown; source: unknown }[];
  reviewerVerdicts: { reviewer: string; verdict: string; comments: string }[];
}

/**
 * What the review screens can do; each returns a promise of a one-line message to show (untrusted
 * parts already in it are escaped by the screen). A rejected promise shows its error's message.
 */
export interface ReviewActions {
  /** Unified diff of the run's branch against its base (text; '' when it changed nothing). */
  diff(runId: string): Promise<string>;
  /** Merge the run into its base branch (the human confirmed with `y`). */
  merge(runId: string): Promise<string>;
  /** Discard the run, keeping its work in an archive ref (the human confirmed with `y`). */
  discard(runId: string): Promise<string>;
  /** Send the run back to its agent with the reviewer's note. Absent when this build cannot. */
  requestChanges?(runId: string, note: string): Promise<string>;
  /** Ask another agent (`reviewer`) for an independent, read-only verdict. */
  ask(runId: string, reviewer: string): Promise<string>;
  /** The runs awaiting review now (after a decision changed the queue). */
  refresh(): Promise<ReviewRun[]>;
}

/**
 * The screen's view of a run from the runs projection.
 * @param run a reviewable run (see `isReviewable`)
 * @returns a plain value holding only what the review screens show
 */
export function toReviewRun(run: RunView): ReviewRun {
  const confidences = run.reasoning.map((r) => r.confidence).filter((c): c is number => typeof c === 'number');
  return {
    runId: run.runId,
    task: run.task,
    title: run.title,
    agent: run.agent,
    state: run.state,
    baseBranch: run.baseBranch,
    files: run.files.map((f) => ({ path: f.path, insertions: f.insertions, deletions: f.deletions, bytes: f.bytes })),
    fileCount: run.fileCount,
    insertions: run.insertions,
    deletions: run.deletions,
    gate: run.gate,
    scopeViolations: run.scopeViolations,
    scopeViolationsMore: run.scopeViolationsMore,
    confidence: confidences.length ? Math.min(...confidences) : undefined,
    summary: run.summary,
    agentError: run.agentError,
    reasoning: run.reasoning,
    escalations: run.escalations,
    reviewerVerdicts: run.reviewerVerdicts,
  };
}

/**
 * The group a run belongs to: a failed gate first, then a scope violation, then an agent that failed
 * or was interrupted; everything else is ready for a decision.
 */
export function groupOf(run: ReviewRun): ReviewGroup {
  if (run.gate && !run.gate.passed) return 'gate-failed';
  if (run.scopeViolations.length > 0) return 'scope';
  if (run.state !== 'awaiting_review') return 'failed';
  return 'ready';
}

/**
 * Runs grouped for the list, in display order; empty groups are left out; runs keep their order
 * (the order they were planned) inside a group.
 */
export function groupRuns(runs: readonly ReviewRun[]): { group: ReviewGroup; title: string; runs: ReviewRun[] }[] {
  return GROUP_ORDER.map((group) => ({ group, title: GROUP_TITLES[group], runs: runs.filter((r) => groupOf(r) === group) })).filter((g) => g.runs.length > 0);
}

/** The runs in the order the list shows them (group by group): the cursor moves through this. */
export function orderedRuns(runs: readonly ReviewRun[]): ReviewRun[] {
  return groupRuns(runs).flatMap((g) => g.runs);
}

/** One file's part of a unified diff. */
export interface DiffChunk {
  /** The file as git names it in the chunk (untrusted; may be C-quoted by git). */
  title: string;
  /** The chunk's lines, its `diff --git` header first. */
  lines: string[];
}

/**
 * Split a unified diff (`git diff` output) into per-file chunks.
 * @param diff the diff text ('' gives no chunks)
 * @returns one chunk per `diff --git` header; text before the first header (none from git) is its own chunk
 */
export function splitDiff(diff: string): DiffChunk[] {
  const chunks: DiffChunk[] = [];
  const lines = diff.replace(/\n$/, '').split('\n');
  if (diff === '') return chunks;
  for (const line of lines) {
    if (line.startsWith('diff --git ') || chunks.length === 0) chunks.push({ title: chunkTitle(line), lines: [] });
    chunks.at(-1)!.lines.push(line);
  }
  return chunks;
}

/**
 * The file name in a `diff --git a/<p> b/<p>` header: `<p>` when both sides agree, else the rest of
 * the line. Git C-quotes a path with unusual bytes (`"a/x\033[2J" "b/x\033[2J"`); it is unquoted so the
 * screen shows it the same way as the file list (escaped by terminalSafe, not by git).
 */
function chunkTitle(header: string): string {
  if (!header.startsWith('diff --git ')) return '(diff)';
  const rest = header.slice('diff --git '.length);
  const quoted = /^"a\/((?:[^"\\]|\\.)*)" "b\/((?:[^"\\]|\\.)*)"$/.exec(rest);
  if (quoted && quoted[1] === quoted[2]) return unquote(quoted[1]!);
  const m = /^a\/(.*) b\/(.*)$/.exec(rest);
  return m && m[1] === m[2] ? m[1]! : rest;
}

const C_ESCAPES: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };

/** Undo git's C-quoting of a path (the inside of the quotes): `\NNN` octal bytes and `\n`-style escapes; UTF-8 decoded. */
export function unquote(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch !== '\\') {
      bytes.push(...new TextEncoder().encode(ch));
      continue;
    }
    const oct = /^[0-7]{3}/.exec(s.slice(i + 1));
    if (oct) {
      bytes.push(Number.parseInt(oct[0], 8));
      i += 3;
    } else {
      const next = s[i + 1] ?? '';
      bytes.push(C_ESCAPES[next] ?? next.charCodeAt(0));
      i += 1;
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}
