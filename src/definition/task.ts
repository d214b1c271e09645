/**
 * Task files: Markdown with YAML front matter. Pure parsing and validation (no filesystem access).
 *
 * ```markdown
 * ---
 * title: Document the CLI flags
 * autonomy: review          # hold | review | auto (default review)
 * agent: claude             # claude | gemini | codex | command (default: config defaults.agent)
 * profile: [implement]      # a name or a list, composed in order
 * type: docs                # task class for trust (default general)
 * priority: 1
 * tags: [docs]
 * paths: [docs/**]          # scope for the `careful` profile
 * gate: npm test
 * timeout: 20m
 * worktree:                 # overrides .agentrc.yaml's worktree block field by field
 *   setup: [npm ci --prefer-offline]
 * ---
 * The body is the prompt.
 * ```
 */
import ms from 'ms';
import * as z from 'zod';
import { AUTONOMY_LEVELS, type Autonomy } from '../core/autonomy.js';
import { InputError } from '../core/errors.js';
import { parseYaml, toData, validate } from './yamlSource.js';
import { worktreeSchema, type WorktreeBlock } from './worktree.js';

/** Task ids: lowercase letters, digits and dashes, starting with a letter or digit, at most 64 chars. */
export const TASK_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;
/** Task types (task classes) follow the same rule, at most 32 chars. */
export const TASK_TYPE_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;
/** Largest task file accepted, in bytes. */
export const MAX_TASK_FILE_BYTES = 1024 * 1024;
/**
 * Largest front matter accepted, in bytes (8 KiB; a task's settings take a few hundred). YAML is the cost
 * of reading a task file, and every command reads every task file: 200 files each with a 60,000-item
 * `tags` list (a 2 KiB git pack) made every command of the clone take one to two minutes; at this limit
 * they take about two seconds. The prompt (the Markdown body) is not parsed.
 */
export const MAX_FRONT_MATTER_BYTES = 8 * 1024;

export { AUTONOMY_LEVELS, type Autonomy } from '../core/autonomy.js';

export const AGENT_NAMES = ['claude', 'gemini', 'codex', 'command'] as const;
/** The agent tools agentctl has adapters for. */
export type AgentName = (typeof AGENT_NAMES)[number];

/**
 * Longest timeout, in milliseconds: 2^31 - 1 (~24.8 days), the longest delay Node's timers keep; a
 * longer one fires at once (a task with `timeout: 30d` had its agent killed in its first second).
 */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Timeouts: a number of seconds (also quoted: `"90"`) or an `ms` duration string (`90s`, `20m`, `1h`), in milliseconds after
 * parsing; at least 1 s (0 ms would mean no timeout at all) and at most {@link MAX_TIMEOUT_MS}.
 */
export const durationSchema = z
  .union([z.number().positive(), z.string().min(1)])
  .transform((value, ctx) => {
    // A bare number is seconds, quoted or not (`ms` alone reads "90" as 90 milliseconds).
    const seconds = typeof value === 'number' ? value : /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : undefined;
    const millis = seconds !== undefined ? seconds * 1000 : ms(value as ms.StringValue);
    if (typeof millis !== 'number' || !Number.isFinite(millis) || millis < 1000) {
      ctx.addIssue({ code: 'custom', message: `not a duration of at least a second: "${value}" (use seconds or e.g. 90s, 20m, 1h)` });
      return z.NEVER;
    }
    if (millis > MAX_TIMEOUT_MS) {
      ctx.addIssue({ code: 'custom', message: `too long: "${value}" (at most 24 days)` });
      return z.NEVER;
    }
    return Math.round(millis);
  });

const pathGlob = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'paths must be relative to the repository, without ".."');

/** Schema of a task file's front matter. Unknown fields are errors. */
export const taskFrontMatterSchema = z.strictObject({
  id: z.string().regex(TASK_ID_PATTERN, 'must match ^[a-z0-9][a-z0-9-]{0,63}$').optional(),
  title: z.string().min(1).max(200).optional(),
  autonomy: z.enum(AUTONOMY_LEVELS).default('review'),
  agent: z.enum(AGENT_NAMES).optional(),
  profile: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  type: z.string().regex(TASK_TYPE_PATTERN, 'must match ^[a-z0-9][a-z0-9-]{0,31}$').default('general'),
  priority: z.number().int().min(-1000).max(1000).default(0),
  tags: z.array(z.string().min(1).max(64)).default([]),
  paths: z.array(pathGlob).default([]),
  gate: z.string().min(1).optional(),
  timeout: durationSchema.optional(),
  worktree: worktreeSchema.optional(),
});

/** A validated task. `agent` and `profiles` are resolved against config defaults by {@link parseTaskFile}. */
export interface Task {
  id: string;
  title: string;
  autonomy: Autonomy;
  agent: AgentName;
  /** Profile names in the order given (composition is order-independent for decisions). */
  profiles: string[];
  type: string;
  priority: number;
  tags: string[];
  paths: string[];
  gate: string | undefined;
  /** Agent timeout in milliseconds, if set. */
  timeoutMs: number | undefined;
  /** The Markdown body: the prompt given to the agent. */
  prompt: string;
  /** File the task came from (as given to the parser; usually repo-relative), or `run <id>` for a requested follow-up. */
  file: string;
  /** For a follow-up requested by a run: the parent run and the profiles its policy is intersected with. */
  requestedBy: { runId: string; parentProfiles: string[] } | undefined;
  /** The task's own `worktree:` block (overrides the project's field by field); never set for a requested follow-up. */
  worktree?: WorktreeBlock | undefined;
}

/** Defaults a task inherits from the project config. */
export interface TaskDefaults {
  agent: AgentName;
  profiles: string[];
  gate: string | undefined;
  timeoutMs: number | undefined;
}

/**
 * Split a Markdown file into front matter and body.
 * @returns front matter text, body text and the 0-based line where the front matter starts
 * @throws InputError when the file does not start with `---` or the front matter is not closed
 */
export function splitFrontMatter(file: string, text: string): { yaml: string; body: string; yamlLine: number } {
  const normalized = text.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n');
  if (!normalized.startsWith('---\n')) {
    throw new InputError(`${file}:1: a task file starts with a "---" line of YAML front matter`, { file });
  }
  const end = normalized.indexOf('\n---', 3);
  if (end === -1 || (normalized[end + 4] !== '\n' && normalized[end + 4] !== undefined)) {
    throw new InputError(`${file}: front matter is not closed by a "---" line`, { file });
  }
  return { yaml: normalized.slice(4, end + 1), body: normalized.slice(end + 5), yamlLine: 1 };
}

/**
 * Derive a task id from a file name (`tasks/fix-readme.md` → `fix-readme`).
 * @returns the id, or null when the name is not a valid id
 */
export function idFromFileName(fileName: string): string | null {
  const base = fileName.split('/').pop()!.replace(/\.md$/i, '');
  return TASK_ID_PATTERN.test(base) ? base : null;
}

/**
 * Parse and validate one task file.
 * @param file path for messages (repo-relative preferred)
 * @param text file contents
 * @param defaults project defaults for agent, profiles, gate and timeout
 * @returns the task
 * @throws InputError naming the file, line and field of the first problem
 */
export function parseTaskFile(file: string, text: string, defaults: TaskDefaults): Task {
  if (text.includes('\0')) throw new InputError(`${file}: contains a NUL byte`, { file });
  if (Buffer.byteLength(text) > MAX_TASK_FILE_BYTES) {
    throw new InputError(`${file}: larger than ${MAX_TASK_FILE_BYTES} bytes`, { file });
  }
  const { yaml, body, yamlLine } = splitFrontMatter(file, text);
  if (Buffer.byteLength(yaml) > MAX_FRONT_MATTER_BYTES) {
    throw new InputError(`${file}: front matter larger than ${MAX_FRONT_MATTER_BYTES} bytes (the prompt goes below its closing "---" line)`, { file });
  }
  const source = parseYaml(file, yaml, yamlLine);
  const data = toData(source) ?? {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new InputError(`${file}:${yamlLine + 1}: front matter must be a YAML mapping`, { file });
  }
  const fm = validate(source, data, taskFrontMatterSchema, 'task');
  const id = fm.id ?? idFromFileName(file);
  if (!id) {
    throw new InputError(
      `${file}: task field "id": the file name is not a valid id; set "id" (^[a-z0-9][a-z0-9-]{0,63}$)`,
      { file, field: 'id' },
    );
  }
  const prompt = body.trim();
  if (prompt === '') throw new InputError(`${file}: the task has no prompt (the Markdown body is empty)`, { file });
  const profiles = fm.profile === undefined ? defaults.profiles : Array.isArray(fm.profile) ? fm.profile : [fm.profile];
  return {
    id,
    title: fm.title ?? firstLine(prompt),
    autonomy: fm.autonomy,
    agent: fm.agent ?? defaults.agent,
    profiles: [...new Set(profiles)],
    type: fm.type,
    priority: fm.priority,
    tags: fm.tags,
    paths: fm.paths,
    gate: fm.gate ?? defaults.gate,
    timeoutMs: fm.timeout ?? defaults.timeoutMs,
    prompt,
    file,
    requestedBy: undefined,
    worktree: fm.worktree,
  };
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.replace(/^#+\s*/, '').slice(0, 80);
}

/** Rank of an autonomy level (hold 0, review 1, auto 2). */
export function autonomyRank(level: Autonomy): number {
  return AUTONOMY_LEVELS.indexOf(level);
}

/** The lower of autonomy levels. */
export function minAutonomy(...levels: Autonomy[]): Autonomy {
  return levels.reduce((a, b) => (autonomyRank(a) <= autonomyRank(b) ? a : b));
}
