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
import { existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROTOCOL_FILES } from '../authz/policy.js';
import { parseRecordableJson } from '../evidence/canonical.js';

/** Folder of the protocol inside a worktree. */
const PROTOCOL_DIR = '.agentctl';
/** Files the agent may write (granted by every policy); excluded from the commit, so never merged. */
/** Everything agentctl puts in or reads from the protocol folder (excluded from commits). */
export const PROTOCOL_PATHS = [`${PROTOCOL_DIR}/PROTOCOL.md`, ...PROTOCOL_FILES];
/** Largest protocol file read, in bytes. */
const MAX_PROTOCOL_FILE = 256 * 1024;

/** The instructions given to the agent (file and prompt suffix). */
export function protocolText(escalateBelow: number): string {
  return `# Reporting to agentctl

You are working in a sandbox managed by agentctl. Report as you go by writing these files (JSON Lines:
one JSON object per line, append new lines):

- \`.agentctl/status.jsonl\`: progress updates, e.g. {"status": "running the tests", "progress": 0.6}
- \`.agentctl/trace.jsonl\`: one line per significant decision:
  {"observed": "what you saw", "considered": ["option A", "option B"], "decided": "what you chose and why", "confidence": 0.8}
  confidence is between 0 and 1. Below ${escalateBelow} a human reviews your work before it can merge.
- \`.agentctl/escalate.json\`: write {"reason": "…", "question": "…"} when you need a human decision; the run stops.
- \`.agentctl/followups.jsonl\`: follow-up tasks you recommend, e.g.
  {"id": "add-tests-for-parser", "title": "Add tests for the parser", "prompt": "…", "type": "tests"}
  They are created with permissions no wider than yours.
- \`.agentctl/handover.md\`: notes for the next agent that works on this kind of task.

These files are read by agentctl and never merged.
`;
}

/** Write PROTOCOL.md and the empty report files into a worktree. */
export function installProtocol(worktree: string, escalateBelow: number): void {
  mkdirSync(join(worktree, PROTOCOL_DIR), { recursive: true });
  writeFileSync(join(worktree, PROTOCOL_DIR, 'PROTOCOL.md'), protocolText(escalateBelow));
  // The report files exist (empty) from the start: sandboxes such as Codex's grant write access to
  // existing paths only.
  for (const file of PROTOCOL_FILES) writeFileSync(join(worktree, file), '', { flag: 'a' });
}

/** Read a protocol file if it is a regular file of sane size (never follows a symlink). */
export function readProtocolFile(worktree: string, name: string): string | undefined {
  const path = join(worktree, PROTOCOL_DIR, name);
  if (!existsSync(path)) return undefined;
  const st = lstatSync(path);
  if (!st.isFile() || st.size > MAX_PROTOCOL_FILE) return undefined;
  return readFileSync(path, 'utf8');
}

/**
 * Parsed JSON lines of a protocol file after the first `skip` lines; a line that is not a JSON object, or
 * holds what no event can record (see parseRecordableJson), becomes `{invalid: <its first 500 characters>}`.
 */
export function newJsonLines(text: string | undefined, skip: number): { items: Record<string, unknown>[]; total: number } {
  if (!text) return { items: [], total: skip };
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const items = lines.slice(skip).map((l) => {
    const v = parseRecordableJson(l);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { invalid: l.slice(0, 500) };
  });
  return { items, total: Math.max(skip, lines.length) };
}
