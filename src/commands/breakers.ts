/** `agentctl breakers` (state per agent) and `agentctl breakers reset <breaker> --agent <a>`. */
import chalk from 'chalk';
import { EXIT, InputError } from '../core/errors.js';
import { AGENT_NAMES } from '../definition/task.js';
import { BREAKERS, breakerStatus, type BreakerName } from '../evidence/projections/breakers.js';
import { projectFacts } from '../evidence/projectionCatalog.js';
import { breakerInputs } from '../orchestrator/breakerWindow.js';
import { controlsOf, currentHuman } from '../orchestrator/context.js';
import { resetBreaker } from '../orchestrator/controls.js';
import { printJson, println, table } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

export async function show(opts: { json?: boolean }): Promise<number> {
  return withContext((ctx) => {
    const project = ctx.project.config.project;
    const controls = controlsOf(ctx);
    const now = Date.now();
    const agents = projectFacts(ctx.store, project).agents;
    const { events, norms } = breakerInputs(ctx.store, project, ctx.project.config.breakers, controls, agents, now);
    const rows = breakerStatus(events, controls, ctx.project.config.breakers, agents, project, now, norms);
    if (opts.json) printJson({ project, halted: controls.halted ?? null, thresholds: ctx.project.config.breakers, breakers: rows });
    else {
      if (controls.halted) println(chalk.red(`HALTED by ${terminalSafe(controls.halted.by)} at ${terminalSafe(controls.halted.ts)}: ${terminalSafe(controls.halted.reason)} (agentctl resume)`));
      if (rows.length === 0) println('No runs yet, so no breaker state.');
      else println(table(['AGENT', 'BREAKER', 'STATE', 'SINCE', 'WHY'], rows.map((r) => [terminalSafe(r.agent), terminalSafe(r.breaker), r.tripped ? chalk.red('tripped') : chalk.green('ok'), terminalSafe(r.since ?? '-'), terminalSafe(r.reason ?? '-')])));
      if (rows.some((r) => r.tripped)) println('', chalk.dim('Reset with: agentctl breakers reset <breaker> --agent <agent> --note "…"'));
    }
    return EXIT.OK;
  });
}

export async function reset(breaker: string, opts: { agent?: string; note?: string; json?: boolean }): Promise<number> {
  if (!(BREAKERS as readonly string[]).includes(breaker)) throw new InputError(`unknown breaker "${breaker}" (one of ${BREAKERS.join(', ')})`, { field: 'breaker' });
  if (!opts.agent || !(AGENT_NAMES as readonly string[]).includes(opts.agent)) throw new InputError(`--agent must be one of ${AGENT_NAMES.join(', ')}`, { field: '--agent' });
  return withContext(async (ctx) => {
    const project = ctx.project.config.project;
    const event = resetBreaker(ctx.store, controlsOf(ctx), breaker as BreakerName, opts.agent!, project, await currentHuman(ctx), opts.note);
    if (opts.json) printJson({ event });
    else println(`Reset breaker "${terminalSafe(breaker)}" for ${terminalSafe(opts.agent)} (event #${event.seq}). Its trust level stays where the trip put it; promote again when the evidence allows.`);
    return EXIT.OK;
  });
}
