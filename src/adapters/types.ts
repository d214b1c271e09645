/**
 * The one interface every agent tool sits behind. An adapter renders the policy into the tool's
 * native config, builds the argv/env to launch it, and parses its stream output into events.
 * Adapters never spawn processes themselves: the orchestrator launches the {@link LaunchSpec}
 * through the one process runner.
 */
import type { Policy } from '../authz/policy.js';
import type { RenderContext, RenderedConfig } from '../authz/render/types.js';
import type { AgentSettings } from '../definition/config.js';
import type { AgentName } from '../definition/task.js';
import type { EventPayloads } from '../evidence/eventSchemas.js';
import type { EventType } from '../evidence/events.js';
import { recordableProblem } from '../evidence/canonical.js';

/** An event parsed from the agent's output, before it gets a subject and a sequence number. */
export type AgentEvent = { [T in AgentEventType]: { type: T; payload: EventPayloads[T] } }[AgentEventType];

/** The event types a stream parser writes. */
export type AgentEventType = Extract<EventType, 'agent.message' | 'tool.called' | 'tool.result' | 'permission.denied' | 'file.changed' | 'agent.usage'>;

/** What the parser concluded when the stream ended. */
export interface StreamSummary {
  /** The agent's final message (what it says it did), if any: whole, or its start when the parser kept only that. */
  finalText: string | undefined;
  /** The final message's whole length (characters) when `finalText` is only its start. */
  finalTextLength?: number | undefined;
  /** True when the tool itself reported failure in its stream (even with exit code 0). */
  reportedError: boolean;
  /** The tool's error text, when it reported one. */
  errorText: string | undefined;
  /**
   * The tool's own session id, as printed in its stream (checked with {@link isSessionId}; anything else
   * is dropped), for resuming the session later. Undefined when the tool printed none.
   */
  sessionId?: string | undefined;
}

/** Turns one tool's output lines into events. One instance per run. */
export interface StreamParser {
  /** Parse one stdout line; returns zero or more events. Never throws on malformed lines. */
  line(text: string): AgentEvent[];
  /** Called at end of stream. */
  finish(): StreamSummary;
}

/** What to start. */
export interface LaunchSpec {
  /** Executable (name on PATH or absolute path). A `.js`/`.mjs` file is run with this Node. */
  bin: string;
  args: string[];
  /** Variables set on top of the allowlisted base environment. */
  env: Record<string, string>;
  /** Text for stdin; undefined = stdin ignored. */
  input: string | undefined;
}

/**
 * A prompt as a tool can be given it: each NUL written `\x00`. argv and environment strings end at a NUL
 * (spawning with one fails: a diff that showed a NUL byte of the agent's file made `request-changes`
 * fail to start the agent), and a NUL means nothing to a model. A prompt that starts with `-` (a task
 * whose body is a Markdown list, or a repository's `--add-dir=/etc`) starts with a line break instead:
 * Claude Code 2.1.330, Gemini CLI and Codex each read such an argument as an option ("unknown option
 * '- fix the docs'"; tried with each CLI), which no task text may set. Pure.
 * @param text a prompt, with text from a task file or a diff
 * @returns the same text without NUL characters, never starting with `-`
 */
export function launchablePrompt(text: string): string {
  const safe = text.replaceAll('\0', '\\x00');
  return safe.startsWith('-') ? `\n${safe}` : safe;
}

/** Input to {@link AgentAdapter.launch}. */
export interface LaunchInput {
  /** The prompt; pass it through {@link launchablePrompt} (tools get it in argv, the environment or stdin). */
  prompt: string;
  worktree: string;
  settings: AgentSettings;
  /** The rendered config (undefined for tools without native permissions). */
  rendered: RenderedConfig | undefined;
  /** A human drives the tool in the terminal (hold tasks claimed with --claim). */
  interactive: boolean;
  /**
   * Resume this session of the tool (a session id the tool printed in an earlier attempt of the same
   * run) instead of starting a new one; `prompt` is then the follow-up message. Ignored by tools that
   * cannot resume ({@link AgentAdapter.canResume}) and when it fails {@link isSessionId}.
   */
  resume?: string | undefined;
}

/** One agent tool. */
export interface AgentAdapter {
  readonly name: AgentName;
  /** Host environment variables the tool needs for its own credentials and endpoint (passed through when set). */
  readonly credentialEnv: readonly string[];
  /**
   * Where the tool reaches its model API, as `host:port`, its API proper first (for the OS sandbox's
   * network allowlist; its API keys are put back in for the first only: see stages/confine.ts maskKeys).
   */
  apiHosts(env: NodeJS.ProcessEnv): string[];
  /**
   * Programs the rendered config makes the tool depend on, by name on PATH (e.g. Claude Code's sandbox
   * needs `bwrap` and `socat` on Linux for `yolo`). The run is refused before anything is made when one is
   * missing. Empty when nothing extra is needed.
   */
  requiredPrograms(policy: Policy, platform: NodeJS.Platform): string[];
  /** Files agentctl ships that the rendered config points the tool at (absolute paths; e.g. Codex's command guard hook). Empty when none. */
  requiredFiles(): string[];
  /** Native config for a policy, or undefined when the tool has no permission system of its own. */
  render(policy: Policy, ctx: RenderContext): RenderedConfig | undefined;
  /** Build the launch. Throws ConfigError when settings are incomplete (e.g. no `agents.command.bin`). */
  launch(input: LaunchInput): LaunchSpec;
  /** A fresh parser for one run's stdout. */
  parser(worktree: string): StreamParser;
  /** The tool can resume a session it printed the id of ({@link LaunchInput.resume}). */
  readonly canResume: boolean;
}

/**
 * A session id as agentctl accepts it from a tool's (untrusted) output before passing it back on a
 * command line: letters, digits, `-`, `_`, `.` and `:`, 1–128 characters, not starting with `-` (so it
 * can never be read as an option such as `--dangerously-skip-permissions`). The tools print UUIDs.
 */
export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(value);
}

/** The first valid session id seen in a stream (later ones, and invalid ones, are ignored). */
export function firstSessionId(current: string | undefined, candidate: unknown): string | undefined {
  return current ?? (isSessionId(candidate) ? candidate : undefined);
}

/** Longest text kept in one event payload field, in characters. */
export const MAX_EVENT_TEXT = 4000;

/**
 * Longest final message kept as a run's summary (`agent.exited`), in characters. The run's row keeps it,
 * and every list of runs reads that row: a tool may print a final message of up to 8 MiB on one line.
 */
export const MAX_SUMMARY_CHARS = 20_000;

/**
 * Cut text to `max` characters (default {@link MAX_EVENT_TEXT}), marking the cut.
 * @param total the whole text's length when `text` is only its start (default: `text.length`)
 * @returns `text` when the whole fits, else its first `max` characters and `… [N more characters]`
 */
export function clip(text: string, max = MAX_EVENT_TEXT, total = text.length): string {
  return total > max ? `${text.slice(0, max)}… [${total - max} more characters]` : text;
}

/**
 * Parse a JSON line of a tool's output.
 * @returns the object, or undefined when the line is not a JSON object (a tool may print other lines)
 * @throws Error when it is one that no event could record (a number beyond ±1.8e308, nesting deeper
 *   than MAX_JSON_DEPTH: see recordableProblem); the run records a warning for the line instead
 */
export function jsonLine(text: string): Record<string, unknown> | undefined {
  const t = text.trim();
  if (!t.startsWith('{')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const problem = recordableProblem(v);
  if (problem !== undefined) throw new Error(`a JSON line no event can record: ${problem}`);
  return v as Record<string, unknown>;
}

/** Make a tool-reported path repository-relative when it lies inside the worktree. */
export function relativeToWorktree(path: string, worktree: string): string {
  const prefix = worktree.endsWith('/') ? worktree : `${worktree}/`;
  if (path.startsWith(prefix)) return path.slice(prefix.length);
  return path.replace(/^\.\//, '');
}

/**
 * A tool input clipped for an event payload: every string to 1,000 characters, at most 50 members of
 * each array and object, nothing below 8 levels (a deeper value becomes the text `[nested deeper]`).
 * @param depth the recursion's level (callers leave it out)
 * @returns the clipped copy (the input is not changed)
 */
export function clipInput(input: unknown, depth = 0): unknown {
  if (typeof input === 'string') return clip(input, 1000);
  if (input === null || typeof input !== 'object') return input;
  if (depth >= 8) return '[nested deeper]';
  if (Array.isArray(input)) return input.slice(0, 50).map((v) => clipInput(v, depth + 1));
  return Object.fromEntries(Object.entries(input as Record<string, unknown>).slice(0, 50).map(([k, v]) => [k, clipInput(v, depth + 1)]));
}

/**
 * The adapter's credential variables that carry a key or token (its base-URL override is not one).
 * @returns variable names, in the adapter's order
 */
export function keyVariables(adapter: Pick<AgentAdapter, 'credentialEnv'>): string[] {
  return adapter.credentialEnv.filter((name) => !name.endsWith('_BASE_URL'));
}

/**
 * Whether the tool's base URL (a `*_BASE_URL` of its credential variables, set in `env`) is plain
 * `http:`: its key then travels in cleartext, as the tool itself sends it. Pure.
 */
export function plainHttpApi(adapter: Pick<AgentAdapter, 'credentialEnv'>, env: Readonly<Record<string, string | undefined>>): boolean {
  return adapter.credentialEnv.some((name) => name.endsWith('_BASE_URL') && /^http:/i.test(env[name] ?? ''));
}

/**
 * The API's endpoint as `host:port`: a base-URL override's (its port, else 443 for https and 80 for
 * http), else the tool's default hosts on 443. Pure.
 * @param defaults host names
 * @returns `host:port` strings, the tool's own API first
 */
export function hostsOf(baseUrl: string | undefined, defaults: readonly string[]): string[] {
  if (baseUrl) {
    try {
      const url = new URL(baseUrl);
      return [`${url.hostname}:${url.port || (url.protocol === 'http:' ? 80 : 443)}`];
    } catch {
      // A base URL that is not a URL: the tool cannot use it either; the defaults stay reachable.
    }
  }
  return defaults.map((h) => `${h}:443`);
}
