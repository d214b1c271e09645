/** Live progress of several runs at once (ink), shown only in interactive mode. */
import { Box, Text } from 'ink';
import { describeEvent } from './describe.js';
import { terminalSafe } from './terminal.js';
import type { StoredEvent } from '../evidence/events.js';
import { projectRuns, type RunState } from '../evidence/projections/runs.js';

/** One row: a task and what happened to it so far. */
export interface BatchRow {
  task: string;
  events: readonly StoredEvent[];
  skipped: string | undefined;
}

const LABELS: Record<RunState, string> = {
  planned: 'starting',
  running: 'running',
  awaiting_review: 'awaiting review',
  merged: 'merged',
  discarded: 'discarded',
  failed: 'failed',
  interrupted: 'interrupted',
};

/** The row's state label, from the runs projection of its events. */
const labelOf = (row: BatchRow): string => {
  if (row.skipped) return 'skipped';
  const run = [...projectRuns(row.events).values()].at(-1);
  if (!run) return 'queued';
  // Decided, but the outcome is not recorded yet (an auto merge in progress): show the decision.
  if ((run.state === 'planned' || run.state === 'running') && run.decision) return run.decision;
  return LABELS[run.state];
};

/** A table of tasks with their state and latest activity. */
export function BatchProgress({ rows }: { rows: readonly BatchRow[] }) {
  const labels = rows.map(labelOf);
  const done = labels.filter((l) => !['queued', 'starting', 'running'].includes(l)).length;
  return (
    <Box flexDirection="column">
      <Text bold>
        {done}/{rows.length} done
      </Text>
      {rows.map((r, i) => {
        const state = labels[i]!;
        // describeEvent's lines are already terminal-safe; the skip reason and the task id are not.
        const line = r.skipped !== undefined ? terminalSafe(r.skipped) : ([...r.events].map(describeEvent).filter(Boolean).at(-1) ?? '');
        const color = state === 'merged' ? 'green' : state === 'failed' || state === 'interrupted' ? 'red' : state === 'skipped' ? 'gray' : 'yellow';
        return (
          <Text key={r.task} wrap="truncate-end">
            <Text color={color}>{state.padEnd(16)}</Text> {terminalSafe(r.task).padEnd(24)} <Text dimColor>{line}</Text>
          </Text>
        );
      })}
    </Box>
  );
}
