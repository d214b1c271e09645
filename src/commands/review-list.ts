/** `agentctl review`: runs awaiting a human decision. */
import { EXIT } from '../core/errors.js';
import { isReviewable } from '../evidence/projections/runs.js';
import { listRuns } from '../evidence/runsStore.js';
import { colorState, printJson, println, table } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

export default async function reviewList(opts: { json?: boolean }): Promise<number> {
  return withContext((ctx) => {
    // Reviewable runs are indexed (each has a live worktree, so they are few); oldest first, as before.
    const list = listRuns(ctx.store, ctx.project.config.project, { group: 'review' }).runs.filter(isReviewable).reverse();
    if (opts.json) printJson({ runs: list });
    else if (list.length === 0) println('Nothing awaits review.');
    else {
      println(
        table(
          ['RUN', 'TASK', 'AGENT', 'STATE', 'FILES', '+/-', 'GATE', 'SCOPE'],
          list.map((r) => [
            terminalSafe(r.runId),
            terminalSafe(r.task),
            terminalSafe(r.agent),
            colorState(r.state),
            String(r.files.length),
            `+${r.files.reduce((n, f) => n + Math.max(0, f.insertions), 0)} -${r.files.reduce((n, f) => n + Math.max(0, f.deletions), 0)}`,
            r.gate ? colorState(r.gate.passed ? 'passed' : 'failed') : '-',
            r.scopeViolations.length ? colorState('failed') + ` (${r.scopeViolations.length})` : 'ok',
          ]),
        ),
        '',
        'Show one with: agentctl review show <run>',
      );
    }
    return EXIT.OK;
  });
}
