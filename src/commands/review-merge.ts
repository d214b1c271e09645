/** `agentctl review merge <run>`: a human approves and merges a run. */
import { EXIT } from '../core/errors.js';
import { currentHuman, findRun } from '../orchestrator/context.js';
import { mergeRun } from '../orchestrator/review.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

export default async function reviewMerge(id: string, opts: { note?: string; json?: boolean }): Promise<number> {
  return withContext(async (ctx) => {
    const run = findRun(ctx, id);
    const by = await currentHuman(ctx);
    const mergeSha = await mergeRun(ctx, run, { by, note: opts.note, auto: false });
    if (opts.json) printJson({ runId: run.runId, merged: true, mergeSha, baseBranch: run.baseBranch, by });
    else println(`Merged run ${terminalSafe(run.runId)} (${terminalSafe(run.task)}) into ${terminalSafe(run.baseBranch)} as ${terminalSafe(mergeSha.slice(0, 10))}.`);
    return EXIT.OK;
  });
}
