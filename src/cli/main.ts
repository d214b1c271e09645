/**
 * Entry point: parse argv, run the command, and turn every error into a message and an exit code.
 * This is the only place that decides the process exit code (bin/agentctl sets process.exitCode).
 */
import chalk from 'chalk';
import { CommanderError } from 'commander';
import { AgentctlError, EXIT } from '../core/errors.js';
import { catchUp } from '../core/progress.js';
import { configureColor } from '../ui/output.js';
import { stderrProgress } from '../ui/progress.js';
import { terminalSafe } from '../ui/terminal.js';
import { buildProgram } from './program.js';

/**
 * Run agentctl.
 * @param argv full process argv (`node`, script, ...arguments)
 * @returns the exit code (see EXIT in core/errors.ts)
 */
export async function main(argv: readonly string[]): Promise<number> {
  configureColor();
  // A saved projection far behind the log (first use, or after an upgrade) takes seconds to bring up to date.
  catchUp.begin = stderrProgress;
  // `agentctl … | head`: the reader went away; stop quietly instead of crashing on EPIPE.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.OK);
    throw error;
  });
  let code: number = EXIT.OK;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync([...argv]);
    return code;
  } catch (error) {
    // The CommonJS build (dist/fast/) met a command that draws with ink: bin/agentctl runs it again with
    // the ES module build. Thrown when the command's module loads, before it did anything.
    if ((error as { code?: unknown } | null)?.code === 'AGENTCTL_NEEDS_ESM') throw error;
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.OK;
      return EXIT.INPUT;
    }
    if (error instanceof AgentctlError) {
      // Messages quote task files, profiles and repository text: printed with control characters visible.
      process.stderr.write(`${chalk.red('error:')} ${terminalSafe(error.message, { multiline: true })}\n`);
      if (error.hint) process.stderr.write(`${chalk.dim('hint:')} ${terminalSafe(error.hint, { multiline: true })}\n`);
      return error.exitCode;
    }
    process.stderr.write(`${chalk.red('internal error (this is a bug in agentctl):')} ${terminalSafe((error as Error)?.stack ?? String(error), { multiline: true })}\n`);
    return EXIT.INTERNAL;
  }
}
