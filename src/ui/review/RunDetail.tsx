/** One run in full: header, the agent's summary and reasoning trace, the file list, and its diff. */
import { Box, Text } from 'ink';
import { describeFileChange, gitAttributesWarning } from '../describe.js';
import { DiffView } from './DiffView.js';
import type { DiffChunk, ReviewRun } from './model.js';
import { block, fit, one } from './text.js';

/** Props: the run, its diff (chunks once loaded; an error message if loading failed), the diff position, and the space available. */
export interface RunDetailProps {
  run: ReviewRun;
  chunks: readonly DiffChunk[] | undefined;
  diffError?: string | undefined;
  fileIndex: number;
  scroll: number;
  height: number;
  width: number;
}

interface InfoLine {
  text: string;
  color?: string;
  bold?: boolean;
  dim?: boolean;
}

/** Scope violations named on the detail screen's one scope line. */
const SCOPE_LISTED = 5;

/** The lines above the diff, at most `max` of them (each list clipped to a few lines, with how many more). */
export function infoLines(run: ReviewRun, max: number): InfoLine[] {
  const out: InfoLine[] = [];
  const gate = run.gate ? `gate ${run.gate.passed ? 'passed' : `FAILED (exit ${run.gate.exitCode ?? '-'})`}` : 'no gate';
  out.push({ text: `${one(run.task)} — ${one(run.title)}`, bold: true });
  out.push({
    text: `run ${one(run.runId)} · ${one(run.agent)} · ${one(run.state)} · ${gate} · confidence ${run.confidence === undefined ? '-' : run.confidence.toFixed(2)}`,
    color: run.gate && !run.gate.passed ? 'red' : undefined,
  });
  // Summary and trace get 2 lines each on an 80×24 terminal, more on a taller one.
  const room = Math.max(2, Math.floor(max / 5));
  const summary = block(run.summary ?? run.agentError ?? '(the agent gave no summary)').filter((l) => l.trim() !== '');
  out.push(...clip(summary, room).map((l, i) => ({ text: `${i === 0 ? 'Summary: ' : '         '}${l}` })));
  const trace = run.reasoning.map((r) => `decided: ${one(r.decided ?? '?')} (confidence ${one(r.confidence ?? '?')}); observed: ${one(r.observed ?? '')}`);
  trace.push(...run.escalations.map((e) => `escalated (${one(e.source)}): ${one(e.reason ?? '')}${e.question ? ` — ${one(e.question)}` : ''}`));
  out.push(...clip(trace, room).map((l) => ({ text: `Trace: ${l}`, dim: true })));
  if (run.scopeViolations.length) {
    // One line: the first few violations and how many more (the log lists up to MAX_RECORDED_VIOLATIONS).
    const total = run.scopeViolations.length + run.scopeViolationsMore;
    const listed = run.scopeViolations.slice(0, SCOPE_LISTED).map((v) => `${one(v.path)} (${one(v.reason)})`).join(', ');
    out.push({ text: `Scope: ${listed}${total > SCOPE_LISTED ? `, … and ${total - SCOPE_LISTED} more` : ''}`, color: 'red' });
  }
  const attributes = gitAttributesWarning(run.files);
  if (attributes) out.push({ text: `! ${attributes}`, color: 'yellow' });
  for (const v of run.reviewerVerdicts.slice(-1)) out.push({ text: `Review by ${one(v.reviewer)}: ${one(v.verdict)} — ${one(v.comments)}`, color: 'yellow' });
  out.push({ text: `Files (${run.fileCount}, +${run.insertions} -${run.deletions}):`, bold: true });
  // Three lines at most: every file when there are three, else two and a count of the rest (of all the
  // run changed: the log lists at most MAX_RECORDED_FILES).
  const shown = run.fileCount <= 3 ? run.files : run.files.slice(0, 2);
  // As review show lists them: a binary file (git counts no lines, -1) shows its size, not `+-1 --1`.
  out.push(...shown.map((f) => ({ text: `  ${one(f.path)}  ${describeFileChange(f)}` })));
  if (run.fileCount > shown.length) out.push({ text: `… and ${run.fileCount - shown.length} more` });
  return out.slice(0, Math.max(2, max));
}

/** At most `n` lines: the first n-1 and a count of the rest. */
function clip(lines: string[], n: number): string[] {
  return lines.length <= n ? lines : [...lines.slice(0, n - 1), `… and ${lines.length - n + 1} more`];
}

/** Lines the diff view gets in a detail screen of `height` lines. */
export function diffHeight(run: ReviewRun, height: number): number {
  return Math.max(2, height - infoLines(run, Math.floor(height / 2)).length);
}

/** Renders the info lines, then the diff (or its loading state / error) in the remaining lines. */
export function RunDetail({ run, chunks, diffError, fileIndex, scroll, height, width }: RunDetailProps) {
  const info = infoLines(run, Math.floor(height / 2));
  return (
    <Box flexDirection="column">
      {info.map((l, i) => (
        <Text key={i} color={l.color} bold={l.bold} dimColor={l.dim} wrap="truncate-end">
          {fit(l.text, width)}
        </Text>
      ))}
      {diffError !== undefined ? (
        <Text color="red" wrap="truncate-end">{fit(`cannot read the diff: ${one(diffError)}`, width)}</Text>
      ) : chunks === undefined ? (
        <Text dimColor>loading the diff…</Text>
      ) : (
        <DiffView chunks={chunks} index={fileIndex} scroll={scroll} height={diffHeight(run, height)} width={width} />
      )}
    </Box>
  );
}
