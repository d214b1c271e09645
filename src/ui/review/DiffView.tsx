/** One file's diff, scrolled to a line, colored by line kind (and readable without color: the +/- stay). */
import { Box, Text } from 'ink';
import type { DiffChunk } from './model.js';
import { block, fit, one } from './text.js';

/** Props: the chunks, which one is shown, the first line shown, and the lines and columns available. */
export interface DiffViewProps {
  chunks: readonly DiffChunk[];
  index: number;
  scroll: number;
  height: number;
  width: number;
}

/** Color of a diff line by its first characters. */
function colorOf(line: string): string | undefined {
  if (line.startsWith('+++') || line.startsWith('---')) return undefined;
  if (line.startsWith('+')) return 'green';
  if (line.startsWith('-')) return 'red';
  if (line.startsWith('@@')) return 'cyan';
  return undefined;
}

/** Lines of a chunk as shown (escaped, tabs expanded). */
export function chunkLines(chunk: DiffChunk): string[] {
  return chunk.lines.flatMap((l) => (l === '' ? [''] : block(l)));
}

/** The largest useful scroll offset for a chunk shown in `height` lines. */
export function maxScroll(chunk: DiffChunk | undefined, height: number): number {
  return chunk ? Math.max(0, chunkLines(chunk).length - Math.max(1, height - 1)) : 0;
}

/** Renders a title line (`file i/n: path  lines a–b of c`) and the visible lines of the chunk. */
export function DiffView({ chunks, index, scroll, height, width }: DiffViewProps) {
  const chunk = chunks[index];
  if (!chunk) return <Text dimColor>(no diff: the run changed nothing)</Text>;
  const lines = chunkLines(chunk);
  const rows = Math.max(1, height - 1);
  const top = Math.min(scroll, Math.max(0, lines.length - rows));
  const shown = lines.slice(top, top + rows);
  const title = `file ${index + 1}/${chunks.length}: ${one(chunk.title)}  (lines ${lines.length ? top + 1 : 0}-${top + shown.length} of ${lines.length})`;
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">{fit(title, width)}</Text>
      {shown.map((l, i) => (
        <Text key={i} color={colorOf(l)} bold={l.startsWith('diff --git')} wrap="truncate-end">
          {fit(l, width) || ' '}
        </Text>
      ))}
    </Box>
  );
}
