/** `agentctl runs`: runs of this project, newest first, a page at a time (read from the persisted runs projection). */
import chalk from 'chalk';
import { EXIT, InputError } from '../core/errors.js';
import type { RunState, RunView } from '../evidence/projections/runs.js';
import { listRuns } from '../evidence/runsStore.js';
import type { Context } from '../orchestrator/context.js';
import { colorState, printJson, println, table } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

/** Runs shown without `--limit` or `--all`. */
export const DEFAULT_RUNS_LIMIT = 50;

/**
 * The runs to show: newest first, at most `limit` (undefined = all), and whether older ones were left out.
 * `archived` (discarded runs whose work is kept) is a filter on discarded runs, read a page at a time.
 */
function select(ctx: Context, state: RunState | undefined, archived: boolean, limit: number | undefined): { runs: RunView[]; more: boolean } {
  const project = ctx.project.config.project;
  const states = archived ? (['discarded'] as const).filter((s) => !state || s === state) : state ? [state] : undefined;
  if (states && states.length === 0) return { runs: [], more: false };
  if (!archived) {
    const page = listRuns(ctx.store, project, { ...(states ? { states } : {}), ...(limit !== undefined ? { limit } : {}) });
    return { runs: page.runs, more: page.next !== undefined };
  }
  const out: RunView[] = [];
  let before: number | undefined;
  for (;;) {
    const page = listRuns(ctx.store, project, { states: states!, limit: 500, ...(before !== undefined ? { before } : {}) });
    for (const r of page.runs) {
      if (r.archiveRef === undefined || r.sandboxLive) continue;
      if (limit !== undefined && out.length === limit) return { runs: out, more: true };
      out.push(r);
    }
    if (page.next === undefined) return { runs: out, more: false };
    before = page.next;
  }
}

export default async function runs(opts: { json?: boolean; state?: string; archived?: boolean; limit?: number; all?: boolean }): Promise<number> {
  if (opts.limit !== undefined && (!Number.isSafeInteger(opts.limit) || opts.limit < 1)) throw new InputError('--limit must be a positive whole number', { field: '--limit' });
  if (opts.limit !== undefined && opts.all) throw new InputError('give --limit or --all, not both', { field: '--all' });
  return withContext((ctx) => {
    const limit = opts.all ? undefined : (opts.limit ?? DEFAULT_RUNS_LIMIT);
    const { runs: list, more } = select(ctx, opts.state as RunState | undefined, opts.archived === true, limit);
    if (opts.json) printJson({ runs: list, more });
    else if (list.length === 0) println(opts.state || opts.archived ? `No ${opts.archived ? 'archived' : `${opts.state}`} runs.` : 'No runs yet. Start one with: agentctl run <task>');
    else {
      println(
        table(
          ['RUN', 'TASK', 'AGENT', 'STATE', 'EFFECTIVE', 'SANDBOX', 'FILES', 'GATE', 'STARTED'],
          list.map((r) => [terminalSafe(r.runId), terminalSafe(r.task), terminalSafe(r.agent), colorState(r.state), terminalSafe(r.effective), r.osSandbox === 'os' ? 'os' : chalk.red('NONE'), String(r.fileCount), r.gate ? colorState(r.gate.passed ? 'passed' : 'failed') : '-', terminalSafe(r.startedAt.replace('T', ' ').slice(0, 19))]),
        ),
      );
      if (more) println(chalk.dim(`The ${list.length} newest shown; more with --limit <n> or --all.`));
    }
    return EXIT.OK;
  });
}
