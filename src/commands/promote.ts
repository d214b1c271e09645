/** `agentctl promote`: evidence per agent × project × task type, or record a human-approved promotion. */
import chalk from 'chalk';
import { EXIT, InputError } from '../core/errors.js';
import { currentHuman, trustOf } from '../orchestrator/context.js';
import { promote } from '../orchestrator/promote.js';
import { colorState, printJson, println, table } from '../ui/output.js';
import { withContext } from './shared.js';

const pct = (r: number | null) => (r === null ? '-' : `${Math.round(r * 100)}%`);

export default async function promoteCmd(agent: string | undefined, opts: { type?: string; to?: string; note?: string; json?: boolean }): Promise<number> {
  return withContext(async (ctx) => {
    if (agent === undefined) {
      if (opts.type || opts.to) throw new InputError('name the agent to promote: agentctl promote <agent> --type <t> --to <level>');
      const profiles = [...trustOf(ctx).values()].sort((a, b) => a.agent.localeCompare(b.agent) || a.taskType.localeCompare(b.taskType));
      if (opts.json) printJson({ project: ctx.project.config.project, trustInitial: ctx.project.config.trustInitial, profiles });
      else if (profiles.length === 0) println('No evidence yet: run some tasks first.');
      else {
        println(
          table(
            ['AGENT', 'TYPE', 'LEVEL', 'RUNS', 'MERGED', 'DISCARDED', 'MERGE RATE', 'GATE FAIL', 'SCOPE'],
            profiles.map((p) => [p.agent, p.taskType, colorState(p.level), String(p.evidence.runs), String(p.evidence.merged), String(p.evidence.discarded), pct(p.evidence.mergeRate), String(p.evidence.gateFailures), String(p.evidence.scopeViolations)]),
          ),
          '',
          chalk.dim('Promote with: agentctl promote <agent> --type <type> --to review|auto --note "…"'),
        );
      }
      return EXIT.OK;
    }
    if (!opts.type) throw new InputError('--type is required: the task type the promotion applies to', { field: '--type' });
    if (!opts.to) throw new InputError('--to is required: review or auto', { field: '--to' });
    const event = promote(ctx, { agent, taskType: opts.type, to: opts.to, by: await currentHuman(ctx), note: opts.note });
    if (opts.json) printJson({ event });
    else println(`Promoted ${agent} for "${opts.type}" tasks from ${String(event.payload.from)} to ${String(event.payload.to)} (event #${event.seq}).`);
    return EXIT.OK;
  });
}
