/**
 * The agent communication protocol: each sandbox gets `.agentctl/PROTOCOL.md` (also appended to the
 * prompt) telling the agent how to report. agentctl reads the report files while the run goes and
 * turns them into events; the files never reach the merge.
 *
 * | file | content | event |
 * | --- | --- | --- |
 * | `.agentctl/status.jsonl` | `{"status": "…", "progress": 0.5}` per line | `agent.status` |
 * | `.agentctl/trace.jsonl` | `{"observed", "considered", "decided", "confidence": 0–1}` per decision | `agent.reasoning` |
 * | `.agentctl/escalate.json` | `{"reason": "…", "question": "…"}` | `agent.escalated` (the run stops) |
 * | `.agentctl/followups.jsonl` | `{"id", "title", "prompt", "type", "profile"}` per line | `task.requested` |
 * | `.agentctl/handover.md` | notes for the next run of this task type | `agent.handover` |
 */
import { closeSync, constants, fstatSync, mkdirSync, openSync, readlinkSync, readSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROTOCOL_FILES } from '../authz/policy.js';
import { parseRecordableObject } from '../evidence/canonical.js';
import { lstatIfExists } from '../exec/pathExists.js';

/** Folder of the protocol inside a worktree. */
const PROTOCOL_DIR = '.agentctl';
/** Everything agentctl puts in or reads from the protocol folder (excluded from commits). */
export const PROTOCOL_PATHS = [`${PROTOCOL_DIR}/PROTOCOL.md`, ...PROTOCOL_FILES];
/** Largest protocol file read, in bytes. */
const MAX_PROTOCOL_FILE = 256 * 1024;

/**
 * Longest protocol line read as JSON, in characters; a longer one is recorded as invalid. Each line is an
 * event, and the run's row keeps every recorded status and reasoning line: with {@link MAX_PROTOCOL_LINES},
 * at most 100 + 100 lines of 4,000 characters per launch. Without it, an agent rewriting its 256 KiB
 * file with one more line at each guard tick would add 256 KiB to that row each time.
 */
export const MAX_PROTOCOL_LINE_CHARS = 4000;

/**
 * Lines of each protocol file one launch records; the rest are counted, and one warning says so. The
 * log is append-only, and each follow-up request is a task `agentctl tasks` lists from then on: one
 * run writing 15,000 one-line requests into its 256 KiB file made 15,000 tasks (measured: `tasks --json`
 * then took 1.1 s and 190 MB at every call). The run's row keeps every recorded status and reasoning
 * line, and every list of runs reads that row: at 1,000 lines of 8,000 characters each, an agent that
 * rewrote its files with 30 more long lines at each guard tick made a 16 MB row in 20 s (measured:
 * `runs --json` then printed 16 MB and peaked at 239 MB for that one run). Every trace line still counts
 * towards the lowest confidence.
 */
export const MAX_PROTOCOL_LINES = { status: 100, trace: 100, followups: 20 } as const;

/** The instructions given to the agent (file and prompt suffix). */
export function protocolText(escalateBelow: number): string {
  return `# Reporting to agentctl

You are working in a sandbox managed by agentctl. Report as you go by writing these files (JSON Lines:
one JSON object per line of at most ${MAX_PROTOCOL_LINE_CHARS} characters, append new lines):

- \`.agentctl/status.jsonl\`: progress updates (the first ${MAX_PROTOCOL_LINES.status} are kept), e.g. {"status": "running the tests", "progress": 0.6}
- \`.agentctl/trace.jsonl\`: one line per significant decision (the first ${MAX_PROTOCOL_LINES.trace} are kept):
  {"observed": "what you saw", "considered": ["option A", "option B"], "decided": "what you chose and why", "confidence": 0.8}
  confidence is between 0 and 1. Below ${escalateBelow} a human reviews your work before it can merge.
- \`.agentctl/escalate.json\`: write {"reason": "…", "question": "…"} when you need a human decision; the run stops.
- \`.agentctl/followups.jsonl\`: follow-up tasks you recommend (the first ${MAX_PROTOCOL_LINES.followups} are kept), e.g.
  {"id": "add-tests-for-parser", "title": "Add tests for the parser", "prompt": "…"}
  They are created with your task type and permissions no wider than yours.
- \`.agentctl/handover.md\`: notes for the next agent that works on this kind of task.

These files are read by agentctl and never merged.
`;
}

/**
 * Write PROTOCOL.md and the empty report files into a worktree, replacing whatever is at their paths.
 * @throws the filesystem's error when a file cannot be made (nothing outside the worktree is written)
 */
export function installProtocol(worktree: string, escalateBelow: number): void {
  // The worktree is a checkout of the repository, which may track `.agentctl` (its profiles live there)
  // and anything in it: a tracked link as `.agentctl` or as one of these files made agentctl, outside
  // the sandbox, write where it pointed (a user's file replaced by the protocol text). Whatever is at
  // these paths is removed first (a link itself, never what it points to), and each file is created
  // new, without following a link.
  const dir = join(worktree, PROTOCOL_DIR);
  if (lstatIfExists(dir)?.isDirectory() === false) rmSync(dir, { force: true });
  mkdirSync(dir, { recursive: true });
  // The report files exist (empty) from the start: sandboxes such as Codex's grant write access to
  // existing paths only.
  const files: [string, string][] = [[`${PROTOCOL_DIR}/PROTOCOL.md`, protocolText(escalateBelow)], ...PROTOCOL_FILES.map((f): [string, string] => [f, ''])];
  for (const [file, text] of files) {
    const path = join(worktree, file);
    rmSync(path, { recursive: true, force: true });
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    try {
      writeFileSync(fd, text);
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Read a protocol file if it is a regular file of at most 256 KiB inside the worktree's `.agentctl`.
 * The agent writes that folder while this reads it, so the checks are made on the open file, not on
 * the path before opening it: the file is opened without following a symbolic link and without
 * blocking (a FIFO swapped in cannot hang agentctl), and on Linux the path the kernel opened must be
 * the expected one (a `.agentctl` swapped for a link to a folder outside the worktree is refused).
 * @returns the text (UTF-8), or undefined when the file is missing or is not such a file
 */
export function readProtocolFile(worktree: string, name: string): string | undefined {
  const path = join(worktree, PROTOCOL_DIR, name);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_PROTOCOL_FILE) return undefined;
    if (process.platform === 'linux') {
      let opened: string;
      try {
        opened = readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return undefined;
      }
      if (opened !== join(realpathSync(worktree), PROTOCOL_DIR, name)) return undefined;
    }
    // At most the limit, even if the agent makes the file grow meanwhile.
    const buf = Buffer.alloc(MAX_PROTOCOL_FILE);
    let length = 0;
    for (let n = 1; n > 0 && length < buf.length; length += n) n = readSync(fd, buf, length, buf.length - length, length);
    return buf.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}


/**
 * Parsed JSON lines of a protocol file after the first `skip` lines; a line that is not a JSON object,
 * holds what no event can record (see parseRecordableJson), or is longer than
 * {@link MAX_PROTOCOL_LINE_CHARS}, becomes `{invalid: <its first 500 characters>}`.
 * @param final the agent has exited: a last line without `\n` is complete. Before that, it may be a line
 *   the agent is still writing, so it is left for the next read (read now, it was recorded as invalid
 *   and the whole line, at the same position, was never read).
 * @returns the new lines' items, and the count of lines read so far (the next call's `skip`)
 */
export function newJsonLines(text: string | undefined, skip: number, final = true): { items: Record<string, unknown>[]; total: number } {
  if (!text) return { items: [], total: skip };
  const whole = final || text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  const lines = whole.split('\n').filter((l) => l.trim() !== '');
  const items = lines.slice(skip).map((l) => {
    return (l.length <= MAX_PROTOCOL_LINE_CHARS ? parseRecordableObject(l) : undefined) ?? { invalid: l.slice(0, 500) };
  });
  return { items, total: Math.max(skip, lines.length) };
}
