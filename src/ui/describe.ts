/** One-line human descriptions of events, for progress output and `agentctl log`. Pure. */
import { textOf } from '../core/text.js';
import { DIFF_BIG_FILE_BYTES } from '../exec/git.js';
import type { StoredEvent } from '../evidence/events.js';
import type { DiffSelection } from '../orchestrator/diffBudget.js';
import { storedView } from '../evidence/eventSchemas.js';
import { terminalSafe } from './terminal.js';

const short = (s: unknown, n = 90): string => {
  const t = textOf(s).replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
};

const note = (v: unknown): string => (typeof v === 'string' && v !== '' ? `: ${v}` : '');

/** Characters of a run id's end that progress lines, `log` and the review screen show (findRun takes them). */
export const SHORT_RUN_ID_CHARS = 6;

/**
 * The short id of a run: its id's last {@link SHORT_RUN_ID_CHARS} characters (the random part; the
 * leading ones are the time, shared by every run of a day), made safe to print.
 */
export function shortRunId(runId: string | undefined): string {
  return terminalSafe(runId?.slice(-SHORT_RUN_ID_CHARS));
}

/**
 * Describe an event in one line, or undefined for events not worth a progress line and for events
 * whose older-version payload does not parse (`agentctl log` goes on past them). Payloads hold
 * agent, repository and human text, so the whole line goes through {@link terminalSafe} (one-line
 * mode: a newline in a note shows as `\n` and cannot forge a log line).
 * @returns plain text without colour codes, safe to print
 */
export function describeEvent(e: StoredEvent): string | undefined {
  const text = describe(e);
  return text === undefined ? undefined : terminalSafe(text);
}

function describe(e: StoredEvent): string | undefined {
  let t;
  try {
    t = storedView(e);
  } catch {
    // An older payload that does not parse (audit verify reports the log): shown as its type only.
    return undefined;
  }
  if (!t) return undefined;
  switch (t.type) {
    case 'run.planned':
      return `planned ${e.task} for ${e.agent} (requested ${String(t.payload.requested)}, effective ${String(t.payload.effective)})`;
    case 'sandbox.created':
      return `sandbox ${String(t.payload.branch)} at ${String(t.payload.path)}`;
    case 'worktree.bootstrapped': {
      const ports = t.payload.ports;
      const list = (v: unknown) => (Array.isArray(v) && v.length ? v.join(', ') : '');
      const parts = [ports ? `ports ${ports.first}-${ports.first + ports.count - 1}` : '', list(t.payload.linked) && `shared ${list(t.payload.linked)}`, list(t.payload.copied) && `copied ${list(t.payload.copied)}`, list(t.payload.missing) && `not in the checkout: ${list(t.payload.missing)}`];
      return `worktree bootstrapped: ${parts.filter(Boolean).join('; ')}`;
    }
    case 'setup.started':
    case 'teardown.started':
      return `${t.type.split('.')[0]}: ${short(t.payload.command)}`;
    case 'setup.finished':
    case 'teardown.finished':
      return `${t.type.split('.')[0]} ${t.payload.exitCode === 0 ? 'ok' : 'failed'}: ${short(t.payload.command, 70)}${t.payload.exitCode === 0 ? '' : t.payload.timedOut ? ' (timed out)' : ` (${'error' in t.payload && t.payload.error ? short(t.payload.error, 60) : `exit ${String(t.payload.exitCode ?? t.payload.signal)}`})`}`;
    case 'policy.rendered':
      return `policy rendered for ${String(t.payload.tool)} (${((t.payload.policy as { profiles?: string[] })?.profiles ?? []).join(', ')})`;
    case 'agent.launched':
      return `launched ${String(t.payload.bin)}`;
    case 'agent.message':
      return `${t.payload.kind === 'reasoning' ? 'thinks' : 'says'}: ${short(t.payload.text)}`;
    case 'tool.called': {
      const input = (t.payload.input ?? {}) as Record<string, unknown>;
      const arg = t.payload.path ?? input.command ?? input.file_path ?? input.notebook_path ?? input.path ?? '';
      return `${String(t.payload.tool)} ${short(arg, 70)}`;
    }
    case 'tool.result':
      return t.payload.isError ? `tool error: ${short(t.payload.output, 80)}` : 'tool ok';
    case 'agent.usage':
      return `usage: ${String(t.payload.inputTokens)} in / ${String(t.payload.outputTokens)} out tokens${typeof t.payload.costUsd === 'number' ? `, $${t.payload.costUsd.toFixed(4)}` : ''}`;
    case 'permission.denied':
      return `denied: ${String(t.payload.tool)} ${short(JSON.stringify(t.payload.input ?? {}), 70)}`;
    case 'file.changed':
      return `changed ${String(t.payload.path)}`;
    case 'agent.exited':
      return t.payload.timedOut ? 'agent timed out' : t.payload.interrupted ? 'agent stopped (interrupted)' : `agent exited ${t.payload.exitCode ?? String(t.payload.signal)}`;
    case 'sandbox.committed':
      return `${t.payload.fileCount ?? t.payload.files.length} file(s) changed (+${String(t.payload.insertions)} -${String(t.payload.deletions)})`;
    case 'scope.violation':
      return `scope violation: ${String(t.payload.path)} (${String(t.payload.reason)})`;
    case 'gate.passed':
      return `gate passed: ${String(t.payload.command)}`;
    case 'gate.failed':
      return `gate failed: ${String(t.payload.command)} (exit ${String(t.payload.exitCode)})`;
    case 'run.decided':
      return `decision: ${String(t.payload.outcome)}${t.payload.reasons.length ? ` (${t.payload.reasons.join('; ')})` : ''}`;
    case 'run.merged':
      return `merged into ${String(t.payload.baseBranch)} as ${String(t.payload.mergeSha).slice(0, 10)} by ${String(t.payload.by)}`;
    case 'run.discarded':
      return `discarded by ${String(t.payload.by)}${t.payload.reason ? `: ${String(t.payload.reason)}` : ''}`;
    case 'run.failed':
      return `failed: ${short(t.payload.error, 120)}`;
    case 'run.interrupted':
      return 'interrupted';
    case 'review.approved':
      return `approved by ${String(t.payload.by)}${t.payload.note ? `: ${String(t.payload.note)}` : ''}`;
    case 'review.rejected':
      return `rejected by ${String(t.payload.by)}${t.payload.reason ? `: ${String(t.payload.reason)}` : ''}`;
    case 'review.changes_requested':
      return `changes requested by ${String(t.payload.by)} (attempt ${String(t.payload.attempt)})${note(short(t.payload.note, 80))}`;
    case 'run.attempt_started':
      return `attempt ${String(t.payload.attempt)} started: ${typeof t.payload.resume === 'string' ? `resuming the agent's session ${t.payload.resume}` : 'a fresh session with the task, the notes and the diff'}`;
    case 'sandbox.removed':
      return 'sandbox removed';
    case 'trust.promoted':
      return `promoted ${String(t.payload.agent)} for "${String(t.payload.taskType)}" from ${String(t.payload.from)} to ${String(t.payload.to)} by ${String(t.payload.by)}${t.payload.forced ? ' (forced)' : ''}${note(t.payload.note)}`;
    case 'trust.demoted':
      return `demoted ${String(t.payload.agent)} for "${String(t.payload.taskType)}" from ${String(t.payload.from)} to ${String(t.payload.to)} by ${String(t.payload.by)}${note(t.payload.reason)}`;
    case 'system.halted':
      return `halted by ${String(t.payload.by)}${note(t.payload.reason)}`;
    case 'system.resumed':
      return `resumed by ${String(t.payload.by)}${note(t.payload.note)}`;
    case 'queue.enqueued':
      return `queued for the team's workers by ${String(t.payload.by)}${t.payload.host ? ` on ${String(t.payload.host)}` : ''} (job ${String(t.payload.jobId)})`;
    case 'breaker.tripped':
      return `breaker ${String(t.payload.breaker)} tripped for ${String(t.payload.agent)}${note(t.payload.reason)}`;
    case 'breaker.reset':
      return `breaker ${String(t.payload.breaker)} reset for ${String(t.payload.agent)} by ${String(t.payload.by)}${note(t.payload.note)}`;
    case 'audit.agreed':
    case 'audit.disagreed':
      return `audit ${t.type === 'audit.agreed' ? 'agrees' : 'disagrees'} (${String(t.payload.by)})${note(t.payload.note)}`;
    case 'merge.failed':
      return `merge failed: ${short(t.payload.reason, 120)}`;
    case 'escalation.attempted':
      return `escalation attempted: ${String(t.payload.tool ?? '')} ${String(t.payload.path ?? '')}`;
    case 'agent.escalated':
      return `escalated (${String(t.payload.source)})${note(t.payload.reason)}`;
    case 'task.requested':
      return `follow-up requested: ${textOf(t.payload.id)} "${textOf(t.payload.title)}"`;
    case 'agent.handover':
      return `handover note: ${short(t.payload.text, 80)}`;
    default:
      return undefined;
  }
}

/** A byte count for people: `512 B`, `4.2 KiB`, `60.0 MiB`, `6.0 GiB`. */
const formatBytes = (n: number): string =>
  n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${(n / 1024 ** 3).toFixed(1)} GiB`;

/** A changed file as `review show` lists it: line counts (-1 for a binary file) and, when recorded, changed bytes. */
export interface ChangedFileCounts {
  insertions: number;
  deletions: number;
  bytes?: number | undefined;
}

/** A run's change counts over every file, when `files` lists only some of them (RunView's fileCount, insertions, deletions). */
export interface ChangeTotals {
  fileCount: number;
  insertions: number;
  deletions: number;
}

/**
 * What a run changed, in words, for the `Changes` heading of `review show`: the file count, the lines
 * added and removed in text files, and the bytes of binary files (old + new blob). A text file's
 * recorded `bytes` is only its size difference (0 for an edit that keeps the size), so it is not shown
 * as what changed: its lines are. Pure.
 * @param files the changed files as recorded (the log lists at most 1,000)
 * @param totals counts over every changed file; default: from `files`
 * @returns e.g. `2 files, +10 -3 lines, 1 binary file (1.2 MiB)`, or for a run of more files than are
 *   listed `5000 files (the first 1000 listed), +0 -0 lines`
 */
export function describeChanges(files: readonly ChangedFileCounts[], totals?: ChangeTotals): string {
  const text = files.filter((f) => f.insertions >= 0 && f.deletions >= 0);
  const binary = files.filter((f) => f.insertions < 0 || f.deletions < 0);
  const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
  const count = totals?.fileCount ?? files.length;
  const partial = count > files.length;
  const parts = [`${plural(count, 'file')}${partial ? ` (the first ${files.length} listed)` : ''}`];
  const insertions = totals?.insertions ?? text.reduce((a, f) => a + f.insertions, 0);
  const deletions = totals?.deletions ?? text.reduce((a, f) => a + f.deletions, 0);
  if (text.length || partial) parts.push(`+${insertions} -${deletions} lines`);
  if (binary.length) {
    const known = binary.every((f) => f.bytes !== undefined);
    parts.push(`${plural(binary.length, 'binary file')}${partial ? ' among those listed' : ''}${known ? ` (${formatBytes(binary.reduce((a, f) => a + f.bytes!, 0))})` : ''}`);
  }
  return parts.join(', ');
}

/**
 * One changed file's counts for `review show`'s list: `+10 -3` for a text file, `binary, 1.2 MiB` for a
 * binary one (its recorded bytes, when known). Pure.
 */
export function describeFileChange(f: ChangedFileCounts): string {
  if (f.insertions >= 0 && f.deletions >= 0) return `+${f.insertions} -${f.deletions}`;
  return f.bytes !== undefined ? `binary, ${formatBytes(f.bytes)}` : 'binary';
}

/**
 * What a diff leaves out, in words, for a reader of its text (an agent's prompt, the review view): up to
 * `max` files named with their sizes, and how many more. Paths are JSON-quoted (one line each, whatever
 * they hold).
 * @returns '' when nothing is left out
 */
export function leftOutText(diff: DiffSelection, max = 20): string {
  if (!diff.leftOut.length) return '';
  const named = diff.leftOut.slice(0, max).map((f) => `${JSON.stringify(f.path)} (${formatBytes(f.bytes)}${f.why === 'large' ? `, above ${formatBytes(DIFF_BIG_FILE_BYTES)}` : ''})`);
  const more = diff.leftOut.length - named.length;
  return `not shown, too large to read here: ${named.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

/**
 * A diff's text as a reader of it gets it (an agent's prompt, the review screen): the {@link leftOutText}
 * note on a first line in parentheses, `hint` after it, when files were left out. Pure.
 * @param diff the text and what it leaves out (orchestrator/review.ts RunDiff)
 * @param hint appended inside the parentheses (`; read them in the worktree`)
 */
export function diffWithLeftOut(diff: DiffSelection & { text: string }, hint = ''): string {
  const note = leftOutText(diff);
  return note ? `(${note}${hint})\n${diff.text}` : diff.text;
}

/**
 * The warning for a run that changes a `.gitattributes` file (any folder), or undefined. Such a change
 * alters how git converts files as it writes them (`working-tree-encoding`, `eol`, `filter`): after the
 * merge, files on disk can differ from the diffs a reviewer reads (an attack session made a run's
 * harmless-looking line land as shell code). One rule for `review show`, the review screen and the
 * reviewing agent's prompt. Pure.
 * @param files the run's changed files (paths repository-relative)
 */
export function gitAttributesWarning(files: readonly { path: string }[]): string | undefined {
  return files.some((f) => f.path.split('/').pop() === '.gitattributes')
    ? 'changes .gitattributes: how git converts files as it writes them (working-tree-encoding, eol, filter); after this merge, files on disk can differ from the diffs you read'
    : undefined;
}
