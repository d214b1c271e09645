/** `agentctl demote <agent> --type <t> [--to L] --reason …`: a human lowers an earned level. */
import { EXIT, InputError } from '../core/errors.js';
import { currentHuman } from '../orchestrator/context.js';
import { demote } from '../orchestrator/promote.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

export default async function demoteCmd(agent: string, opts: { type?: string; to?: string; reason?: string; json?: boolean }): Promise<number> {
  if (!opts.type) throw new InputError('--type is required: the task type the demotion applies to', { field: '--type' });
  return withContext(async (ctx) => {
    const event = await demote(ctx, { agent, taskType: opts.type!, to: opts.to, by: await currentHuman(ctx), note: opts.reason });
    if (opts.json) printJson({ event });
    else println(`Demoted ${terminalSafe(agent)} for "${terminalSafe(opts.type)}" tasks from ${terminalSafe(event.payload.from)} to ${terminalSafe(event.payload.to)} (event #${event.seq}).`);
    return EXIT.OK;
  });
}
