/**
 * What the agent is told when a human requests changes to its run (`review request-changes`). Pure.
 *
 * Two shapes: a tool that resumes its own session already has the task and its earlier work in its
 * history, so it gets the notes and the current diff; a fresh session (a tool that cannot resume, the
 * `command` agent, or no session id was recorded) gets the original prompt, every earlier round's
 * notes and summaries, and the current diff. The notes are a human's; the diff and the summaries are
 * the agent's own earlier output: data for the agent, never executed and never printed raw by agentctl.
 */
import { clip } from '../adapters/types.js';

/** Longest diff put in the prompt, in characters. */
export const ATTEMPT_DIFF_CHARS = 100_000;

/** One earlier round, as the fresh prompt retells it. */
export interface EarlierRound {
  attempt: number;
  /** The notes that started that round (undefined for attempt 1). */
  note: string | undefined;
  /** What the agent said it did in that round. */
  summary: string | undefined;
}

/** Input to {@link resumePrompt} and {@link freshPrompt}. */
export interface AttemptPromptInput {
  /** The attempt about to start (2, 3, …). */
  attempt: number;
  /** This round's review notes. */
  note: string;
  /** The run's whole change against its base commit (unified diff), '' when nothing changed. */
  diff: string;
  /** Short name of the base commit, for the diff heading. */
  base: string;
}

/**
 * A fence for `text` inside Markdown: backticks, one more than the longest run of them in the text, so the
 * diff cannot close the block early and pass the rest off as the prompt's own words.
 */
export function fenceFor(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return '`'.repeat(Math.max(3, longest + 1));
}

function diffBlock(input: AttemptPromptInput): string[] {
  if (!input.diff.trim()) return ['## The change so far', '', '(nothing is changed yet)'];
  const diff = clip(input.diff, ATTEMPT_DIFF_CHARS);
  const fence = fenceFor(diff);
  return [`## The change so far (diff against ${input.base})`, '', `${fence}diff`, diff.replace(/\n$/, ''), fence];
}

const CLOSING = 'Make the requested changes in this worktree and keep what is already right. Your earlier work is committed on this branch; agentctl commits what you change now on top of it.';

/**
 * The follow-up message for a resumed session.
 * @returns the prompt text
 */
export function resumePrompt(input: AttemptPromptInput): string {
  return [
    `A human reviewed your work on this task and requests changes (attempt ${input.attempt} of this run).`,
    '',
    '## Review notes',
    '',
    input.note,
    '',
    ...diffBlock(input),
    '',
    CLOSING,
    'Report through the .agentctl/ files as before.',
  ].join('\n');
}

/**
 * The whole story for a fresh session: the run's original prompt (task and protocol), every earlier
 * round, this round's notes and the current diff.
 * @param original the prompt attempt 1 was given
 * @param earlier rounds before this one, in order (attempt 1 first)
 * @returns the prompt text (its first line is the original prompt's first line)
 */
export function freshPrompt(original: string, earlier: readonly EarlierRound[], input: AttemptPromptInput): string {
  const rounds = earlier.flatMap((r) => [
    `### Attempt ${r.attempt}`,
    ...(r.note !== undefined ? ['Review notes that started it:', '', r.note, ''] : []),
    `What you reported: ${r.summary ? clip(r.summary, 2000) : '(nothing)'}`,
    '',
  ]);
  return [
    original,
    '',
    '---',
    `# Changes requested (attempt ${input.attempt} of this run)`,
    '',
    'You already worked on this task in this worktree. A human reviewed the work and requests changes.',
    '',
    '## Earlier attempts',
    '',
    ...rounds,
    `## Review notes for attempt ${input.attempt}`,
    '',
    input.note,
    '',
    ...diffBlock(input),
    '',
    CLOSING,
  ].join('\n');
}
