/**
 * agentctl's error vocabulary and the one table of exit codes.
 *
 * Every failure a user can cause or meet is one of these classes; `cli/main.ts` turns them into an exit
 * code and a message. Anything else that escapes is treated as a bug (`InternalError`).
 */

/** Stable process exit codes. Documented in the README; never renumber. */
export const EXIT = {
  /** Command succeeded (for `run`: the run merged or awaits review with its gates passed). */
  OK: 0,
  /** A bug in agentctl (`InternalError` or an unexpected exception). */
  INTERNAL: 1,
  /** Bad input: task file, profile, config file, flag or argument. Nothing was changed. */
  INPUT: 2,
  /** The environment is not usable: not a git repository, agent binary missing, unwritable AGENTCTL_HOME. */
  CONFIG: 3,
  /** The agent process failed, timed out or could not start. The run's worktree is kept for review. */
  AGENT: 4,
  /** Refused because of repository or run state: dirty checkout, merge conflict, run not awaiting review. */
  STATE: 5,
  /** The run finished but a gate failed; it awaits review. */
  GATE_FAILED: 6,
  /** `audit verify` found the event log altered (broken chain, truncation, schema change). */
  INTEGRITY: 7,
  /** Interrupted by Ctrl-C (SIGINT); what was done is recorded. */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Base class: a message for the user and the exit code it maps to. */
export abstract class AgentctlError extends Error {
  abstract readonly exitCode: ExitCode;
  /** Optional one-line advice printed under the message (e.g. the command to run next). */
  readonly hint: string | undefined;
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
}

/**
 * Bad input from the user: a task file, profile, config file, flag or argument.
 * The message names the file (and line when known) and the field. Thrown before anything changes.
 */
export class InputError extends AgentctlError {
  readonly exitCode = EXIT.INPUT;
  /** File the problem is in, when there is one. */
  readonly file: string | undefined;
  /** Field (dotted path) the problem is in, when there is one. */
  readonly field: string | undefined;
  constructor(message: string, options: { file?: string; field?: string; hint?: string; cause?: unknown } = {}) {
    super(message, options);
    this.file = options.file;
    this.field = options.field;
  }
}

/** The environment cannot be used as configured: not a git repository, missing agent binary, unwritable home. */
export class ConfigError extends AgentctlError {
  readonly exitCode = EXIT.CONFIG;
}

/** The agent process failed to start, crashed or timed out. */
export class AgentError extends AgentctlError {
  readonly exitCode = EXIT.AGENT;
}

/** Refused because of repository or run state (dirty checkout, conflict, run in the wrong state). Nothing changed. */
export class StateError extends AgentctlError {
  readonly exitCode = EXIT.STATE;
}

/**
 * A child's output was larger than agentctl keeps (bytes named in the message): the call is refused as a
 * whole, never cut short silently (a change list too large to check must not pass as a shorter one).
 */
export class OutputTooLargeError extends AgentctlError {
  readonly exitCode = EXIT.STATE;
}

/** An invariant agentctl relies on did not hold: this is a bug and should be reported. */
export class InternalError extends AgentctlError {
  readonly exitCode = EXIT.INTERNAL;
}

/** The event log failed verification (broken chain, truncation, schema change, forged event). Nothing was changed. */
export class IntegrityError extends AgentctlError {
  readonly exitCode = EXIT.INTEGRITY;
}

/** Thrown when the user interrupted the work (SIGINT). */
export class InterruptedError extends AgentctlError {
  readonly exitCode = EXIT.INTERRUPTED;
}
