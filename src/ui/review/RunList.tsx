/** The review queue: runs awaiting a decision, grouped, one line each, with the cursor on one. */
import { Box, Text } from 'ink';
import { groupRuns, type ReviewRun } from './model.js';
import { shortRunId, SHORT_RUN_ID_CHARS } from '../describe.js';
import { fit, one } from './text.js';

/** Props: the runs (any order; shown grouped), the selected run id, and the lines and columns available. */
export interface RunListProps {
  runs: readonly ReviewRun[];
  selected: string | undefined;
  height: number;
  width: number;
}

type Line = { kind: 'group'; text: string } | { kind: 'run'; run: ReviewRun };

/** Column widths; RUN is the short id progress lines and `log` print ({@link shortRunId}). */
const COLS = { run: SHORT_RUN_ID_CHARS, task: 24, agent: 8, diff: 16, gate: 7 };

/** Column cells of one run (plain text, escaped). */
function cells(r: ReviewRun): { run: string; task: string; agent: string; diff: string; gate: string; conf: string } {
  return {
    run: shortRunId(r.runId),
    task: one(r.task),
    agent: one(r.agent),
    diff: `${r.fileCount}f +${r.insertions} -${r.deletions}`,
    gate: r.gate ? (r.gate.passed ? 'passed' : 'failed') : '-',
    conf: r.confidence === undefined ? '-' : r.confidence.toFixed(2),
  };
}

/** Renders a header row, then each group's title and its runs; scrolls to keep the selection visible. */
export function RunList({ runs, selected, height, width }: RunListProps) {
  const lines: Line[] = groupRuns(runs).flatMap((g) => [{ kind: 'group', text: `${g.title} (${g.runs.length})` } as Line, ...g.runs.map((run): Line => ({ kind: 'run', run }))]);
  const at = Math.max(0, lines.findIndex((l) => l.kind === 'run' && l.run.runId === selected));
  const rows = Math.max(1, height - 1);
  // The window scrolls only as far as it must to keep the selected line inside it.
  const start = at < rows ? 0 : at - rows + 1;
  const shown = lines.slice(start, start + rows);
  const taskW = Math.max(8, Math.min(COLS.task, width - 2 - COLS.run - COLS.agent - COLS.diff - COLS.gate - 5 - 5));
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        {fit(`  ${fit('TASK', taskW, true)} ${fit('RUN', COLS.run, true)} ${fit('AGENT', COLS.agent, true)} ${fit('DIFF', COLS.diff, true)} ${fit('GATE', COLS.gate, true)} CONF`, width)}
      </Text>
      {shown.map((l, i) => {
        if (l.kind === 'group') return <Text key={`g${i}`} bold underline wrap="truncate-end">{fit(l.text, width)}</Text>;
        const c = cells(l.run);
        const sel = l.run.runId === selected;
        return (
          <Text key={l.run.runId} inverse={sel} wrap="truncate-end">
            {sel ? '> ' : '  '}
            {fit(c.task, taskW, true)} {fit(c.run, COLS.run, true)} {fit(c.agent, COLS.agent, true)} {fit(c.diff, COLS.diff, true)}{' '}
            <Text color={c.gate === 'failed' ? 'red' : c.gate === 'passed' ? 'green' : undefined}>{fit(c.gate, COLS.gate, true)}</Text> {c.conf}
          </Text>
        );
      })}
    </Box>
  );
}
