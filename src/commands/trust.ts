/** `agentctl trust history` and `agentctl trust rebuild`. */
import chalk from 'chalk';
import { EXIT, InputError } from '../core/errors.js';
import { AGENT_NAMES } from '../definition/task.js';
import { rebuildAll } from '../evidence/projectionCatalog.js';
import { scanMergedRuns } from '../orchestrator/scan.js';
import { trustOf } from '../orchestrator/context.js';
import { printJson, println } from '../ui/output.js';
import { withStderrProgress } from '../ui/progress.js';
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

/**
 * `agentctl projections rebuild` (and `trust rebuild`): rebuild every projection of this project from
 * zero, check each incremental one agreed, keep the rebuilt ones. Exit INTERNAL when one disagreed.
 */
export async function rebuild(opts: { json?: boolean }): Promise<number> {
  return withContext(async (ctx) => {
    // Git evidence first, as every trust read does, so both sides see the same events.
    await scanMergedRuns(ctx);
    const summary = withStderrProgress('rebuilding projections', (progress) => rebuildAll(ctx.store, ctx.project.config.project, ctx.project.config.trust, progress));
    const { trust, runs, requests, activity, controls, agreed } = summary;
    if (opts.json) printJson({ profiles: trust.profiles, lastSeq: trust.lastSeq, agreed, projections: summary });
    else {
      const mark = (ok: boolean) => (ok ? 'agreed' : chalk.red('DISAGREED and was replaced'));
      println(
        `Rebuilt ${trust.profiles} trust profile(s) from ${trust.lastSeq} events; the incremental projection ${mark(trust.agreed)}.`,
        `Rebuilt ${runs.rows} run(s): ${runs.differences.count ? chalk.red(`${runs.differences.count} DIFFERED and were replaced (${runs.differences.keys.map((k) => terminalSafe(k)).join(', ')})`) : 'agreed'}.`,
        `Rebuilt ${requests.rows} follow-up request(s): ${mark(requests.differences.count === 0)}; breakers and kill switch: ${mark(controls.agreed)}; hourly activity (${activity.rows} row(s)): ${mark(activity.differences.count === 0)}.`,
      );
    }
    return agreed ? EXIT.OK : EXIT.INTERNAL;
  });
}
