/**
 * The one place where agentctl starts child processes (git, agents, gates, notifiers).
 *
 * Every child gets: an explicit cwd, an allowlisted environment (never the whole parent env, never
 * `GIT_CONFIG_*` or secrets unless passed explicitly), `stdin: 'ignore'` unless input or interactive
 * stdio is asked for, an optional timeout and AbortSignal, and — for long-lived children — its own
 * process group so that a timeout or Ctrl-C kills the whole tree (grandchildren included). Output is
 * read line by line with a cap on each line's length (lines.ts).
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join, resolve as resolvePath } from 'node:path';
import type { ResultPromise } from 'execa';
import { ConfigError, InternalError, OutputTooLargeError } from '../core/errors.js';
import { LineSplitter, MAX_LINE_CHARS } from './lines.js';

/** Variables every child may inherit from agentctl's own environment (values copied when set). */
export const BASE_ENV_ALLOWLIST = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'LC_ALL',
  'LC_CTYPE',
  'TERM',
  'TZ',
  'TMPDIR',
  'NO_COLOR',
  'FORCE_COLOR',
] as const;

/**
 * Build a child environment: the allowlisted parts of `parent` plus `extra`.
 * @param parent usually `process.env`
 * @param extra variables to set (a value of `undefined` removes the variable)
 * @param allow further names to copy from `parent` when set (e.g. a profile's env allowlist)
 * @returns a fresh object; `parent` is not modified
 */
export function childEnv(
  parent: NodeJS.ProcessEnv,
  extra: Record<string, string | undefined> = {},
  allow: readonly string[] = [],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [...BASE_ENV_ALLOWLIST, ...allow]) {
    const value = parent[name];
    if (value !== undefined) out[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete out[name];
    else out[name] = value;
  }
  return out;
}

/** Options for {@link runProcess}. */
export interface RunOptions {
  /** Working directory (absolute). Required: no child inherits agentctl's cwd by accident. */
  cwd: string;
  /** Complete environment for the child (build it with {@link childEnv}). */
  env: Record<string, string>;
  /** Text written to stdin, then closed. Without it stdin is ignored (unless `interactive`). */
  input?: string;
  /** Inherit the terminal (stdin, stdout, stderr) for a human-driven session. */
  interactive?: boolean;
  /** Kill the child (and its process group) after this many milliseconds. */
  timeoutMs?: number;
  /** Abort kills the child's process group. */
  signal?: AbortSignal;
  /** Exit codes that count as success; others throw {@link ProcessFailedError}. `'any'` never throws on exit. */
  acceptExitCodes?: readonly number[] | 'any';
  /**
   * Called for each stdout line (without the newline) as it arrives. When it throws, the child is
   * stopped, no later line is delivered, and runProcess throws that error once the child has ended.
   */
  onStdoutLine?: (line: string) => void;
  /** Called for each stderr line as it arrives; when it throws, as for `onStdoutLine`. */
  onStderrLine?: (line: string) => void;
  /** Start the child in its own process group so the whole tree can be killed. Default: false. */
  processGroup?: boolean;
  /** Called once the child has a pid. */
  onSpawn?: (pid: number) => void;
  /**
   * Called as soon as the child itself exits, before waiting for its output to end: what it left running
   * (a background child holding its stdout) can be stopped here, so the run does not wait on it.
   */
  onExit?: () => void | Promise<void>;
  /** Keep at most this many characters of stdout and of stderr in the result. Default 1 MiB. */
  maxBufferBytes?: number;
  /**
   * What a stream longer than `maxBufferBytes` does. `error`: the child is killed and
   * {@link OutputTooLargeError} thrown (never a silently shortened result). `tail`: the result keeps the
   * last `maxBufferBytes` and says how much it dropped (`stdoutDropped`/`stderrDropped`). Default per
   * stream: `tail` when its lines go to `onStdoutLine`/`onStderrLine` (the caller saw every line), else `error`.
   */
  overflow?: 'error' | 'tail';
}

/** What a finished child did. */
export interface RunResult {
  /** Exit code, or null when killed by a signal. */
  exitCode: number | null;
  /** Signal name when killed (e.g. `SIGTERM`), else null. */
  signal: string | null;
  /** Captured stdout (whole, or with `overflow: 'tail'` the last `maxBufferBytes`). */
  stdout: string;
  /** Captured stderr (whole, or with `overflow: 'tail'` the last `maxBufferBytes`). */
  stderr: string;
  /** Characters dropped from the start of `stdout` (0 when it is whole). */
  stdoutDropped: number;
  /** Characters dropped from the start of `stderr` (0 when it is whole). */
  stderrDropped: number;
  /**
   * Lines longer than {@link MAX_LINE_CHARS} on each stream (`tail` mode): skipped whole, neither handed
   * to the line callback nor kept (in `error` mode such a line is an {@link OutputTooLargeError}).
   */
  linesSkipped: { stdout: number; stderr: number };
  /** True when the timeout fired. */
  timedOut: boolean;
  /** True when the AbortSignal fired. */
  aborted: boolean;
  /** Wall time in milliseconds. */
  durationMs: number;
  /** Child pid (0 if it never started). */
  pid: number;
}

/** A child exited with a code outside `acceptExitCodes`. Carries the result for the caller's message. */
export class ProcessFailedError extends InternalError {
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    const detail = (result.stderr || result.stdout).trim().split('\n').slice(-5).join('\n');
    super(
      `${command} failed (${result.signal ?? `exit ${result.exitCode}`})${detail ? `:\n${detail}` : ''}`,
    );
  }
}

/** Grace period between SIGTERM and SIGKILL when killing a child, in milliseconds. */
export const KILL_GRACE_MS = 3000;

/**
 * Run a child process to completion.
 * @param file executable name or path
 * @param args argument vector (never passed through a shell)
 * @returns the {@link RunResult}
 * @throws ConfigError when the executable does not exist or cannot be executed
 * @throws ProcessFailedError when the exit code is not accepted (default: only 0)
 * @throws OutputTooLargeError when a stream in `error` overflow mode exceeds `maxBufferBytes`
 * @throws whatever an `onStdoutLine`/`onStderrLine` callback threw (the child stopped first)
 */
export async function runProcess(file: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  // Loaded on first use: commands that start no process through here (e.g. `tasks`) skip its cost at start-up.
  const { execa } = await import('execa');
  const started = Date.now();
  const maxBuffer = options.maxBufferBytes ?? 1024 * 1024;
  let timedOut = false;
  let aborted = false;
  let stdout = '';
  let stderr = '';
  const dropped = { stdout: 0, stderr: 0 };
  let tooLarge: 'stdout' | 'stderr' | undefined;
  const keep = (stream: 'stdout' | 'stderr', acc: string, chunk: string, mode: 'error' | 'tail'): string => {
    const next = acc + chunk;
    if (next.length <= maxBuffer) return next;
    if (mode === 'error') {
      // Refuse rather than hand back a shortened output the caller would take as whole.
      if (!tooLarge) {
        tooLarge = stream;
        kill();
      }
      return acc;
    }
    // Trimmed only once it holds twice the cap, so each character is copied a bounded number of times:
    // trimming at every line past the cap copied the whole 1 MiB tail once per line (a tool printing
    // a million short lines kept agentctl busy for hours). tailOf trims what is left at the end.
    return next.length <= 2 * maxBuffer ? next : tailOf(stream, next);
  };
  /** The last `maxBuffer` characters of `acc`, counting what is cut in `dropped`. */
  function tailOf(stream: 'stdout' | 'stderr', acc: string): string {
    if (acc.length <= maxBuffer) return acc;
    dropped[stream] += acc.length - maxBuffer;
    return acc.slice(acc.length - maxBuffer);
  }

  let child: ResultPromise;
  try {
    child = execa(file, [...args], {
      cwd: options.cwd,
      env: options.env,
      extendEnv: false,
      reject: false,
      buffer: false,
      stdin: options.interactive ? 'inherit' : options.input !== undefined ? 'pipe' : 'ignore',
      stdout: options.interactive ? 'inherit' : 'pipe',
      stderr: options.interactive ? 'inherit' : 'pipe',
      detached: options.processGroup ?? false,
      windowsHide: true,
    });
  } catch (error) {
    throw new ConfigError(`cannot start ${file}: ${(error as Error).message}`, { cause: error });
  }

  const pid = child.pid ?? 0;
  if (pid) options.onSpawn?.(pid);
  if (options.onExit) {
    const onExit = options.onExit;
    child.once('exit', () => void Promise.resolve(onExit()).catch(() => undefined));
  }
  if (options.input !== undefined && child.stdin) {
    child.stdin.on('error', () => {
      /* the child may exit before reading its input; that is its business */
    });
    child.stdin.end(options.input);
  }

  const kill = (): void => {
    if (!pid) return;
    const target = options.processGroup ? -pid : pid;
    try {
      process.kill(target, 'SIGTERM');
    } catch {
      return; // already gone
    }
    const hard = setTimeout(() => {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, KILL_GRACE_MS);
    hard.unref();
  };

  const timer =
    options.timeoutMs !== undefined
      ? setTimeout(() => {
          timedOut = true;
          kill();
        }, options.timeoutMs)
      : undefined;
  const onAbort = (): void => {
    aborted = true;
    kill();
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  // A line callback that throws (e.g. an event it records is refused) stops the child: no later line is
  // delivered, and runProcess throws that error once the child is gone, instead of it escaping the
  // stream's event handler (an uncaught exception that ended agentctl with the run half done).
  let callbackFailed: { error: unknown } | undefined;
  const deliver = (callback: ((line: string) => void) | undefined, line: string): void => {
    if (!callback || callbackFailed) return;
    try {
      callback(line);
    } catch (error) {
      callbackFailed = { error };
      kill();
    }
  };
  const lineDone: Promise<void>[] = [];
  const linesSkipped = { stdout: 0, stderr: 0 };
  const split = (name: 'stdout' | 'stderr', stream: NodeJS.ReadableStream, callback: ((line: string) => void) | undefined, mode: 'error' | 'tail'): void => {
    // A line longer than the cap is never assembled in memory: in `tail` mode it is skipped and counted,
    // in `error` mode (the caller takes the output as whole) the child is stopped, as for too much output.
    const lines = new LineSplitter(
      mode === 'error' ? Math.min(MAX_LINE_CHARS, maxBuffer) : MAX_LINE_CHARS,
      (line) => {
        if (name === 'stdout') stdout = keep('stdout', stdout, line + '\n', mode);
        else stderr = keep('stderr', stderr, line + '\n', mode);
        deliver(callback, line);
      },
      (chars) => {
        if (mode === 'tail') linesSkipped[name]++;
        else if (chars > 0 && !tooLarge) {
          tooLarge = name;
          kill();
        }
      },
    );
    stream.on('data', (chunk: Buffer) => lines.write(chunk));
    lineDone.push(
      new Promise((r) =>
        stream.once('close', () => {
          lines.end();
          r();
        }),
      ),
    );
  };
  if (child.stdout) split('stdout', child.stdout, options.onStdoutLine, options.overflow ?? (options.onStdoutLine ? 'tail' : 'error'));
  if (child.stderr) split('stderr', child.stderr, options.onStderrLine, options.overflow ?? (options.onStderrLine ? 'tail' : 'error'));

  const outcome = await child;
  await Promise.all(lineDone);
  if (timer) clearTimeout(timer);
  options.signal?.removeEventListener('abort', onAbort);
  // After the leader exits, make sure nothing it started outlives it when we were asked to stop it.
  if ((timedOut || aborted || callbackFailed) && options.processGroup && pid) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* group already empty */
    }
  }

  if (callbackFailed) throw callbackFailed.error;
  const failure = (outcome as { code?: string }).code;
  if (failure === 'ENOENT' || failure === 'EACCES') {
    throw new ConfigError(`cannot start ${file}: ${failure === 'ENOENT' ? 'not found' : 'permission denied'}`, {
      hint: 'Check the binary path (for agents: agents.<name>.bin in .agentrc.yaml).',
    });
  }

  const result: RunResult = {
    exitCode: typeof outcome.exitCode === 'number' ? outcome.exitCode : null,
    signal: outcome.signal ?? null,
    stdout: tailOf('stdout', stdout),
    stderr: tailOf('stderr', stderr),
    stdoutDropped: dropped.stdout,
    stderrDropped: dropped.stderr,
    linesSkipped,
    timedOut,
    aborted,
    durationMs: Date.now() - started,
    pid,
  };
  if (tooLarge) {
    throw new OutputTooLargeError(`${file} printed more than ${maxBuffer} characters on ${tooLarge}; it was stopped and its output not used`);
  }
  const accept = options.acceptExitCodes ?? [0];
  if (accept !== 'any' && (result.exitCode === null || !accept.includes(result.exitCode))) {
    throw new ProcessFailedError([file, ...args].join(' ').slice(0, 200), result);
  }
  return result;
}

/**
 * Find an executable the way a shell would: a name with `/` is checked as a path, otherwise each PATH entry.
 * @returns the absolute path, or null when not found or not executable
 */
export function resolveExecutable(bin: string, pathEnv: string | undefined, cwd: string): string | null {
  const candidates = bin.includes('/') ? [resolvePath(cwd, bin)] : (pathEnv ?? '').split(delimiter).filter(Boolean).map((d) => join(d, bin));
  for (const c of candidates) {
    try {
      accessSync(c, isJavaScript(bin) ? constants.R_OK : constants.X_OK);
      if (statSync(c).isFile()) return c;
    } catch {
      /* try the next one */
    }
  }
  return null;
}

/**
 * Whether a program named `name` is JavaScript (`.js`, `.mjs`, `.cjs`): it runs with this Node binary
 * ({@link commandFor}) and needs only to be readable, not executable. The one definition of that rule.
 */
export function isJavaScript(name: string): boolean {
  return /\.(c|m)?js$/.test(name);
}

/** How to start `bin`: JavaScript files ({@link isJavaScript}) run with this Node binary, everything else directly. */
export function commandFor(bin: string, args: readonly string[]): { file: string; args: string[] } {
  return isJavaScript(bin) ? { file: process.execPath, args: [bin, ...args] } : { file: bin, args: [...args] };
}
