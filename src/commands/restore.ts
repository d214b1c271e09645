/** `agentctl restore <run>`: recreate a discarded or lost run's worktree from its branch or archive, back in review. */
import { EXIT } from '../core/errors.js';
import { findRun } from '../orchestrator/context.js';
import { restoreRun } from '../orchestrator/review.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

export default async function restore(id: string, opts: { json?: boolean }): Promise<number> {
  return withContext(async (ctx) => {
    const run = findRun(ctx, id);
    const restored = await restoreRun(ctx, run);
    if (opts.json) printJson({ runId: run.runId, ...restored });
    else println(`Restored run ${terminalSafe(run.runId)} at ${terminalSafe(restored.path)} (branch ${terminalSafe(restored.branch)}); it awaits review again.`);
    return EXIT.OK;
  });
}
