/** `agentctl gc [--dry-run]`: repair drift between the log, git and the filesystem without losing data. */
import { EXIT } from '../core/errors.js';
import { collectGarbage } from '../orchestrator/gc.js';
import { printJson, println, table } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

export default async function gc(opts: { dryRun?: boolean; json?: boolean }): Promise<number> {
  return withContext(async (ctx) => {
    const actions = await collectGarbage(ctx, opts.dryRun === true);
    if (opts.json) printJson({ dryRun: opts.dryRun === true, actions });
    else if (actions.length === 0) println('Nothing to repair: the log, git and the worktrees folder agree.');
    else {
      println(table(['KIND', 'RUN', 'WHERE', opts.dryRun ? 'WOULD' : 'DONE'], actions.map((a) => [a.kind, a.runId ?? '-', a.path ?? a.branch ?? '-', a.action].map((c) => terminalSafe(c)))));
      if (opts.dryRun) println('', 'Dry run: nothing was changed.');
    }
    return EXIT.OK;
  });
}
