/** `agentctl review discard <run>`: a human rejects a run; its work stays recoverable in an archive ref. */
import { EXIT } from '../core/errors.js';
import { currentHuman, findRun } from '../orchestrator/context.js';
import { discardRun } from '../orchestrator/review.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

export default async function reviewDiscard(id: string, opts: { reason?: string; json?: boolean }): Promise<number> {
  return withContext(async (ctx) => {
    const run = findRun(ctx, id);
    const by = await currentHuman(ctx);
    const ref = await discardRun(ctx, run, by, opts.reason);
    if (opts.json) printJson({ runId: run.runId, discarded: true, archiveRef: ref ?? null, by });
    else println(`Discarded run ${terminalSafe(run.runId)} (${terminalSafe(run.task)}).${ref ? ` Its work is kept at ${terminalSafe(ref)}.` : ''}`);
    return EXIT.OK;
  });
}
