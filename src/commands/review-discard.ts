/** `agentctl review discard <run>`: a human rejects a run; its work stays recoverable in an archive ref. */
import { EXIT } from '../core/errors.js';
import { currentHuman, findRun } from '../orchestrator/context.js';
import { discardAnywhere, reviewSite } from '../orchestrator/reviewRemote.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

export default async function reviewDiscard(id: string, opts: { reason?: string; json?: boolean }): Promise<number> {
  return withContext(async (ctx) => {
    const run = findRun(ctx, id);
    const by = await currentHuman(ctx);
    const site = reviewSite(ctx, run);
    const ref = await discardAnywhere(ctx, run, by, opts.reason);
    if (opts.json) printJson({ runId: run.runId, discarded: true, archiveRef: ref ?? null, by, site });
    else println(`Discarded run ${terminalSafe(run.runId)} (${terminalSafe(run.task)})${site === 'remote' ? ' (its branch was deleted on the remote)' : ''}.${ref ? ` Its work is kept at ${terminalSafe(ref)}.` : ''}`);
    return EXIT.OK;
  });
}
