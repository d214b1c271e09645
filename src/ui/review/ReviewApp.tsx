/**
 * The interactive review (`agentctl review` on a terminal): the queue, one run in full, and the
 * decision keys. Presentational: it gets plain data and a {@link ReviewActions} object and calls
 * nothing else. Keys:
 * - list: ↑/↓ or j/k move, enter opens, q or esc quits
 * - detail: ↑/↓ or j/k scroll the diff a line, PgDn or space / PgUp or b a page, →, l or tab / ←, h the file, q or esc back
 * - both: m merge, d discard (each asks for `y`; any other key cancels), c request changes, a ask another agent
 * - Ctrl-C quits from anywhere.
 */
import { Box, Text, useApp, useInput, useStdout } from 'ink';
import { useEffect, useReducer, useRef, useState } from 'react';
import { maxScroll } from './DiffView.js';
import { orderedRuns, splitDiff, type DiffChunk, type ReviewActions, type ReviewRun } from './model.js';
import { diffHeight, RunDetail } from './RunDetail.js';
import { RunList } from './RunList.js';
import { fit, one } from './text.js';

/** How the app ended: quit, or hand the terminal to `$EDITOR` for a request-changes note on `runId`. */
export type ReviewOutcome = { kind: 'quit' } | { kind: 'edit'; runId: string };

/** Props of {@link ReviewApp}. */
export interface ReviewAppProps {
  runs: ReviewRun[];
  actions: ReviewActions;
  /** Agents that can be asked for a second opinion (the run's own agent is left out when asked). */
  reviewers: readonly string[];
  /** True when `c` should hand over to an external editor (the app ends with `{kind: 'edit'}`); else a one-line input. */
  externalEditor?: boolean;
  /** Start on this run's detail; with `note`, send it as a request for changes at once (back from the editor). */
  resume?: { runId: string; note?: string | undefined };
  onExit?: (outcome: ReviewOutcome) => void;
  /** Screen size; defaults to the terminal's (80×24 when unknown). */
  rows?: number;
  columns?: number;
}

type Mode =
  | { kind: 'normal' }
  | { kind: 'confirm'; action: 'merge' | 'discard'; runId: string }
  | { kind: 'input'; runId: string; text: string }
  | { kind: 'pick'; runId: string; choices: string[] }
  | { kind: 'busy'; what: string };

type DiffState = { runId: string; loading: true } | { runId: string; chunks: DiffChunk[] } | { runId: string; error: string };

/** Everything the screen shows; see {@link ReviewApp} for why it is one mutable object. */
interface State {
  runs: ReviewRun[];
  selected: string | undefined;
  view: 'list' | 'detail';
  fileIndex: number;
  scroll: number;
  diff: DiffState | undefined;
  mode: Mode;
  message: { text: string; error: boolean } | undefined;
  /** The resume note was sent. */
  resumed: boolean;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The terminal size, following resizes. */
function useSize(rows?: number, columns?: number): { rows: number; columns: number } {
  const { stdout } = useStdout();
  const [, setTick] = useState(0);
  useEffect(() => {
    const onResize = () => setTick((t) => t + 1);
    stdout.on('resize', onResize);
    return () => void stdout.off('resize', onResize);
  }, [stdout]);
  return { rows: rows ?? (stdout.rows || 24), columns: columns ?? (stdout.columns || 80) };
}

/** The whole review screen; see the module comment for the keys. */
export function ReviewApp({ runs: initialRuns, actions, reviewers, externalEditor = false, resume, onExit, rows: rowsProp, columns: colsProp }: ReviewAppProps) {
  const { exit } = useApp();
  const { rows, columns } = useSize(rowsProp, colsProp);
  // The screen's state lives in one mutable object, changed by each key in turn and then redrawn: keys
  // typed faster than a redraw (`m` then `y`, a pasted note) each see the state the previous key left.
  const st = useRef<State>({
    runs: initialRuns,
    selected: resume?.runId ?? orderedRuns(initialRuns)[0]?.runId,
    view: resume ? 'detail' : 'list',
    fileIndex: 0,
    scroll: 0,
    diff: undefined,
    mode: { kind: 'normal' },
    message: undefined,
    resumed: false,
  }).current;
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  const set = (change: Partial<State>): void => {
    Object.assign(st, change);
    redraw();
  };

  const ordered = orderedRuns(st.runs);
  const run = ordered.find((r) => r.runId === st.selected);
  // Lines: the body gets the screen minus the status line, the key line and one spare (a full screen scrolls).
  const bodyHeight = Math.max(4, rows - 3);

  // Load the diff of the run shown in detail.
  useEffect(() => {
    const id = st.selected;
    if (st.view !== 'detail' || !id || st.diff?.runId === id) return;
    st.diff = { runId: id, loading: true };
    actions.diff(id).then(
      (text) => st.diff?.runId === id && set({ diff: { runId: id, chunks: splitDiff(text) } }),
      (e: unknown) => st.diff?.runId === id && set({ diff: { runId: id, error: errorText(e) } }),
    );
  });

  /** Run an action with a busy line; afterwards show its message and reload the queue. */
  const perform = (what: string, fn: () => Promise<string>, after: 'list' | 'stay'): void => {
    set({ mode: { kind: 'busy', what }, message: undefined });
    void (async () => {
      let message: State['message'];
      try {
        message = { text: await fn(), error: false };
      } catch (e) {
        message = { text: errorText(e), error: true };
      }
      const fresh = await actions.refresh().catch(() => undefined);
      if (fresh) {
        const still = fresh.find((r) => r.runId === st.selected);
        Object.assign(st, { runs: fresh, diff: undefined });
        if (!still || after === 'list') Object.assign(st, { view: 'list', selected: still?.runId ?? orderedRuns(fresh)[0]?.runId });
      }
      set({ message, mode: { kind: 'normal' } });
    })();
  };

  const requestChanges = (runId: string, note: string): void => {
    const send = actions.requestChanges;
    if (!send) return set({ message: { text: 'request changes is not available', error: true } });
    if (note.trim() === '') return set({ message: { text: 'empty note: nothing was sent', error: true } });
    perform('sending the run back to its agent with your note…', () => send(runId, note), 'list');
  };

  // Back from the editor with a note: send it once.
  useEffect(() => {
    if (st.resumed || !resume) return;
    st.resumed = true;
    if (resume.note !== undefined) requestChanges(resume.runId, resume.note);
  });

  const quit = (outcome: ReviewOutcome): void => {
    onExit?.(outcome);
    exit();
  };

  /** Keys that act on the selected run (list and detail alike); true when handled. */
  const decisionKey = (input: string, r: ReviewRun): boolean => {
    if (input === 'm' || input === 'd') set({ mode: { kind: 'confirm', action: input === 'm' ? 'merge' : 'discard', runId: r.runId }, message: undefined });
    else if (input === 'c') {
      if (!actions.requestChanges) set({ message: { text: 'request changes is not available', error: true } });
      else if (externalEditor) quit({ kind: 'edit', runId: r.runId });
      else set({ mode: { kind: 'input', runId: r.runId, text: '' } });
    } else if (input === 'a') set({ mode: { kind: 'pick', runId: r.runId, choices: reviewers.filter((a) => a !== r.agent) } });
    else return false;
    return true;
  };

  useInput((input, key) => {
    const mode = st.mode;
    // Enter is `\r` in raw mode; a `\n` is an Enter typed before raw mode was on (the tty turned it into a newline).
    const enter = key.return || input === '\n';
    if (key.ctrl && input === 'c') return quit({ kind: 'quit' });
    if (mode.kind === 'busy') return;
    if (mode.kind === 'confirm') {
      if (input !== 'y') return set({ mode: { kind: 'normal' }, message: { text: `${mode.action} cancelled`, error: false } });
      const id = mode.runId;
      return mode.action === 'merge' ? perform('merging…', () => actions.merge(id), 'list') : perform('discarding…', () => actions.discard(id), 'list');
    }
    if (mode.kind === 'input') {
      if (key.escape) return set({ mode: { kind: 'normal' } });
      if (enter) {
        set({ mode: { kind: 'normal' } });
        return requestChanges(mode.runId, mode.text);
      }
      if (key.backspace || key.delete) return set({ mode: { ...mode, text: mode.text.slice(0, -1) } });
      // eslint-disable-next-line no-control-regex
      const typed = input.replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
      if (typed && !key.ctrl && !key.meta) set({ mode: { ...mode, text: mode.text + typed } });
      return;
    }
    if (mode.kind === 'pick') {
      const reviewer = mode.choices[Number.parseInt(input, 10) - 1];
      if (!reviewer) return set({ mode: { kind: 'normal' }, message: { text: 'ask cancelled', error: false } });
      const id = mode.runId;
      return perform(`asking ${reviewer} for a read-only review…`, () => actions.ask(id, reviewer), 'stay');
    }
    const list = orderedRuns(st.runs);
    const current = list.find((r) => r.runId === st.selected);
    if (st.view === 'list') {
      const at = list.findIndex((r) => r.runId === st.selected);
      if (input === 'q' || key.escape) return quit({ kind: 'quit' });
      if (key.downArrow || input === 'j') return set({ selected: list[Math.min(list.length - 1, at + 1)]?.runId });
      if (key.upArrow || input === 'k') return set({ selected: list[Math.max(0, at - 1)]?.runId });
      if (!current) return;
      if (enter) return set({ view: 'detail', fileIndex: 0, scroll: 0, message: undefined });
      decisionKey(input, current);
      return;
    }
    // detail
    if (input === 'q' || key.escape) return set({ view: 'list', message: undefined });
    if (!current || decisionKey(input, current)) return;
    const chunks = st.diff && 'chunks' in st.diff ? st.diff.chunks : [];
    const height = diffHeight(current, bodyHeight);
    const limit = maxScroll(chunks[st.fileIndex], height);
    const page = Math.max(1, height - 2);
    const to = (n: number) => set({ scroll: Math.max(0, Math.min(limit, n)) });
    if (key.downArrow || input === 'j') to(st.scroll + 1);
    else if (key.upArrow || input === 'k') to(st.scroll - 1);
    else if (key.pageDown || input === ' ') to(st.scroll + page);
    else if (key.pageUp || input === 'b') to(st.scroll - page);
    else if ((key.rightArrow || key.tab || input === 'l') && chunks.length) set({ fileIndex: (st.fileIndex + 1) % chunks.length, scroll: 0 });
    else if ((key.leftArrow || input === 'h') && chunks.length) set({ fileIndex: (st.fileIndex - 1 + chunks.length) % chunks.length, scroll: 0 });
  });

  const { diff, view } = st;
  const status = statusLine(st.mode, st.message, st.runs);
  const keys =
    view === 'list'
      ? 'j/k move  enter open  m merge  d discard  c changes  a ask  q quit'
      : 'j/k line  space/b page  h/l file  m merge  d discard  c changes  a ask  q back';
  return (
    <Box flexDirection="column" width={columns}>
      {view === 'detail' && run ? (
        <RunDetail run={run} chunks={diff?.runId === run.runId && 'chunks' in diff ? diff.chunks : undefined} diffError={diff?.runId === run.runId && 'error' in diff ? diff.error : undefined} fileIndex={st.fileIndex} scroll={st.scroll} height={bodyHeight} width={columns} />
      ) : st.runs.length === 0 ? (
        <Text>Nothing awaits review.</Text>
      ) : (
        <RunList runs={st.runs} selected={st.selected} height={bodyHeight} width={columns} />
      )}
      <Text color={status.color} bold={status.bold} wrap="truncate-end">{fit(status.text, columns) || ' '}</Text>
      <Text dimColor wrap="truncate-end">{fit(keys, columns)}</Text>
    </Box>
  );
}

/** The status line: a prompt for the current mode, else the last message. */
function statusLine(mode: Mode, message: { text: string; error: boolean } | undefined, runs: readonly ReviewRun[]): { text: string; color?: string; bold?: boolean } {
  const name = (id: string) => one(runs.find((r) => r.runId === id)?.task ?? id);
  switch (mode.kind) {
    case 'confirm':
      return { text: `${mode.action === 'merge' ? 'Merge' : 'Discard'} ${name(mode.runId)} (run ${one(mode.runId)})? y to confirm, any other key cancels`, color: 'yellow', bold: true };
    case 'input':
      return { text: `Changes for ${name(mode.runId)} (enter sends, esc cancels): ${one(mode.text)}_`, color: 'yellow' };
    case 'pick':
      return mode.choices.length
        ? { text: `Ask which agent? ${mode.choices.map((c, i) => `${i + 1} ${one(c)}`).join('  ')}  (other key cancels)`, color: 'yellow' }
        : { text: 'no other agent to ask (press a key)', color: 'yellow' };
    case 'busy':
      return { text: mode.what, color: 'cyan' };
    default:
      return message ? { text: one(message.text), color: message.error ? 'red' : 'green' } : { text: '' };
  }
}
