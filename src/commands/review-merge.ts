/** `agentctl review merge <run>`: a human approves and merges a run (its worktree here, or through the remote). */
import { EXIT } from '../core/errors.js';
import { currentHuman, findRun } from '../orchestrator/context.js';
import { mergeAnywhere } from '../orchestrator/reviewRemote.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

export default async function reviewMerge(id: string, opts: { note?: string; json?: boolean }): Promise<number> {
  return withContext(async (ctx) => {
    const run = findRun(ctx, id);
    const by = await currentHuman(ctx);
    const { mergeSha, remote } = await mergeAnywhere(ctx, run, { by, note: opts.note, auto: false });
    if (opts.json) printJson({ runId: run.runId, merged: true, mergeSha, baseBranch: run.baseBranch, by, ...(remote ? { remote: remote.remote, localBase: remote.localBase } : {}) });
    else if (!remote) println(`Merged run ${terminalSafe(run.runId)} (${terminalSafe(run.task)}) into ${terminalSafe(run.baseBranch)} as ${terminalSafe(mergeSha.slice(0, 10))}.`);
    else {
      println(`Merged run ${terminalSafe(run.runId)} (${terminalSafe(run.task)}) into ${terminalSafe(run.baseBranch)} on ${terminalSafe(remote.remote)} as ${terminalSafe(mergeSha.slice(0, 10))} (pushed; the run branch was deleted there).`);
      println(remote.localBase.updated ? `Your local ${terminalSafe(run.baseBranch)} is at the merge.` : `Your local ${terminalSafe(run.baseBranch)} was not updated: ${terminalSafe(remote.localBase.reason)}.`);
    }
    return EXIT.OK;
  });
}
