/** `agentctl log [--run <id>]`: the event log of this project or one run. */
import chalk from 'chalk';
import { EXIT, InputError } from '../core/errors.js';
import { findRun } from '../orchestrator/context.js';
import { describeEvent, shortRunId } from '../ui/describe.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

export default async function log(opts: { run?: string; limit?: number; json?: boolean }): Promise<number> {
  if (opts.limit !== undefined && (!Number.isSafeInteger(opts.limit) || opts.limit <= 0)) throw new InputError('--limit must be a positive whole number', { field: '--limit' });
  return withContext((ctx) => {
    const runId = opts.run ? findRun(ctx, opts.run).runId : undefined;
    // The project's events, plus the global ones (kill switch) that apply to every project.
    const newest = opts.limit;
    const events = runId ? ctx.store.query({ runId, newest }) : ctx.store.query({ project: ctx.project.config.project, withGlobal: true, newest });
    if (opts.json) printJson({ events });
    else {
      for (const e of events) {
        println(`${chalk.dim(`#${e.seq}`)} ${chalk.dim(e.ts.replace('T', ' ').slice(0, 19))} ${chalk.cyan(terminalSafe(e.type).padEnd(17))} ${e.runId ? chalk.dim(shortRunId(e.runId)) + ' ' : ''}${describeEvent(e) ?? ''}`);
      }
      if (events.length === 0) println('No events yet.');
    }
    return EXIT.OK;
  });
}
