/** `agentctl review ask <run> --agent <other>`: an independent, read-only review by a second agent. */
import { EXIT, InputError } from '../core/errors.js';
import { AGENT_NAMES, type AgentName } from '../definition/task.js';
import { findRun } from '../orchestrator/context.js';
import { askReviewer } from '../orchestrator/reviewAsk.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

export default async function reviewAsk(id: string, opts: { agent?: string; json?: boolean }): Promise<number> {
  if (!opts.agent || !(AGENT_NAMES as readonly string[]).includes(opts.agent)) throw new InputError(`--agent must be one of ${AGENT_NAMES.join(', ')}`, { field: '--agent' });
  return withContext(async (ctx) => {
    const run = findRun(ctx, id);
    process.stderr.write(`agentctl: asking ${opts.agent} to review run ${terminalSafe(run.runId)} (read-only)…\n`);
    const event = await askReviewer(ctx, run, opts.agent as AgentName);
    if (opts.json) printJson({ event });
    else println(`${opts.agent}: ${terminalSafe(event.payload.verdict)}`, terminalSafe(event.payload.comments, { multiline: true }));
    return EXIT.OK;
  });
}
