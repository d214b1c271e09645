/**
 * Output mode, decided once per command: `json` (--json), `interactive` (stdout is a TTY that can move
 * its cursor: ink views, colors) or `plain` (pipes, CI, `TERM=dumb`: line output). Colors follow
 * NO_COLOR / FORCE_COLOR and the TTY.
 */
import chalk from 'chalk';
import { jsonText } from './terminal.js';

export type OutputMode = 'json' | 'plain' | 'interactive';

/**
 * Decide the output mode.
 * @param json the --json flag
 * @param env process environment (CI; TERM: `dumb` cannot draw a view)
 * @param stdoutIsTTY whether stdout is a terminal
 */
export function outputMode(json: boolean | undefined, env: NodeJS.ProcessEnv = process.env, stdoutIsTTY = process.stdout.isTTY === true): OutputMode {
  if (json) return 'json';
  return stdoutIsTTY && !env.CI && env.TERM !== 'dumb' ? 'interactive' : 'plain';
}

/** Apply color settings: NO_COLOR (any value) turns colors off; FORCE_COLOR turns them on. */
export function configureColor(env: NodeJS.ProcessEnv = process.env, stdoutIsTTY = process.stdout.isTTY === true): void {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') chalk.level = 0;
  else if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') chalk.level = Math.max(chalk.level, 1) as 1;
  else if (!stdoutIsTTY) chalk.level = 0;
}

/** Print a value as pretty JSON on stdout, with no raw control or format character (see {@link jsonText}). */
export function printJson(value: unknown): void {
  process.stdout.write(jsonText(value) + '\n');
}

/**
 * Print lines on stdout. The lines are written as given: every untrusted piece in them must already
 * have passed through `terminalSafe` (src/ui/terminal.ts), before any colouring.
 */
export function println(...lines: string[]): void {
  process.stdout.write(lines.join('\n') + '\n');
}

/**
 * Render rows as an aligned text table (no borders), header in bold.
 * @param header column titles
 * @param rows cell strings (may contain color codes)
 */
export function table(header: string[], rows: string[][]): string {
  // eslint-disable-next-line no-control-regex
  const visible = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '').length;
  const widths = header.map((h, i) => Math.max(visible(h), ...rows.map((r) => visible(r[i] ?? ''))));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - visible(c)))).join('  ').trimEnd();
  return [chalk.bold(fmt(header)), ...rows.map(fmt)].join('\n');
}

/** Color for an autonomy level or run state. */
export function colorState(text: string): string {
  switch (text) {
    case 'auto':
    case 'merged':
    case 'passed':
      return chalk.green(text);
    case 'review':
    case 'awaiting_review':
    case 'running':
      return chalk.yellow(text);
    case 'hold':
    case 'failed':
    case 'discarded':
    case 'interrupted':
      return chalk.red(text);
    default:
      return text;
  }
}
