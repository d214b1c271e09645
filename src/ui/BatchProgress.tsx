/** Live progress of several runs at once (ink), shown only in interactive mode. */
import { Box, Text } from 'ink';
import { describeEvent } from './describe.js';
import type { StoredEvent } from '../evidence/events.js';

/** One row: a task and what happened to it so far. */
export interface BatchRow {
  task: string;
  events: readonly StoredEvent[];
  skipped: string | undefined;
}

const stateOf = (row: BatchRow): string => {
  if (row.skipped) return 'skipped';
  const last = [...row.events].reverse().find((e) => ['run.merged', 'run.decided', 'run.failed', 'run.interrupted', 'agent.launched', 'run.planned'].includes(e.type));
  if (!last) return 'queued';
  if (last.type === 'run.decided') return String(last.payload.outcome) === 'review' ? 'awaiting review' : String(last.payload.outcome);
  return { 'run.merged': 'merged', 'run.failed': 'failed', 'run.interrupted': 'interrupted', 'agent.launched': 'running', 'run.planned': 'starting' }[last.type] ?? last.type;
};

/** A table of tasks with their state and latest activity. */
export function BatchProgress({ rows }: { rows: readonly BatchRow[] }) {
  const done = rows.filter((r) => !['queued', 'starting', 'running'].includes(stateOf(r))).length;
  return (
    <Box flexDirection="column">
      <Text bold>
        {done}/{rows.length} done
      </Text>
      {rows.map((r) => {
        const state = stateOf(r);
        const line = r.skipped ?? [...r.events].map(describeEvent).filter(Boolean).at(-1) ?? '';
        const color = state === 'merged' ? 'green' : state === 'failed' || state === 'interrupted' ? 'red' : state === 'skipped' ? 'gray' : 'yellow';
        return (
          <Text key={r.task} wrap="truncate-end">
            <Text color={color}>{state.padEnd(16)}</Text> {r.task.padEnd(24)} <Text dimColor>{line}</Text>
          </Text>
        );
      })}
    </Box>
  );
}
