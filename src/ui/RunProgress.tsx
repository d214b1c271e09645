/** Live progress of one run (ink), shown only in interactive mode. */
import { Box, Text } from 'ink';
import type { StoredEvent } from '../evidence/events.js';
import { describeEvent } from './describe.js';
import { terminalSafe } from './terminal.js';

/** Props: the run's header and the events so far (in order). */
export interface RunProgressProps {
  task: string;
  agent: string;
  events: readonly StoredEvent[];
  /** Most recent lines shown. */
  tail?: number;
}

/** Renders a header, counters and the last few event lines. */
export function RunProgress({ task, agent, events, tail = 8 }: RunProgressProps) {
  const tools = events.filter((e) => e.type === 'tool.called').length;
  const files = new Set(events.filter((e) => e.type === 'file.changed').map((e) => String(e.payload.path))).size;
  const denials = events.filter((e) => e.type === 'permission.denied').length;
  const runId = events[0]?.runId ?? '';
  const lines = events.map(describeEvent).filter((l): l is string => l !== undefined).slice(-tail);
  const done = events.some((e) => e.type === 'run.decided' || e.type === 'run.interrupted' || e.type === 'run.failed');
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>{terminalSafe(task)}</Text> · {terminalSafe(agent)} · run {terminalSafe(runId)} · {done ? 'done' : 'working…'}
      </Text>
      <Text dimColor>
        {tools} tool call(s) · {files} file(s) edited · {denials} denied
      </Text>
      {lines.map((line, i) => (
        <Text key={i}>  {line}</Text>
      ))}
    </Box>
  );
}
