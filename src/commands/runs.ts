/** `agentctl runs`: runs of this project, newest first. */
import chalk from 'chalk';
import { EXIT } from '../core/errors.js';
import { projectRunsOf } from '../orchestrator/context.js';
import { colorState, printJson, println, table } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

export default async function runs(opts: { json?: boolean; state?: string; archived?: boolean }): Promise<number> {
  return withContext((ctx) => {
    const list = [...projectRunsOf(ctx).values()].filter((r) => (!opts.state || r.state === opts.state) && (!opts.archived || (r.archiveRef !== undefined && !r.sandboxLive))).reverse();
    if (opts.json) printJson({ runs: list });
    else if (list.length === 0) println('No runs yet. Start one with: agentctl run <task>');
    else {
      println(
        table(
          ['RUN', 'TASK', 'AGENT', 'STATE', 'EFFECTIVE', 'SANDBOX', 'FILES', 'GATE', 'STARTED'],
          list.map((r) => [terminalSafe(r.runId), terminalSafe(r.task), terminalSafe(r.agent), colorState(r.state), terminalSafe(r.effective), r.osSandbox === 'os' ? 'os' : chalk.red('NONE'), String(r.files.length), r.gate ? colorState(r.gate.passed ? 'passed' : 'failed') : '-', terminalSafe(r.startedAt.replace('T', ' ').slice(0, 19))]),
        ),
      );
    }
    return EXIT.OK;
  });
}
