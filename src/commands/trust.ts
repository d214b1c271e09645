/** `agentctl trust history` and `agentctl trust rebuild`. */
import chalk from 'chalk';
import { EXIT, InputError } from '../core/errors.js';
import { AGENT_NAMES } from '../definition/task.js';
import { rebuildTrust } from '../evidence/trustStore.js';
import { trustOf } from '../orchestrator/context.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

/** When and why each (agent, task type) changed level, with the evidence snapshot of each decision. */
export async function history(opts: { agent?: string; type?: string; json?: boolean }): Promise<number> {
  if (opts.agent && !(AGENT_NAMES as readonly string[]).includes(opts.agent)) throw new InputError(`unknown agent "${opts.agent}"`, { field: '--agent' });
  return withContext(async (ctx) => {
    const state = await trustOf(ctx);
    const profiles = Object.values(state.profiles).filter((p) => (!opts.agent || p.agent === opts.agent) && (!opts.type || p.taskType === opts.type));
    if (opts.json) {
      printJson({ project: ctx.project.config.project, profiles: profiles.map((p) => ({ agent: p.agent, taskType: p.taskType, level: p.level, reason: p.reason, history: p.history })) });
      return EXIT.OK;
    }
    if (profiles.length === 0) println('No trust profiles match.');
    for (const p of profiles) {
      println(chalk.bold(`${terminalSafe(p.agent)} · ${terminalSafe(p.taskType)}: ${terminalSafe(p.level)}`));
      if (p.history.length === 0) println(chalk.dim(`  ${terminalSafe(p.reason)}`));
      for (const h of p.history) {
        const e = h.evidence;
        println(`  #${h.seq} ${terminalSafe(h.ts.replace('T', ' ').slice(0, 19))}  ${terminalSafe(h.from)} → ${terminalSafe(h.to)}  ${terminalSafe(h.kind)} by ${terminalSafe(h.by)}: ${terminalSafe(h.reason)}`);
        println(chalk.dim(`      evidence: ${e.runs} runs, ${e.merged} merged, ${e.consecutiveMerged} consecutive, ${e.scopeViolations} scope violations, ${e.regressions} regressions`));
      }
    }
    return EXIT.OK;
  });
}

/** Rebuild the trust projection from zero and check it against the incremental one. */
export async function rebuild(opts: { json?: boolean }): Promise<number> {
  return withContext(async (ctx) => {
    await trustOf(ctx);
    const { state, agreed } = rebuildTrust(ctx.store, ctx.project.config.project, ctx.project.config.trust);
    const count = Object.keys(state.profiles).length;
    if (opts.json) printJson({ profiles: count, lastSeq: state.lastSeq, agreed });
    else println(`Rebuilt ${count} trust profile(s) from ${state.lastSeq} events; the incremental projection ${agreed ? 'agreed' : chalk.red('DISAGREED and was replaced')}.`);
    return agreed ? EXIT.OK : EXIT.INTERNAL;
  });
}
